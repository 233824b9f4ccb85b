"""Account health: measures, score, band, drivers and the month-on-month split.

Pure Polars in, Polars out (docs/metrics.md, "Account health"). The model is data: which
measures exist, their points and weights come only from ``HealthSettings.measures``;
nothing in this module names a weight or a threshold.

Rules this module settles where the definitions leave a choice (docs/metrics.md repeats them
under "Choices we made where the specification was open"):

- A measure's score is the linear interpolation of its input between ``zero_at`` (0) and
  ``full_at`` (100), clamped to 0..100; it works for falling scales (zero_at > full_at).
  A null input makes the measure missing.
- ``overdue_ratio`` = overdue_amount / mrr is null when mrr is 0 (a zero denominator
  gives null), so the payments measure is missing for an account without MRR.
- ``touch_gap_ratio`` = days_since_last_touch / the tier's cadence days; null when there
  was no touch yet or the tier has no cadence in the settings.
- The score is rounded half away from zero to one decimal; the band comes from the
  rounded score, so the score shown and the band always agree (69.96 shows 70.0, green).
- ``insufficient_data`` when the present weight is below ``min_weight_share`` of the
  total weight (exactly half is enough); the score is still shown. With no measure at
  all the score is null and the band is ``insufficient_data``.
- Drivers are the present measures with a shortfall w·(100-s)/Σw(present) above 0,
  largest first, ties in settings order; a measure at 100 is not a driver. An account
  with no driver has drivers "" and an empty drivers_detail.
- score_change = score(M) - score(M-1) of the rounded scores, rounded to one decimal
  (removes float noise); null when either score is null or there is no row for M-1
  (the calendar month before, not merely the previous row). Its split by measure
  ``<measure>_change`` = w·s(M)/Σw(M) - w·s(M-1)/Σw(M-1) with a missing measure's part
  taken as 0 is not rounded: the parts add up to the unrounded change, which differs
  from score_change by at most 0.1.
- An override is active for month M when end(M) < expires_on (expires_on is the first
  day it no longer applies, like a subscription end date). The override file has no
  start date, so an override applies to every month before it expires, history
  included. ``band`` is the override's band when one is active, else computed_band.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from pipeline.schemas import DRIVER
from pipeline.settings import HealthSettings, Measure

__all__ = ["account_health", "account_health_schema", "health_inputs"]

BAND_GREEN = "green"
BAND_AMBER = "amber"
BAND_RED = "red"
BAND_INSUFFICIENT = "insufficient_data"

_ROUND: Final = "half_away_from_zero"

OVERRIDE_COLUMNS = ("account_id", "band", "reason", "set_by", "expires_on")


# --------------------------------------------------------------------------- inputs


def _cadence_days(settings: HealthSettings) -> pl.Expr:
    """The tier's expected days between touches; null for a tier without a cadence."""
    mapping = {str(k): float(v) for k, v in settings.tier_cadence_days.items()}
    if not mapping:
        return pl.lit(None, dtype=pl.Float64)
    return pl.col("tier").replace_strict(mapping, default=None, return_dtype=pl.Float64)


def health_inputs(account_monthly: pl.DataFrame, settings: HealthSettings) -> pl.DataFrame:
    """ACCOUNT_MONTHLY plus the two derived measure inputs.

    - ``touch_gap_ratio`` = days_since_last_touch / the tier's cadence days (null when
      either is null or the tier has no cadence setting);
    - ``overdue_ratio`` = overdue_amount / mrr (null when mrr is 0 or null).

    The other inputs (nps_12m, csat_3m, revenue_trend_3m, open_high_priority_tickets)
    are ACCOUNT_MONTHLY columns used as they are.
    """
    mrr = pl.col("mrr").cast(pl.Float64)
    return account_monthly.with_columns(
        touch_gap_ratio=pl.col("days_since_last_touch").cast(pl.Float64) / _cadence_days(settings),
        overdue_ratio=pl.when(mrr > 0).then(pl.col("overdue_amount").cast(pl.Float64) / mrr),
    )


# --------------------------------------------------------------------------- schema


