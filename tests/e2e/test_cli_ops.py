"""`pipeline approve` and `pipeline resend` end to end, as an operator runs them, on the
session's closed sample month (tests.support.closed_month: sample and close as real
processes, once per session), copied per test; the month's run also delivered the
leadership pack. The commands run in-process through ``pipeline.cli.main`` (the
``pipeline_cli`` fixture). Errors are one paragraph on stderr, exit 1, no traceback, and
the SMTP password never shows (the failing SMTP resend runs as a real process)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.support.cli import subprocess_cli as cli
from tests.support.closed_month import END, LEADERS

pytestmark = pytest.mark.slow

PASSWORD = "s3cr3t-Pa55"


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "data/warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def outbox(root: Path) -> list[Path]:
    return sorted((root / "data/outbox").rglob("*.eml"))


def fails_cleanly(out, *phrases: str) -> None:
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stdout + out.stderr
    for phrase in phrases:
        assert phrase in out.stderr


@pytest.fixture
def month(closed_month) -> tuple[Path, dict[str, str]]:
    """A copy of the closed month (its `pipeline run` exited 0, asserted where it is made);
    no SMTP URL and no approval required (env_for passes no PIPELINE_ setting from outside)."""
    env = closed_month.env()
    assert "PIPELINE_SMTP_URL" not in env and "PIPELINE_REQUIRE_APPROVAL" not in env
    assert "client_reports_every_due_client_has_a_report" in closed_month.run_stdout
    return closed_month.root, env


LEADERSHIP_LOG = "SELECT recipient, status FROM ops.deliveries WHERE kind = 'leadership' AND period = '{}'"


def test_the_run_delivers_the_leadership_pack(month, pipeline_cli) -> None:
    root, env = month
    leaders = LEADERS.split(";")
    log = dict(rows(root, LEADERSHIP_LOG.format(END)))
    assert log == dict.fromkeys(leaders, "sent")
    packs = [p for p in outbox(root) if p.parent.name == "leadership"]
    assert len(packs) == len(leaders)
    for pack in packs:
        assert f"account-health-pack-{END}.pdf" in pack.read_text(errors="replace")

    # Other recipients, one of them not an address: the next delivery run sends the pack
    # to the new one, rejects the other and sends nothing twice.
    env = {**env, "PIPELINE_LEADERSHIP_RECIPIENTS": "ceo@northwind.example;not an address"}
    out = pipeline_cli(["run", "--month", END, "--select", "report_deliveries"], env, root)
    assert out.returncode == 0, out.stderr
    log = dict(rows(root, LEADERSHIP_LOG.format(END)))
    assert log == {**dict.fromkeys(leaders, "sent"), "ceo@northwind.example": "sent", "not an address": "rejected"}
    (pack,) = [p for p in outbox(root) if p.parent.name == "leadership" and p not in packs]
    assert f"account-health-pack-{END}.pdf" in pack.read_text(errors="replace")


def test_approve(month, pipeline_cli) -> None:
    root, env = month
    (reports,) = rows(
        root,
        f"SELECT count(*) FROM ops.report_manifest WHERE kind = 'client' AND period = '{END}' "
        "AND status IN ('rendered', 'unchanged')",
    )
    out = pipeline_cli(["approve", "--month", END, "--by", "Ada Operator"], env, root)
    assert out.returncode == 0, out.stderr
    (fingerprint,) = rows(root, f"SELECT manifest_sha256 FROM ops.report_approvals WHERE period = '{END}'")[0]
    assert f"Ada Operator approved {reports[0]} client report(s) for {END} (fingerprint {fingerprint})" in out.stdout
    assert f"pipeline run --month {END} --select report_deliveries" in out.stdout

    fails_cleanly(
        pipeline_cli(["approve", "--month", "2026-05", "--by", "Ada"], env, root),
        "no rendered client reports for 2026-05",
        "pipeline run --month 2026-05",
    )


def test_resend_and_its_errors(month, pipeline_cli) -> None:
    root, env = month
    due = dict(
        rows(root, f"SELECT account_id, status FROM ops.report_manifest WHERE kind = 'client' AND period = '{END}'")
    )
    account = sorted(a for a, s in due.items() if s in ("rendered", "unchanged"))[0]
    recipients = {
        r
        for (r,) in rows(
            root,
            f"SELECT recipient FROM ops.deliveries WHERE kind = 'client' "
            f"AND account_id = '{account}' AND status = 'sent'",
        )
    }
    before = len(outbox(root))
    out = pipeline_cli(["resend", "--account", account, "--month", END, "--by", "Ada Operator"], env, root)
    assert out.returncode == 0, out.stderr
    assert f"Resent the {END} report of {account} to {len(recipients)} recipient(s) via outbox" in out.stdout
    assert len(outbox(root)) == before + len(recipients)
    logged = rows(
        root,
        f"SELECT recipient, status, requested_by FROM ops.deliveries WHERE kind = 'client_resend' "
        f"AND account_id = '{account}'",
    )
    assert sorted(logged) == sorted((r, "sent", "Ada Operator") for r in recipients)

    # Every error of resend_report is tested in tests/integration/test_delivery_resend.py;
    # here, that the CLI prints them as one paragraph.
    fails_cleanly(
        pipeline_cli(["resend", "--account", account.lower(), "--month", END], env, root),
        f"There is no account '{account.lower()}'",
        f"Did you mean {account}?",
    )
    fails_cleanly(
        pipeline_cli(["resend", "--account", account, "--month", "2026-05"], env, root),
        "No client reports have been rendered for 2026-05",
        "pipeline run --month 2026-05",
    )

    # A real process: exit code 1, one paragraph, and the password in no output.
    smtp = {**env, "PIPELINE_SMTP_URL": f"smtp://reports:{PASSWORD}@127.0.0.1:1?starttls=false"}
    down = cli(["resend", "--account", account, "--month", END, "--by", "Ada"], smtp, root)
    fails_cleanly(down, "resend(s)", "failed", "smtp://reports:***@127.0.0.1:1")
    assert PASSWORD not in down.stdout + down.stderr
    errors = " ".join(str(e) for (e,) in rows(root, "SELECT error FROM ops.deliveries WHERE error IS NOT NULL"))
    assert "reports:***@" in errors and PASSWORD not in errors
