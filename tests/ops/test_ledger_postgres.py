"""The ledger on the Dagster instance's PostgreSQL (PIPELINE_LEDGER_URL=dagster), against
a real, throw-away server (fixture `postgres_server` in conftest.py).

- claims are atomic there too (of six processes claiming one delivery, one wins), and a
  first load time is kept;
- a closed month switched to the server's ledger takes over what its warehouse knows, and
  then survives the warehouse: deleted and run again, the month sends no e-mail;
- the ledger's tables sit beside Dagster's own (``pipeline_ledger_*``), and no output shows
  the password.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops_postgres")]
REPO = Path(__file__).resolve().parents[2]


def _claim(url: str, barrier, results) -> None:
    from pipeline.resources.ledger import Ledger, dispose_engines

    dispose_engines()  # nothing pooled crosses the fork
    barrier.wait()
    results.put(
        Ledger(url).claim(
            {
                "key": "p" * 64,
                "kind": "client",
                "account_id": "A-1",
                "period": "2026-06",
                "recipient": "x@a.example",
                "content_hash": "c" * 64,
                "sha256": "s" * 64,
                "channel": "smtp",
                "now": datetime.now(UTC),
            }
        )
    )


def test_claims_and_load_times_on_the_server(postgres_server, monkeypatch) -> None:
    from pipeline.resources.ledger import Ledger, dispose_engines, resolve_ledger_url

    url = resolve_ledger_url("dagster", "/unused/warehouse.duckdb", postgres_server.dagster_env)
    ledger = Ledger(url)
    assert postgres_server.password not in ledger.display and "127.0.0.1" in ledger.display
    ledger.ensure()
    dispose_engines()
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(url, barrier, results)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert sorted(results.get(timeout=10) for _ in procs) == [False] * 5 + [True]
    first = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert ledger.record_load("accounts", "h" * 64, "crm/accounts.csv", first, 3, "r") == first
    assert ledger.record_load("accounts", "h" * 64, "crm/accounts.csv", datetime.now(UTC), 3, "r2") == first
    tables = {
        r[0]
        for r in postgres_server.psql(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'pipeline_ledger_%'"
        )
    }
    assert {"pipeline_ledger_deliveries", "pipeline_ledger_loads", "pipeline_ledger_approvals"} <= tables


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=900
    )


def test_a_closed_month_on_the_servers_ledger_survives_its_warehouse(postgres_server, closed_demo) -> None:
    demo = closed_demo("pg_ledger")
    data = demo.root / "data"
    env = {**demo.env, **postgres_server.dagster_env, "PIPELINE_LEDGER_URL": "dagster", "PYTHONPATH": str(REPO)}
    mail = sorted(p.relative_to(data).as_posix() for p in (data / "outbox").rglob("*.eml"))
    (data / "ledger.sqlite").unlink()  # from now on the ledger is on the server only

    status = _cli(["ledger", "status"], env)
    assert status.returncode == 0, status.stderr
    assert "took over deliveries" in status.stdout and "HELD" not in status.stdout
    assert postgres_server.password not in status.stdout + status.stderr
    sent = int(postgres_server.psql("SELECT count(*) FROM pipeline_ledger_deliveries WHERE status = 'sent'")[0][0])
    assert sent == len(mail)

    os.remove(data / "warehouse.duckdb")
    run = _cli(["run", "--month", "2026-06"], env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert postgres_server.password not in run.stdout + run.stderr
    assert sorted(p.relative_to(data).as_posix() for p in (data / "outbox").rglob("*.eml")) == mail
    assert not (data / "ledger.sqlite").exists()
    assert int(postgres_server.psql("SELECT count(*) FROM pipeline_ledger_deliveries")[0][0]) == sent
