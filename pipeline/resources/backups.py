"""Snapshots of the warehouse, putting one back, and setting a damaged file aside.

- **A snapshot** is a checkpointed copy of ``warehouse.duckdb``, taken after a monthly
  close succeeds (the ``warehouse_snapshot`` asset): ``CHECKPOINT`` (the write-ahead log is
  folded into the file), then the closed file is copied to a hidden ``.part`` name in
  ``data/backups/`` while its sha256 is computed, synced, opened and read back in full
  (every block's checksum, as at the start of a run), and only then renamed into place
  with a JSON sidecar (month, run, time, size, sha256, seconds). A kill at any point
  leaves at most a hidden ``.part`` file, removed by the next snapshot, and never
  touches the snapshots already there; the oldest complete ones beyond the retention
  setting are removed only after the new one is complete.
- **Restore** verifies the chosen snapshot (sha256 against its sidecar, then every
  block), moves the current file (and its WAL) aside, and copies the snapshot in place
  under a temporary name then renames it.
- **Set aside** renames, never deletes: ``warehouse.duckdb.damaged-<UTC time>`` when the
  file fails the check, ``warehouse.duckdb.replaced-<UTC time>`` otherwise.

Why a file copy rather than ``EXPORT DATABASE``: the copy is sequential I/O of the
compressed file (measured in the README, "Backups and recovery"), restores by renaming,
and reads back with the same check as a run; an export re-encodes every table to
Parquet and needs a full ``IMPORT DATABASE`` to come back.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.resources.warehouse import (
    WarehouseDamaged,
    WarehouseError,
    check_warehouse,
    forget_bootstrap,
    open_warehouse,
)

PREFIX = "warehouse-"
SUFFIX = ".duckdb"
CHUNK = 4 * 1024 * 1024
_NAME = re.compile(r"^warehouse-(\d{4}-\d{2})-(\d{8}T\d{6}\d*Z)\.duckdb$")


class SnapshotError(RuntimeError):
    """A snapshot cannot be taken, found or used; the message says which and why."""


@dataclass(frozen=True)
class Snapshot:
    name: str  # warehouse-2026-06-20261202T060512123456Z.duckdb
    month: str  # the close it was taken after, YYYY-MM
    run_id: str | None
    taken_at: str  # ISO 8601, UTC
    bytes: int
    sha256: str
    copy_seconds: float
    verify_seconds: float
    folder: str

    @property
    def path(self) -> Path:
        return Path(self.folder) / self.name

    def describe(self) -> str:
        run = f", run {self.run_id[:8]}" if self.run_id else ""
        return (
            f"the {self.month} close{run}, taken {self.taken_at[:16].replace('T', ' ')} UTC "
            f"({self.bytes / 1_048_576:,.1f} MiB, sha256 {self.sha256[:12]})"
        )

    def sidecar(self) -> dict:
        out = asdict(self)
        out.pop("folder")
        return out


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _copy(src: Path, dst: Path) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` (synced); returns (bytes, sha256 of what was written)."""
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return size, h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def wal_of(path: Path) -> Path:
    return Path(f"{path}.wal")


# --------------------------------------------------------------------------- set aside


def set_aside(path: Path | str, label: str | None = None, now: datetime | None = None) -> Path | None:
    """Rename the warehouse (and its WAL) to ``<name>.<label>-<UTC time>``; never deletes.
    ``label`` defaults to ``damaged`` when the file fails the check, else ``replaced``.
    Returns the new path, or None when there was no file."""
    path = Path(path)
    if not path.exists() and not wal_of(path).exists():
        return None
    if label is None:
        label = "replaced"
        if path.exists():
            try:
                check_warehouse(path, force=True)
            except WarehouseDamaged:
                label = "damaged"
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while target.exists() or wal_of(target).exists():
        n += 1
        target = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    if path.exists():
        os.replace(path, target)
    if wal_of(path).exists():
        os.replace(wal_of(path), wal_of(target))
    _fsync_dir(path.parent)
    forget_bootstrap(path)
    return target


def rebuild_marker(path: Path | str) -> Path:
    return Path(f"{path}.rebuild")


def set_aside_for_rebuild(path: Path | str, rebuild_id: str, now: datetime | None = None) -> Path | None:
    """Set the warehouse aside for the rebuild ``rebuild_id`` (the root run id), once: a
    re-execution of the same rebuild finds the marker and keeps what it built so far."""
    path = Path(path)
    marker = rebuild_marker(path)
    try:
        if marker.read_text(encoding="utf-8").strip() == rebuild_id:
            return None
    except FileNotFoundError:
        pass
    moved = set_aside(path, now=now)
    marker.write_text(rebuild_id + "\n", encoding="utf-8")
    return moved


def set_aside_files(path: Path | str) -> list[Path]:
    """Every file an earlier restore or rebuild set aside next to the warehouse."""
    path = Path(path)
    return sorted(p for p in path.parent.glob(f"{path.name}.*-*") if not p.name.endswith(".wal"))


# --------------------------------------------------------------------------- snapshots


def _load(sidecar: Path) -> Snapshot | None:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        snap = Snapshot(folder=str(sidecar.parent), **data)
    except (OSError, ValueError, TypeError):
        return None
    return snap if snap.path.is_file() and _NAME.match(snap.name) else None


def list_snapshots(backups_dir: Path | str) -> list[Snapshot]:
    """Complete snapshots (file and sidecar), oldest first."""
    folder = Path(backups_dir)
    if not folder.is_dir():
        return []
    snaps = [s for p in folder.glob(f"{PREFIX}*{SUFFIX}.json") if (s := _load(p)) is not None]
    return sorted(snaps, key=lambda s: (s.taken_at, s.name))


