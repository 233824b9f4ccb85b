"""The blocking check "every due client has a report" on client_reports, on a hand-built
month: Acme (monthly) and Globex (quarterly) are both due in March 2024. When Globex's
render failed the check fails with its measured values, report_deliveries does not run
in that run, and a later run of report_deliveries alone is blocked by it; once every
due report is there, the month is delivered."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dagster import AssetKey, BackfillPolicy, MaterializeResult, asset, instance_for_test, materialize

from pipeline.assets.delivery import DUE_CLIENTS_CHECK, build_delivery_assets
from pipeline.assets.reports import CLIENT_REPORTS_KEY
from pipeline.partitions import monthly_partitions
from pipeline.publish.deliveries import report_coverage
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.settings import load_settings
from pipeline.store.records import delivery_log, replace_manifest
from tests.support.report_builders import Book, add_acme, add_globex

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.BetaWarning")]
PARTS = monthly_partitions(date(2023, 1, 1))
MARCH = date(2024, 3, 1)
GLOBEX_FAILS = {"value": True}


def manifest_row(account_id: str, period_key: str, cadence: str, failed: bool) -> dict:
    """A client report as produce_client_reports records it, or its failed render."""
    stamp = datetime(2024, 4, 2, 6, tzinfo=UTC)
    base = {
        "period": "2024-03",
        "kind": "client",
        "account_id": account_id,
        "period_key": period_key,
        "cadence": cadence,
        "recorded_at": stamp,
    }
    if failed:
        return {**base, "status": "failed", "error": "WeasyPrint: layout failed on page 3"}
    rel = f"2024-03/clients/{account_id}/report-{period_key}.pdf"
    pdf = f"%PDF-1.7 {account_id}".encode()
    path = load_settings().reports_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    return {
        **base,
        "status": "rendered",
        "pdf_path": rel,
        "html_path": rel.replace(".pdf", ".html"),
        "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        "html_sha256": "h",
        "pages": 4,
        "rendered_at": stamp,
    }


@asset(key=CLIENT_REPORTS_KEY, partitions_def=PARTS, backfill_policy=BackfillPolicy.single_run())
def client_reports_stub() -> MaterializeResult:
    """Stands in for the renderer: Acme rendered, Globex failed (or rendered)."""
    replace_manifest(
        Warehouse(load_settings().warehouse_path),
        "2024-03",
        "client",
        [
            manifest_row("ACME-1", "2024-03", "monthly", failed=False),
            manifest_row("GLOBEX-9", "2024-Q1", "quarterly", failed=GLOBEX_FAILS["value"]),
        ],
    )
    return MaterializeResult()


def check_metadata(result) -> tuple[bool, dict]:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == DUE_CLIENTS_CHECK]
    return evaluation.passed, {k: v.value for k, v in evaluation.metadata.items()}


def test_a_failed_render_fails_the_check_and_blocks_deliveries(data_dir: Path, warehouse: Warehouse) -> None:
    book = Book()
    add_acme(book, recipients="cfo@acme.example")
    add_globex(book, recipients="finance@globex.example")
    book.write(warehouse)
    resources = {"warehouse": WarehouseResource(), "settings": SettingsResource(), "mailer": MailerResource()}
    defs = [client_reports_stub, *build_delivery_assets(PARTS)]
    pk = "2024-03-01"
    with instance_for_test() as instance:
        GLOBEX_FAILS["value"] = True
        run = materialize(
            defs,
            selection=["client_reports", "report_deliveries"],
            partition_key=pk,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        passed, meta = check_metadata(run)
        assert not passed and (meta["due"], meta["with_report"], meta["missing"], meta["threshold"]) == (2, 1, 1, 0)
        assert "GLOBEX-9" in meta["examples"] and "layout failed" in meta["examples"]
        assert not run.success  # a blocking check: report_deliveries did not run
        assert AssetKey("report_deliveries") not in {e.asset_key for e in run.get_asset_materialization_events()}
        assert not (data_dir / "outbox").exists()

        later = materialize(
            defs, selection=["report_deliveries"], partition_key=pk, resources=resources, instance=instance
        )
        (event,) = later.get_asset_materialization_events()
        sent = {k: v.value for k, v in event.materialization.metadata.items()}
        assert sent["status"] == "blocked" and sent["sent"] == 0 and sent["leadership_sent"] == 0
        assert sent["blocked_reason"] == f"failed asset checks on the reports: client_reports:{DUE_CLIENTS_CHECK}"
        assert delivery_log(warehouse, "2024-03").is_empty()

        GLOBEX_FAILS["value"] = False
        run = materialize(
            defs,
            selection=["client_reports", "report_deliveries"],
            partition_key=pk,
            resources=resources,
            instance=instance,
        )
        passed, meta = check_metadata(run)
        assert passed and (meta["due"], meta["with_report"], meta["missing"]) == (2, 2, 0)
        (event,) = [e for e in run.get_asset_materialization_events() if e.asset_key == AssetKey("report_deliveries")]
        sent = {k: v.value for k, v in event.materialization.metadata.items()}
        assert (sent["status"], sent["sent"]) == ("ok", 2)
        assert sent["leadership_status"] == "no recipients configured (PIPELINE_LEADERSHIP_RECIPIENTS)"
        assert sent["leadership_recipients"] == 0


def test_a_due_account_missing_from_the_manifest_is_reported(warehouse: Warehouse) -> None:
    book = Book()
    add_acme(book)
    add_globex(book)
    book.write(warehouse)
    coverage = report_coverage(warehouse, MARCH)
    assert (coverage.due, coverage.with_report) == (2, 0)
    assert coverage.missing["status"].to_list() == ["no report", "no report"]
    # February: Globex (quarterly) is not due, so only Acme counts.
    assert report_coverage(warehouse, date(2024, 2, 1)).missing["account_id"].to_list() == ["ACME-1"]
