"""The managers' e-mails, exactly once: the hand-built book of business for March 2024
(tests/support/book_builders.py) rendered once per module, then delivered to the outbox
and to a real SMTP server on 127.0.0.1 (aiosmtpd): one e-mail per manager and close with
the alerts in its body and the book attached (or linked), nothing twice on a rerun, a
manager without an address listed and never a crash, each alert e-mailed once with
PIPELINE_ALERTS_IMMEDIATE, and no book sent for a month whose blocking check failed."""

from __future__ import annotations

import email
import hashlib
import shutil
from dataclasses import replace
from datetime import date
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    BackfillPolicy,
    MaterializeResult,
    asset,
    instance_for_test,
    materialize,
)

from pipeline.assets.alerts import build_alert_assets
from pipeline.assets.books import build_book_assets
from pipeline.assets.delivery import MANAGER_BOOK_DELIVERIES_KEY, build_delivery_assets
from pipeline.partitions import monthly_partitions
from pipeline.publish.deliveries import MANAGER_ALERT, deliver_alert_emails, deliver_manager_books
from pipeline.publish.manager_books import KIND, produce_manager_books
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource, SmtpMailer
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.settings import Settings, load_settings
from pipeline.store.records import delivery_log, read_manifest
from tests.support.book_builders import (
    MANAGER_OF,
    MAR,
    NAMES,
    write_alert_marts,
    write_book_of_business,
)
from tests.support.smtp import Inbox, free_port

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.BetaWarning")]
DANA, SAM = "dana@northwind.example", "sam@northwind.example"


@pytest.fixture(autouse=True)
def test_instance():
    """Most of these tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """March 2024 with its alert marts and the three managers' books (rendered once)."""
    from pipeline.resources.renderer.pool import Renderer

    root = tmp_path_factory.mktemp("books")
    wh = write_alert_marts(write_book_of_business(Warehouse(root / "warehouse.duckdb")))
    summary = produce_manager_books(wh, Settings(data_dir=root), MAR, Renderer(1))
    assert summary.rendered == 3, summary.failures
    return root


@pytest.fixture
def data(rendered: Path, tmp_path: Path) -> tuple[Warehouse, Settings]:
    target = tmp_path / "data"
    shutil.copytree(rendered, target)
    return Warehouse(target / "warehouse.duckdb"), Settings(data_dir=target)