def find_snapshot(backups_dir: Path | str, which: str | None = None) -> Snapshot:
    """The newest snapshot, or the one ``which`` names (its file name or path, or a
    month YYYY-MM for that month's newest)."""
    snaps = list_snapshots(backups_dir)
    if not snaps:
        raise SnapshotError(
            f"There is no snapshot in {backups_dir}: one is kept after every successful monthly close. "
            "Rebuild the warehouse from the landing folder instead: `pipeline rebuild`."
        )
    if not which:
        return snaps[-1]
    name = Path(which).name
    for snap in reversed(snaps):
        if name in (snap.name, snap.name + ".json") or (re.fullmatch(r"\d{4}-\d{2}", which) and snap.month == which):
            return snap
    listed = ", ".join(s.name for s in snaps)
    raise SnapshotError(f"No snapshot {which!r} in {backups_dir}; there are: {listed}.")


def verify_snapshot(snap: Snapshot) -> None:
    """Raise ``SnapshotError`` unless the file has its recorded sha256 and reads cleanly."""
    actual = file_sha256(snap.path)
    if actual != snap.sha256:
        raise SnapshotError(
            f"The snapshot {snap.path} does not match its recorded sha256 ({actual[:12]} instead of "
            f"{snap.sha256[:12]}): it changed on disk. Pick another with --from, or `pipeline rebuild`."
        )
    try:
        check_warehouse(snap.path, force=True)
    except WarehouseError as exc:
        raise SnapshotError(f"The snapshot {snap.path} does not read cleanly: {exc}") from None


def remove_partial(backups_dir: Path) -> list[str]:
    """Remove what a killed snapshot left (hidden ``.part`` files); returns their names."""
    removed = []
    for p in sorted(Path(backups_dir).glob(".*.part")):
        p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed


def take_snapshot(
    warehouse_path: Path | str,
    backups_dir: Path | str,
    month: str,
    run_id: str | None,
    retention: int,
    now: datetime | None = None,
) -> tuple[Snapshot, list[str]]:
    """Checkpoint the warehouse and keep a verified copy of it; then keep only the newest
    ``retention`` snapshots. Returns the snapshot and the names of those removed.
    No other process may write the warehouse meanwhile (the run lock, or Dagster's one
    run at a time)."""
    warehouse_path = Path(warehouse_path)
    folder = Path(backups_dir)
    folder.mkdir(parents=True, exist_ok=True)
    remove_partial(folder)
    if not warehouse_path.exists():
        raise SnapshotError(f"There is no warehouse at {warehouse_path} to snapshot.")
    with open_warehouse(warehouse_path) as con:
        con.execute("CHECKPOINT")
    if wal_of(warehouse_path).exists() and wal_of(warehouse_path).stat().st_size:
        raise SnapshotError(
            f"{wal_of(warehouse_path)} is not empty after CHECKPOINT: another process is writing "
            "the warehouse; no snapshot was taken."
        )
    taken = now or datetime.now(UTC)
    name = f"{PREFIX}{month}-{_stamp(taken)}{SUFFIX}"
    part = folder / f".{name}.part"
    started = time.perf_counter()
    size, digest = _copy(warehouse_path, part)
    copied = time.perf_counter()
    try:
        check_warehouse(part, force=True)
    except WarehouseError as exc:
        part.unlink(missing_ok=True)
        raise SnapshotError(
            f"The copy of the warehouse does not read back cleanly, so no snapshot was kept: {exc}"
        ) from None
    finally:
        forget_bootstrap(part)
    snap = Snapshot(
        name=name,
        month=month,
        run_id=run_id,
        taken_at=taken.astimezone(UTC).isoformat(),
        bytes=size,
        sha256=digest,
        copy_seconds=round(copied - started, 3),
        verify_seconds=round(time.perf_counter() - copied, 3),
        folder=str(folder),
    )
    side_part = folder / f".{name}.json.part"
    with open(side_part, "w", encoding="utf-8") as f:
        json.dump(snap.sidecar(), f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(part, snap.path)
    os.replace(side_part, folder / f"{name}.json")
    _fsync_dir(folder)
    return snap, prune(folder, retention)


def prune(backups_dir: Path | str, retention: int) -> list[str]:
    """Remove the oldest complete snapshots beyond the newest ``retention``."""
    snaps = list_snapshots(backups_dir)
    old = snaps[:-retention] if retention > 0 else snaps
    removed = []
    for snap in old:
        Path(f"{snap.path}.json").unlink(missing_ok=True)  # the sidecar first: the snapshot stops counting
        snap.path.unlink(missing_ok=True)
        removed.append(snap.name)
    return removed


def restore_snapshot(warehouse_path: Path | str, snap: Snapshot, now: datetime | None = None) -> Path | None:
    """Put ``snap`` back as the warehouse (after verifying it) and return where the file it
    replaces was set aside (None when there was none)."""
    warehouse_path = Path(warehouse_path)
    verify_snapshot(snap)
    aside = set_aside(warehouse_path, now=now)
    part = warehouse_path.with_name(f".{warehouse_path.name}.restore.part")
    _, digest = _copy(snap.path, part)
    if digest != snap.sha256:
        part.unlink(missing_ok=True)
        raise SnapshotError(
            f"Copying {snap.path} gave different bytes (sha256 {digest[:12]}); nothing was restored "
            f"(the previous file is at {aside})."
        )
    os.replace(part, warehouse_path)
    _fsync_dir(warehouse_path.parent)
    forget_bootstrap(warehouse_path)
    return aside
