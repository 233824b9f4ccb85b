"""Read what the leadership pack of one month needs (I/O, through the Warehouse).

Every query lives in ``sql/leadership/`` with bound values; table and column names of
the per-source counts come from the contract and are bound too (``query_table``), never
formatted into SQL. Everything after this module is pure (``pipeline.reporting.pack``).
"""

from __future__ import annotations

from datetime import date
from typing import cast

import polars as pl

from pipeline.contract import SOURCES
from pipeline.reporting.pack.inputs import TABLE_STATS_SCHEMA, LeadershipInputs
from pipeline.reporting.periods import add_months
from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.sql import load_sql

# Months of portfolio rows read before the reporting month: a 12-month trend plus the
# same month a year earlier.
PORTFOLIO_HISTORY_MONTHS = 12
# Months of account rows: the 6 months of "did health predict churn" need the band of
# the month before each, so 7 months.
ACCOUNT_HISTORY_MONTHS = 6
TOP_REASONS_PER_SOURCE = 3

# The column that says how recent a source's data is (its "data as of" date). Sources
# without one (reference data: accounts, managers, contacts, overrides, invoice lines)
# are judged by their latest file load alone.
SOURCE_DATE_COLUMNS: dict[str, str] = {
    "activities": "occurred_at",
    "opportunities": "created_on",
    "tickets": "opened_at",
    "responses": "responded_at",
    "subscriptions": "start_date",
    "invoices": "issued_on",
    "fx_rates": "date",
}

REQUIRED_TABLES = (
    ("marts", "portfolio_monthly"),
    ("marts", "account_health"),
    ("marts", "account_monthly"),
    ("staging", "accounts"),
    ("staging", "account_managers"),
)


# The looking-ahead page: (LeadershipInputs field, mart it needs, query), month M only; a
# mart not built yet leaves its field empty and the page says so.
LOOKING_AHEAD = (
    ("forecast", "account_forecast", "account_forecast"),
    ("retention", "band_retention", "band_retention"),
    ("goals", "account_goals", "account_goals"),
    ("pipeline", "account_monthly", "expansion_pipeline"),
)


class LeadershipDataError(RuntimeError):
    """A table the pack needs is missing; the message says which and what to do."""


def _query(con, name: str, params: dict | None = None) -> pl.DataFrame:
    return fetch(con, load_sql(name), params)


def _scalar(con, name: str, params: dict) -> object:
    frame = _query(con, name, params)
    return frame.item(0, 0) if frame.height else None


def table_stats(con) -> pl.DataFrame:
    """Rows in raw and staging, and the newest date of the main date column, per source."""
    rows = []
    for source in SOURCES:
        raw = staging = newest = None
        if Warehouse.has_table(con, "raw", source.name):
            raw = _scalar(con, "leadership/table_rows", {"table": f"raw.{source.name}"})
        column = SOURCE_DATE_COLUMNS.get(source.name)
        if Warehouse.has_table(con, "staging", source.name):
            staging = _scalar(con, "leadership/table_rows", {"table": f"staging.{source.name}"})
            if column:
                newest = _scalar(con, "leadership/newest_date", {"table": f"staging.{source.name}", "column": column})
        rows.append(
            {
                "source": source.name,
                "raw_rows": raw,
                "staging_rows": staging,
                "date_column": column,
                "newest_date": newest,
            }
        )
    return pl.DataFrame(rows, schema=TABLE_STATS_SCHEMA)


def load_leadership_inputs(warehouse: Warehouse, month: date) -> LeadershipInputs:
    """Every row the pack for ``month`` shows or aggregates (one connection)."""
    accounts_from = add_months(month, -ACCOUNT_HISTORY_MONTHS)
    with warehouse.connect() as con:
        missing = [f"{s}.{t}" for s, t in REQUIRED_TABLES if not warehouse.has_table(con, s, t)]
        if missing:
            raise LeadershipDataError(
                f"The leadership pack needs {', '.join(missing)}, which the warehouse does not have yet. "
                "Materialize the staging and marts assets for this month first."
            )
        # min(month) of a DATE column: a date, or None when the mart is empty
        first = cast("date | None", _scalar(con, "leadership/first_month", {}))
        ahead = {
            name: _query(con, f"leadership/{sql}", {"month": month})
            for name, table, sql in LOOKING_AHEAD
            if warehouse.has_table(con, "marts", table)
        }
        return LeadershipInputs(
            **ahead,
            month=month,
            portfolio=_query(
                con,
                "leadership/portfolio_monthly",
                {"from_month": add_months(month, -PORTFOLIO_HISTORY_MONTHS), "to_month": month},
            ),
            health=_query(con, "leadership/account_health", {"from_month": accounts_from, "to_month": month}),
            monthly=_query(con, "leadership/account_monthly", {"from_month": accounts_from, "to_month": month}),
            accounts=_query(con, "leadership/accounts"),
            managers=_query(con, "leadership/account_managers"),
            table_stats=table_stats(con),
            loads=_query(con, "leadership/loads_by_source"),
            quarantine=_query(con, "leadership/quarantine_by_source"),
            reasons=_query(con, "leadership/quarantine_top_reasons", {"per_source": TOP_REASONS_PER_SOURCE}),
            first_month=first,
            alerts=(
                _query(con, "leadership/account_alerts", {"month": month})
                if warehouse.has_table(con, "marts", "account_alerts")
                else pl.DataFrame()
            ),
        )
