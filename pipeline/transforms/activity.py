"""Relationship activity: touches, tickets, expansion pipeline and renewal timing.

These are the leading indicators an account manager can act on. Stocks ("open at the
end of M") are decided at day granularity on end(M) with the rule docs/metrics.md states,
translated into month keys for `month_end_balances`; flows ("in M", "in M-2 .. M")
are counted by the UTC day of their timestamp.
"""

from __future__ import annotations

import polars as pl

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import (
    ACCOUNT,
    MONTH,
    month_end_balances,
    side_by_side,
    trailing_totals,
    utc_day,
)

TOUCH_MONTHS = 3
HIGH_PRIORITIES = ("high", "urgent")
EXPANSION_TYPES = ("upsell", "cross_sell")
TOUCH_COLUMNS = ("touches_3m", "days_since_last_touch")
TICKET_COLUMNS = ("tickets_opened", "open_tickets", "open_high_priority_tickets")


def monthly_touches(activities: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """Touches in M-2 .. M and days from the latest touch to end(M), on the spine.

    days_since_last_touch looks back without limit: a touch two years ago still dates
    the relationship; it is null only when the account has never been touched.
    Output: `account_id`, `month`, `touches_3m` (Int64), `days_since_last_touch` (Int64).
    """
    touched = activities.select(
        pl.col(ACCOUNT),
        utc_day(activities.schema, "occurred_at").alias("_day"),
    ).with_columns(pl.col("_day").dt.month_start().alias("_month"))
    counts = trailing_totals(
        touched.with_columns(pl.lit(1, pl.Int64).alias("touches_3m")),
        spine,
        month="_month",
        values=["touches_3m"],
        months=TOUCH_MONTHS,
    )
    latest = touched.group_by(pl.col(ACCOUNT), pl.col("_month").alias(MONTH)).agg(pl.col("_day").max().alias("_last"))
    return (
        counts.join(latest, on=[ACCOUNT, MONTH], how="left", maintain_order="left")
        .with_columns(pl.col("_last").forward_fill().over(ACCOUNT))
        .with_columns(
            pl.col("touches_3m").cast(pl.Int64),
            (pl.col(MONTH).dt.month_end() - pl.col("_last"))
            .dt.total_days()
            .cast(pl.Int64)
            .alias("days_since_last_touch"),
        )
        .select(ACCOUNT, MONTH, *TOUCH_COLUMNS)
    )


def monthly_tickets(tickets: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """Tickets opened in M, and tickets open at end(M) (all, and high or urgent).

    Open at end(M): opened on or before end(M) and not resolved on or before it. In
    days, a ticket resolved on end(M) itself is closed at that month end, so it is open
    from the month it was opened up to, not including, the month it was resolved.
    Output: `account_id`, `month` and `TICKET_COLUMNS` (Int64).
    """
    dated = tickets.select(
        pl.col(ACCOUNT),
        utc_day(tickets.schema, "opened_at").dt.month_start().alias("_from"),
        utc_day(tickets.schema, "resolved_at").dt.month_start().alias("_until"),
        pl.lit(1, pl.Int64).alias("open_tickets"),
        pl.col("priority")
        .str.to_lowercase()
        .is_in(HIGH_PRIORITIES)
        .fill_null(False)
        .cast(pl.Int64)
        .alias("open_high_priority_tickets"),
    )
    opened = trailing_totals(
        dated.select(ACCOUNT, "_from", pl.col("open_tickets").alias("tickets_opened")),
        spine,
        month="_from",
        values=["tickets_opened"],
    )
    still_open = month_end_balances(
        dated,
        spine,
        start="_from",
        stop="_until",
        values=["open_tickets", "open_high_priority_tickets"],
    )
    return (
        side_by_side(opened, still_open)
        .with_columns(pl.col(c).cast(pl.Int64) for c in TICKET_COLUMNS)
        .select(ACCOUNT, MONTH, *TICKET_COLUMNS)
    )


def expansion_opportunities(opportunities: pl.DataFrame) -> pl.DataFrame:
    """The opportunities that can be in the expansion pipeline at some month end.

    Upsell and cross-sell only; an is_closed opportunity without a close_date cannot be
    placed in time, so it is treated as closed from the start and never counts
    (counting it open forever would inflate pipeline). Filtering before conversion also
    means such records never ask for an exchange rate.
    """
    closed = pl.col("is_closed").fill_null(False)
    return opportunities.filter(
        pl.col("type").str.to_lowercase().is_in(EXPANSION_TYPES),
        ~(closed & pl.col("close_date").is_null()),
    )


def monthly_expansion_pipeline(opportunities: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """Σ amount of upsell and cross-sell opportunities open at end(M), on the spine.

    Open at end(M): created on or before end(M) and not closed by then, where closed
    means is_closed with a close_date on or before end(M). For an opportunity still
    open, close_date is the expected date and is ignored. Which opportunities can count:
    `expansion_opportunities`. `opportunities` in the reporting currency (converted at
    created_on).
    Output: `account_id`, `month`, `open_expansion_pipeline` (Decimal(18,4)).
    """
    closed = pl.col("is_closed").fill_null(False)
    expansion = expansion_opportunities(opportunities).select(
        pl.col(ACCOUNT),
        pl.col("created_on").dt.month_start().alias("_from"),
        pl.when(closed).then(pl.col("close_date").dt.month_start()).otherwise(None).alias("_until"),
        pl.col("amount").cast(MONEY).alias("open_expansion_pipeline"),
    )
    return month_end_balances(
        expansion, spine, start="_from", stop="_until", values=["open_expansion_pipeline"]
    ).with_columns(pl.col("open_expansion_pipeline").cast(MONEY))


def monthly_days_to_renewal(accounts: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """renewal_date - end(M) in days from the account's current renewal date.

    Negative once the renewal date has passed (a lapsed renewal is worth seeing);
    null when the date is unknown.
    Output: `account_id`, `month`, `days_to_renewal` (Int64).
    """
    renewals = accounts.select(ACCOUNT, "renewal_date").unique(ACCOUNT, keep="last")
    return (
        spine.select(ACCOUNT, MONTH)
        .join(renewals, on=ACCOUNT, how="left", maintain_order="left")
        .with_columns(
            (pl.col("renewal_date") - pl.col(MONTH).dt.month_end())
            .dt.total_days()
            .cast(pl.Int64)
            .alias("days_to_renewal")
        )
        .select(ACCOUNT, MONTH, "days_to_renewal")
    )
