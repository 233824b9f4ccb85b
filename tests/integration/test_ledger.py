"""The ledger (pipeline.resources.ledger, pipeline.store.ledger): what was delivered,
approved and loaded, in a store of its own beside the warehouse.

- claims are atomic across processes: of many processes claiming one delivery, one wins;
- it outlives the warehouse: deleting the warehouse file loses no delivery, approval or
  first load time;
- a new ledger takes over what a warehouse from before it knows, and holds a period that
  files on disk show may have been delivered outside it;
- its location never leaks a password.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline.resources.ledger import Ledger, LedgerError, describe, resolve_ledger_url
from pipeline.resources.warehouse import Warehouse
from pipeline.store import ledger as store_ledger
from pipeline.store.ledger import ledger_for, sync_deliveries

NOW = datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def test_instance():
    """No Dagster instance needed here."""
    yield None


def record(key: str = "k" * 64, **extra) -> dict:
    return {
        "key": key,
        "kind": "client",
        "account_id": "A-1",
        "period": "2026-06",
        "recipient": "cfo@a.example",
        "content_hash": "c" * 64,
        "sha256": "s" * 64,
        "channel": "outbox",
        "period_key": "2026-06",
        "report_path": "2026-06/clients/a/r.pdf",
        "now": NOW,
        **extra,
    }


def test_claim_finish_and_retry_semantics(tmp_path: Path) -> None:
    ledger = ledger_for(Warehouse(tmp_path / "warehouse.duckdb"))
    assert ledger.path == (tmp_path / "ledger.sqlite").resolve()
    assert ledger.claim(record()) is True
    assert ledger.claim(record()) is False  # sending: nobody else may take it
    assert ledger.claim(record(), resume=True) is True  # only when the channel showed it never left
    ledger.finish("k" * 64, "failed", None, "550 refused", NOW)
    assert ledger.claim(record()) is True  # a failed delivery is retried
    ledger.finish("k" * 64, "sent", "<m@x>", None, NOW)
    assert ledger.claim(record()) is False and ledger.claim(record(), resume=True) is False  # sent: never again
    (row,) = ledger.deliveries("2026-06", "client")
    assert (row["status"], row["attempts"], row["message_id"], row["sent_at"]) == ("sent", 3, "<m@x>", NOW)
    assert row["content_hash"] == "c" * 64 and row["report_sha256"] == "s" * 64


def _claim_in_process(url: str, barrier, results) -> None:
    ledger = Ledger(url)
    barrier.wait()
    results.put(ledger.claim(record("z" * 64, now=datetime.now(UTC))))


def test_of_eight_processes_claiming_one_delivery_exactly_one_wins(tmp_path: Path) -> None:
    ledger = ledger_for(Warehouse(tmp_path / "warehouse.duckdb"))
    ctx = multiprocessing.get_context("fork")  # NullPool: no open connection is inherited
    barrier, results = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(ledger.url, barrier, results)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = sorted(results.get(timeout=10) for _ in procs)
    assert outcomes == [False] * 7 + [True]
    assert [r["status"] for r in ledger.deliveries("2026-06")] == ["sending"]


def test_the_ledger_outlives_the_warehouse_and_keeps_first_load_times(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    ledger = ledger_for(wh)
    ledger.claim(record())
    ledger.finish("k" * 64, "sent", "<m@x>", None, NOW)
    first = datetime(2026, 1, 3, 6, 0, 0, 123456, tzinfo=UTC)
    assert ledger.record_load("accounts", "h" * 64, "crm/accounts.csv", first, 10, "r1") == first
    sync_deliveries(wh)
    assert duckdb.connect(str(wh.path)).execute("SELECT count(*) FROM ops.deliveries").fetchall() == [(1,)]
    os.remove(wh.path)  # the warehouse is lost

    again = ledger_for(Warehouse(tmp_path / "warehouse.duckdb"))
    assert [r["status"] for r in again.deliveries("2026-06")] == ["sent"]
    later = first + timedelta(days=200)
    assert again.record_load("accounts", "h" * 64, "crm/accounts.csv", later, 10, "r2") == first  # kept
    assert again.load_times("accounts") == {"h" * 64: first}


def _old_warehouse(path: Path, reports: Path) -> None:
    """A warehouse from before the ledger: one delivery in ops.deliveries, its report listed
    in the manifest; and an older period's report file that no manifest lists."""
    wh = Warehouse(path)
    with wh.connect() as con:
        con.execute(
            "INSERT INTO ops.deliveries (delivery_key, account_id, period, recipient, report_sha256, kind, status, "
            "attempts, channel, updated_at, created_at) VALUES (?, 'A-1', '2026-06', 'cfo@a.example', ?, 'client', "
            "'sent', 1, 'outbox', ?, ?)",
            ["q" * 64, "s" * 64, NOW, NOW],
        )
        con.execute(
            "INSERT INTO ops.report_manifest (period, kind, account_id, period_key, status, pdf_path, pdf_sha256, "
            "recorded_at) VALUES ('2026-06', 'client', 'A-1', '2026-06', 'rendered', '2026-06/clients/a/r.pdf', ?, ?)",
            ["s" * 64, NOW],
        )
    for rel in ("2026-06/clients/a/r.pdf", "2026-05/clients/a/r.pdf"):
        (reports / rel).parent.mkdir(parents=True, exist_ok=True)
        (reports / rel).write_bytes(b"%PDF-1.7")