def account_health_schema(settings: HealthSettings) -> pl.Schema:
    """The exact schema of ``account_health`` for these settings (one set of columns per measure)."""
    cols: dict[str, pl.DataType] = {
        "account_id": pl.String(),
        "month": pl.Date(),
        "tier": pl.String(),
        "score": pl.Float64(),
        "computed_band": pl.String(),
        "band": pl.String(),
        "override_band": pl.String(),
        "override_reason": pl.String(),
        "override_set_by": pl.String(),
        "override_expires_on": pl.Date(),
    }
    for m in settings.measures:
        cols[f"{m.name}_score"] = pl.Float64()
    for m in settings.measures:
        cols[f"{m.name}_input"] = pl.Float64()
    cols["present_weight"] = pl.Float64()
    cols["missing_measures"] = pl.List(pl.String())
    cols["drivers"] = pl.String()
    cols["drivers_detail"] = pl.List(DRIVER)
    cols["score_change"] = pl.Float64()
    for m in settings.measures:
        cols[f"{m.name}_change"] = pl.Float64()
    return pl.Schema(cols)


# --------------------------------------------------------------------------- formatting


def _num(expr: pl.Expr, decimals: int = 0) -> pl.Expr:
    """A float as short text: rounded, no trailing ".0", never "-0"."""
    rounded = expr.round(decimals, mode=_ROUND) + 0.0  # + 0.0 turns -0.0 into 0.0
    return rounded.cast(pl.String).str.replace(r"\.0$", "")


def _const(value: float, decimals: int = 0) -> str:
    """A settings constant as short text, formatted like ``_num``."""
    text = f"{round(value, decimals) + 0.0:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _signed(value: float, decimals: int = 0) -> str:
    text = _const(value, decimals)
    return text if text.startswith("-") else f"+{text}"


def _sentence(m: Measure, value: pl.Expr, score: pl.Expr) -> pl.Expr:
    """The plain-words reason for one measure, with its numbers (vectorised)."""
    if m.name == "satisfaction":
        return pl.format("NPS over the last 12 months is {} (target {})", _num(value), pl.lit(_const(m.full_at)))
    if m.name == "service":
        return pl.format("CSAT over the last 3 months is {}% (target {}%)", _num(value), pl.lit(_const(m.full_at)))
    if m.name == "engagement":
        days = pl.col("days_since_last_touch").cast(pl.Float64)
        unit = pl.when(days == 1).then(pl.lit("day")).otherwise(pl.lit("days"))
        return pl.format(
            "no contact for {} {}; {} accounts expect one every {} days",
            _num(days),
            unit,
            pl.col("tier"),
            _num(pl.col("_cadence_days"), 1),
        )
    if m.name == "revenue_trend":
        pct = value * 100.0
        shown = _num(pct.abs())
        target = f" (target {_signed(m.full_at * 100.0)}%)"
        return (
            pl.when(shown == "0")
            .then(pl.lit(f"recurring revenue was flat over 3 months{target}"))
            .when(value < 0)
            .then(pl.format("recurring revenue fell {}% over 3 months", shown))
            .otherwise(pl.format("recurring revenue rose {}% over 3 months{}", shown, pl.lit(target)))
        )
    if m.name == "payments":
        months = _num(value, 1)
        pct = _num(value * 100.0)
        return (
            pl.when(months == "1")
            .then(pl.lit("overdue invoices equal 1 month of recurring revenue"))
            .when(value.round(1, mode=_ROUND) >= 1.0)
            .then(pl.format("overdue invoices equal {} months of recurring revenue", months))
            .when(pct == "0")
            .then(pl.lit("overdue invoices equal under 1% of a month's recurring revenue"))
            .otherwise(pl.format("overdue invoices equal {}% of a month's recurring revenue", pct))
        )
    if m.name == "support":
        count = _num(value)
        return (
            pl.when(count == "1")
            .then(pl.lit("1 high-priority ticket open"))
            .otherwise(pl.format("{} high-priority tickets open", count))
        )
    label = m.label or m.name
    return pl.format("{} scores {} out of 100", pl.lit(label), _num(score))


# --------------------------------------------------------------------------- scoring


def _measure_score(m: Measure) -> pl.Expr:
    x = pl.col(f"{m.name}_input")
    # (x - zero) * 100 / (full - zero): exact at the anchor points, works both directions.
    return ((x - m.zero_at) * 100.0 / (m.full_at - m.zero_at)).clip(0.0, 100.0)


