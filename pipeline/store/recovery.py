"""Backups and recovery of the warehouse (README, "Backups and recovery").

- ``snapshot_close``: after a monthly close, keep a verified snapshot of the warehouse in
  ``data/backups/`` (``pipeline.resources.backups``) and record the close in the ledger
  (month, run, snapshot and its sha256), which is how ``pipeline rebuild`` knows the
  last closed month and ``pipeline restore`` which close a snapshot came from.
- ``restore``: put a snapshot back (the current file is set aside, never deleted) and
  refresh the warehouse's copies of the ledger, which is newer than any snapshot.
- ``begin_rebuild``: set the current file aside before a run rebuilds the warehouse from
  the landing folder; ``finish_rebuild`` refreshes the copies of the ledger.

Nothing here sends anything: what was delivered is in the ledger, which neither a
restore nor a rebuild touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.resources.backups import (
    Snapshot,
    find_snapshot,
    list_snapshots,
    restore_snapshot,
    set_aside_for_rebuild,
    take_snapshot,
)
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.ledger import ledger_for, sync_all


@dataclass(frozen=True)
class CloseRecord:
    month: str
    snapshot: Snapshot | None
    removed: list[str]
    seconds: float


def snapshot_close(
    warehouse: Warehouse, settings: Settings, month: date | str, run_id: str, now: datetime | None = None
) -> CloseRecord:
    """Snapshot the warehouse after ``month``'s close (unless PIPELINE_SNAPSHOT_RETENTION is
    0) and record the close in the ledger."""
    import time

    started = time.perf_counter()
    key = month.strftime("%Y-%m") if isinstance(month, date) else str(month)[:7]
    stamp = now or datetime.now(UTC)
    snap: Snapshot | None = None
    removed: list[str] = []
    if settings.snapshot_retention > 0:
        snap, removed = take_snapshot(
            warehouse.path, settings.backups_dir, key, run_id, settings.snapshot_retention, stamp
        )
    ledger_for(warehouse).record_close(
        key,
        run_id,
        stamp,
        {"name": snap.name, "sha256": snap.sha256, "bytes": snap.bytes} if snap else None,
    )
    return CloseRecord(key, snap, removed, time.perf_counter() - started)


def last_closed_month(warehouse: Warehouse, settings: Settings) -> str | None:
    """The last month a close finished for: the ledger's record, else the newest snapshot's."""
    month = ledger_for(warehouse).last_closed_month()
    if month:
        return month
    snaps = list_snapshots(settings.backups_dir)
    return max(s.month for s in snaps) if snaps else None


@dataclass(frozen=True)
class Restored:
    snapshot: Snapshot
    set_aside: Path | None
    copies: dict[str, int]


def restore(warehouse: Warehouse, settings: Settings, which: str | None = None) -> Restored:
    """Put the newest (or the named) snapshot back as the warehouse; the file it replaces is
    set aside. Raises ``pipeline.resources.backups.SnapshotError`` with what to do."""
    snap = find_snapshot(settings.backups_dir, which)
    aside = restore_snapshot(warehouse.path, snap)
    return Restored(snap, aside, sync_all(warehouse))


def begin_rebuild(warehouse: Warehouse, rebuild_id: str) -> Path | None:
    """Set the current warehouse aside for the rebuild ``rebuild_id`` (once)."""
    ledger_for(warehouse)  # the ledger exists before the file it outlives is moved
    return set_aside_for_rebuild(warehouse.path, rebuild_id)


def finish_rebuild(warehouse: Warehouse) -> dict[str, int]:
    """Refresh the warehouse's copies of the ledger (every period's deliveries, approvals)."""
    return sync_all(warehouse)
