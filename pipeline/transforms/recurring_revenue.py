"""Recurring revenue: month-end MRR per account, its five movements, and the trend.

MRR is a month-end snapshot (docs/metrics.md): a subscription counts in M when it is active
on end(M), i.e. start_date <= end(M) < end_date. In month keys that is "from the month
of start_date up to, not including, the month of end_date", so MRR is a running total
of +mrr at the start month and -mrr at the end month (`month_end_balances`). A
subscription that starts and ends inside one month opens and closes in the same month
and never shows; a cancellation shows in the month whose end it misses.

Inputs are subscriptions already converted into the reporting currency (at their
start_date, see `fx.convert`).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import (
    ACCOUNT,
    MONTH,
    month_end,
    month_end_balances,
    month_spine,
    relative_change,
)

MOVEMENTS = ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churn", "mrr_reactivation")
RECURRING_COLUMNS = (
    "mrr",
    "arr",
    "mrr_previous",
    *MOVEMENTS,
    "is_customer",
    "revenue_trend_3m",
)


def mrr_by_month(subscriptions: pl.DataFrame, last_month: date) -> pl.DataFrame:
    """MRR at every month end from each account's first subscription month to `last_month`.

    The history starts at the first subscription, not at the account's first report
    row, because "new" versus "reactivation" depends on whether the account *ever* had
    MRR before, however long ago. Subscriptions starting after `last_month` are ignored.
    Output: `account_id`, `month`, `mrr` (Decimal(18,4)), sorted, consecutive months.
    """
    subs = subscriptions.filter(pl.col("start_date") <= month_end(last_month)).select(
        pl.col(ACCOUNT),
        pl.col("start_date").dt.month_start().alias("_from"),
        pl.col("end_date").dt.month_start().alias("_until"),
        pl.col("mrr").cast(MONEY),
    )
    spine = month_spine(subs.select(ACCOUNT, pl.col("_from").alias("first_month")), last_month)
    return month_end_balances(subs, spine, start="_from", stop="_until", values=["mrr"]).with_columns(
        pl.col("mrr").cast(MONEY)
    )


def mrr_movements(mrr_history: pl.DataFrame) -> pl.DataFrame:
    """The one movement that explains each month's change in MRR.

    `mrr_history` must hold consecutive months per account from before the account
    first had MRR (as `mrr_by_month` returns). The tests run in docs/metrics.md's order, so
    a return from zero after earlier revenue is a reactivation, never "new".
    Adds `mrr_previous` and the five movement columns, all positive or 0.
    """
    curr, prev = pl.col("mrr"), pl.col("mrr_previous")
    zero = pl.lit(0, MONEY)
    from_zero = (prev == 0) & (curr > 0)
    had_mrr = pl.col("_had_mrr")

    def movement(condition: pl.Expr, amount: pl.Expr, name: str) -> pl.Expr:
        return pl.when(condition).then(amount).otherwise(zero).cast(MONEY).alias(name)

    return (
        mrr_history.with_columns(
            curr.shift(1).over(ACCOUNT).fill_null(0).cast(MONEY).alias("mrr_previous"),
            (curr > 0).cum_max().shift(1, fill_value=False).over(ACCOUNT).alias("_had_mrr"),
        )
        .with_columns(
            movement(from_zero & ~had_mrr, curr, "mrr_new"),
            movement((prev > 0) & (curr > prev), curr - prev, "mrr_expansion"),
            movement((prev > 0) & (curr > 0) & (curr < prev), prev - curr, "mrr_contraction"),
            movement((prev > 0) & (curr == 0), prev, "mrr_churn"),
            movement(from_zero & had_mrr, curr, "mrr_reactivation"),
        )
        .drop("_had_mrr")
    )


def revenue_trend_3m(mrr: pl.Expr) -> pl.Expr:
    """MRR(M) / MRR(M-3) - 1 on an account spine; null without a base.

    The base must be on the account's spine (M >= first month + 3) and non-zero: a
    trend needs three months of history, and growth from nothing is not a rate.
    Evaluate on a sorted spine of consecutive months.
    """
    return relative_change(mrr, 3)


def monthly_mrr(subscriptions: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """The recurring-revenue columns of `marts.account_monthly` on the account spine.

    `subscriptions` in the reporting currency; `spine` from `month_spine` (account_id,
    month). Months of the spine before an account's first subscription are 0.
    Output: `account_id`, `month` and `RECURRING_COLUMNS`, in spine order.
    """
    base = spine.select(ACCOUNT, MONTH)
    last_month: date | None = base[MONTH].max()  # type: ignore[assignment]
    history = mrr_movements(
        mrr_by_month(subscriptions, last_month)
        if last_month is not None
        else pl.DataFrame(schema={ACCOUNT: pl.String(), MONTH: pl.Date(), "mrr": MONEY})
    )
    money = ["mrr", "mrr_previous", *MOVEMENTS]
    return (
        base.join(history, on=[ACCOUNT, MONTH], how="left", maintain_order="left")
        .with_columns(pl.col(c).fill_null(0).cast(MONEY) for c in money)
        .with_columns(
            (pl.col("mrr") * 12).cast(MONEY).alias("arr"),
            (pl.col("mrr") > 0).alias("is_customer"),
            revenue_trend_3m(pl.col("mrr")).alias("revenue_trend_3m"),
        )
        .select(ACCOUNT, MONTH, *RECURRING_COLUMNS)
    )
