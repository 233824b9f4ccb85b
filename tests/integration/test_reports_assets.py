"""client_reports and report_deliveries materialized by Dagster: their metadata, change
detection across runs, deliveries blocked by a failed check on the marts (read from the
instance), and the approval job."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from dagster import (
    AssetCheckResult,
    AssetKey,
    MaterializeResult,
    asset,
    asset_check,
    instance_for_test,
    materialize,
)

from pipeline.assets.delivery import build_delivery_assets
from pipeline.assets.reports import build_report_assets
from pipeline.jobs import build_approval_job
from pipeline.partitions import monthly_partitions
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.store.records import approval_for, delivery_log
from tests.support.report_builders import Book, add_acme, add_globex

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.BetaWarning")]
PARTS = monthly_partitions(date(2023, 1, 1))
CHECK_PASSES = {"value": False}


@asset(key=AssetKey(["marts", "account_monthly"]), partitions_def=PARTS)
def account_monthly_stub() -> MaterializeResult:
    return MaterializeResult()


@asset(key=AssetKey(["marts", "account_health"]), partitions_def=PARTS)
def account_health_stub() -> MaterializeResult:
    return MaterializeResult()


@asset_check(asset=AssetKey(["marts", "account_monthly"]), name="mrr_bridge_ties_out")
def bridge_check() -> AssetCheckResult:
    return AssetCheckResult(passed=CHECK_PASSES["value"], metadata={"rows_off": 0 if CHECK_PASSES["value"] else 3})


def metadata(result, key: str) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(key)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_assets_render_block_deliver_and_approve(data_dir: Path, warehouse: Warehouse) -> None:
    book = Book()
    add_acme(book, recipients="cfo@acme.example")
    add_globex(book, recipients="finance@globex.example")
    book.write(warehouse)
    resources = {
        "warehouse": WarehouseResource(),
        "settings": SettingsResource(),
        "renderer": RendererResource(workers=2),
        "mailer": MailerResource(),
    }
    defs = [
        account_monthly_stub,
        account_health_stub,
        bridge_check,
        *build_report_assets(PARTS),
        *build_delivery_assets(PARTS),
    ]
    marts = [AssetKey(["marts", "account_monthly"]), AssetKey(["marts", "account_health"])]
    pk = "2024-03-01"
    with instance_for_test() as instance:
        CHECK_PASSES["value"] = False
        run = materialize(defs, selection=marts, partition_key=pk, resources=resources, instance=instance)
        assert [e.passed for e in run.get_asset_check_evaluations()] == [False]

        run = materialize(
            defs,
            selection=["client_reports", "report_deliveries"],
            partition_key=pk,
            resources=resources,
            instance=instance,
        )
        reports = metadata(run, "client_reports")
        assert (reports["reports_due"], reports["reports_rendered"], reports["reports_unchanged"]) == (2, 2, 0)
        assert reports["failures"] == 0 and reports["pages"] >= 4 and reports["seconds_per_report"] > 0
        sent = metadata(run, "report_deliveries")
        assert sent["status"] == "blocked" and sent["sent"] == 0
        assert "marts/account_monthly:mrr_bridge_ties_out" in sent["blocked_reason"]
        assert not (data_dir / "outbox").exists()

        CHECK_PASSES["value"] = True
        materialize(defs, selection=marts, partition_key=pk, resources=resources, instance=instance)
        run = materialize(
            defs,
            selection=["client_reports", "report_deliveries"],
            partition_key=pk,
            resources=resources,
            instance=instance,
        )
        assert (
            metadata(run, "client_reports")["reports_rendered"],
            metadata(run, "client_reports")["reports_unchanged"],
        ) == (0, 2)
        sent = metadata(run, "report_deliveries")
        assert (sent["status"], sent["sent"], sent["recipients"], sent["channel"]) == ("ok", 2, 2, "outbox")
        assert len(list((data_dir / "outbox").rglob("*.eml"))) == 2
        assert set(delivery_log(warehouse, "2024-03")["status"].to_list()) == {"sent"}

        # A check failing for another month does not block March.
        CHECK_PASSES["value"] = False
        materialize(defs, selection=marts, partition_key="2024-02-01", resources=resources, instance=instance)
        run = materialize(
            defs, selection=["report_deliveries"], partition_key=pk, resources=resources, instance=instance
        )
        assert metadata(run, "report_deliveries")["status"] == "ok"

    job = build_approval_job()
    result = job.execute_in_process(
        run_config={
            "ops": {"record_report_approval": {"config": {"period": "2024-03", "approved_by": "Ada Operator"}}}
        },
        resources={"warehouse": WarehouseResource()},
    )
    assert result.success and approval_for(warehouse, "2024-03")["approved_by"] == "Ada Operator"


def test_in_a_code_location_the_latest_check_for_the_partition_decides(data_dir: Path, warehouse: Warehouse) -> None:
    from dagster import Definitions

    from pipeline.assets.delivery import failed_checks_reason

    book = Book()
    add_acme(book, recipients="cfo@acme.example")
    book.write(warehouse)
    seen: list[str | None] = []

    @asset(key=AssetKey("probe"), partitions_def=PARTS, deps=["report_deliveries"])
    def probe(context) -> MaterializeResult:
        seen.append(failed_checks_reason(context, context.partition_key))
        return MaterializeResult()

    defs = Definitions(
        assets=[
            account_monthly_stub,
            account_health_stub,
            bridge_check,
            probe,
            *build_report_assets(PARTS),
            *build_delivery_assets(PARTS),
        ],
        resources={
            "warehouse": WarehouseResource(),
            "settings": SettingsResource(),
            "renderer": RendererResource(workers=2),
            "mailer": MailerResource(),
        },
    )
    job = defs.resolve_implicit_global_asset_job_def()
    marts = [AssetKey(["marts", "account_monthly"]), AssetKey(["marts", "account_health"])]
    with instance_for_test() as instance:
        for passes, month in ((False, "2024-03-01"), (True, "2024-02-01")):
            CHECK_PASSES["value"] = passes
            assert job.execute_in_process(instance=instance, partition_key=month, asset_selection=marts).success
        for month in ("2024-03-01", "2024-02-01", "2024-01-01"):
            assert job.execute_in_process(
                instance=instance, partition_key=month, asset_selection=[AssetKey("probe")]
            ).success
        CHECK_PASSES["value"] = True  # March's check re-run alone now passes
        assert job.execute_in_process(instance=instance, partition_key="2024-03-01", asset_selection=marts).success
        assert job.execute_in_process(
            instance=instance, partition_key="2024-03-01", asset_selection=[AssetKey("probe")]
        ).success
    assert seen == ["failed asset checks on the marts: marts/account_monthly:mrr_bridge_ties_out", None, None, None]
