"""The warehouse's side of the ledger (``pipeline.resources.ledger``): opening it for a
warehouse, what a new ledger means, and the warehouse's copies of it.

- ``ledger_for(warehouse)``: the ledger of this warehouse (``warehouse.ledger_url``, by
  default ``ledger.sqlite`` beside it), created on first use.
- **A new ledger** is either a first deployment or a lost one. When it is created, it
  takes over what the warehouse still knows (``ops.deliveries``, ``ops.report_approvals``,
  ``ops.loads``: the copies below, or a warehouse from before the ledger existed), and
  looks for signs that a period was delivered outside any ledger it can read: report
  files in ``reports/YYYY-MM/`` that the warehouse's manifest does not list (they were
  rendered by a warehouse that is gone) and messages in ``outbox/YYYY-MM/`` that no
  delivery it took over accounts for. Each such period is **held**: nothing of it is
  delivered until an operator says whether it went out (``pipeline ledger confirm``).
  The Dagster instance is asked too, by the delivery asset, when the period is delivered
  (``hold_if_delivered_before``). So losing the ledger never sends a report twice
  silently; at worst an operator answers one question per period.
- **The warehouse's copies**: ``ops.deliveries`` and ``ops.report_approvals`` mirror the
  ledger (refreshed after each delivery, approval, restore and rebuild) for SQL users;
  an edit there changes nothing.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.resources.ledger import APPROVALS, DELIVERIES, LOADS, Ledger, resolve_ledger_url
from pipeline.resources.warehouse import Warehouse

_LEDGERS: dict[str, Ledger] = {}
_READY: set[str] = set()
_LOCK = threading.RLock()
PERIOD_DIR = re.compile(r"^\d{4}-\d{2}$")

MIRROR = pl.Schema(
    {
        "delivery_key": pl.String(),
        "account_id": pl.String(),
        "period": pl.String(),
        "recipient": pl.String(),
        "report_sha256": pl.String(),
        "kind": pl.String(),
        "status": pl.String(),
        "attempts": pl.Int32(),
        "channel": pl.String(),
        "message_id": pl.String(),
        "error": pl.String(),
        "updated_at": pl.Datetime("us", "UTC"),
        "period_key": pl.String(),
        "report_path": pl.String(),
        "sent_at": pl.Datetime("us", "UTC"),
        "created_at": pl.Datetime("us", "UTC"),
        "requested_by": pl.String(),
        "content_hash": pl.String(),
    }
)
APPROVALS_MIRROR = pl.Schema(
    {
        "period": pl.String(),
        "kind": pl.String(),
        "approved_by": pl.String(),
        "approved_at": pl.Datetime("us", "UTC"),
        "manifest_sha256": pl.String(),
        "reports": pl.Int32(),
    }
)


def ledger_url_of(warehouse: Warehouse) -> str:
    return resolve_ledger_url(getattr(warehouse, "ledger_url", None), warehouse.path)


def ledger_for(warehouse: Warehouse) -> Ledger:
    """The ledger of ``warehouse``, created (and its history taken over) on first use."""
    url = ledger_url_of(warehouse)
    with _LOCK:
        ledger = _LEDGERS.setdefault(url, Ledger(url))
        path = ledger.path
        if url in _READY and (path is None or path.exists()):
            return ledger
        if ledger.ensure():
            take_over(warehouse, ledger)
        _READY.add(url)
        return ledger


def forget_ledgers() -> None:
    """Forget which ledgers this process has opened (a ledger replaced on disk is checked again)."""
    with _LOCK:
        _READY.clear()


# --------------------------------------------------------------------------- a new ledger


def _warehouse_rows(warehouse: Warehouse, sql: str) -> list[dict[str, Any]]:
    """The rows of a query on an ops table, or none when the warehouse or the table is
    absent (or unreadable: then the files on disk speak for the period)."""
    if not warehouse.path.exists():
        return []
    schema, name = re.search(r"FROM (\w+)\.(\w+)", sql).groups()  # type: ignore[union-attr]
    try:
        with warehouse.connect() as con:
            if not Warehouse.has_table(con, schema, name):
                return []
            return con.sql(sql).pl().to_dicts()
    except Exception:
        return []


def take_over(warehouse: Warehouse, ledger: Ledger, now: datetime | None = None) -> dict[str, int]:
    """A ledger was just created: copy in what the warehouse knows and hold every period
    that may have been delivered outside it. Returns what was taken over and held."""
    stamp = now or datetime.now(UTC)
    deliveries = _warehouse_rows(warehouse, "SELECT * FROM ops.deliveries")
    for row in deliveries:
        row.setdefault("content_hash", None)
        row["note"] = "taken over from the warehouse's ops.deliveries when the ledger was created"
    approvals = _warehouse_rows(warehouse, "SELECT * FROM ops.report_approvals")
    loads = _warehouse_rows(
        warehouse, "SELECT source, file_hash, file_name AS file, loaded_at, rows, run_id FROM ops.loads"
    )
    taken = {
        "deliveries": ledger.import_rows(DELIVERIES, deliveries),
        "approvals": ledger.import_rows(APPROVALS, approvals),
        "loads": ledger.import_rows(LOADS, loads),
    }
    known_keys = {r["delivery_key"] for r in deliveries}
    known_periods = {r["period"] for r in deliveries}
    manifest = _warehouse_rows(warehouse, "SELECT period, pdf_path, html_path FROM ops.report_manifest")
    listed = {p for r in manifest for p in (r.get("pdf_path"), r.get("html_path")) if p}
    data_dir = warehouse.path.parent
    evidence = earlier_deliveries(data_dir / "reports", data_dir / "outbox", listed, known_keys)
    held = 0
    for period, what in sorted(evidence.items()):
        if period in known_periods:
            continue
        ledger.add_hold(
            period,
            (
                f"the ledger {ledger.display} was created on {stamp:%Y-%m-%d %H:%M} UTC while {what} showed that "
                f"{period} may already have been delivered; nothing of {period} is sent until an operator says whether "
                f"it went out: `pipeline ledger confirm --month {period} --by NAME --already-sent` (record it as "
                "delivered, send nothing) or `--not-sent` (send it on the next run)"
            ),
            stamp,
        )
        held += 1
    taken["held"] = held
    ledger.set_meta("taken_over", ", ".join(f"{k} {v}" for k, v in taken.items()))
    return taken


def earlier_deliveries(reports_dir: Path, outbox_dir: Path, listed: set[str], known_keys: set[str]) -> dict[str, str]:
    """{period: what shows it may have been delivered}: report PDFs the warehouse's manifest
    does not list, and outbox messages whose delivery key no known delivery has."""
    found: dict[str, list[str]] = {}
    if reports_dir.is_dir():
        for folder in sorted(p for p in reports_dir.iterdir() if p.is_dir() and PERIOD_DIR.match(p.name)):
            pdfs = [
                p
                for p in folder.rglob("*.pdf")
                if not p.name.startswith(".") and p.relative_to(reports_dir).as_posix() not in listed
            ]
            if pdfs:
                found.setdefault(folder.name, []).append(
                    f"{len(pdfs)} report PDF(s) in {folder} that no manifest lists"
                )
    if outbox_dir.is_dir():
        prefixes = {k[:12] for k in known_keys}
        for folder in sorted(p for p in outbox_dir.iterdir() if p.is_dir() and PERIOD_DIR.match(p.name)):
            mails = [p for p in folder.rglob("*.eml") if p.stem.rsplit("-", 1)[-1] not in prefixes]
            if mails:
                found.setdefault(folder.name, []).append(f"{len(mails)} message(s) in {folder}")
    return {period: " and ".join(parts) for period, parts in found.items()}


def hold_if_delivered_before(warehouse: Warehouse, period: str, evidence: str | None) -> bool:
    """Hold ``period`` when ``evidence`` (from the Dagster instance: the period's deliveries
    ran before this ledger existed) is given and the ledger knows nothing of the period."""
    if not evidence:
        return False
    ledger = ledger_for(warehouse)
    if ledger.hold(period) is not None or ledger.deliveries(period):
        return False
    return ledger.add_hold(
        period,
        (
            f"the ledger {ledger.display} was created after {evidence}; nothing of {period} is sent until an operator "
            f"says whether it went out: `pipeline ledger confirm --month {period} --by NAME --already-sent` or `--not-sent`"
        ),
    )


def open_hold(warehouse: Warehouse, period: str) -> str | None:
    """Why the period's deliveries wait for an operator's confirmation, or None."""
    hold = ledger_for(warehouse).hold(period)
    return hold["reason"] if hold and hold["resolution"] is None else None


# --------------------------------------------------------------------------- landing files


def load_times(warehouse: Warehouse, source: str) -> dict[str, datetime]:
    return ledger_for(warehouse).load_times(source)


def record_load(
    warehouse: Warehouse,
    source: str,
    file_hash: str,
    file: str,
    loaded_at: datetime,
    rows: int | None,
    run_id: str | None,
) -> datetime:
    """Remember when a landing file was first loaded; returns the time to load it with (the
    remembered one, so a rebuilt warehouse has the same version order and dates)."""
    return ledger_for(warehouse).record_load(source, file_hash, file, loaded_at, rows, run_id)


# --------------------------------------------------------------------------- the copies


def deliveries_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    cols = list(MIRROR)
    return (
        pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema=MIRROR)
        if rows
        else pl.DataFrame(schema=MIRROR)
    )


def sync_deliveries(warehouse: Warehouse, period: str | None = None, kind: str | None = None) -> int:
    """Copy the ledger's deliveries (of one period and kind, or all) into ops.deliveries."""
    rows = ledger_for(warehouse).deliveries(period, kind)
    frame = deliveries_frame(rows)
    with warehouse.transaction() as con:
        if period is None:
            Warehouse.replace_rows(con, "ops.deliveries", frame, "true", [])
        elif kind is None:
            Warehouse.replace_rows(con, "ops.deliveries", frame, "period = ?", [period])
        else:
            Warehouse.replace_rows(con, "ops.deliveries", frame, "period = ? AND kind = ?", [period, kind])
    return frame.height


def sync_approvals(warehouse: Warehouse) -> int:
    rows = ledger_for(warehouse).approvals()
    frame = pl.DataFrame(rows, schema=APPROVALS_MIRROR) if rows else pl.DataFrame(schema=APPROVALS_MIRROR)
    with warehouse.transaction() as con:
        Warehouse.replace_rows(con, "ops.report_approvals", frame, "true", [])
    return frame.height


def sync_all(warehouse: Warehouse) -> dict[str, int]:
    """Refresh every copy of the ledger in the warehouse (after a restore or a rebuild)."""
    return {"deliveries": sync_deliveries(warehouse), "approvals": sync_approvals(warehouse)}