def _score_columns(frame: pl.DataFrame, settings: HealthSettings) -> pl.DataFrame:
    measures = settings.measures
    total = settings.total_weight
    frame = frame.with_columns(
        [pl.col(m.input).cast(pl.Float64).alias(f"{m.name}_input") for m in measures]
    ).with_columns([_measure_score(m).alias(f"{m.name}_score") for m in measures])

    present_weight = pl.sum_horizontal(
        [pl.when(pl.col(f"{m.name}_score").is_not_null()).then(m.weight).otherwise(0.0) for m in measures]
    )
    frame = frame.with_columns(present_weight=present_weight)
    pw = pl.when(pl.col("present_weight") > 0).then(pl.col("present_weight"))

    # The part of each measure in the unrounded score: w·s/Σw(present), 0 when missing;
    # null when no measure is present. These parts add up to the unrounded score.
    parts = [(pl.col(f"{m.name}_score").fill_null(0.0) * m.weight / pw).alias(f"_part_{m.name}") for m in measures]
    frame = (
        frame.with_columns(parts)
        .with_columns(
            _score_raw=pl.when(pl.col("present_weight") > 0).then(
                pl.sum_horizontal([f"_part_{m.name}" for m in measures])
            )
        )
        .with_columns(score=pl.col("_score_raw").round(1, mode=_ROUND))
    )

    score = pl.col("score")
    computed_band = (
        pl.when(pl.col("present_weight") < settings.min_weight_share * total)
        .then(pl.lit(BAND_INSUFFICIENT))
        .when(score >= settings.green_at)
        .then(pl.lit(BAND_GREEN))
        .when(score >= settings.amber_at)
        .then(pl.lit(BAND_AMBER))
        .otherwise(pl.lit(BAND_RED))
    )
    # Measure names are identifiers (no commas), so a joined string split again is a
    # fast way to build the list without a per-row list operation.
    missing_text = pl.concat_str(
        [pl.when(pl.col(f"{m.name}_score").is_null()).then(pl.lit(m.name)) for m in measures],
        separator=",",
        ignore_nulls=True,
    ).fill_null("")
    missing = (
        pl.when(missing_text == "").then(pl.lit([], dtype=pl.List(pl.String))).otherwise(missing_text.str.split(","))
    )
    return frame.with_columns(computed_band=computed_band, missing_measures=missing)


def _drivers(frame: pl.DataFrame, settings: HealthSettings) -> pl.DataFrame:
    """drivers_detail and drivers: the present measures with a shortfall, largest first.

    Built long (one row per account-month and driver), sorted once and gathered back per
    row: column-wise list building of structs is far slower in Polars.
    """
    pw = pl.when(pl.col("present_weight") > 0).then(pl.col("present_weight"))
    rows = frame.with_row_index("_row")
    parts = []
    for order, m in enumerate(settings.measures):
        s = pl.col(f"{m.name}_score")
        value = pl.col(f"{m.name}_input")
        # Rounded to 9 decimals so exact ties (15*(100-100/3)/100 vs 10.0) stay ties.
        shortfall = (m.weight * (100.0 - s) / pw).round(9)
        parts.append(
            rows.lazy()
            .filter(s.is_not_null() & (shortfall > 0))
            .select(
                "_row",
                pl.lit(order, dtype=pl.Int32).alias("_order"),
                pl.struct(
                    measure=pl.lit(m.name),
                    label=pl.lit(m.label or m.name),
                    value=value,
                    score=s,
                    shortfall=shortfall,
                    sentence=_sentence(m, value, s),
                ).alias("_driver"),
            )
        )
    long = pl.concat(parts).with_columns(_shortfall=pl.col("_driver").struct.field("shortfall")).collect()
    # Largest shortfall first; equal shortfalls in settings order.
    gathered = (
        long.sort(["_row", "_shortfall", "_order"], descending=[False, True, False])
        .group_by("_row", maintain_order=True)
        .agg(
            pl.col("_driver").alias("drivers_detail"),
            pl.col("_driver").struct.field("sentence").str.join("; ").alias("drivers"),
        )
    )
    return (
        rows.join(gathered, on="_row", how="left")
        .with_columns(
            drivers_detail=pl.col("drivers_detail").fill_null(pl.lit([], dtype=pl.List(DRIVER))),
            drivers=pl.col("drivers").fill_null(""),
        )
        .drop("_row")
    )


