"""Money from invoices: invoiced, collected and overdue per account and month.

Every amount is taken from invoices already converted into the reporting currency at
their issued_on date (`fx.convert`), so an invoice contributes the same converted
amount whether it is counted as invoiced, collected or overdue, and the three tie out.
Overdue is decided from paid_on, not from today's status, so a past month's figure
never changes when an old invoice is finally paid.
"""

from __future__ import annotations

import polars as pl

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import (
    ACCOUNT,
    MONTH,
    month_end_balances,
    relative_change,
    side_by_side,
    trailing_totals,
)

EXCLUDED_STATUSES = ("draft", "void")
MONEY_COLUMNS = (
    "invoiced_net",
    "invoiced_tax",
    "collected",
    "overdue_amount",
    "invoiced_net_mom",
    "invoiced_net_yoy",
)


def billable_invoices(invoices: pl.DataFrame) -> pl.DataFrame:
    """Invoices that count anywhere: a draft was never sent and a void one was cancelled."""
    return invoices.filter(~pl.col("status").str.to_lowercase().is_in(EXCLUDED_STATUSES))


def overdue_months(invoices: pl.DataFrame) -> pl.DataFrame:
    """Each invoice's overdue interval in month keys, for `month_end_balances`.

    Overdue on day d: issued_on <= d, due_on < d and (paid_on null or paid_on > d). For
    d = end(M) that holds from the month of max(issued_on, due_on + 1 day) up to, not
    including, the month of paid_on. An invoice due on the last day of a month is not
    yet overdue at that month's end.
    """
    return invoices.select(
        pl.col(ACCOUNT),
        pl.max_horizontal(pl.col("issued_on"), pl.col("due_on").dt.offset_by("1d")).dt.month_start().alias("_from"),
        pl.col("paid_on").dt.month_start().alias("_until"),
        pl.col("total").alias("overdue_amount"),
    )


def monthly_money(invoices: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """The invoice columns of `marts.account_monthly` on the account spine.

    `invoices` in the reporting currency (draft and void are dropped here too);
    `spine` from `month_spine`. Growth rates are null on a zero base, including a
    base month before the account's first row.
    Output: `account_id`, `month` and `MONEY_COLUMNS`, in spine order.
    """
    billable = billable_invoices(invoices)
    invoiced = trailing_totals(
        billable.select(
            ACCOUNT,
            pl.col("issued_on").dt.month_start().alias("_month"),
            pl.col("subtotal").alias("invoiced_net"),
            pl.col("tax").alias("invoiced_tax"),
        ),
        spine,
        month="_month",
        values=["invoiced_net", "invoiced_tax"],
    )
    collected = trailing_totals(
        billable.filter(pl.col("paid_on").is_not_null()).select(
            ACCOUNT,
            pl.col("paid_on").dt.month_start().alias("_month"),
            pl.col("total").alias("collected"),
        ),
        spine,
        month="_month",
        values=["collected"],
    )
    overdue = month_end_balances(
        overdue_months(billable), spine, start="_from", stop="_until", values=["overdue_amount"]
    )
    keys = [ACCOUNT, MONTH]
    return (
        side_by_side(invoiced, collected, overdue)
        .with_columns(pl.col(c).cast(MONEY) for c in ("invoiced_net", "invoiced_tax", "collected", "overdue_amount"))
        .with_columns(
            relative_change(pl.col("invoiced_net"), 1).alias("invoiced_net_mom"),
            relative_change(pl.col("invoiced_net"), 12).alias("invoiced_net_yoy"),
        )
        .select(*keys, *MONEY_COLUMNS)
    )