def test_a_new_ledger_takes_over_the_warehouse_and_holds_periods_delivered_outside_it(tmp_path: Path) -> None:
    _old_warehouse(tmp_path / "warehouse.duckdb", tmp_path / "reports")
    outbox = tmp_path / "outbox" / "2026-04" / "a"
    outbox.mkdir(parents=True)
    (outbox / "cfo_a.example-0123456789ab.eml").write_bytes(b"To: cfo@a.example\r\n\r\nx")
    ledger = ledger_for(Warehouse(tmp_path / "warehouse.duckdb"))
    assert [(r["delivery_key"], r["status"]) for r in ledger.deliveries()] == [("q" * 64, "sent")]
    held = {h["period"]: h["reason"] for h in ledger.holds()}
    # 2026-06: its delivery was taken over, so it is not held; 2026-05: a report no manifest
    # lists (rendered by a warehouse that is gone); 2026-04: a message in the outbox.
    assert set(held) == {"2026-04", "2026-05"}
    assert "report PDF" in held["2026-05"] and "message(s)" in held["2026-04"]
    assert "pipeline ledger confirm --month 2026-05" in held["2026-05"]
    assert "taken_over" in ledger.meta()


def test_the_ledger_url_never_shows_its_password(monkeypatch) -> None:
    env = {
        "DAGSTER_PG_HOST": "db.internal",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_USERNAME": "dagster",
        "DAGSTER_PG_PASSWORD": "s3cr:t/p@ss",
        "DAGSTER_PG_DB": "dagster",
    }
    url = resolve_ledger_url("dagster", "/x/warehouse.duckdb", env)
    assert url.startswith("postgresql+psycopg2://dagster:") and "s3cr" not in describe(url)
    with pytest.raises(LedgerError, match="DAGSTER_PG_PASSWORD") as missing:
        resolve_ledger_url(
            "dagster", "/x/warehouse.duckdb", {k: v for k, v in env.items() if k != "DAGSTER_PG_PASSWORD"}
        )
    assert "s3cr" not in str(missing.value)
    bad = Ledger("postgresql+psycopg2://u:s3cr%3At%2Fp%40ss@127.0.0.1:9/db?connect_timeout=2")
    with pytest.raises(LedgerError) as failed:
        bad.ensure()
    assert "s3cr" not in str(failed.value) and "127.0.0.1" in str(failed.value)
    assert resolve_ledger_url(None, "/x/warehouse.duckdb") == "sqlite:////x/ledger.sqlite"


@pytest.fixture(autouse=True)
def _forget():
    yield
    store_ledger.forget_ledgers()
