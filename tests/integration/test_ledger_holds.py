"""A lost ledger never re-sends silently: the month waits for an operator's answer.

Hand-built March 2024 (one client, one report file). The warehouse and the ledger are
both lost after March was delivered; the next run renders March again:

- the new ledger sees the report file no manifest lists and holds March: nothing is sent;
- ``--not-sent``: the next delivery sends it, once; ``--already-sent``: it is recorded as
  sent and never sent;
- the Dagster instance is a witness too: a materialization of report_deliveries for the
  month from before the ledger existed holds the month.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from pipeline.assets.delivery import build_delivery_assets
from pipeline.partitions import monthly_partitions
from pipeline.publish.deliveries import ConfirmError, confirm_period, deliver_reports
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource, OutboxMailer
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.settings import Settings
from pipeline.store.ledger import forget_ledgers, ledger_for
from pipeline.store.records import delivery_log, replace_manifest
from tests.support.report_builders import Book, add_acme

pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
MARCH = date(2024, 3, 1)
PARTS = monthly_partitions(date(2024, 1, 1))


@pytest.fixture(autouse=True)
def _forget():
    yield
    forget_ledgers()


def render_march(wh: Warehouse, reports: Path) -> None:
    """What client_reports records: one rendered report, its file on disk."""
    rel = "2024-03/clients/acme/account-report-2024-03.pdf"
    pdf = b"%PDF-1.7 Acme March"
    (reports / rel).parent.mkdir(parents=True, exist_ok=True)
    (reports / rel).write_bytes(pdf)
    stamp = datetime(2024, 4, 2, 6, tzinfo=UTC)
    replace_manifest(
        wh,
        "2024-03",
        "client",
        [
            {
                "period": "2024-03",
                "kind": "client",
                "account_id": "ACME-1",
                "period_key": "2024-03",
                "cadence": "monthly",
                "status": "rendered",
                "pdf_path": rel,
                "html_path": rel.replace(".pdf", ".html"),
                "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
                "html_sha256": "h",
                "pages": 4,
                "input_hash": "i" * 64,
                "recorded_at": stamp,
                "rendered_at": stamp,
            }
        ],
    )


def new_warehouse(data: Path) -> Warehouse:
    book = Book()
    add_acme(book, recipients="cfo@acme.example")
    return book.write(Warehouse(data / "warehouse.duckdb"))


def lose_everything_but_the_files(data: Path) -> Warehouse:
    """March delivered, then the warehouse and the ledger lost; a new run starts (the ledger
    is created when it loads files, before March is rendered again)."""
    os.remove(data / "warehouse.duckdb")
    os.remove(data / "ledger.sqlite")
    forget_ledgers()
    wh = new_warehouse(data)
    ledger_for(wh)
    render_march(wh, data / "reports")
    return wh


@pytest.mark.parametrize("already_sent", [True, False])
def test_a_month_delivered_before_the_ledger_was_lost_waits_for_an_operator(data_dir: Path, already_sent: bool):
    settings = Settings(data_dir=data_dir)
    wh = new_warehouse(data_dir)
    render_march(wh, settings.reports_dir)
    assert deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir)).sent == 1

    wh = lose_everything_but_the_files(data_dir)
    held = deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir))
    assert held.status == "held until an operator confirms" and held.sent == 0
    assert "pipeline ledger confirm --month 2024-03" in held.awaiting_confirmation
    assert len(list(settings.outbox_dir.rglob("*.eml"))) == 1

    with pytest.raises(ConfirmError, match="Name the person"):
        confirm_period(wh, settings, MARCH, " ", already_sent)
    done = confirm_period(wh, settings, MARCH, "Ada Operator", already_sent)
    with pytest.raises(ConfirmError, match="does not hold 2024-03"):
        confirm_period(wh, settings, MARCH, "Ada Operator", already_sent)
    after = deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir))
    again = deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir))
    if already_sent:
        assert done.recorded == 1 and (after.sent, after.already_sent) == (0, 1)
        assert len(list(settings.outbox_dir.rglob("*.eml"))) == 1  # never sent again
        (row,) = delivery_log(wh, "2024-03").iter_rows(named=True)
        assert (row["status"], row["channel"]) == ("sent", "confirmed")
    else:
        assert done.recorded == 0 and after.sent == 1  # the operator said it never left: sent, once
    assert again.sent == 0


@dg.asset(key=dg.AssetKey("client_reports"), partitions_def=PARTS, backfill_policy=dg.BackfillPolicy.single_run())
def client_reports_stub() -> None:
    return None


def test_the_dagster_instance_tells_a_new_ledger_what_was_delivered_before_it(data_dir: Path, test_instance):
    settings = Settings(data_dir=data_dir)
    # A delivery run of March recorded in the instance, by a ledger since lost.
    test_instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key="report_deliveries", partition="2024-03-01", metadata={"sent": 1, "already_sent": 0}
        )
    )
    wh = new_warehouse(data_dir)
    ledger = ledger_for(wh)  # created after that delivery
    render_march(wh, settings.reports_dir)  # listed in the manifest: no file tells
    assert ledger.holds() == []
    resources = {"warehouse": WarehouseResource(), "settings": SettingsResource(), "mailer": MailerResource()}
    assets = [client_reports_stub, *build_delivery_assets(PARTS)]
    result = dg.materialize(
        assets, selection=["report_deliveries"], partition_key="2024-03-01", instance=test_instance, resources=resources
    )
    (event,) = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert meta["status"] == "held until an operator confirms" and meta["sent"] == 0
    assert "Dagster instance" in meta["held_reason"]
    assert not settings.outbox_dir.exists()
