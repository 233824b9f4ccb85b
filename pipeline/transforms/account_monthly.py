"""`marts.account_monthly`: every per-account KPI family on one account × month spine.

The spine is built once, from each account's first month with any dated record to the
reporting month, and each family (recurring revenue, money, voice, activity) is
computed on it and joined by key. So a month with no data at all still has its row,
with 0 in sums and counts and null in rates, and a family never decides which months
exist. Money is converted into the reporting currency before any family sees it; a
record without a rate is left out of the sums and returned as a quarantine row, so the
total that leadership sees is short by a named, fixable amount, never silently wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipeline.schemas import ACCOUNT_MONTHLY, QUARANTINE
from pipeline.transforms.activity import (
    expansion_opportunities,
    monthly_days_to_renewal,
    monthly_expansion_pipeline,
    monthly_tickets,
    monthly_touches,
)
from pipeline.transforms.calendar import (
    ACCOUNT,
    MONTH,
    month_end,
    month_spine,
    month_start,
    side_by_side,
    utc_day,
)
from pipeline.transforms.fx import convert_or_quarantine
from pipeline.transforms.money import billable_invoices, monthly_money
from pipeline.transforms.recurring_revenue import monthly_mrr
from pipeline.transforms.voice import monthly_voice

ACCOUNT_ATTRIBUTES = ("tier", "segment", "account_manager_id")


@dataclass(frozen=True)
class AccountMonthlyResult:
    """The mart frame and the records it had to leave out."""

    frame: pl.DataFrame  # exactly ACCOUNT_MONTHLY, sorted by account_id, month
    rejects: pl.DataFrame  # QUARANTINE rows, stage "marts"


def first_data_months(
    *,
    subscriptions: pl.DataFrame,
    invoices: pl.DataFrame,
    responses: pl.DataFrame,
    activities: pl.DataFrame,
    tickets: pl.DataFrame,
    opportunities: pl.DataFrame,
    last_month: date,
) -> pl.DataFrame:
    """Each account's first month with a dated record, up to `last_month`.

    The dates are the ones that put a record in a month: subscription start_date,
    invoice issued_on (draft and void invoices count nowhere, so not here either),
    response responded_at, activity occurred_at, ticket opened_at, opportunity
    created_on; timestamps by their UTC day. Records after end(last_month) do not
    count. Output: `account_id`, `first_month` (Date), one row per account.
    """
    dated = [
        subscriptions.select(ACCOUNT, pl.col("start_date").alias("_day")),
        billable_invoices(invoices).select(ACCOUNT, pl.col("issued_on").alias("_day")),
        responses.select(ACCOUNT, utc_day(responses.schema, "responded_at").alias("_day")),
        activities.select(ACCOUNT, utc_day(activities.schema, "occurred_at").alias("_day")),
        tickets.select(ACCOUNT, utc_day(tickets.schema, "opened_at").alias("_day")),
        opportunities.select(ACCOUNT, pl.col("created_on").alias("_day")),
    ]
    return (
        pl.concat([d.lazy().cast({ACCOUNT: pl.String(), "_day": pl.Date()}) for d in dated])
        .filter(pl.col("_day") <= month_end(last_month))
        .group_by(ACCOUNT)
        .agg(pl.col("_day").min().dt.month_start().alias("first_month"))
        .sort(ACCOUNT)
        .collect()
    )


def account_spine(accounts: pl.DataFrame, first_months: pl.DataFrame, reporting_month: date) -> pl.DataFrame:
    """account_id × month from each known account's first data month to the reporting month.

    Staging guarantees every record's account exists; an id missing from `accounts`
    anyway gets no rows, since it has no tier, segment or owner to report under.
    """
    known = first_months.join(accounts.select(ACCOUNT).unique(), on=ACCOUNT, how="semi")
    return month_spine(known, reporting_month)


def _dated_until(frame: pl.DataFrame, column: str, last_day: date) -> pl.DataFrame:
    return frame.filter(pl.col(column) <= last_day)


def build_account_monthly(
    *,
    accounts: pl.DataFrame,
    subscriptions: pl.DataFrame,
    invoices: pl.DataFrame,
    responses: pl.DataFrame,
    activities: pl.DataFrame,
    tickets: pl.DataFrame,
    opportunities: pl.DataFrame,
    fx_rates: pl.DataFrame,
    reporting_month: date,
    reporting_currency: str,
) -> AccountMonthlyResult:
    """Every KPI of `marts.account_monthly` per account and month, from staging frames.

    Inputs are staging frames (contract columns plus `_file`, `_row`, `_loaded_at`);
    of activities only `account_id` and `occurred_at` are read, of tickets `account_id`,
    `opened_at`, `resolved_at` and `priority`, of responses `account_id`, `survey_type`,
    `score` and `responded_at`, so a caller may pass just those.
    Only records dated on or before end(reporting_month) are used, so a record from
    the future neither shows nor needs an exchange rate. Money is converted at the date
    docs/metrics.md names: subscriptions at start_date, invoices at issued_on, opportunities
    at created_on; only records that feed a metric ask for a rate.
    """
    last = month_start(reporting_month)
    last_day = month_end(last)

    subs, subs_rejects = convert_or_quarantine(
        _dated_until(subscriptions, "start_date", last_day),
        source="subscriptions",
        key_columns=("subscription_id",),
        amount_columns=("mrr",),
        currency_column="currency",
        date_column="start_date",
        fx_rates=fx_rates,
        reporting_currency=reporting_currency,
    )
    invs, inv_rejects = convert_or_quarantine(
        billable_invoices(_dated_until(invoices, "issued_on", last_day)),
        source="invoices",
        key_columns=("invoice_id",),
        amount_columns=("subtotal", "tax", "total"),
        currency_column="currency",
        date_column="issued_on",
        fx_rates=fx_rates,
        reporting_currency=reporting_currency,
    )
    opps, opp_rejects = convert_or_quarantine(
        expansion_opportunities(_dated_until(opportunities, "created_on", last_day)),
        source="opportunities",
        key_columns=("opportunity_id",),
        amount_columns=("amount",),
        currency_column="currency",
        date_column="created_on",
        fx_rates=fx_rates,
        reporting_currency=reporting_currency,
    )

    first_months = first_data_months(
        subscriptions=subscriptions,
        invoices=invoices,
        responses=responses,
        activities=activities,
        tickets=tickets,
        opportunities=opportunities,
        last_month=last,
    )
    spine = account_spine(accounts, first_months, last)

    families = [
        monthly_mrr(subs, spine),
        monthly_money(invs, spine),
        monthly_voice(responses, spine),
        monthly_touches(activities, spine),
        monthly_tickets(tickets, spine),
        monthly_expansion_pipeline(opps, spine),
        monthly_days_to_renewal(accounts, spine),
    ]
    attributes = accounts.select(ACCOUNT, *ACCOUNT_ATTRIBUTES).unique(ACCOUNT, keep="last")
    frame = side_by_side(spine.join(attributes, on=ACCOUNT, how="left", maintain_order="left"), *families)
    frame = frame.select(pl.col(name).cast(dtype) for name, dtype in ACCOUNT_MONTHLY.items()).sort(ACCOUNT, MONTH)
    rejects = pl.concat([subs_rejects, inv_rejects, opp_rejects]).cast(QUARANTINE)
    return AccountMonthlyResult(frame=frame, rejects=rejects)
