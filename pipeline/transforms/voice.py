"""Voice of the customer: NPS over 12 months and CSAT over 3, per account and month.

The counts behind each score are kept next to it (promoters, detractors, responses;
satisfied, responses) because portfolio values pool responses rather than average
account scores, and because a score from two responses should read differently from
one from two hundred. A response belongs to the calendar day of its timestamp in UTC.
"""

from __future__ import annotations

import polars as pl

from pipeline.transforms.calendar import ACCOUNT, MONTH, side_by_side, trailing_totals, utc_day

NPS_MONTHS = 12
CSAT_MONTHS = 3
VOICE_COLUMNS = (
    "nps_12m",
    "nps_responses_12m",
    "nps_promoters_12m",
    "nps_detractors_12m",
    "csat_3m",
    "csat_responses_3m",
    "csat_satisfied_3m",
)


def _per_100(numerator: pl.Expr, responses: str) -> pl.Expr:
    """100 × numerator / responses, null without responses (a score over nothing)."""
    return pl.when(pl.col(responses) > 0).then(100.0 * numerator / pl.col(responses))


def monthly_voice(responses: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """NPS (M-11 .. M) and CSAT (M-2 .. M) with their counts, on the account spine.

    Promoters score 9-10, detractors 0-6, passives 7-8 only count in the denominator;
    CSAT counts 4 and 5 as satisfied. Scores are null without responses, counts 0.
    Output: `account_id`, `month` and `VOICE_COLUMNS`, in spine order.
    """
    kind = pl.col("survey_type").str.to_lowercase()
    score = pl.col("score")
    scored = responses.select(
        pl.col(ACCOUNT),
        utc_day(responses.schema, "responded_at").dt.month_start().alias("_month"),
        kind.alias("_kind"),
        score,
    )
    nps = trailing_totals(
        scored.filter(pl.col("_kind") == "nps").select(
            ACCOUNT,
            "_month",
            pl.lit(1, pl.Int64).alias("nps_responses_12m"),
            (score >= 9).cast(pl.Int64).alias("nps_promoters_12m"),
            (score <= 6).cast(pl.Int64).alias("nps_detractors_12m"),
        ),
        spine,
        month="_month",
        values=["nps_responses_12m", "nps_promoters_12m", "nps_detractors_12m"],
        months=NPS_MONTHS,
    )
    csat = trailing_totals(
        scored.filter(pl.col("_kind") == "csat").select(
            ACCOUNT,
            "_month",
            pl.lit(1, pl.Int64).alias("csat_responses_3m"),
            (score >= 4).cast(pl.Int64).alias("csat_satisfied_3m"),
        ),
        spine,
        month="_month",
        values=["csat_responses_3m", "csat_satisfied_3m"],
        months=CSAT_MONTHS,
    )
    return (
        side_by_side(nps, csat)
        .with_columns(
            _per_100(pl.col("nps_promoters_12m") - pl.col("nps_detractors_12m"), "nps_responses_12m").alias("nps_12m"),
            _per_100(pl.col("csat_satisfied_3m"), "csat_responses_3m").alias("csat_3m"),
        )
        .select(ACCOUNT, MONTH, *VOICE_COLUMNS)
    )
