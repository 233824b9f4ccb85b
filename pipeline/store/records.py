"""The reports' records: the manifest of rendered files (in the warehouse), and the
deliveries and approvals (in the ledger, ``pipeline.store.ledger``, which outlives the
warehouse; ``ops.deliveries`` and ``ops.report_approvals`` are the warehouse's copies).

- ``ops.report_manifest``: one row per document of a period (account, files, sha256,
  pages, data-as-of, input hash, status), replaced per period and kind in one
  transaction.
- deliveries: one row per (kind, account, period, recipient, what the report says (its
  input hash), and for a resend its request); a row is claimed as ``sending`` before a
  message leaves and finished as ``sent`` or ``failed``, so the same report never goes
  twice to the same recipient unless an operator asks for a resend (kind
  ``client_resend``), whatever happens to the warehouse.
- approvals: who approved which reports of a period (when ``require_approval`` is on);
  approving fingerprints what the reports say, so a report that says something new
  needs a new approval (a re-render of the same content does not).

The tables are created by the warehouse bootstrap (``pipeline.resources.warehouse``,
``OPS_TABLES``) when a writable connection first opens the file.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.sql import load_sql
from pipeline.store.ledger import deliveries_frame, ledger_for, sync_approvals

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
    return datetime.now(UTC)


def _query(warehouse: Warehouse, sql_name: str, params: dict[str, Any]) -> pl.DataFrame:
    with warehouse.connect() as con:
        return fetch(con, load_sql(sql_name), params)


# --------------------------------------------------------------------------- manifest


def read_manifest(warehouse: Warehouse, period: date | str, kind: str = "client") -> pl.DataFrame:
    return _query(warehouse, "reports/manifest_for_period", {"period": period_text(period), "kind": kind})


def replace_manifest(warehouse: Warehouse, period: date | str, kind: str, rows: list[dict[str, Any]]) -> None:
    """Replace the period's manifest rows of this kind with ``rows``, in one transaction."""
    frame = pl.DataFrame(rows, schema=MANIFEST) if rows else pl.DataFrame(schema=MANIFEST)
    with warehouse.transaction() as con:
        Warehouse.replace_rows(
            con, "ops.report_manifest", frame, "period = ? AND kind = ?", [period_text(period), kind]
        )


def recorded_files(row: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    """The (path, sha256) pairs a manifest row records, for ``pipeline.files.intact``."""
    return [(row.get("pdf_path"), row.get("pdf_sha256")), (row.get("html_path"), row.get("html_sha256"))]


def content_of(row: dict[str, Any]) -> str:
    """What a manifest row's report says: its input hash (context, templates, fonts and the
    versions that shape it), or the PDF's sha256 for a row recorded without one."""
    return row.get("input_hash") or row["pdf_sha256"]


def manifest_fingerprint(manifest: pl.DataFrame, by: str = "content") -> str:
    """sha256 over (account, what the report says) of the deliverable rows: what an
    approval covers. ``by="pdf"``: over the PDFs' sha256, as approvals were recorded
    before (still accepted, ``approval_covers``)."""
    h = hashlib.sha256()
    if manifest.height:
        ok = manifest.filter(pl.col("status").is_in(OK_STATUSES)).sort("account_id")
        for row in ok.iter_rows(named=True):
            sha = content_of(row) if by == "content" else row["pdf_sha256"]
            h.update(f"{row['account_id']}\0{sha}\n".encode())
    return h.hexdigest()


def approval_covers(approval: dict[str, Any], manifest: pl.DataFrame) -> bool:
    return approval["manifest_sha256"] in (manifest_fingerprint(manifest), manifest_fingerprint(manifest, "pdf"))


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
    ledger_for(warehouse).upsert_approval(record)
    sync_approvals(warehouse)
    return record


def approval_for(warehouse: Warehouse, period: date | str, kind: str = "client") -> dict[str, Any] | None:
    return ledger_for(warehouse).approval(period_text(period), kind)


# --------------------------------------------------------------------------- deliveries


def delivery_log(warehouse: Warehouse, period: date | str, kind: str = "client") -> pl.DataFrame:
    """The ledger's deliveries of a period and kind (the columns of ops.deliveries)."""
    return deliveries_frame(ledger_for(warehouse).deliveries(period_text(period), kind))


def claim_delivery(warehouse: Warehouse, record: dict[str, Any], resume: bool = False) -> bool:
    """Write ``sending`` for this delivery (attempts + 1) in the ledger, synced, before the
    message leaves.

    False when it is not this run's to send: another run claimed or finished it since
    the plan was read (a new or failed delivery is claimed; a ``sending`` one only with
    ``resume``, when the channel showed that message never left)."""
    return ledger_for(warehouse).claim(record, resume)


def finish_delivery(
    warehouse: Warehouse, key: str, status: str, message_id: str | None, error: str | None, now: datetime
) -> None:
    ledger_for(warehouse).finish(key, status, message_id, error, now)


def reject_delivery(warehouse: Warehouse, record: dict[str, Any]) -> None:
    ledger_for(warehouse).reject(record)


def periods_with_failed_deliveries(warehouse: Warehouse, kind: str = "client") -> list[str]:
    """Reporting months (YYYY-MM) with failed deliveries, retried when the month's
    report_deliveries runs again: what a retry sensor would request."""
    rows = ledger_for(warehouse).deliveries(kind=kind, status="failed")
    return sorted({r["period"] for r in rows})
