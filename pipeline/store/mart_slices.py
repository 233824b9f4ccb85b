"""The largest marts, computed a slice of accounts at a time from the warehouse.

Every number of ``account_monthly`` reads only its own account's records (and the shared
exchange rates), and every number of ``account_health`` only its own account's months.
So each slice of accounts reads its own rows from DuckDB, is computed by the pure
transform, and goes back to the warehouse before the next is read
(``pipeline.store.marts.build_or_reuse_in_parts``): neither the staged inputs nor the
marts are ever whole in Python. ``portfolio_monthly`` sums each slice's accounts per
month and group, and adds the slices' sums up. At 100,000 accounts x 36 months the whole
frames took
3 to 4 GiB of the close's peak. Up to 10,000 accounts are one slice, so the demo and
the tests compute in one piece.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import polars as pl

from pipeline.resources.warehouse import Warehouse
from pipeline.schemas import ACCOUNT_MONTHLY
from pipeline.settings import HealthSettings
from pipeline.sql import quote_ident
from pipeline.store.loading import read_staging
from pipeline.store.marts import Computed, account_ranges, ranges_of, read_month_columns
from pipeline.transforms.account_monthly import build_account_monthly
from pipeline.transforms.health import account_health
from pipeline.transforms.portfolio import ACCOUNT_MONTHLY_READ, group_sums

# Accounts computed at a time: fewer means less memory and more queries (about 0.7 s a
# slice at 100,000 accounts). account_monthly's step peaked at 2.6 GiB with 20,000.
ACCOUNTS_PER_PART = 20_000
# Health builds its drivers one row per account-month and measure: its step alone peaked
# at 3.6 GiB with slices of 20,000 accounts, 2.9 GiB with 10,000 (3.5 s longer) and
# 2.5 GiB with 5,000 (6 s longer), at 100,000 accounts x 36 months.
HEALTH_ACCOUNTS_PER_PART = 10_000

KPI_SOURCES = (
    "accounts",
    "subscriptions",
    "invoices",
    "responses",
    "activities",
    "tickets",
    "opportunities",
    "fx_rates",
)

# The only columns the KPIs read from the largest tables: activities alone are 11 million
# rows at 100,000 accounts, and their ids, free text and lineage were most of the
# account_monthly step's memory. (The money tables keep every column: a record without an
# exchange rate is quarantined with its file and row.)
KPI_COLUMNS = {
    "activities": ("account_id", "occurred_at"),
    "tickets": ("account_id", "opened_at", "resolved_at", "priority"),
    "responses": ("account_id", "survey_type", "score", "responded_at"),
}


def staged_account_ranges(wh: Warehouse, per_part: int) -> list[tuple[str, str]]:
    """Every account any KPI source holds a record of, as (first, last) ranges of
    ``per_part`` accounts, in the warehouse's order."""
    with wh.connect() as con:
        present = [s for s in KPI_SOURCES if s != "fx_rates" and Warehouse.has_table(con, "staging", s)]
        if not present:
            return []
        union = " UNION ".join(f"SELECT account_id FROM staging.{quote_ident(s)}" for s in present)
        ids = [
            r[0]
            for r in con.execute(f"SELECT account_id FROM ({union}) WHERE account_id IS NOT NULL ORDER BY 1").fetchall()
        ]
    return ranges_of(ids, per_part)


def account_monthly_parts(
    wh: Warehouse, month: date, reporting_currency: str, per_part: int = ACCOUNTS_PER_PART
) -> Iterator[Computed]:
    """``account_monthly`` up to ``month``, a slice of accounts at a time, with each slice's
    records quarantined for a missing exchange rate."""
    fx_rates = read_staging(wh, "fx_rates")
    for first, last in staged_account_ranges(wh, per_part):
        staged = {
            name: read_staging(wh, name, only=KPI_COLUMNS.get(name), accounts=(first, last))
            for name in KPI_SOURCES
            if name != "fx_rates"
        }
        result = build_account_monthly(
            **staged, fx_rates=fx_rates, reporting_month=month, reporting_currency=reporting_currency
        )
        del staged
        yield Computed(result.frame, {"rows_quarantined_missing_fx": result.rejects.height}, result.rejects)


def account_health_parts(
    wh: Warehouse, month: date, settings: HealthSettings, per_part: int = HEALTH_ACCOUNTS_PER_PART
) -> Iterator[Computed]:
    """``account_health`` up to ``month``, a slice of ``marts.account_monthly``'s accounts
    at a time."""
    overrides = read_staging(wh, "health_overrides")
    for first, last in account_ranges(wh, "marts.account_monthly", month, per_part):
        monthly = read_month_columns(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY, accounts=(first, last))
        yield Computed(account_health(monthly, overrides, settings))


def portfolio_group_sums(
    wh: Warehouse, month: date, health_schema: pl.Schema, per_part: int = ACCOUNTS_PER_PART
) -> list[pl.DataFrame]:
    """The portfolio's sums per month and group (``transforms.portfolio.group_sums``) for
    each slice of ``marts.account_monthly``'s accounts, with their health bands (none
    before health's first build)."""
    parts = []
    for first, last in account_ranges(wh, "marts.account_monthly", month, per_part):
        monthly = read_month_columns(
            wh, "marts.account_monthly", month, ACCOUNT_MONTHLY, ACCOUNT_MONTHLY_READ, accounts=(first, last)
        )
        bands = read_month_columns(
            wh, "marts.account_health", month, health_schema, ("account_id", "month", "band"), accounts=(first, last)
        )
        parts.append(group_sums(monthly, bands if bands.height else None))
    if not parts:
        parts.append(group_sums(pl.DataFrame(schema={c: ACCOUNT_MONTHLY[c] for c in ACCOUNT_MONTHLY_READ}), None))
    return parts
