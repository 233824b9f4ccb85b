"""The leadership pack delivered through the same exactly-once path as the client
reports: into the outbox and to a real SMTP server on 127.0.0.1 (aiosmtpd). A pack is
sent once per recipient; a new pack (new sha256) is sent again; bad addresses are
recorded; no recipients configured sends nothing and says so."""

from __future__ import annotations

import email
import hashlib
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from pipeline.publish.deliveries import deliver_leadership_pack
from pipeline.reporting.mail import INVALID_LIST
from pipeline.resources.mailer import MailerResource
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import delivery_log, replace_manifest
from tests.support.report_builders import rendered_march
from tests.support.smtp import Inbox, free_port

MARCH = date(2024, 3, 1)
LEADERS = ("ceo@northwind.example", "coo@northwind.example")
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SMTP tests' month (shared when both run); its client reports are not delivered here."""
    return rendered_march(
        {"ACME-1": "cfo@acme.example; ops@acme.example", "GLOBEX-9": "finance@globex.example"},
        tmp_path_factory.getbasetemp(),
    )


@pytest.fixture
def data(rendered: Path, tmp_path: Path) -> tuple[Warehouse, Settings]:
    target = tmp_path / "data"
    shutil.copytree(rendered, target)
    return Warehouse(target / "warehouse.duckdb"), Settings(data_dir=target, leadership_recipients=LEADERS)


def write_pack(wh: Warehouse, settings: Settings, pdf: bytes, status: str = "rendered") -> str:
    """A leadership pack for March 2024 as produce_leadership_pack records it (the bytes
    need not be a real PDF: delivery attaches what the manifest names)."""
    rel = "2024-03/leadership/account-health-pack-2024-03.pdf"
    path = settings.reports_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    sha = hashlib.sha256(pdf).hexdigest()
    stamp = datetime(2024, 4, 2, 6, tzinfo=UTC)
    replace_manifest(
        wh,
        "2024-03",
        "leadership",
        [
            {
                "period": "2024-03",
                "kind": "leadership",
                "account_id": "",
                "period_key": "2024-03",
                "cadence": "monthly",
                "status": status,
                "html_path": rel.replace(".pdf", ".html"),
                "pdf_path": rel,
                "html_sha256": "h",
                "pdf_sha256": sha,
                "pages": 9,
                "pdf_bytes": len(pdf),
                "recorded_at": stamp,
                "rendered_at": stamp,
            }
        ],
    )
    return sha


def outbox_files(settings: Settings) -> list[Path]:
    return sorted(settings.outbox_dir.rglob("*.eml")) if settings.outbox_dir.exists() else []


def test_pack_goes_once_to_each_leader_in_the_outbox_and_again_when_it_changes(data) -> None:
    wh, settings = data
    settings = replace(settings, leadership_recipients=(*LEADERS, "not an address"))
    sha = write_pack(wh, settings, b"%PDF-1.7 pack v1")
    first = deliver_leadership_pack(wh, settings, MARCH, MailerResource().get(settings))
    assert (first.reports, first.sent, first.rejected, first.failed, first.status) == (1, 2, 1, 0, "ok")

    files = outbox_files(settings)
    assert len(files) == 2 and {f.parent.relative_to(settings.outbox_dir).as_posix() for f in files} == {
        "2024-03/leadership"
    }
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Account health pack, March 2024" and msg["To"] in LEADERS
    (pdf,) = list(msg.iter_attachments())
    assert pdf.get_filename() == "account-health-pack-2024-03.pdf"
    assert hashlib.sha256(pdf.get_content()).hexdigest() == sha

    log = {r["recipient"]: r for r in delivery_log(wh, "2024-03", "leadership").iter_rows(named=True)}
    assert {r: log[r]["status"] for r in log} == {**dict.fromkeys(LEADERS, "sent"), "not an address": "rejected"}
    assert "spaces" in log["not an address"]["error"] and log[LEADERS[0]]["account_id"] == ""
    assert delivery_log(wh, "2024-03", "client").is_empty()  # the client reports are a separate kind

    again = deliver_leadership_pack(wh, settings, MARCH, MailerResource().get(settings))
    assert (again.sent, again.already_sent, again.rejected) == (0, 2, 0) and len(outbox_files(settings)) == 2

    write_pack(wh, settings, b"%PDF-1.7 pack v2")  # re-rendered with new data: a new pack
    new = deliver_leadership_pack(wh, settings, MARCH, MailerResource().get(settings))
    assert (new.sent, new.already_sent) == (2, 0) and len(outbox_files(settings)) == 4


