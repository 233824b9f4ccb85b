"""Read what the books of business of one month need (I/O, through the Warehouse).

One query per table for every manager at once (``sql/managers/``, values bound); the
pure side (``pipeline.reporting.manager``) slices them per manager. A mart that does not
exist yet (``marts.account_goals`` before issue 18's asset first ran, or the alerts and
ideas before their first run) reads as no rows.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipeline.reporting.manager.inputs import BookInputs
from pipeline.reporting.periods import add_months
from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.schemas import ACCOUNT_ALERTS, ACCOUNT_GOALS, CROSS_SELL_IDEAS
from pipeline.sql import load_sql

TREND_MONTHS = 12  # months of MRR history before M (the book's trend chart)

REQUIRED_TABLES = (
    ("staging", "accounts"),
    ("staging", "account_managers"),
    ("marts", "account_monthly"),
    ("marts", "account_health"),
)


class BookDataError(RuntimeError):
    """A table the books need is missing; the message says which and what to do."""


def load_book_inputs(warehouse: Warehouse, month: date) -> BookInputs:
    """Every row the books closing ``month`` may show, for every manager (one connection)."""
    with warehouse.connect() as con:
        missing = [f"{s}.{t}" for s, t in REQUIRED_TABLES if not warehouse.has_table(con, s, t)]
        if missing:
            raise BookDataError(
                f"The books of business need {', '.join(missing)}, which the warehouse does not have yet. "
                "Materialize the staging and marts assets for this month first."
            )

        def q(name: str, params: dict | None = None) -> pl.DataFrame:
            return fetch(con, load_sql(name), params)

        def optional(table: str, name: str, schema: pl.Schema) -> pl.DataFrame:
            if not warehouse.has_table(con, "marts", table):
                return pl.DataFrame(schema=schema)
            frame = q(name, {"month": month})
            return pl.DataFrame(schema=schema) if frame.is_empty() else frame

        return BookInputs(
            month=month,
            accounts=q("reports/accounts"),
            managers=q("managers/account_managers"),
            monthly=q("managers/account_monthly", {"from_month": add_months(month, -TREND_MONTHS), "to_month": month}),
            health=q("managers/account_health", {"from_month": add_months(month, -1), "to_month": month}),
            alerts=optional("account_alerts", "managers/account_alerts", ACCOUNT_ALERTS),
            goals=optional("account_goals", "managers/account_goals", ACCOUNT_GOALS),
            ideas=optional("cross_sell_ideas", "managers/cross_sell_ideas", CROSS_SELL_IDEAS),
        )
