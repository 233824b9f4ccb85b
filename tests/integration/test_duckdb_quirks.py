"""Writes of more than one DuckDB row group (122,880 rows) stay visible to the connection
that made them.

DuckDB 2.0.0 loses sight of a large insert into a table created empty (``CREATE TABLE
... AS SELECT ... WHERE false``) in the same transaction: that connection then reads the
table as empty, even after COMMIT, while a new connection sees the rows. It cost a
reverted change once (a connection kept open for a whole run read an empty
account_monthly at 10,000 accounts). The warehouse never uses that pattern; these tests
hold it to that at a size small tests never reach."""

from __future__ import annotations

import polars as pl

from pipeline.contract import source
from pipeline.resources.warehouse import Warehouse, transaction
from pipeline.store.loading import load_new_files, read_staging
from pipeline.store.staging import stage

MORE_THAN_A_ROW_GROUP = 130_000


def test_a_new_table_filled_in_one_transaction_reads_back_whole(warehouse):
    frame = pl.DataFrame({"month": range(MORE_THAN_A_ROW_GROUP), "v": 1})
    with warehouse.connect() as con:
        with transaction(con):
            Warehouse.replace_rows(con, "marts.quirk", frame, "month <= ?", [MORE_THAN_A_ROW_GROUP])
            assert con.execute("SELECT count(*), sum(v) FROM marts.quirk").fetchall() == [(130_000, 130_000)]
        assert con.execute("SELECT count(DISTINCT month) FROM marts.quirk").fetchall() == [(130_000,)]
        with transaction(con):  # and the second write of the slice replaces it
            Warehouse.replace_rows(con, "marts.quirk", frame.head(5), "month <= ?", [MORE_THAN_A_ROW_GROUP])
        assert con.execute("SELECT count(*) FROM marts.quirk").fetchall() == [(5,)]


def test_staging_a_batch_larger_than_a_row_group_keeps_every_row(warehouse, data_dir, write_csv):
    rows = [[f"M{i:06d}", f"Manager {i}", f"m{i}@example.com", "East"] for i in range(MORE_THAN_A_ROW_GROUP)]
    write_csv("crm/account_managers.csv", ["manager_id", "name", "email", "team"], rows)
    load_new_files(warehouse, data_dir / "landing", source("account_managers"))
    result = stage(warehouse, source("account_managers"), batch_rows=200_000)
    assert (result.rows_in, result.rows_staged, result.rows_quarantined) == (130_000, 130_000, 0)
    assert read_staging(warehouse, "account_managers").height == 130_000
    with warehouse.connect() as con:  # the same connection's view, as the step itself would read it
        assert con.execute("SELECT count(*) FROM staging.account_managers").fetchall() == [(130_000,)]
