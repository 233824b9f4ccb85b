"""Calendar months: what "the month of", "end(M)" and "M-k" mean, and the month spine.

docs/metrics.md states every number on calendar-month boundaries, so the month arithmetic
lives in one place. The frame helpers work on an *account × month spine*: one row per
account and consecutive month, sorted. Because the months of an account are
consecutive rows, "the last k months" is "the last k rows", which lets every
windowed metric be a cumulative sum instead of a join per month.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import polars as pl

ACCOUNT = "account_id"
MONTH = "month"


# --- scalar helpers -------------------------------------------------------------------


def month_start(day: date) -> date:
    """The first day of the calendar month of `day` (how a month is keyed everywhere)."""
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months, the day clamped to the target month.

    Clamping (31 Jan + 1 month = 29 Feb) is what people expect, and a month start
    stays a month start, which is how M-k is computed everywhere.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    first = date(year, month0 + 1, 1)
    following = date(year + (month0 + 1) // 12, (month0 + 1) % 12 + 1, 1)
    return first.replace(day=min(day.day, (following - first).days))


def month_end(day: date) -> date:
    """end(M): the last day of the calendar month of `day`, the day month-end stocks use."""
    return add_months(month_start(day), 1) - timedelta(days=1)


def month_range(first: date, last: date) -> list[date]:
    """Month starts from the month of `first` to the month of `last`, both included.

    Empty when `last` is in an earlier month than `first`.
    """
    months: list[date] = []
    current, stop = month_start(first), month_start(last)
    while current <= stop:
        months.append(current)
        current = add_months(current, 1)
    return months


# --- expression helpers ---------------------------------------------------------------


def utc_day(schema: pl.Schema, column: str) -> pl.Expr:
    """The calendar day, in UTC, of a date or timestamp column.

    docs/metrics.md: a timestamp belongs to the day it falls on in UTC. Staging stores
    timestamps as UTC already; a naive timestamp is taken to be UTC (the contract:
    a missing offset means UTC) and a date is its own day.
    """
    dtype = schema[column]
    expr = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            expr = expr.dt.convert_time_zone("UTC")
        return expr.dt.date()
    if isinstance(dtype, pl.Date):
        return expr
    raise TypeError(f"column {column!r} is {dtype}, expected a date or a timestamp")


# --- the spine ------------------------------------------------------------------------


def month_spine(first_months: pl.DataFrame, last_month: date) -> pl.DataFrame:
    """Every month from each account's `first_month` to `last_month`, sorted.

    `first_months` has `account_id` and `first_month`; an account whose first month is
    after `last_month` gets no rows. Output: `account_id` (String), `month` (Date).
    """
    last = month_start(last_month)
    return (
        first_months.lazy()
        .select(
            pl.col(ACCOUNT),
            pl.col("first_month").dt.month_start().alias("_first"),
        )
        .filter(pl.col("_first") <= last)
        .group_by(ACCOUNT)
        .agg(pl.col("_first").min())
        .select(
            pl.col(ACCOUNT),
            pl.date_ranges(pl.col("_first"), pl.lit(last), interval="1mo", closed="both").alias(MONTH),
        )
        .explode(MONTH)
        .sort(ACCOUNT, MONTH)
        .collect()
    )


def side_by_side(spine_frame: pl.DataFrame, *parts: pl.DataFrame) -> pl.DataFrame:
    """The columns of frames computed on the same spine, joined by `account_id`, `month`.

    The spine helpers return rows in spine order, so when the keys line up (checked,
    not assumed) the columns are placed side by side without a join; assembling the
    mart then costs nothing. A part that does not line up is left-joined by key.
    """
    out = spine_frame
    for part in parts:
        aligned = part.height == out.height and part[ACCOUNT].equals(out[ACCOUNT]) and part[MONTH].equals(out[MONTH])
        if aligned:
            out = out.hstack(part.drop(ACCOUNT, MONTH).get_columns())
        else:
            out = out.join(part, on=[ACCOUNT, MONTH], how="left", maintain_order="left")
    return out


def relative_change(value: pl.Expr, months_back: int) -> pl.Expr:
    """value(M) / value(M-k) - 1 as Float64, on a sorted spine of consecutive months.

    Null when the base is 0 or when M-k is before the account's first spine month:
    change from nothing is not a rate, and a month without data is no base.
    """
    base = value.shift(months_back).over(ACCOUNT).cast(pl.Float64)
    return pl.when(base != 0).then(value.cast(pl.Float64) / base - 1.0).otherwise(None)


def trailing_totals(
    events: pl.DataFrame,
    spine: pl.DataFrame,
    *,
    month: str,
    values: Sequence[str],
    months: int = 1,
) -> pl.DataFrame:
    """Σ of `values` over events whose `month` lies in M-(months-1) .. M, per spine row.

    `events` has `account_id`, a month-key column `month` and the numeric `values`
    (use a column of 1s to count). Months with nothing sum to 0. The spine must start
    at or before each account's first event (as `month_spine` from the first data month
    does); events outside the spine are outside every window anyway.
    Output: `account_id`, `month`, one column per value, in spine order.
    """
    per_month = events.lazy().group_by(pl.col(ACCOUNT), pl.col(month).alias(MONTH)).agg(pl.col(v).sum() for v in values)
    out = (
        spine.lazy()
        .select(ACCOUNT, MONTH)
        .join(per_month, on=[ACCOUNT, MONTH], how="left", maintain_order="left")
        .with_columns(pl.col(v).fill_null(0) for v in values)
    )
    if months > 1:
        out = out.with_columns(
            (pl.col(v).cum_sum() - pl.col(v).cum_sum().shift(months, fill_value=0)).over(ACCOUNT) for v in values
        )
    return out.collect()


def month_end_balances(
    intervals: pl.DataFrame,
    spine: pl.DataFrame,
    *,
    start: str,
    stop: str,
    values: Sequence[str],
) -> pl.DataFrame:
    """Σ of `values` over the intervals open at end(M), per spine row.

    An interval is open at the end of every month from month-key `start` (included) up
    to month-key `stop` (excluded; null = still open). Callers translate their own
    day-level rule into these two month keys, e.g. "active while start_date <= d <
    end_date" is open from month(start_date) to month(end_date). It is computed as +value
    at `start`, -value at `stop` and a running total, so a long-lived record costs two
    rows however many months it spans. Events before an account's first spine month are
    moved onto it, so the balance is right even when the spine starts late.
    Output: `account_id`, `month`, one column per value, in spine order.
    """
    first = spine.lazy().group_by(ACCOUNT).agg(pl.col(MONTH).min().alias("_first"))
    live = (
        intervals.lazy()
        .filter(pl.col(stop).is_null() | (pl.col(stop) > pl.col(start)))
        .join(first, on=ACCOUNT, how="inner")
    )
    opens = live.select(
        pl.col(ACCOUNT),
        pl.max_horizontal(pl.col(start), pl.col("_first")).alias(MONTH),
        *(pl.col(v) for v in values),
    )
    closes = live.filter(pl.col(stop).is_not_null()).select(
        pl.col(ACCOUNT),
        pl.max_horizontal(pl.col(stop), pl.col("_first")).alias(MONTH),
        *(-pl.col(v) for v in values),
    )
    changes = pl.concat([opens, closes]).group_by(ACCOUNT, MONTH).agg(pl.col(v).sum() for v in values)
    return (
        spine.lazy()
        .select(ACCOUNT, MONTH)
        .join(changes, on=[ACCOUNT, MONTH], how="left", maintain_order="left")
        .with_columns(pl.col(v).fill_null(0).cum_sum().over(ACCOUNT) for v in values)
        .collect()
    )