def test_nothing_is_sent_without_recipients_a_pack_or_when_blocked(data) -> None:
    wh, settings = data
    none = deliver_leadership_pack(
        wh, replace(settings, leadership_recipients=()), MARCH, MailerResource().get(settings)
    )
    assert none.sent == 0 and none.status == "no recipients configured (PIPELINE_LEADERSHIP_RECIPIENTS)"
    no_pack = deliver_leadership_pack(wh, settings, MARCH, MailerResource().get(settings))
    assert no_pack.sent == 0 and no_pack.status == "no leadership pack rendered for 2024-03"
    write_pack(wh, settings, b"%PDF-1.7 failed", status="failed")
    assert deliver_leadership_pack(wh, settings, MARCH, MailerResource().get(settings)).skipped
    write_pack(wh, settings, b"%PDF-1.7 pack")
    blocked = deliver_leadership_pack(
        wh,
        settings,
        MARCH,
        MailerResource().get(settings),
        blocked_reason="failed asset checks on the marts: marts/portfolio_monthly:mrr_bridge",
    )
    assert blocked.status == "blocked" and blocked.sent == 0
    assert outbox_files(settings) == [] and delivery_log(wh, "2024-03", "leadership").is_empty()


def test_a_recipient_list_with_a_line_break_is_refused_whole(data) -> None:
    wh, settings = data
    settings = replace(settings, leadership_recipients=("ceo@northwind.example\r\nBcc: all@evil.example",))
    write_pack(wh, settings, b"%PDF-1.7 pack")
    summary = deliver_leadership_pack(wh, settings, MARCH, MailerResource().get(settings))
    assert (summary.sent, summary.rejected) == (0, 1) and outbox_files(settings) == []
    (row,) = delivery_log(wh, "2024-03", "leadership").iter_rows(named=True)
    assert row["recipient"] == INVALID_LIST and "PIPELINE_LEADERSHIP_RECIPIENTS contains a line break" in row["error"]


def test_exactly_once_through_a_real_smtp_server(data) -> None:
    wh, settings = data
    inbox = Inbox()
    inbox.refuse_once.add(LEADERS[1])
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?starttls=false")
        sha = write_pack(wh, settings, b"%PDF-1.7 pack over smtp")
        runs = [
            deliver_leadership_pack(wh, settings, MARCH, MailerResource(timeout_seconds=5).get(settings))
            for _ in range(3)
        ]
        assert [(r.sent, r.failed, r.already_sent) for r in runs] == [(1, 1, 0), (1, 0, 1), (0, 0, 2)]
        for leader in LEADERS:
            (msg,) = inbox.to(leader)  # exactly once, the refused one on the retry
            (pdf,) = list(msg.iter_attachments())
            assert hashlib.sha256(pdf.get_content()).hexdigest() == sha
            assert msg["Subject"] == "Account health pack, March 2024"
        log = {r["recipient"]: r for r in delivery_log(wh, "2024-03", "leadership").iter_rows(named=True)}
        assert log[LEADERS[1]]["attempts"] == 2 and {r["status"] for r in log.values()} == {"sent"}

        write_pack(wh, settings, b"%PDF-1.7 pack over smtp, corrected")
        new = deliver_leadership_pack(wh, settings, MARCH, MailerResource(timeout_seconds=5).get(settings))
        assert new.sent == 2 and len(inbox.messages) == 4
    finally:
        controller.stop()
