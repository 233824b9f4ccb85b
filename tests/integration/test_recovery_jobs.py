"""Recovery from the UI: the restore_warehouse job puts a snapshot back (the damaged file set
aside), and a run of rebuild_warehouse sets the warehouse aside once before its first step
(a re-execution of the same rebuild keeps what it has built)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from pipeline.jobs import restore_warehouse_job
from pipeline.partitions import monthly_partitions
from pipeline.resources.backups import list_snapshots, take_snapshot
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import RECOVERY_TAG, Warehouse, WarehouseResource
from pipeline.store.ledger import forget_ledgers

pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
PARTS = monthly_partitions(date(2024, 1, 1))


@pytest.fixture(autouse=True)
def _forget():
    yield
    forget_ledgers()


def small_warehouse(path: Path) -> None:
    with Warehouse(path).connect() as con:
        con.execute("CREATE TABLE marts.account_monthly AS SELECT range AS i FROM range(100000)")


def test_the_restore_job_puts_the_newest_snapshot_back(data_dir: Path, test_instance) -> None:
    db = data_dir / "warehouse.duckdb"
    small_warehouse(db)
    snap, _ = take_snapshot(db, data_dir / "backups", "2024-03", "run-1", 3)
    with open(db, "r+b") as f:  # damage the header
        f.seek(100)
        f.write(b"\x00" * 64)
    result = restore_warehouse_job.execute_in_process(
        instance=test_instance,
        resources={"settings": SettingsResource()},
        run_config={"ops": {"restore_warehouse_op": {"config": {"snapshot": ""}}}},
    )
    assert result.success
    (aside,) = data_dir.glob("warehouse.duckdb.damaged-*")
    with Warehouse(db).connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.account_monthly").fetchall() == [(100000,)]
    assert list_snapshots(data_dir / "backups") == [snap]
    assert aside.exists()


@dg.asset(partitions_def=PARTS)
def uses_the_warehouse(warehouse: WarehouseResource) -> None:
    with warehouse.get().connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS marts.built AS SELECT 1 AS i")


def test_a_rebuild_run_sets_the_warehouse_aside_once(data_dir: Path, test_instance) -> None:
    db = data_dir / "warehouse.duckdb"
    small_warehouse(db)
    first = dg.materialize(
        [uses_the_warehouse],
        partition_key="2024-03-01",
        instance=test_instance,
        resources={"warehouse": WarehouseResource()},
        tags={RECOVERY_TAG: "rebuild"},
    )
    assert first.success
    (aside,) = data_dir.glob("warehouse.duckdb.replaced-*")  # sound, so "replaced"
    with Warehouse(db).connect(read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "built" in tables and "account_monthly" not in tables  # a new warehouse

    again = dg.materialize(
        [uses_the_warehouse],
        partition_key="2024-03-01",
        instance=test_instance,
        resources={"warehouse": WarehouseResource()},
        tags={RECOVERY_TAG: "rebuild", "dagster/root_run_id": first.run_id},
    )
    assert again.success and list(data_dir.glob("warehouse.duckdb.replaced-*")) == [aside]  # not moved again
