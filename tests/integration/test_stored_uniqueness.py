"""The uniqueness check of the largest marts runs in DuckDB on the stored rows
(pipeline.store.marts.repeated_keys): it must see a repeat, only up to the month checked."""

from __future__ import annotations

from datetime import date

import polars as pl

from pipeline.checks import check_repeats
from pipeline.resources.warehouse import Warehouse
from pipeline.store.marts import repeated_keys, write_months

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)


def test_a_repeated_account_month_fails_and_a_clean_table_passes(warehouse: Warehouse):
    frame = pl.DataFrame({"account_id": ["A1", "A1", "A2"], "month": [JAN, FEB, JAN], "mrr": [1, 2, 3]})
    write_months(warehouse, "marts.account_monthly", frame, FEB)
    clean = check_repeats(repeated_keys(warehouse, "marts.account_monthly", ["account_id", "month"], FEB), "u")
    assert clean.passed and clean.metadata["duplicate_keys"].value == 0

    with warehouse.transaction() as con:  # a repeat of A2 in January, and one in March
        con.execute(
            "INSERT INTO marts.account_monthly VALUES ('A2', DATE '2024-01-01', 9), ('A3', DATE '2024-03-01', 1), ('A3', DATE '2024-03-01', 1)"
        )
    dup = repeated_keys(warehouse, "marts.account_monthly", ["account_id", "month"], FEB)
    assert dup.rows() == [("A2", JAN, 2)]  # March is after the month checked
    result = check_repeats(dup, "u")
    assert not result.passed and result.metadata["duplicate_keys"].value == 1
    assert repeated_keys(warehouse, "marts.account_monthly", ["account_id", "month"], MAR).height == 2
