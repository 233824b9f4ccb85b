"""`pipeline approve` and `pipeline resend` end to end, as an operator runs them, on a tiny
sample month (real processes, a temp data folder and Dagster home); the month's run also
delivers the leadership pack. Errors are one paragraph on stderr, exit 1, no traceback,
and the SMTP password never shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

END = "2026-06"
PASSWORD = "s3cr3t-Pa55"


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def rows(root: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(root / "data/warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def outbox(root: Path) -> list[Path]:
    return sorted((root / "data/outbox").rglob("*.eml"))


def fails_cleanly(out: subprocess.CompletedProcess, *phrases: str) -> None:
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stdout + out.stderr
    for phrase in phrases:
        assert phrase in out.stderr


@pytest.fixture(scope="module")
def month(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cli_ops")
    env = {
        **os.environ,
        "PIPELINE_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PIPELINE_FIRST_MONTH": "2025-01",
        "PIPELINE_LEADERSHIP_RECIPIENTS": "ceo@northwind.example;not an address",
    }
    env.pop("PIPELINE_SMTP_URL", None)
    env.pop("PIPELINE_REQUIRE_APPROVAL", None)
    sample = cli(["sample", "--accounts", "12", "--months", "14", "--end-month", END], env, root)
    assert sample.returncode == 0, sample.stderr
    run = cli(["run", "--month", END], env, root)
    assert run.returncode == 0, run.stderr
    assert "client_reports_every_due_client_has_a_report" in run.stdout
    return root, env


def test_the_run_delivers_the_leadership_pack(month) -> None:
    root, _ = month
    log = dict(rows(root, f"SELECT recipient, status FROM ops.deliveries WHERE kind = 'leadership' AND period = '{END}'"))
    assert log == {"ceo@northwind.example": "sent", "not an address": "rejected"}
    (pack,) = [p for p in outbox(root) if p.parent.name == "leadership"]
    assert f"account-health-pack-{END}.pdf" in pack.read_text(errors="replace")


def test_approve(month) -> None:
    root, env = month
    (reports,) = rows(root, f"SELECT count(*) FROM ops.report_manifest WHERE kind = 'client' AND period = '{END}' "
                            "AND status IN ('rendered', 'unchanged')")
    out = cli(["approve", "--month", END, "--by", "Ada Operator"], env, root)
    assert out.returncode == 0, out.stderr
    (fingerprint,) = rows(root, f"SELECT manifest_sha256 FROM ops.report_approvals WHERE period = '{END}'")[0]
    assert f"Ada Operator approved {reports[0]} client report(s) for {END} (fingerprint {fingerprint})" in out.stdout
    assert f"pipeline run --month {END} --select report_deliveries" in out.stdout

    fails_cleanly(cli(["approve", "--month", "2026-05", "--by", "Ada"], env, root),
                  "no rendered client reports for 2026-05", "pipeline run --month 2026-05")


def test_resend_and_its_errors(month) -> None:
    root, env = month
    due = dict(rows(root, f"SELECT account_id, status FROM ops.report_manifest WHERE kind = 'client' AND period = '{END}'"))
    account = sorted(a for a, s in due.items() if s in ("rendered", "unchanged"))[0]
    recipients = {r for (r,) in rows(root, f"SELECT recipient FROM ops.deliveries WHERE kind = 'client' "
                                           f"AND account_id = '{account}' AND status = 'sent'")}
    before = len(outbox(root))
    out = cli(["resend", "--account", account, "--month", END, "--by", "Ada Operator"], env, root)
    assert out.returncode == 0, out.stderr
    assert f"Resent the {END} report of {account} to {len(recipients)} recipient(s) via outbox" in out.stdout
    assert len(outbox(root)) == before + len(recipients)
    logged = rows(root, f"SELECT recipient, status, requested_by FROM ops.deliveries WHERE kind = 'client_resend' "
                        f"AND account_id = '{account}'")
    assert sorted(logged) == sorted((r, "sent", "Ada Operator") for r in recipients)

    # Every error of resend_report is tested in tests/integration/test_delivery_resend.py;
    # here, that the CLI prints them as one paragraph.
    fails_cleanly(cli(["resend", "--account", account.lower(), "--month", END], env, root),
                  f"There is no account '{account.lower()}'", f"Did you mean {account}?")
    fails_cleanly(cli(["resend", "--account", account, "--month", "2026-05"], env, root),
                  "No client reports have been rendered for 2026-05", "pipeline run --month 2026-05")

    smtp = {**env, "PIPELINE_SMTP_URL": f"smtp://reports:{PASSWORD}@127.0.0.1:1?starttls=false"}
    down = cli(["resend", "--account", account, "--month", END, "--by", "Ada"], smtp, root)
    fails_cleanly(down, "resend(s)", "failed", "smtp://reports:***@127.0.0.1:1")
    assert PASSWORD not in down.stdout + down.stderr
    errors = " ".join(str(e) for (e,) in rows(root, "SELECT error FROM ops.deliveries WHERE error IS NOT NULL"))
    assert "reports:***@" in errors and PASSWORD not in errors
