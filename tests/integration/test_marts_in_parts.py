"""A mart built a slice of accounts at a time (pipeline.store.marts.build_or_reuse_in_parts)
stores exactly what one piece would: the months up to the reporting month replaced,
later months kept, counts summed, its own quarantine rows replaced, and nothing at all
when a part fails. The slices it reads back (account_ranges, read_month_columns) cover
every account once, and the checks' column reads (read_month_columns) only what is asked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.resources.warehouse import Warehouse
from pipeline.schemas import QUARANTINE
from pipeline.store import fingerprints
from pipeline.store.marts import (
    PARTS,
    Computed,
    Inputs,
    account_ranges,
    build_or_reuse_in_parts,
    read_month_columns,
    write_months,
)

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
SCHEMA = pl.Schema({"account_id": pl.String(), "month": pl.Date(), "mrr": pl.Float64()})
TABLE = "marts.parted"


def rows(*records: tuple[str, date, float]) -> pl.DataFrame:
    return pl.DataFrame(records, schema=SCHEMA, orient="row")


def reject(source: str, row: int) -> pl.DataFrame:
    return pl.DataFrame(
        [(source, "marts", "f.csv", row, "currency", "XXX", "no rate", f"k{row}", datetime(2024, 3, 1))],
        schema=QUARANTINE,
        orient="row",
    )


def stored(wh: Warehouse) -> list[tuple]:
    with wh.connect() as con:
        return con.execute(f"SELECT * FROM {TABLE} ORDER BY month, account_id").fetchall()


def quarantined(wh: Warehouse) -> list[tuple]:
    with wh.connect() as con:
        return con.execute(
            "SELECT source, row FROM ops.quarantine WHERE stage = 'marts' ORDER BY source, row"
        ).fetchall()


def has_parts_table(wh: Warehouse) -> bool:
    """Whether the temporary table is left (asked inside the build's session: a temporary
    table is its connection's alone)."""
    with wh.connect() as con:
        return bool(con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{PARTS}'").fetchall()[0][0])


@pytest.fixture
def built_through_march(warehouse: Warehouse) -> Warehouse:
    """A2 and A1 in January to March, and quarantine rows of two marts."""
    write_months(
        warehouse,
        TABLE,
        rows(("A1", JAN, 1), ("A1", FEB, 2), ("A1", MAR, 3), ("A2", JAN, 10), ("A2", FEB, 20), ("A2", MAR, 30)),
        MAR,
    )
    with warehouse.transaction() as con:
        for frame in (reject("invoices", 7), reject("goals", 9)):
            con.register("_q", frame)
            con.execute("INSERT INTO ops.quarantine SELECT * FROM _q")
            con.unregister("_q")
    return warehouse


def test_parts_replace_the_months_up_to_the_month_and_keep_later_ones(built_through_march: Warehouse):
    wh = built_through_march
    inputs = Inputs("marts/parted", FEB, "fp-1")

    def parts() -> Iterator[Computed]:
        yield Computed(rows(("A1", JAN, 1.5), ("A1", FEB, 2.5)), {"rejected": 1}, reject("invoices", 3))
        yield Computed(rows(("A2", FEB, 20.5), ("A3", FEB, 7)), {"rejected": 2}, reject("subscriptions", 4))

    with wh.session():  # one connection: the temporary table would still be visible in it
        build = build_or_reuse_in_parts(
            wh, TABLE, FEB, inputs, SCHEMA, parts, quarantine_sources=("invoices", "subscriptions"), quarantines=True
        )
        assert not has_parts_table(wh)

    assert build.recomputed and build.counts == {"rejected": 3}
    assert build.rows_per_month == {JAN: 1, FEB: 3}
    # A2's January is gone (the parts hold none); March, after the month built, is kept.
    assert stored(wh) == [
        ("A1", JAN, 1.5),
        ("A1", FEB, 2.5),
        ("A2", FEB, 20.5),
        ("A3", FEB, 7.0),
        ("A1", MAR, 3.0),
        ("A2", MAR, 30.0),
    ]
    # Its own sources' quarantine rows are replaced; another mart's (goals) are kept.
    assert quarantined(wh) == [("goals", 9), ("invoices", 3), ("subscriptions", 4)]
    with wh.connect() as con:
        assert fingerprints.read(con, "marts/parted").counts == {"rejected": 3}  # type: ignore[union-attr]

    def never() -> Iterator[Computed]:
        raise AssertionError("inputs unchanged: the parts must not be computed again")
        yield  # pragma: no cover

    again = build_or_reuse_in_parts(wh, TABLE, FEB, inputs, SCHEMA, never, quarantines=True)
    assert not again.recomputed and again.counts == {"rejected": 3} and again.rows_per_month == {JAN: 1, FEB: 3}


def test_a_part_that_fails_changes_nothing(built_through_march: Warehouse):
    wh = built_through_march
    before, before_q = stored(wh), quarantined(wh)

    def parts() -> Iterator[Computed]:
        yield Computed(rows(("A1", JAN, 99)))
        raise RuntimeError("the second slice failed")

    with wh.session():
        with pytest.raises(RuntimeError, match="second slice"):
            build_or_reuse_in_parts(
                wh, TABLE, FEB, Inputs("marts/parted", FEB, "fp-2"), SCHEMA, parts, quarantines=True
            )
        assert not has_parts_table(wh)
    assert stored(wh) == before and quarantined(wh) == before_q
    with wh.connect() as con:
        assert fingerprints.read(con, "marts/parted") is None


def test_a_first_build_of_many_row_groups_is_seen_by_the_connection_that_wrote_it(warehouse: Warehouse):
    """DuckDB 2.0.0 hid a large insert into a table created empty in the same transaction
    from the connection that made it (tests/integration/test_duckdb_quirks.py). Two parts
    of 100,000 rows each make a table of more than one row group on its first build."""
    n = 100_000

    def parts() -> Iterator[Computed]:
        for prefix in ("A", "B"):
            yield Computed(
                pl.DataFrame(
                    {"account_id": [f"{prefix}{i:06d}" for i in range(n)], "month": [JAN] * n, "mrr": [1.0] * n},
                    schema=SCHEMA,
                )
            )

    with warehouse.session():
        build = build_or_reuse_in_parts(warehouse, TABLE, JAN, Inputs("marts/parted", JAN, "fp"), SCHEMA, parts)
        with warehouse.connect() as con:  # the same connection
            assert con.execute(f"SELECT count(*), sum(mrr) FROM {TABLE}").fetchall() == [(2 * n, 2.0 * n)]
    assert build.rows_per_month == {JAN: 2 * n}


def test_account_ranges_cover_every_account_once_and_read_only_their_months(warehouse: Warehouse):
    accounts = ["A5", "A1", "A3", "A2", "A4"]
    frame = pl.concat([rows(*((a, m, float(i)) for m in (JAN, FEB, MAR))) for i, a in enumerate(accounts)]).vstack(
        rows(("A6", MAR, 6))
    )  # A6 starts after the month read
    write_months(warehouse, TABLE, frame, MAR)

    ranges = account_ranges(warehouse, TABLE, FEB, 2)
    assert ranges == [("A1", "A2"), ("A3", "A4"), ("A5", "A5")]
    slices = [read_month_columns(warehouse, TABLE, FEB, SCHEMA, accounts=(first, last)) for first, last in ranges]
    assert [sorted(set(s["account_id"])) for s in slices] == [["A1", "A2"], ["A3", "A4"], ["A5"]]
    assert all(s["month"].max() == FEB and s.height == 2 * s["account_id"].n_unique() for s in slices)
    assert account_ranges(warehouse, "marts.absent", FEB, 2) == []


def test_read_month_columns_reads_only_the_columns_and_months_asked(warehouse: Warehouse):
    write_months(warehouse, TABLE, rows(("A1", JAN, 1), ("A1", FEB, 2), ("A1", MAR, 3)), MAR)

    recent = read_month_columns(warehouse, TABLE, FEB, SCHEMA, ["month", "mrr"], [JAN, FEB, MAR])
    assert recent.columns == ["month", "mrr"] and sorted(recent["mrr"]) == [1.0, 2.0]  # March is after FEB
    only_feb = read_month_columns(warehouse, TABLE, MAR, SCHEMA, ["mrr"], [FEB])
    assert only_feb["mrr"].to_list() == [2.0]
    absent = read_month_columns(warehouse, "marts.absent", FEB, SCHEMA, ["account_id", "mrr"])
    assert absent.is_empty() and absent.schema == pl.Schema({"account_id": pl.String(), "mrr": pl.Float64()})


def test_the_closed_months_marts_computed_an_account_at_a_time_equal_the_stored_ones(closed_month):
    """The sample month closed through the CLI (6 accounts, computed in one piece) gives the
    same account_monthly, account_health and portfolio_monthly when sliced one and four
    accounts at a time
    (accounts without data before the month are staged too, and give no rows),
    each slice reading only its own accounts' rows from the warehouse."""
    from pipeline.schemas import ACCOUNT_MONTHLY, PORTFOLIO_FORECAST_COLUMNS, PORTFOLIO_MONTHLY
    from pipeline.settings import load_settings
    from pipeline.store.mart_slices import (
        account_health_parts,
        account_monthly_parts,
        portfolio_group_sums,
        staged_account_ranges,
    )
    from pipeline.store.marts import first_billing_month, read_months
    from pipeline.transforms.health import account_health_schema
    from pipeline.transforms.portfolio import portfolio_from_group_sums
    from tests.support.closed_month import END

    wh = Warehouse(closed_month.data / "warehouse.duckdb")
    month = date.fromisoformat(f"{END}-01")
    settings = load_settings()
    health_schema = account_health_schema(settings.health)
    keys = ["account_id", "month"]
    stored_monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY).sort(keys)
    stored_health = read_months(wh, "marts.account_health", month, health_schema).sort(keys)
    stored_portfolio = read_months(wh, "marts.portfolio_monthly", month, PORTFOLIO_MONTHLY)
    # the forecast columns as stored: this test is about the sums
    stored_forecast = stored_portfolio.select("month", "grouping", "group_value", *PORTFOLIO_FORECAST_COLUMNS)
    assert stored_monthly["account_id"].n_unique() == 6

    with wh.connect() as con:
        staged = con.execute("SELECT count(DISTINCT account_id) FROM staging.accounts").fetchall()[0][0]
    for per_part in (1, 4):
        assert len(staged_account_ranges(wh, per_part)) == -(-staged // per_part) > 1
        monthly = list(account_monthly_parts(wh, month, settings.reporting_currency, per_part))
        assert len(monthly) == -(-staged // per_part)
        got = pl.concat([p.frame for p in monthly]).cast(ACCOUNT_MONTHLY).sort(keys)
        assert got.equals(stored_monthly), per_part
        health = pl.concat([p.frame for p in account_health_parts(wh, month, settings.health, per_part)])
        assert health.cast(health_schema).sort(keys).equals(stored_health), per_part
        # the portfolio's sums of the slices add up to the stored portfolio
        sums = portfolio_group_sums(wh, month, health_schema, per_part)
        assert len(sums) == -(-6 // per_part)
        portfolio = portfolio_from_group_sums(
            sums,
            gross_margin=settings.gross_margin,
            first_billing_month=first_billing_month(wh),
            forecast=stored_forecast,
        )
        assert_frame_equal(portfolio, stored_portfolio), per_part


def test_a_mart_that_gained_a_column_keeps_its_other_months_with_null_there(warehouse: Warehouse):
    """Both writes (a frame, and parts from the temporary table) add the columns an older
    table lacks; the months outside the slice written keep their rows, null there."""
    write_months(warehouse, TABLE, rows(("A1", JAN, 1), ("A1", MAR, 3)), MAR)
    wider = pl.Schema({**SCHEMA, "arr": pl.Float64()})
    feb = pl.DataFrame([("A1", FEB, 2.0, 24.0)], schema=wider, orient="row")
    build_or_reuse_in_parts(warehouse, TABLE, FEB, Inputs("marts/parted", FEB, "fp"), wider, lambda: [Computed(feb)])
    with warehouse.connect() as con:
        got = con.execute(f"SELECT account_id, month, mrr, arr FROM {TABLE} ORDER BY month").fetchall()
    assert got == [("A1", FEB, 2.0, 24.0), ("A1", MAR, 3.0, None)]
