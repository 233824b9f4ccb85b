"""Data-quality checks as pure functions over the frames an asset just built.

Each returns an AssetCheckResult carrying the measured value and the threshold, so the
UI shows *how far* off a failing check is, not just that it failed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

import polars as pl
from dagster import AssetCheckResult, AssetCheckSeverity

from pipeline.metadata import md

MOVEMENTS_IN = ("mrr_new", "mrr_reactivation", "mrr_expansion")
MOVEMENTS_OUT = ("mrr_contraction", "mrr_churn")


def bridge_gap(frame: pl.DataFrame, start: str, end: str) -> pl.DataFrame:
    """Rows where end != start + new + reactivation + expansion - contraction - churn."""
    expected = pl.col(start)
    for c in MOVEMENTS_IN:
        expected = expected + pl.col(c)
    for c in MOVEMENTS_OUT:
        expected = expected - pl.col(c)
    return frame.with_columns((pl.col(end) - expected).alias("difference")).filter(pl.col("difference") != 0)


def check_bridge(frame: pl.DataFrame, *, start: str, end: str, keys: list[str], name: str) -> AssetCheckResult:
    bad = bridge_gap(frame, start, end)
    worst = float(cast(float, bad["difference"].cast(pl.Float64).abs().max())) if bad.height else 0.0
    return AssetCheckResult(
        check_name=name,
        passed=bad.height == 0,
        metadata={
            "rows_checked": frame.height,
            "rows_off": bad.height,
            "largest_difference": worst,
            "threshold": 0.0,
            "examples": md(bad.select(*keys, start, end, "difference")),
        },
    )


def check_unique(frame: pl.DataFrame, keys: list[str], name: str) -> AssetCheckResult:
    return check_repeats(frame.group_by(keys).len().filter(pl.col("len") > 1), name)


def check_repeats(dup: pl.DataFrame, name: str) -> AssetCheckResult:
    """No key repeats, given the repeated keys with their count ``len`` (found in DuckDB on
    the stored table for the largest marts: ``pipeline.store.marts.repeated_keys``)."""
    return AssetCheckResult(
        check_name=name,
        passed=dup.height == 0,
        metadata={"duplicate_keys": dup.height, "threshold": 0, "examples": md(dup)},
    )


def check_no_null(frame: pl.DataFrame, column: str, name: str) -> AssetCheckResult:
    nulls = frame.filter(pl.col(column).is_null())
    return AssetCheckResult(
        check_name=name,
        passed=nulls.height == 0,
        metadata={f"null_{column}": nulls.height, "threshold": 0},
    )


def check_months_complete(frame: pl.DataFrame, month: date, name: str) -> AssetCheckResult:
    """Every account has a row for every month from its first month to the reporting month."""
    spans = frame.group_by("account_id").agg(
        pl.col("month").min().alias("first"), pl.col("month").n_unique().alias("rows")
    )
    expected = spans.with_columns(
        ((month.year - pl.col("first").dt.year()) * 12 + month.month - pl.col("first").dt.month() + 1).alias("expected")
    )
    gaps = expected.filter(pl.col("rows") != pl.col("expected"))
    return AssetCheckResult(
        check_name=name,
        passed=gaps.height == 0,
        metadata={"accounts_with_gaps": gaps.height, "threshold": 0, "examples": md(gaps)},
    )


def check_score_range(frame: pl.DataFrame, name: str) -> AssetCheckResult:
    out = frame.filter((pl.col("score") < 0) | (pl.col("score") > 100))
    return AssetCheckResult(
        check_name=name,
        passed=out.height == 0,
        metadata={
            "scores_outside_0_100": out.height,
            "min_score": float(cast(float, frame["score"].min()))
            if frame.height and frame["score"].null_count() < frame.height
            else None,
            "max_score": float(cast(float, frame["score"].max()))
            if frame.height and frame["score"].null_count() < frame.height
            else None,
            "threshold": "0 <= score <= 100",
        },
    )


def check_change_split(frame: pl.DataFrame, change_columns: list[str], name: str) -> AssetCheckResult:
    """The per-measure parts add up to the score change (to 0.1 after rounding the score)."""
    if not change_columns:
        return AssetCheckResult(check_name=name, passed=True, metadata={"rows_checked": 0})
    # Only the columns summed: filtering the whole mart first copied every row's drivers.
    rows = frame.select("score_change", *change_columns).filter(pl.col("score_change").is_not_null())
    parts = pl.sum_horizontal([pl.col(c).fill_null(0.0) for c in change_columns])
    off = rows.with_columns((parts - pl.col("score_change")).abs().alias("gap")).filter(pl.col("gap") > 0.1 + 1e-9)
    return AssetCheckResult(
        check_name=name,
        passed=off.height == 0,
        metadata={
            "rows_checked": rows.height,
            "rows_off": off.height,
            "largest_gap": float(cast(float, off["gap"].max())) if off.height else 0.0,
            "threshold": 0.1,
        },
    )


def check_freshness(newest: datetime | None, now: datetime, max_days: int, name: str) -> AssetCheckResult:
    """The newest landing file of a source is at most ``max_days`` old (no file: a warning)."""
    age = None if newest is None else (now - newest).total_seconds() / 86400
    return AssetCheckResult(
        check_name=name,
        passed=age is not None and age <= max_days,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "newest_file_age_days": round(age, 2) if age is not None else None,
            "newest_file_at": newest.isoformat() if newest else None,
            "threshold_days": max_days,
        },
    )


def check_quarantine_rate(rows_in: int, rows_quarantined: int, threshold: float, name: str) -> AssetCheckResult:
    rate = rows_quarantined / rows_in if rows_in else 0.0
    return AssetCheckResult(
        check_name=name,
        passed=rate <= threshold,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "quarantine_rate": round(rate, 6),
            "threshold": threshold,
            "rows_in": rows_in,
            "rows_quarantined": rows_quarantined,
        },
    )


# --------------------------------------------------------------------------- looking ahead

GROUP_KEYS = ["month", "grouping", "group_value"]
_UNASSIGNED = "unassigned"


def _stack_by_grouping(frame: pl.DataFrame) -> pl.DataFrame:
    """Account rows stacked once per grouping (all, tier, segment, account manager), written
    out here rather than borrowed from the transform it checks."""
    parts = [frame.with_columns(grouping=pl.lit("all"), group_value=pl.lit("all"))]
    for grouping, column in (("tier", "tier"), ("segment", "segment"), ("account_manager", "account_manager_id")):
        parts.append(frame.with_columns(grouping=pl.lit(grouping), group_value=pl.col(column).fill_null(_UNASSIGNED)))
    return pl.concat(parts)


def check_group_sums(accounts: pl.DataFrame, groups: pl.DataFrame, columns: list[str], name: str) -> AssetCheckResult:
    """Per month and group of ``groups`` (portfolio_monthly), each of ``columns`` equals the
    sum of the accounts' values (account_forecast) to the cent. A group's value that is
    null (a customer without a rate) is not compared; a group without account rows sums 0."""
    sums = _stack_by_grouping(accounts).group_by(GROUP_KEYS).agg(*[pl.col(c).sum().alias(f"_sum_{c}") for c in columns])
    joined = groups.select(*GROUP_KEYS, *columns).join(sums, on=GROUP_KEYS, how="left")
    off = pl.lit(False)
    worst = []
    for c in columns:
        gap = (pl.col(c) - pl.col(f"_sum_{c}").fill_null(0)).abs()
        off = off | (pl.col(c).is_not_null() & (gap != 0))
        worst.append(gap.alias(f"_gap_{c}"))
    measured = joined.with_columns(worst)
    bad = measured.filter(off)
    largest = 0.0
    for c in columns:
        value = bad[f"_gap_{c}"].max() if bad.height else None
        largest = max(largest, float(cast(float, value or 0)))
    return AssetCheckResult(
        check_name=name,
        passed=bad.height == 0,
        metadata={
            "groups_checked": joined.height,
            "groups_off": bad.height,
            "largest_difference": largest,
            "threshold": 0.0,
            "columns": ", ".join(columns),
            "examples": md(bad.select(*GROUP_KEYS, *columns, *[f"_sum_{c}" for c in columns])),
        },
    )


def check_committed_steady(
    forecast: pl.DataFrame, subscriptions: pl.DataFrame, cmrr_columns: list[str], name: str
) -> AssetCheckResult:
    """Committed MRR at M+k equals MRR(M) when none of the account's subscriptions starts
    or ends in (end(M), end(M+k)]: the property that ties the forecast to the MRR formula.

    For each forecast row the first start_date or end_date after end(M) among the
    account's subscriptions, in month j after M (j = 1 for M+1); every cmrr_k with k < j
    must equal mrr exactly."""
    keys = forecast.select("account_id", "month").unique()
    dates = pl.concat(
        [
            subscriptions.select(pl.col("account_id").cast(pl.String), pl.col(c).alias("_day"))
            for c in ("start_date", "end_date")
        ]
    ).filter(pl.col("_day").is_not_null())
    first = (
        keys.join(dates, on="account_id", how="left")
        .filter(pl.col("_day").is_null() | (pl.col("_day") > pl.col("month").dt.month_end()))
        .group_by("account_id", "month")
        .agg(pl.col("_day").min().alias("_first_change"))
    )
    months_to = (pl.col("_first_change").dt.year() - pl.col("month").dt.year()) * 12 + (
        pl.col("_first_change").dt.month().cast(pl.Int32) - pl.col("month").dt.month().cast(pl.Int32)
    )
    rows = forecast.join(first, on=["account_id", "month"], how="left").with_columns(_j=months_to)
    steady_pairs = 0
    bad_rows = []
    for k, column in enumerate(cmrr_columns, start=1):
        steady = rows.filter(pl.col("_j").is_null() | (pl.col("_j") > k))
        steady_pairs += steady.height
        off = steady.filter(pl.col(column) != pl.col("mrr").fill_null(0))
        if off.height:
            bad_rows.append(
                off.select(
                    "account_id", "month", "mrr", pl.lit(column).alias("column"), pl.col(column).alias("committed")
                )
            )
    bad = pl.concat(bad_rows) if bad_rows else pl.DataFrame()
    return AssetCheckResult(
        check_name=name,
        passed=bad.height == 0,
        metadata={
            "pairs_checked": steady_pairs,
            "pairs_off": bad.height,
            "threshold": 0,
            "examples": md(bad),
        },
    )


def check_band_retention(retention: pl.DataFrame, month: date, name: str) -> AssetCheckResult:
    """Every band retention rate is 0 or more (or null: no pairs); the month's pairs and
    rates per band in the metadata."""
    out = retention.filter(pl.col("rate") < 0)
    this = retention.filter(pl.col("month") == month).select("band", "pairs", "band_rate", "rate", "pooled")
    pairs = {f"pairs_{r['band']}": int(r["pairs"] or 0) for r in this.iter_rows(named=True)}
    return AssetCheckResult(
        check_name=name,
        passed=out.height == 0,
        metadata={
            "rates_below_0": out.height,
            "min_rate": float(cast(float, retention["rate"].min())) if retention["rate"].drop_nulls().len() else None,
            "max_rate": float(cast(float, retention["rate"].max())) if retention["rate"].drop_nulls().len() else None,
            "threshold": "0 <= rate (null without pairs)",
            **pairs,
            "this_month": md(this),
        },
    )


def check_values_in(frame: pl.DataFrame, column: str, allowed: tuple[str, ...], name: str) -> AssetCheckResult:
    """Every value of ``column`` is one of ``allowed`` (a null is not)."""
    bad = frame.filter(pl.col(column).is_null() | ~pl.col(column).is_in(list(allowed)))
    counts = frame.group_by(column).len().sort(column, nulls_last=True)
    return AssetCheckResult(
        check_name=name,
        passed=bad.height == 0,
        metadata={
            f"rows_with_other_{column}": bad.height,
            "threshold": 0,
            "allowed": ", ".join(allowed),
            "counts": md(counts),
        },
    )
