"""The `pipeline` CLI end to end, as an operator runs it: real processes, a temp data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

END = "2026-06"


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def env_and_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    env = {
        **os.environ,
        "PIPELINE_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PIPELINE_FIRST_MONTH": "2025-01",
    }
    sample = cli(["sample", "--accounts", "25", "--months", "14", "--end-month", END], env, root)
    assert sample.returncode == 0, sample.stderr
    first = cli(["run", "--month", END], env, root)
    return root, env, first


def marts_snapshot(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()
            for t in ("account_monthly", "account_health", "portfolio_monthly")
        }
    finally:
        con.close()


def test_run_succeeds_prints_progress_and_is_recorded_in_the_instance(env_and_run, monkeypatch):
    root, env, first = env_and_run
    assert first.returncode == 0, first.stderr
    assert "ok      marts/portfolio_monthly" in first.stdout
    assert "Traceback" not in first.stdout + first.stderr
    from dagster import DagsterInstance, DagsterRunStatus

    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
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


def test_rerunning_the_same_month_changes_nothing(env_and_run):
    root, env, first = env_and_run
    before = marts_snapshot(root / "data/warehouse.duckdb")
    again = cli(["run", "--month", END], env, root)
    assert again.returncode == 0, again.stderr
    assert marts_snapshot(root / "data/warehouse.duckdb") == before


def test_select_runs_a_subset(env_and_run):
    root, env, _ = env_and_run
    out = cli(["run", "--month", END, "--select", "group:marts"], env, root)
    assert out.returncode == 0, out.stderr
    assert "marts/account_health" in out.stdout and "raw/accounts" not in out.stdout


def test_errors_are_one_paragraph_without_traceback(env_and_run):
    root, env, _ = env_and_run
    bad_month = cli(["run", "--month", "2024-1x"], env, root)
    assert bad_month.returncode == 1 and "--month must look like 2024-03" in bad_month.stderr
    bad_select = cli(["run", "--month", END, "--select", "nosuch:thing"], env, root)
    assert bad_select.returncode == 1 and "not a valid asset selection" in bad_select.stderr
    future = cli(["run", "--month", "2999-01"], env, root)
    assert future.returncode == 1 and "not complete yet" in future.stderr
    for r in (bad_month, bad_select, future):
        assert "Traceback" not in r.stderr


def test_an_unreadable_file_fails_the_run_with_a_message_naming_it(env_and_run, tmp_path):
    root, env, _ = env_and_run
    env2 = {**env, "PIPELINE_DATA_DIR": str(tmp_path / "d"), "DAGSTER_HOME": str(tmp_path / "h")}
    landing = tmp_path / "d/landing/crm"
    landing.mkdir(parents=True)
    (landing / "accounts.csv").write_text("account_id,account_name\nA1,Acme\n")
    out = cli(["run", "--month", END, "--select", "key:raw/accounts"], env2, root)
    assert out.returncode == 1
    assert "crm/accounts.csv is missing the required column(s) tier, account_manager_id, currency" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_two_month_backfill_is_idempotent(env_and_run):
    root, env, _ = env_and_run
    args = ["backfill", "--from", "2026-05", "--to", END, "--select", "group:ingest or group:staging or group:marts"]
    first = cli(args, env, root)
    assert first.returncode == 0, first.stderr
    assert "Backfilling 2 month(s): 2026-05 .. 2026-06" in first.stdout
    before = marts_snapshot(root / "data/warehouse.duckdb")
    second = cli(args, env, root)
    assert second.returncode == 0, second.stderr
    assert marts_snapshot(root / "data/warehouse.duckdb") == before
