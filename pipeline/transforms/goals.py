"""Account goals: value, baseline, expected path and status per goal and month.

Pure Polars in, Polars out. A goal (crm/account_goals) names a column of
`marts.account_monthly`, a target, a direction, a start month and a due month; each
month from start to due + 1 it gets a row saying where the account is against the
straight line from its baseline to the target.

Rules this module settles where the definition of account goals leaves a choice:

- A goal's metric must be a numeric column of ACCOUNT_MONTHLY (money, count or rate). One
  goal table holds all of them, so value, baseline, expected and target are Float64; a
  money value and a target of the same amount compare equal (both are the nearest double
  of the same decimal).
- Rows run from start_month to due_month + 1, but never past the reporting month (a
  month that has not happened has no row); a goal starting after the reporting month has
  no rows yet.
- The baseline is known at M: it is the value of the first month at or after start with a
  value, shown from that month on (null before, so a past row never changes when later
  data arrives). ``baseline_month`` says which month it is.
- expected(M) = baseline + (target - baseline) × elapsed / span, elapsed and span counted
  from start_month, span at least 1, capped at the target in the goal's direction (at
  most the target for at_least, at least the target for at_most), rounded to 6 decimals
  so float noise never decides on_track versus behind. Null while the baseline is.
- Status tests run in this order on the value at M: no_data, met (at_least:
  value >= target; at_most: value <= target), missed (M >= due), on_track (value at or
  past expected), behind. In the month after due the status is the one of the due month.
- A direction left empty is at_least; visible_to_client left empty is true.
- A goal that cannot be evaluated is not a row: unknown or non-numeric metric, a start or
  due month that is not a month (YYYY-MM), due before start, an empty target or an
  unknown direction go to the rejects (QUARANTINE rows, stage "marts") with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from pipeline.schemas import ACCOUNT_GOALS, ACCOUNT_MONTHLY, GOAL_STATUSES, QUARANTINE
from pipeline.transforms.calendar import ACCOUNT, MONTH, month_start

__all__ = ["ACCOUNT_GOALS", "AccountGoalsResult", "account_goals", "goal_metrics"]

AT_LEAST = "at_least"
AT_MOST = "at_most"
DIRECTIONS = (AT_LEAST, AT_MOST)
NO_DATA, MET, MISSED, ON_TRACK, BEHIND = "no_data", "met", "missed", "on_track", "behind"
STATUSES = GOAL_STATUSES  # the same five, in this order
SOURCE = "account_goals"
_EXPECTED_DECIMALS = 6

_OPTIONAL_TEXT = ("description", "owner")
_LINEAGE = {"_file": pl.String(), "_row": pl.Int64(), "_loaded_at": QUARANTINE["loaded_at"]}


@dataclass(frozen=True)
class AccountGoalsResult:
    """The mart frame and the goals it could not evaluate."""

    frame: pl.DataFrame  # exactly ACCOUNT_GOALS, sorted by goal_id, month
    rejects: pl.DataFrame  # QUARANTINE rows, stage "marts"


def goal_metrics(schema: pl.Schema = ACCOUNT_MONTHLY) -> tuple[str, ...]:
    """The columns a goal may name: the numeric columns of account_monthly."""
    return tuple(name for name, dtype in schema.items() if dtype.is_numeric())


def _as_month(schema: pl.Schema, column: str) -> pl.Expr:
    """A month key from a Date/Datetime (its month) or text "YYYY-MM" (or "YYYY-MM-DD")."""
    dtype = schema[column]
    expr = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        expr = expr.dt.date()
    elif dtype == pl.String:
        text = expr.str.strip_chars()
        expr = pl.coalesce(
            text.str.strptime(pl.Date, "%Y-%m", strict=False),
            text.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
        )
    elif not isinstance(dtype, pl.Date):
        raise TypeError(f"account goals: column {column!r} is {dtype}, expected a month (YYYY-MM) or a date")
    return expr.dt.month_start()


def _month_index(expr: pl.Expr) -> pl.Expr:
    return expr.dt.year().cast(pl.Int64) * 12 + expr.dt.month().cast(pl.Int64)


def _normalise(goals: pl.DataFrame) -> pl.DataFrame:
    """Goals with typed months, defaults applied and one `_reason` (null when usable)."""
    schema = goals.schema
    frame = goals.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in _LINEAGE.items() if name not in schema
    ).with_columns(pl.lit(None, pl.String).alias(name) for name in (*_OPTIONAL_TEXT, "direction") if name not in schema)
    if "visible_to_client" not in schema:
        frame = frame.with_columns(visible_to_client=pl.lit(True))
    metrics = goal_metrics()
    frame = frame.with_columns(
        pl.col("goal_id").cast(pl.String),
        pl.col(ACCOUNT).cast(pl.String),
        pl.col("metric").cast(pl.String).str.strip_chars().str.to_lowercase(),
        pl.col("direction").cast(pl.String).str.strip_chars().str.to_lowercase().fill_null(AT_LEAST),
        pl.col("visible_to_client").cast(pl.Boolean).fill_null(True),
        pl.col("target").cast(pl.Float64),
        _as_month(schema, "start_month").alias("_start"),
        _as_month(schema, "due_month").alias("_due"),
        pl.col("start_month").cast(pl.String).alias("_start_text"),
        pl.col("due_month").cast(pl.String).alias("_due_text"),
    )
    reason = (
        pl.when(~pl.col("metric").is_in(metrics).fill_null(False))
        .then(
            pl.format(
                "metric '{}' is not a numeric column of marts.account_monthly; use one of {}",
                pl.col("metric").fill_null(""),
                pl.lit(", ".join(metrics)),
            )
        )
        .when(pl.col("_start").is_null())
        .then(pl.format("start_month '{}' is not a month (YYYY-MM)", pl.col("_start_text").fill_null("")))
        .when(pl.col("_due").is_null())
        .then(pl.format("due_month '{}' is not a month (YYYY-MM)", pl.col("_due_text").fill_null("")))
        .when(pl.col("_due") < pl.col("_start"))
        .then(pl.format("due_month {} is before start_month {}", pl.col("_due_text"), pl.col("_start_text")))
        .when(pl.col("target").is_null())
        .then(pl.lit("target is empty or not a number"))
        .when(~pl.col("direction").is_in(DIRECTIONS))
        .then(pl.format("direction '{}' is not at_least or at_most", pl.col("direction")))
    )
    column = (
        pl.when(~pl.col("metric").is_in(metrics).fill_null(False))
        .then(pl.lit("metric"))
        .when(pl.col("_start").is_null())
        .then(pl.lit("start_month"))
        .when(pl.col("_due").is_null() | (pl.col("_due") < pl.col("_start")))
        .then(pl.lit("due_month"))
        .when(pl.col("target").is_null())
        .then(pl.lit("target"))
        .otherwise(pl.lit("direction"))
    )
    value = (
        pl.when(column == "metric")
        .then(pl.col("metric"))
        .when(column == "start_month")
        .then(pl.col("_start_text"))
        .when(column == "due_month")
        .then(pl.col("_due_text"))
        .when(column == "direction")
        .then(pl.col("direction"))
    )
    return frame.with_columns(_reason=reason, _column=column, _value=value)


def _rejects(bad: pl.DataFrame) -> pl.DataFrame:
    return bad.select(
        pl.lit(SOURCE).alias("source"),
        pl.lit("marts").alias("stage"),
        pl.col("_file").alias("file"),
        pl.col("_row").alias("row"),
        pl.col("_column").alias("column"),
        pl.col("_value").alias("value"),
        pl.col("_reason").alias("reason"),
        pl.col("goal_id").alias("record_key"),
        pl.col("_loaded_at").alias("loaded_at"),
    ).cast(QUARANTINE)


def account_goals(goals: pl.DataFrame, account_monthly: pl.DataFrame, reporting_month: date) -> AccountGoalsResult:
    """`marts.account_goals`: one row per goal and month from start to due + 1 (ACCOUNT_GOALS).

    `goals`: crm/account_goals in staging shape (goal_id, account_id, metric, target,
    direction, start_month, due_month as Date or "YYYY-MM", owner, description,
    visible_to_client; lineage columns are used for the rejects when present).
    `account_monthly`: ACCOUNT_MONTHLY rows up to `reporting_month`. Rows stop at the
    reporting month.
    """
    last = month_start(reporting_month)
    checked = _normalise(goals)
    usable = checked.filter(pl.col("_reason").is_null())
    rejects = _rejects(checked.filter(pl.col("_reason").is_not_null()))

    metrics = usable["metric"].unique().sort().to_list()
    values = (
        account_monthly.lazy()
        .select(
            pl.col(ACCOUNT).cast(pl.String),
            pl.col(MONTH),
            *[pl.col(m).cast(pl.Float64) for m in metrics],
        )
        .unpivot(index=[ACCOUNT, MONTH], variable_name="metric", value_name="value")
    )

    goal = "goal_id"
    at_least = pl.col("direction") == AT_LEAST
    value, target = pl.col("value"), pl.col("target")
    baseline, expected = pl.col("baseline"), pl.col("expected")
    first_month = pl.when(value.is_not_null()).then(pl.col(MONTH)).min().over(goal)
    elapsed = _month_index(pl.col(MONTH)) - _month_index(pl.col("_start"))
    span = pl.max_horizontal(_month_index(pl.col("_due")) - _month_index(pl.col("_start")), pl.lit(1))
    line = baseline + (target - baseline) * elapsed.cast(pl.Float64) / span.cast(pl.Float64)
    capped = (
        pl.when(baseline.is_null())
        .then(None)
        .when(at_least)
        .then(pl.min_horizontal(line, target))
        .otherwise(pl.max_horizontal(line, target))
    )
    reached = pl.when(at_least).then(value >= target).otherwise(value <= target)
    on_course = pl.when(at_least).then(value >= expected).otherwise(value <= expected)
    status = (
        pl.when(value.is_null())
        .then(pl.lit(NO_DATA))
        .when(reached)
        .then(pl.lit(MET))
        .when(pl.col(MONTH) >= pl.col("_due"))
        .then(pl.lit(MISSED))
        .when(on_course)
        .then(pl.lit(ON_TRACK))
        .otherwise(pl.lit(BEHIND))
    )
    at_due = pl.col("_status").filter(pl.col(MONTH) == pl.col("_due")).first().over(goal)

    frame = (
        usable.lazy()
        .with_columns(
            _last=pl.min_horizontal(pl.col("_due").dt.offset_by("1mo"), pl.lit(last)),
        )
        .filter(pl.col("_start") <= pl.col("_last"))
        .with_columns(pl.date_ranges("_start", "_last", interval="1mo", closed="both").alias(MONTH))
        .explode(MONTH)
        .join(values, on=[ACCOUNT, MONTH, "metric"], how="left")
        .sort(goal, MONTH)
        .with_columns(baseline_month=pl.when(pl.col(MONTH) >= first_month).then(first_month))
        .with_columns(
            baseline=pl.when(pl.col("baseline_month").is_not_null()).then(
                value.filter(pl.col(MONTH) == first_month).first().over(goal)
            )
        )
        .with_columns(expected=capped.round(_EXPECTED_DECIMALS, mode="half_away_from_zero"))
        .with_columns(_status=status)
        .with_columns(status=pl.when(pl.col(MONTH) > pl.col("_due")).then(at_due).otherwise(pl.col("_status")))
        .with_columns(start_month=pl.col("_start"), due_month=pl.col("_due"))
        .select([pl.col(n).cast(t) for n, t in ACCOUNT_GOALS.items()])
        .collect()
    )
    return AccountGoalsResult(frame=frame, rejects=rejects)
