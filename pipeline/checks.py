"""Data-quality checks as pure functions over the frames an asset just built.

Each returns an AssetCheckResult carrying the measured value and the threshold, so the
UI shows *how far* off a failing check is, not just that it failed.
"""

from __future__ import annotations

from datetime import date, datetime

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
    return frame.with_columns((pl.col(end) - expected).alias("difference")).filter(
        pl.col("difference") != 0
    )


def check_bridge(frame: pl.DataFrame, *, start: str, end: str, keys: list[str], name: str) -> AssetCheckResult:
    bad = bridge_gap(frame, start, end)
    worst = float(bad["difference"].cast(pl.Float64).abs().max()) if bad.height else 0.0
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
    dup = frame.group_by(keys).len().filter(pl.col("len") > 1)
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
            "min_score": float(frame["score"].min()) if frame.height and frame["score"].null_count() < frame.height else None,
            "max_score": float(frame["score"].max()) if frame.height and frame["score"].null_count() < frame.height else None,
            "threshold": "0 <= score <= 100",
        },
    )


def check_change_split(frame: pl.DataFrame, change_columns: list[str], name: str) -> AssetCheckResult:
    """The per-measure parts add up to the score change (to 0.1 after rounding the score)."""
    if not change_columns:
        return AssetCheckResult(check_name=name, passed=True, metadata={"rows_checked": 0})
    rows = frame.filter(pl.col("score_change").is_not_null())
    parts = pl.sum_horizontal([pl.col(c).fill_null(0.0) for c in change_columns])
    off = rows.with_columns((parts - pl.col("score_change")).abs().alias("gap")).filter(pl.col("gap") > 0.1 + 1e-9)
    return AssetCheckResult(
        check_name=name,
        passed=off.height == 0,
        metadata={
            "rows_checked": rows.height,
            "rows_off": off.height,
            "largest_gap": float(off["gap"].max()) if off.height else 0.0,
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
        metadata={"quarantine_rate": round(rate, 6), "threshold": threshold, "rows_in": rows_in,
                  "rows_quarantined": rows_quarantined},
    )
