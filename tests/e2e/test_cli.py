"""The `pipeline` CLI end to end, as an operator runs it, on the session's closed sample
month (tests.support.closed_month: `pipeline sample` and `pipeline run --month END` as real
processes, once per session), copied per test. Further commands run in-process through
``pipeline.cli.main`` (the ``pipeline_cli`` fixture); the error paths run as real
processes, for their exit code and to show that no traceback reaches the operator."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.support.cli import subprocess_cli as cli
from tests.support.closed_month import END, env_for

pytestmark = pytest.mark.slow


def marts_snapshot(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()
            for t in ("account_monthly", "account_health", "portfolio_monthly")
        }
    finally:
        con.close()


def test_run_succeeds_prints_progress_and_is_recorded_in_the_instance(closed_month, monkeypatch):
    root = closed_month.root  # `pipeline run --month END` exited 0 (asserted where the month is made)
    assert "ok      marts/portfolio_monthly" in closed_month.run_stdout
    assert "Traceback" not in closed_month.run_stdout + closed_month.run_stderr
    from dagster import DagsterInstance, DagsterRunStatus

    monkeypatch.setenv("DAGSTER_HOME", str(closed_month.home))
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert any(r.job_name == "monthly_close" and r.status == DagsterRunStatus.SUCCESS for r in runs)
        assert any(r.tags.get("dagster/partition") == f"{END}-01" for r in runs)

    con = duckdb.connect(str(root / "data/warehouse.duckdb"), read_only=True)
    try:
        months = con.execute("SELECT min(month), max(month) FROM marts.account_monthly").fetchall()[0]
        assert str(months[1]) == f"{END}-01"
        assert con.execute("SELECT count(*) FROM ops.quarantine").fetchall()[0][0] > 0
        assert con.execute("SELECT count(DISTINCT grouping) FROM marts.portfolio_monthly").fetchall()[0][0] == 4
    finally:
        con.close()


def test_rerunning_the_same_month_changes_nothing(closed_month, pipeline_cli):
    root, env = closed_month.root, closed_month.env()
    before = marts_snapshot(root / "data/warehouse.duckdb")
    again = pipeline_cli(["run", "--month", END], env, root)
    assert again.returncode == 0, again.stderr
    assert marts_snapshot(root / "data/warehouse.duckdb") == before


def test_select_runs_a_subset(closed_month, pipeline_cli):
    root, env = closed_month.root, closed_month.env()
    out = pipeline_cli(["run", "--month", END, "--select", "group:marts"], env, root)
    assert out.returncode == 0, out.stderr
    assert "marts/account_health" in out.stdout and "raw/accounts" not in out.stdout


def test_errors_are_one_paragraph_without_traceback(closed_month):
    """Real processes: exit code 1, the message on stderr, no traceback."""
    root, env = closed_month.root, closed_month.env()
    bad_month = cli(["run", "--month", "2024-1x"], env, root)
    assert bad_month.returncode == 1 and "--month must look like 2024-03" in bad_month.stderr
    bad_select = cli(["run", "--month", END, "--select", "nosuch:thing"], env, root)
    assert bad_select.returncode == 1 and "not a valid asset selection" in bad_select.stderr
    future = cli(["run", "--month", "2999-01"], env, root)
    assert future.returncode == 1 and "not complete yet" in future.stderr
    for r in (bad_month, bad_select, future):
        assert "Traceback" not in r.stderr


def test_an_unreadable_file_fails_the_run_with_a_message_naming_it(tmp_path):
    """A real process (no closed month needed): exit code 1, the file named, no traceback."""
    root = tmp_path
    env2 = env_for(root, PIPELINE_DATA_DIR=str(tmp_path / "d"), DAGSTER_HOME=str(tmp_path / "h"))
    landing = tmp_path / "d/landing/crm"
    landing.mkdir(parents=True)
    (landing / "accounts.csv").write_text("account_id,account_name\nA1,Acme\n")
    out = cli(["run", "--month", END, "--select", "key:raw/accounts"], env2, root)
    assert out.returncode == 1
    assert "crm/accounts.csv is missing the required column(s) tier, account_manager_id, currency" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_two_month_backfill_is_idempotent(closed_month, pipeline_cli):
    root, env = closed_month.root, closed_month.env()
    args = ["backfill", "--from", "2026-05", "--to", END, "--select", "group:ingest or group:staging or group:marts"]
    first = pipeline_cli(args, env, root)
    assert first.returncode == 0, first.stderr
    assert "Backfilling 2 month(s): 2026-05 .. 2026-06" in first.stdout
    before = marts_snapshot(root / "data/warehouse.duckdb")
    second = pipeline_cli(args, env, root)
    assert second.returncode == 0, second.stderr
    assert marts_snapshot(root / "data/warehouse.duckdb") == before
