"""Exactly-once delivery against a real SMTP server started by the test on 127.0.0.1
(aiosmtpd, free port): each recipient gets its own client's report once, a refused
recipient is retried on the next run, AUTH and STARTTLS work, and the password never
shows in logs, errors or the deliveries table."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline.publish.deliveries import deliver_reports
from pipeline.resources.mailer import MailerResource, SmtpMailer, parse_smtp_url
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import delivery_log, periods_with_failed_deliveries, read_manifest
from tests.support.report_builders import rendered_march
from tests.support.smtp import Inbox, free_port

MARCH = date(2024, 3, 1)
PASSWORD = "s3cr3t-p@ss word!"
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """March 2024 rendered for Acme and Globex (shared by the delivery tests; copied per test)."""
    return rendered_march(
        {"ACME-1": "cfo@acme.example; ops@acme.example", "GLOBEX-9": "finance@globex.example"},
        tmp_path_factory.getbasetemp(),
    )


@pytest.fixture
def data(rendered: Path, tmp_path: Path) -> tuple[Warehouse, Settings]:
    target = tmp_path / "data"
    shutil.copytree(rendered, target)
    return Warehouse(target / "warehouse.duckdb"), Settings(data_dir=target)


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_exactly_once_with_a_retry_after_a_refused_recipient(smtp_server, data) -> None:
    inbox, port = smtp_server
    wh, settings = data
    settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?starttls=false")
    inbox.refuse_once.add("ops@acme.example")
    mailer = MailerResource(timeout_seconds=5).get(settings)
    assert isinstance(mailer, SmtpMailer)

    first = deliver_reports(wh, settings, MARCH, mailer)
    assert (first.sent, first.failed, first.already_sent) == (2, 1, 0)
    assert inbox.refused == ["ops@acme.example"]
    log = {r["recipient"]: r for r in delivery_log(wh, "2024-03").iter_rows(named=True)}
    assert log["ops@acme.example"]["status"] == "failed" and "550" in log["ops@acme.example"]["error"]
    assert log["cfo@acme.example"]["status"] == "sent" and log["cfo@acme.example"]["attempts"] == 1

    second = deliver_reports(wh, settings, MARCH, MailerResource(timeout_seconds=5).get(settings))
    assert (second.sent, second.failed, second.already_sent) == (1, 0, 2)
    third = deliver_reports(wh, settings, MARCH, MailerResource(timeout_seconds=5).get(settings))
    assert (third.sent, third.failed, third.already_sent) == (0, 0, 3)

    manifest = {r["account_id"]: r for r in read_manifest(wh, "2024-03").iter_rows(named=True)}
    expected = {"cfo@acme.example": "ACME-1", "ops@acme.example": "ACME-1", "finance@globex.example": "GLOBEX-9"}
    assert sorted(r for rcpts, _ in inbox.messages for r in rcpts) == sorted(expected)
    for recipient, account_id in expected.items():
        (msg,) = inbox.to(recipient)  # exactly once
        assert msg["To"] == recipient
        (attachment,) = list(msg.iter_attachments())
        assert attachment.get_content_type() == "application/pdf"
        assert sha(attachment.get_content()) == manifest[account_id]["pdf_sha256"]  # its own client's report
        assert attachment.get_filename().endswith(".pdf")
    log = {r["recipient"]: r for r in delivery_log(wh, "2024-03").iter_rows(named=True)}
    assert log["ops@acme.example"]["status"] == "sent" and log["ops@acme.example"]["attempts"] == 2
    assert {r["status"] for r in log.values()} == {"sent"}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_and_a_password_that_never_shows(data, caplog: pytest.LogCaptureFixture) -> None:
    inbox = Inbox()
    port = free_port()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"reports"
            and auth_data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True, auth_require_tls=False
    )
    controller.start()
    try:
        wh, settings = data
        from urllib.parse import quote

        caplog.set_level(logging.DEBUG)
        wrong = replace(
            settings, smtp_url=f"smtp://reports:{quote('wrong-' + PASSWORD, safe='')}@127.0.0.1:{port}?starttls=false"
        )
        failed = deliver_reports(wh, wrong, MARCH, MailerResource(timeout_seconds=5).get(wrong))
        assert failed.failed == 3 and failed.sent == 0 and inbox.messages == []
        errors = " ".join(failed.errors) + " ".join(str(e) for e in delivery_log(wh, "2024-03")["error"].to_list())
        assert "authentication failed" in errors and "535" in errors
        assert "smtp://reports:***@127.0.0.1" in errors

        right = replace(settings, smtp_url=f"smtp://reports:{quote(PASSWORD, safe='')}@127.0.0.1:{port}?starttls=false")
        sent = deliver_reports(wh, right, MARCH, MailerResource(timeout_seconds=5).get(right))
        assert sent.sent == 3 and len(inbox.messages) == 3
        everything = (
            errors + caplog.text + repr(parse_smtp_url(right.smtp_url)) + str(delivery_log(wh, "2024-03").to_dicts())
        )
        for secret in (PASSWORD, quote(PASSWORD, safe=""), "s3cr3t"):
            assert secret not in everything
    finally:
        controller.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a test certificate")
def test_starttls(data, tmp_path: Path) -> None:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True)
    controller.start()
    try:
        wh, settings = data
        target = parse_smtp_url(f"smtp://127.0.0.1:{port}?starttls=true")
        client_ctx = ssl.create_default_context(cafile=str(cert))
        summary = deliver_reports(wh, settings, MARCH, SmtpMailer(target, timeout=5, tls_context=client_ctx))
        assert (summary.sent, summary.failed) == (3, 0), summary.errors
        assert len(inbox.messages) == 3
    finally:
        controller.stop()


def test_an_unreachable_server_is_a_failure_retried_next_run(data) -> None:
    wh, settings = data
    down = replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}?starttls=false")
    summary = deliver_reports(wh, down, MARCH, MailerResource(timeout_seconds=2).get(down))
    assert summary.failed == 3 and summary.sent == 0
    assert set(delivery_log(wh, "2024-03")["status"].to_list()) == {"failed"}
    assert periods_with_failed_deliveries(wh) == ["2024-03"]
