"""Operators hear about trouble without opening the UI (PIPELINE_OPERATOR_RECIPIENTS).

Against a real SMTP server on 127.0.0.1:

- a run started by the schedule fails (here: on a damaged warehouse, before any step):
  the run-failure sensor e-mails each operator once, naming the month, what failed and
  what to do; evaluating it again sends nothing more; a run an operator started from the
  command line is not mailed (they saw it fail);
- a month whose deliveries are held back by a failed blocking check: one e-mail per run;
- nothing is sent when the setting is empty.
"""

from __future__ import annotations

import email
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from pipeline.assets.delivery import build_delivery_assets
from pipeline.assets.reports import CLIENT_REPORTS_KEY
from pipeline.partitions import monthly_partitions
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.sensors import build_alert_sensors
from pipeline.settings import load_settings
from pipeline.store.ledger import forget_ledgers
from pipeline.store.records import replace_manifest
from tests.support.report_builders import Book, add_acme
from tests.support.smtp import Inbox, free_port

pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
PARTS = monthly_partitions(date(2024, 1, 1))
OPERATORS = "ops@northwind.example; oncall@northwind.example"


@pytest.fixture
def smtp(monkeypatch):
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("PIPELINE_SMTP_URL", f"smtp://127.0.0.1:{port}?starttls=false")
    yield inbox
    controller.stop()
    forget_ledgers()


def _messages(inbox: Inbox, to: str) -> list[email.message.EmailMessage]:
    return inbox.to(to)


@dg.asset(partitions_def=PARTS, key=dg.AssetKey(["marts", "account_monthly"]))
def needs_the_warehouse(warehouse: WarehouseResource) -> None:
    warehouse.get()


def _damaged_warehouse(path: Path) -> None:
    wh = Warehouse(path)
    with wh.connect() as con:
        con.execute("CREATE TABLE marts.x AS SELECT range AS i FROM range(10)")
    with open(path, "r+b") as f:  # the main header's checksum no longer matches
        f.seek(100)
        f.write(b"\xff" * 64)


def _failed_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> tuple[dg.DagsterRun, dg.DagsterEvent]:
    result = dg.materialize(
        [needs_the_warehouse],
        partition_key="2024-03-01",
        instance=instance,
        resources={"warehouse": WarehouseResource()},
        tags=tags,
        raise_on_error=False,
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    return run, failure.dagster_event


def _evaluate(sensor, instance, run, event):
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    return sensor(context)


def test_a_scheduled_run_that_fails_mails_each_operator_once(
    data_dir: Path, smtp: Inbox, monkeypatch, test_instance: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("PIPELINE_OPERATOR_RECIPIENTS", OPERATORS)
    _damaged_warehouse(data_dir / "warehouse.duckdb")
    (sensor,) = build_alert_sensors(load_settings())
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING  # on when there is someone to tell

    run, event = _failed_run(test_instance, {"dagster/schedule_name": "monthly_close_schedule"})
    _evaluate(sensor, test_instance, run, event)
    _evaluate(sensor, test_instance, run, event)  # the daemon may see a run twice: still one e-mail
    for address in ("ops@northwind.example", "oncall@northwind.example"):
        (msg,) = _messages(smtp, address)
        body = msg.get_content()
        assert msg["Subject"].strip().startswith("Pipeline run failed for 2024-03")
        assert run.run_id in body and "the schedule monthly_close_schedule" in body
        assert "before any step" in body and "is damaged" in body
        assert "`pipeline restore`" in body and "`pipeline rebuild`" in body
        assert "pipeline run --month 2024-03" in body

    cli_run, cli_event = _failed_run(test_instance, {"pipeline/trigger": "cli"})
    skipped = _evaluate(sensor, test_instance, cli_run, cli_event)
    assert isinstance(skipped, dg.SkipReason) and len(smtp.messages) == 2


def test_nothing_is_sent_when_no_operator_is_set(
    data_dir: Path, smtp: Inbox, monkeypatch, test_instance: dg.DagsterInstance
) -> None:
    monkeypatch.delenv("PIPELINE_OPERATOR_RECIPIENTS", raising=False)
    _damaged_warehouse(data_dir / "warehouse.duckdb")
    (sensor,) = build_alert_sensors(load_settings())
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    run, event = _failed_run(test_instance, {"dagster/sensor_name": "landing_folder_sensor"})
    assert isinstance(_evaluate(sensor, test_instance, run, event), dg.SkipReason)
    assert smtp.messages == []


FAILS = {"value": True}


@dg.asset(
    key=CLIENT_REPORTS_KEY,
    partitions_def=PARTS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec("every_due_client_has_a_report", asset=CLIENT_REPORTS_KEY, blocking=True)],
)
def client_reports_stub():
    replace_manifest(Warehouse(load_settings().warehouse_path), "2024-03", "client", [])
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="every_due_client_has_a_report", passed=not FAILS["value"])


def test_deliveries_held_back_by_a_failed_check_mail_the_operators_once_per_run(
    data_dir: Path, smtp: Inbox, monkeypatch, test_instance: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("PIPELINE_OPERATOR_RECIPIENTS", OPERATORS)
    book = Book()
    add_acme(book, recipients="cfo@acme.example")
    book.write(Warehouse(data_dir / "warehouse.duckdb"))
    report_deliveries = [
        a
        for a in build_delivery_assets(PARTS)
        if isinstance(a, dg.AssetsDefinition) and dg.AssetKey("report_deliveries") in a.keys
    ]
    resources = {"warehouse": WarehouseResource(), "settings": SettingsResource(), "mailer": MailerResource()}
    dg.materialize(
        [client_reports_stub],
        partition_key="2024-03-01",
        instance=test_instance,
        resources=resources,
        raise_on_error=False,
    )
    for _ in range(2):  # two runs of the delivery: one e-mail each
        result = dg.materialize(
            [client_reports_stub, *report_deliveries],
            selection=["report_deliveries"],
            partition_key="2024-03-01",
            instance=test_instance,
            resources=resources,
        )
        (event,) = result.get_asset_materialization_events()
        assert event.materialization.metadata["status"].value == "blocked"
    msgs = _messages(smtp, "ops@northwind.example")
    assert len(msgs) == 2 and all(
        m["Subject"].strip().startswith("Deliveries for 2024-03 held back by a failed check") for m in msgs
    )
    body = msgs[0].get_content()
    assert "client_reports:every_due_client_has_a_report" in body and "pipeline run --month 2024-03" in body
    assert _messages(smtp, "cfo@acme.example") == []  # and no client got anything