def _changes(frame: pl.DataFrame, settings: HealthSettings) -> pl.DataFrame:
    part_cols = [f"_part_{m.name}" for m in settings.measures]
    previous = frame.select(
        "account_id",
        pl.col("month").dt.offset_by("1mo"),
        pl.col("score").alias("_score_prev"),
        *[pl.col(c).alias(f"{c}_prev") for c in part_cols],
    )
    frame = frame.join(previous, on=["account_id", "month"], how="left")
    both = pl.col("score").is_not_null() & pl.col("_score_prev").is_not_null()
    return frame.with_columns(
        score_change=pl.when(both).then((pl.col("score") - pl.col("_score_prev")).round(1, mode=_ROUND)),
        **{
            f"{m.name}_change": pl.when(both).then(pl.col(f"_part_{m.name}") - pl.col(f"_part_{m.name}_prev"))
            for m in settings.measures
        },
    )


def _overrides(frame: pl.DataFrame, overrides: pl.DataFrame | None) -> pl.DataFrame:
    if overrides is None or overrides.height == 0:
        ov = pl.DataFrame(
            schema={
                "account_id": pl.String,
                "_ov_band": pl.String,
                "_ov_reason": pl.String,
                "_ov_set_by": pl.String,
                "_ov_expires_on": pl.Date,
            }
        )
    else:
        missing = [c for c in OVERRIDE_COLUMNS if c not in overrides.columns]
        if missing:
            raise ValueError(f"health overrides: missing column(s) {', '.join(missing)}")
        dupes = overrides.group_by("account_id").len().filter(pl.col("len") > 1)
        if dupes.height:
            ids = ", ".join(sorted(dupes["account_id"].cast(pl.String).to_list())[:5])
            raise ValueError(
                f"health overrides: more than one override for account(s) {ids}; staging must keep one per account_id"
            )
        ov = overrides.select(
            pl.col("account_id").cast(pl.String),
            pl.col("band").cast(pl.String).alias("_ov_band"),
            pl.col("reason").cast(pl.String).alias("_ov_reason"),
            pl.col("set_by").cast(pl.String).alias("_ov_set_by"),
            pl.col("expires_on").cast(pl.Date).alias("_ov_expires_on"),
        )
    frame = frame.join(ov, on="account_id", how="left")
    active = pl.col("month").dt.month_end() < pl.col("_ov_expires_on")  # null (no override) -> not active
    active = active.fill_null(False)
    frame = frame.with_columns(
        override_band=pl.when(active).then(pl.col("_ov_band")),
        override_reason=pl.when(active).then(pl.col("_ov_reason")),
        override_set_by=pl.when(active).then(pl.col("_ov_set_by")),
        override_expires_on=pl.when(active).then(pl.col("_ov_expires_on")),
    )
    return frame.with_columns(band=pl.coalesce("override_band", "computed_band"))


def _require_unique_account_months(account_monthly: pl.DataFrame) -> None:
    dupes = account_monthly.filter(pl.struct("account_id", "month").is_duplicated())
    if dupes.height:
        first = dupes.row(0, named=True)
        raise ValueError(
            f"account health: {dupes.height} rows share an account and month "
            f"(first: {first['account_id']} {first['month']}); account_monthly must have one row per account and month"
        )


def account_health(
    account_monthly: pl.DataFrame,
    overrides: pl.DataFrame | None,
    settings: HealthSettings,
) -> pl.DataFrame:
    """One health row per account and month of ``account_monthly`` (schema: ``account_health_schema``).

    ``overrides`` is the staging table of crm/health_overrides (account_id, band, reason,
    set_by, expires_on; lineage columns are ignored), at most one row per account; None or
    an empty frame means no overrides.
    """
    schema = account_health_schema(settings)
    _require_unique_account_months(account_monthly)
    frame = health_inputs(account_monthly, settings).with_columns(_cadence_days=_cadence_days(settings))
    frame = _score_columns(frame, settings)
    frame = _drivers(frame, settings)
    frame = _changes(frame, settings)
    frame = _overrides(frame, overrides)
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()]).sort("account_id", "month")
