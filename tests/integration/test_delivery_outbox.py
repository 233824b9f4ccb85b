"""Delivery without SMTP (.eml files in the outbox), refused recipient lists, bad
addresses, blocked periods and operator approval."""

from __future__ import annotations

import email
import hashlib
import shutil
from dataclasses import replace
from datetime import date
from email import policy
from pathlib import Path

import pytest

from pipeline.publish.client_reports import produce_client_reports
from pipeline.publish.deliveries import deliver_reports
from pipeline.reporting.mail import INVALID_LIST
from pipeline.resources.mailer import MailerResource, OutboxMailer
from pipeline.resources.renderer.pool import Renderer
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import ApprovalError, approval_for, approve_period, delivery_log, read_manifest
from tests.support.report_builders import Book, add_acme, add_globex, rendered_march, ts

MARCH = date(2024, 3, 1)
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


RECIPIENTS = {
    "ACME-1": "cfo@acme.example; not an address; ops@acme",
    "GLOBEX-9": "finance@globex.example\r\nBcc: everyone@evil.example",
}


def book() -> Book:
    b = Book()
    add_acme(b, recipients=RECIPIENTS["ACME-1"])
    add_globex(b, recipients=RECIPIENTS["GLOBEX-9"])
    return b


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered_march(RECIPIENTS, tmp_path_factory.getbasetemp())


@pytest.fixture
def data(rendered: Path, tmp_path: Path) -> tuple[Warehouse, Settings]:
    target = tmp_path / "data"
    shutil.copytree(rendered, target)
    return Warehouse(target / "warehouse.duckdb"), Settings(data_dir=target)


def outbox_files(settings: Settings) -> list[Path]:
    return sorted(settings.outbox_dir.rglob("*.eml")) if settings.outbox_dir.exists() else []


def test_outbox_when_no_smtp_url_and_bad_recipients_recorded(data) -> None:
    wh, settings = data
    mailer = MailerResource().get(settings)
    assert isinstance(mailer, OutboxMailer) and settings.smtp_url is None
    summary = deliver_reports(wh, settings, MARCH, mailer)
    assert (summary.sent, summary.rejected, summary.failed) == (1, 3, 0)

    (eml,) = outbox_files(settings)
    assert settings.outbox_dir.resolve() in eml.resolve().parents and eml.parent.parent.name == "2024-03"
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "cfo@acme.example" and "Acme Rockets Ltd" in msg["Subject"]
    (pdf,) = list(msg.iter_attachments())
    manifest = {r["account_id"]: r for r in read_manifest(wh, "2024-03").iter_rows(named=True)}
    assert hashlib.sha256(pdf.get_content()).hexdigest() == manifest["ACME-1"]["pdf_sha256"]

    log = {(r["account_id"], r["recipient"]): r for r in delivery_log(wh, "2024-03").iter_rows(named=True)}
    assert log[("ACME-1", "cfo@acme.example")]["status"] == "sent"
    assert log[("ACME-1", "cfo@acme.example")]["channel"] == "outbox"
    assert (
        log[("ACME-1", "not an address")]["status"] == "rejected"
        and "spaces" in log[("ACME-1", "not an address")]["error"]
    )
    assert (
        log[("ACME-1", "ops@acme")]["status"] == "rejected"
        and "name@domain.tld" in log[("ACME-1", "ops@acme")]["error"]
    )
    crlf = log[("GLOBEX-9", INVALID_LIST)]
    assert crlf["status"] == "rejected" and "line break" in crlf["error"]
    assert not any("globex" in str(p) for p in outbox_files(settings))  # nothing sent to a CR/LF list

    again = deliver_reports(wh, settings, MARCH, MailerResource().get(settings))
    assert (again.sent, again.rejected, again.already_sent) == (0, 0, 1)
    assert len(outbox_files(settings)) == 1


def test_a_blocked_period_sends_and_records_nothing(data) -> None:
    wh, settings = data
    summary = deliver_reports(
        wh,
        settings,
        MARCH,
        MailerResource().get(settings),
        blocked_reason="failed asset checks on the marts: marts/account_monthly:mrr_bridge",
    )
    assert summary.status == "blocked" and summary.sent == 0
    assert outbox_files(settings) == [] and delivery_log(wh, "2024-03").is_empty()


def test_require_approval_holds_until_approved_and_again_after_a_rerender(data) -> None:
    wh, settings = data
    settings = replace(settings, require_approval=True)
    held = deliver_reports(wh, settings, MARCH, MailerResource().get(settings))
    assert held.status == "held for approval" and held.sent == 0 and outbox_files(settings) == []

    with pytest.raises(ApprovalError):
        approve_period(wh, "2024-03", "   ")
    with pytest.raises(ApprovalError, match="no rendered"):
        approve_period(wh, "2023-11", "Ada Operator")
    record = approve_period(wh, "2024-03", "Ada Operator")
    assert record["reports"] == 2 and approval_for(wh, date(2024, 3, 1))["approved_by"] == "Ada Operator"
    sent = deliver_reports(wh, settings, MARCH, MailerResource().get(settings))
    assert sent.sent == 1 and len(outbox_files(settings)) == 1

    # New data re-renders Acme's report: the approval no longer covers it.
    b = book()
    b.add(
        "tickets",
        ticket_id="ACME-1-T7",
        account_id="ACME-1",
        opened_at=ts(2024, 3, 30),
        first_response_at=None,
        resolved_at=None,
        priority="low",
        status="open",
        subject="Late change",
    )
    b.write(wh)
    assert produce_client_reports(wh, settings, MARCH, Renderer(2)).rendered == 1
    again = deliver_reports(wh, settings, MARCH, MailerResource().get(settings))
    assert again.status == "held for approval" and "approve the period again" in again.held
    approve_period(wh, "2024-03", "Ada Operator")
    after = deliver_reports(wh, settings, MARCH, MailerResource().get(settings))
    assert after.sent == 1 and len(outbox_files(settings)) == 2  # the new report, once