def messages(outbox: Path) -> dict[str, list[email.message.EmailMessage]]:
    out: dict[str, list] = {}
    for path in sorted(outbox.rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        out.setdefault(str(msg["To"]), []).append(msg)
    return out


def body(msg) -> tuple[str, str, bytes | None]:
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    pdfs = [p.get_content() for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    return text, html, pdfs[0] if pdfs else None


def test_one_email_per_manager_with_its_alerts_and_book_and_never_twice(data) -> None:
    wh, settings = data
    first = deliver_manager_books(wh, settings, MAR, MailerResource().get(settings))
    assert (first.reports, first.sent, first.already_sent, first.failed) == (3, 2, 0, 0), first.errors
    assert first.without_email == ["M3 (Lee Park)"]
    sent = messages(settings.outbox_dir)
    assert sorted(sent) == [DANA, SAM] and all(len(v) == 1 for v in sent.values())

    manifest = {r["account_id"]: r for r in read_manifest(wh, "2024-03", KIND).iter_rows(named=True)}
    for manager, address in (("M1", DANA), ("M2", SAM)):
        (msg,) = sent[address]
        text, html, pdf = body(msg)
        assert hashlib.sha256(pdf).hexdigest() == manifest[manager]["pdf_sha256"]
        for account, name in NAMES.items():
            mine = MANAGER_OF[account] == manager
            if not mine:  # nothing of another manager's portfolio
                assert name not in text and name.replace("&", "&amp;") not in html
        assert "<script>" not in html
    text, html, _ = body(sent[DANA][0])
    assert sent[DANA][0]["Subject"] == "Your book of business for March 2024: 7 new alerts"
    assert "- [HIGH] Band dropped: Acme <b>Rockets</b> moved from green to red" in text
    assert "Acme &lt;b&gt;Rockets&lt;/b&gt;" in html
    assert "Your 5 customers pay $5,000 a month, the same as in February 2024." in text
    assert sent[SAM][0]["Subject"] == "Your book of business for March 2024: 2 new alerts"

    again = deliver_manager_books(wh, settings, MAR, MailerResource().get(settings))
    assert (again.sent, again.already_sent, again.failed) == (0, 2, 0)
    assert sum(len(v) for v in messages(settings.outbox_dir).values()) == 2
    log = delivery_log(wh, "2024-03", KIND)
    assert sorted(log["recipient"].to_list()) == [DANA, SAM] and set(log["status"]) == {"sent"}
    assert set(log["report_sha256"]) == {manifest["M1"]["pdf_sha256"], manifest["M2"]["pdf_sha256"]}


def test_a_book_rendered_again_is_not_sent_again_in_the_same_close(data) -> None:
    from pipeline.resources.renderer.pool import Renderer

    wh, settings = data
    deliver_manager_books(wh, settings, MAR, MailerResource().get(settings))
    renamed = replace(settings, branding=replace(settings.branding, company_name="Northwind Ltd"))
    assert produce_manager_books(wh, renamed, MAR, Renderer(1)).rendered == 3
    later = deliver_manager_books(wh, renamed, MAR, MailerResource().get(renamed))
    assert (later.sent, later.already_sent) == (0, 2)


def test_a_linked_book_is_not_attached(data) -> None:
    wh, settings = data
    linked = replace(settings, manager_book_delivery="link", reports_url="https://reports.northwind.example/r")
    assert deliver_manager_books(wh, linked, MAR, MailerResource().get(linked)).sent == 2
    text, html, pdf = body(messages(settings.outbox_dir)[DANA][0])
    assert pdf is None
    path = read_manifest(wh, "2024-03", KIND).sort("account_id")["pdf_path"][0]
    assert f"https://reports.northwind.example/r/{path}" in text
    assert f'href="https://reports.northwind.example/r/{path}"' in html


def test_a_book_older_than_the_data_is_not_sent(data) -> None:
    wh, settings = data
    with wh.transaction() as con:  # the data changed after the books were rendered
        con.execute("UPDATE marts.account_alerts SET message = 'changed' WHERE account_id = 'P06'")
    stale = deliver_manager_books(wh, settings, MAR, MailerResource().get(settings))
    assert (stale.sent, stale.failed) == (1, 1)
    assert stale.errors[0].startswith("M2:") and "materialize manager_books for the month again" in stale.errors[0]
    assert sorted(messages(settings.outbox_dir)) == [DANA]


def test_each_alert_is_emailed_once_when_immediate(data) -> None:
    wh, settings = data
    settings = replace(settings, alerts_immediate=True)
    first = deliver_alert_emails(wh, settings, MAR, MailerResource().get(settings))
    assert (first.reports, first.sent, first.failed) == (9, 7 + 2, 0), first.errors
    assert first.without_email == []  # Lee's accounts raised nothing
    sent = messages(settings.outbox_dir)
    assert len(sent[DANA]) == 7 and len(sent[SAM]) == 2
    subjects = sorted(m["Subject"] for m in sent[SAM])
    assert subjects == ["Alert (high): Band dropped, Fjord Semiconductors", "Alert (medium): Overdue, Gale Logistics"]
    again = deliver_alert_emails(wh, settings, MAR, MailerResource().get(settings))
    assert (again.sent, again.already_sent) == (0, 9)
    assert delivery_log(wh, "2024-03", MANAGER_ALERT).height == 9


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_exactly_once_over_smtp_with_a_retry(smtp_server, data) -> None:
    inbox, port = smtp_server
    wh, settings = data
    settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?starttls=false")
    inbox.refuse_once.add(SAM)
    mailer = MailerResource(timeout_seconds=5).get(settings)
    assert isinstance(mailer, SmtpMailer)
    first = deliver_manager_books(wh, settings, MAR, mailer)
    assert (first.sent, first.failed) == (1, 1) and inbox.refused == [SAM]
    second = deliver_manager_books(wh, settings, MAR, MailerResource(timeout_seconds=5).get(settings))
    assert (second.sent, second.already_sent, second.failed) == (1, 1, 0)
    third = deliver_manager_books(wh, settings, MAR, MailerResource(timeout_seconds=5).get(settings))
    assert (third.sent, third.already_sent) == (0, 2)
    assert [len(inbox.to(a)) for a in (DANA, SAM)] == [1, 1]
    assert inbox.to(DANA)[0]["Subject"] == "Your book of business for March 2024: 7 new alerts"
    assert not settings.outbox_dir.exists()


# --------------------------------------------------------------------------- gating, through Dagster

PARTS = monthly_partitions(date(2023, 1, 1))
CHECK_PASSES = {"value": False}
MONTHLY = AssetKey(["marts", "account_monthly"])


@asset(
    key=MONTHLY,
    partitions_def=PARTS,
    backfill_policy=BackfillPolicy.single_run(),
    check_specs=[AssetCheckSpec("mrr_bridge_ties_out", asset=MONTHLY, blocking=True)],
)
def account_monthly_stub():
    """Stands in for the mart (its rows are in the warehouse already); its blocking check
    fails or passes as the test says."""
    yield MaterializeResult()
    yield AssetCheckResult(check_name="mrr_bridge_ties_out", passed=CHECK_PASSES["value"])


def test_a_run_whose_blocking_check_failed_sends_no_book(data_dir: Path, warehouse: Warehouse) -> None:
    write_book_of_business(warehouse)
    resources = {
        "warehouse": WarehouseResource(),
        "settings": SettingsResource(),
        "renderer": RendererResource(workers=1),
        "mailer": MailerResource(),
    }
    delivery = [d for d in build_delivery_assets(PARTS) if set(d.keys) & {MANAGER_BOOK_DELIVERIES_KEY}]
    defs = [account_monthly_stub, *build_alert_assets(PARTS), *build_book_assets(PARTS), *delivery]
    books = ["marts/account_alerts", "marts/cross_sell_ideas", "manager_books", "manager_book_deliveries"]
    pk = "2024-03-01"
    with instance_for_test() as instance:
        CHECK_PASSES["value"] = False
        run = materialize(
            defs,
            selection=["marts/account_monthly", *books],
            partition_key=pk,
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        assert not run.success
        assert AssetKey("manager_book_deliveries") not in {e.asset_key for e in run.get_asset_materialization_events()}
        assert not (data_dir / "outbox").exists()

        later = materialize(defs, selection=books, partition_key=pk, resources=resources, instance=instance)
        (event,) = [e for e in later.get_asset_materialization_events() if e.asset_key == MANAGER_BOOK_DELIVERIES_KEY]
        sent = {k: v.value for k, v in event.materialization.metadata.items()}
        assert sent["status"] == "blocked" and sent["sent"] == 0
        assert "marts/account_monthly:mrr_bridge_ties_out" in sent["blocked_reason"]
        assert not (data_dir / "outbox").exists()

        CHECK_PASSES["value"] = True
        run = materialize(
            defs, selection=["marts/account_monthly", *books], partition_key=pk, resources=resources, instance=instance
        )
        (event,) = [e for e in run.get_asset_materialization_events() if e.asset_key == MANAGER_BOOK_DELIVERIES_KEY]
        sent = {k: v.value for k, v in event.materialization.metadata.items()}
        assert (sent["status"], sent["sent"], sent["managers_without_email"]) == ("ok", 2, 1)
        assert "M3 (Lee Park)" in sent["managers_without_email_list"]
        assert len(list((data_dir / "outbox").rglob("*.eml"))) == 2
        assert load_settings().outbox_dir == data_dir / "outbox"
