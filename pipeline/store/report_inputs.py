"""Read what the client reports of one reporting month need (I/O, through the Warehouse).

One query per table for all accounts at once (the SQL lives in ``sql/reports/``, values
bound), then ``for_account`` slices the frames per account in memory. Everything after
this module is pure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from pipeline.reporting.client.inputs import ReportInputs
from pipeline.reporting.periods import add_months, month_end
from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.sql import load_sql

# Months of monthly KPIs read before the reporting month: a 12-month trend of the
# period and of the same period a year earlier (a quarter reaches 14 months back).
HISTORY_MONTHS = 23

REQUIRED_TABLES = (
    ("staging", "accounts"),
    ("staging", "account_managers"),
    ("staging", "contacts"),
    ("staging", "subscriptions"),
    ("staging", "invoices"),
    ("staging", "fx_rates"),
    ("staging", "tickets"),
    ("staging", "responses"),
    ("staging", "activities"),
    ("marts", "account_monthly"),
)


class ReportDataError(RuntimeError):
    """An input table the reports need is missing; the message says which and what to do."""


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def load_report_inputs(warehouse: Warehouse, month: date, reporting_currency: str, with_health: bool) -> ReportInputs:
    """All rows the client reports closing ``month`` may show, for every account."""
    first = add_months(month, -HISTORY_MONTHS)
    # The longest period is a quarter; its year-ago twin starts 14 months back.
    window_start = add_months(month, -14)
    period_end = month_end(month)
    to_ts = _utc(add_months(month, 1))
    currency = reporting_currency.lower()
    with warehouse.connect() as con:  # one connection for every read
        missing = [f"{s}.{t}" for s, t in REQUIRED_TABLES if not warehouse.has_table(con, s, t)]
        if missing:
            raise ReportDataError(
                f"The client reports need {', '.join(missing)}, which the warehouse does not have yet. "
                "Materialize the staging and marts assets for this month first."
            )

        def q(name: str, params: dict | None = None) -> pl.DataFrame:
            return fetch(con, load_sql(f"reports/{name}"), params)

        # Looking ahead: absent before the forecast marts' first run (the sections are left out).
        goals = forecast = pl.DataFrame()
        if warehouse.has_table(con, "marts", "account_goals"):
            goals = q("account_goals", {"month": month})
        if warehouse.has_table(con, "marts", "account_forecast"):
            forecast = q("account_forecast", {"month": month})
        health = pl.DataFrame()
        if with_health and warehouse.has_table(con, "marts", "account_health"):
            health = q("account_health", {"from_month": add_months(month, -12), "to_month": month})
        return ReportInputs(
            accounts=q("accounts"),
            contacts=q("primary_contacts"),
            monthly=q("account_monthly", {"from_month": first, "to_month": month}),
            health=health,
            subscriptions=q(
                "subscriptions",
                {"reporting_currency": currency, "period_end": period_end, "window_start": window_start},
            ),
            invoices=q(
                "invoices",
                {"reporting_currency": currency, "period_end": period_end, "window_start": add_months(month, -2)},
            ),
            tickets=q("tickets", {"from_ts": _utc(add_months(month, -2)), "to_ts": to_ts}),
            responses=q("responses", {"from_ts": _utc(add_months(month, -2)), "to_ts": to_ts}),
            activities=q("activities", {"from_ts": _utc(window_start), "to_ts": to_ts}),
            goals=goals,
            forecast=forecast,
        )
