"""transaction(): a block's writes are committed together, or rolled back together."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.resources.warehouse import Warehouse, transaction


def rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT k, v FROM t ORDER BY k").fetchall()


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v VARCHAR)")
    con.execute("INSERT INTO t VALUES (1, 'a')")
    yield con
    con.close()


def test_a_block_that_ends_commits_every_write(con):
    with transaction(con) as same:
        assert same is con
        con.execute("INSERT INTO t VALUES (2, 'b')")
        con.execute("UPDATE t SET v = 'A' WHERE k = 1")
    assert rows(con) == [(1, "A"), (2, "b")]
    # committed: a second cursor (its own connection state) sees the rows
    assert rows(con.cursor()) == [(1, "A"), (2, "b")]
    # and no transaction is left open: a new one can begin
    con.execute("BEGIN TRANSACTION")
    con.execute("ROLLBACK")


def test_an_exception_rolls_back_every_write_and_is_raised(con):
    with pytest.raises(RuntimeError, match="boom"), transaction(con):
        con.execute("INSERT INTO t VALUES (2, 'b')")
        con.execute("DELETE FROM t WHERE k = 1")
        raise RuntimeError("boom")
    assert rows(con) == [(1, "a")]
    con.execute("BEGIN TRANSACTION")
    con.execute("ROLLBACK")


def test_a_failing_statement_rolls_back_the_writes_before_it(con):
    with pytest.raises(duckdb.ConstraintException), transaction(con):
        con.execute("INSERT INTO t VALUES (2, 'b')")
        con.execute("INSERT INTO t VALUES (1, 'duplicate key')")
    assert rows(con) == [(1, "a")]


def test_the_warehouse_transaction_commits_or_rolls_back_on_its_file(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.connect() as con:
        con.execute("CREATE TABLE ops.t (k INTEGER PRIMARY KEY, v VARCHAR)")
    with wh.transaction() as con:
        con.execute("INSERT INTO ops.t VALUES (1, 'a')")
    with pytest.raises(ValueError), wh.transaction() as con:
        con.execute("INSERT INTO ops.t VALUES (2, 'b')")
        raise ValueError("stop")
    with wh.connect() as con:
        assert con.execute("SELECT k, v FROM ops.t ORDER BY k").fetchall() == [(1, "a")]


def test_the_warehouse_transaction_uses_the_session_connection(tmp_path):
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.session():
        with wh.connect() as shared:
            shared.execute("CREATE TABLE ops.t (k INTEGER)")
        with pytest.raises(KeyError), wh.transaction() as con:
            assert con is shared
            con.execute("INSERT INTO ops.t VALUES (1)")
            raise KeyError("stop")
        with wh.transaction() as con:
            con.execute("INSERT INTO ops.t VALUES (2)")
        assert shared.execute("SELECT k FROM ops.t").fetchall() == [(2,)]
