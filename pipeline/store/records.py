"""The reports' ops tables (I/O through the Warehouse): the manifest of rendered files,
the deliveries log and the approvals.

- ``ops.report_manifest``: one row per document of a period (account, files, sha256,
  pages, data-as-of, input hash, status), replaced per period and kind in one
  transaction.
- ``ops.deliveries``: one row per (kind, account, period, recipient, report sha256, and
  for a resend its request); a row is claimed as ``sending`` before a message leaves
  and finished as ``sent`` or ``failed``, so the same report never goes twice to the
  same recipient unless an operator asks for a resend (kind ``client_resend``).
- ``ops.report_approvals``: who approved which reports of a period (when
  ``require_approval`` is on); approving fingerprints the manifest, so a re-render
  after approval needs a new approval.

The tables are created by the warehouse bootstrap (``pipeline.resources.warehouse``,
``OPS_TABLES``) when a writable connection first opens the file.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone
from typing import Any

import polars as pl

from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.sql import load_sql

OK_STATUSES = ("rendered", "unchanged")

MANIFEST = pl.Schema(
    {
        "period": pl.String(),
        "kind": pl.String(),
        "account_id": pl.String(),
        "period_key": pl.String(),
        "cadence": pl.String(),
        "status": pl.String(),
        "html_path": pl.String(),
        "pdf_path": pl.String(),
        "html_sha256": pl.String(),
        "pdf_sha256": pl.String(),
        "pages": pl.Int32(),
        "pdf_bytes": pl.Int64(),
        "data_as_of": pl.Date(),
        "input_hash": pl.String(),
        "render_seconds": pl.Float64(),
        "rendered_at": pl.Datetime("us", "UTC"),
        "recorded_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String(),
        "error": pl.String(),
    }
)


class ApprovalError(ValueError):
    """A period cannot be approved; the message says why."""


def period_text(period: date | str) -> str:
    """``date(2024, 3, 1)``, ``'2024-03'`` or ``'2024-03-01'`` -> ``'2024-03'``."""
    if isinstance(period, date):
        return period.strftime("%Y-%m")
    text = str(period).strip()
    try:
        return date.fromisoformat(text[:7] + "-01").strftime("%Y-%m")
    except ValueError:
        raise ValueError(f"period {period!r} is not YYYY-MM") from None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _query(warehouse: Warehouse, sql_name: str, params: dict[str, Any]) -> pl.DataFrame:
    with warehouse.connect() as con:
        return fetch(con, load_sql(sql_name), params)


# --------------------------------------------------------------------------- manifest


def read_manifest(warehouse: Warehouse, period: date | str, kind: str = "client") -> pl.DataFrame:
    return _query(warehouse, "reports/manifest_for_period", {"period": period_text(period), "kind": kind})


def replace_manifest(warehouse: Warehouse, period: date | str, kind: str, rows: list[dict[str, Any]]) -> None:
    """Replace the period's manifest rows of this kind with ``rows``, in one transaction."""
    frame = pl.DataFrame(rows, schema=MANIFEST) if rows else pl.DataFrame(schema=MANIFEST)
    with warehouse.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            Warehouse.replace_rows(
                con, "ops.report_manifest", frame, "period = ? AND kind = ?", [period_text(period), kind]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def recorded_files(row: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    """The (path, sha256) pairs a manifest row records, for ``pipeline.files.intact``."""
    return [(row.get("pdf_path"), row.get("pdf_sha256")), (row.get("html_path"), row.get("html_sha256"))]


def manifest_fingerprint(manifest: pl.DataFrame) -> str:
    """sha256 over (account, pdf sha256) of the deliverable rows: what an approval covers."""
    h = hashlib.sha256()
    if manifest.height:
        ok = manifest.filter(pl.col("status").is_in(OK_STATUSES)).sort("account_id")
        for account_id, sha in ok.select("account_id", "pdf_sha256").iter_rows():
            h.update(f"{account_id}\0{sha}\n".encode("utf-8"))
    return h.hexdigest()


# --------------------------------------------------------------------------- approvals


def approve_period(
    warehouse: Warehouse, period: date | str, approved_by: str, kind: str = "client", now: datetime | None = None
) -> dict[str, Any]:
    """Approve the rendered reports of a period for delivery (``require_approval``).

    Records who approved and a fingerprint of the reports as they are now; raises
    ``ApprovalError`` when there is nothing to approve or no approver is named.
    """
    who = " ".join(str(approved_by or "").split())
    if not who:
        raise ApprovalError("approved_by is empty: name the person approving the reports")
    key = period_text(period)
    manifest = read_manifest(warehouse, key, kind)
    deliverable = manifest.filter(pl.col("status").is_in(OK_STATUSES)) if manifest.height else manifest
    if deliverable.is_empty():
        raise ApprovalError(
            f"There are no rendered {kind} reports for {key} to approve; render them first "
            f"(pipeline run --month {key})."
        )
    record = {
        "period": key,
        "kind": kind,
        "approved_by": who[:200],
        "approved_at": now or utcnow(),
        "manifest_sha256": manifest_fingerprint(manifest),
        "reports": deliverable.height,
    }
    with warehouse.connect() as con:
        con.execute(load_sql("reports/approval_upsert"), record)
    return record


def approval_for(warehouse: Warehouse, period: date | str, kind: str = "client") -> dict[str, Any] | None:
    rows = _query(warehouse, "reports/approval_for_period", {"period": period_text(period), "kind": kind})
    return rows.row(0, named=True) if rows.height else None


# --------------------------------------------------------------------------- deliveries


def delivery_log(warehouse: Warehouse, period: date | str, kind: str = "client") -> pl.DataFrame:
    return _query(warehouse, "reports/deliveries_for_period", {"period": period_text(period), "kind": kind})


def claim_delivery(warehouse: Warehouse, record: dict[str, Any], resume: bool = False) -> bool:
    """Write ``sending`` for this delivery (attempts + 1) before the message leaves.

    False when it is not this run's to send: another run claimed or finished it since
    the plan was read (a new or failed delivery is claimed; a ``sending`` one only with
    ``resume``, when the channel showed that message never left)."""
    with warehouse.connect() as con:
        return bool(con.execute(load_sql("reports/delivery_claim"), {**record, "resume": resume}).fetchall())


def finish_delivery(
    warehouse: Warehouse, key: str, status: str, message_id: str | None, error: str | None, now: datetime
) -> None:
    with warehouse.connect() as con:
        con.execute(
            load_sql("reports/delivery_finish"),
            {"key": key, "status": status, "message_id": message_id, "error": error, "now": now},
        )


def reject_delivery(warehouse: Warehouse, record: dict[str, Any]) -> None:
    with warehouse.connect() as con:
        con.execute(load_sql("reports/delivery_reject"), record)


def periods_with_failed_deliveries(warehouse: Warehouse, kind: str = "client") -> list[str]:
    """Reporting months (YYYY-MM) with failed deliveries, retried when the month's
    report_deliveries runs again: what a retry sensor would request."""
    rows = _query(warehouse, "reports/periods_with_failed_deliveries", {"kind": kind})
    return rows["period"].to_list() if rows.height else []
