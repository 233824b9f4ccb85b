"""Portfolio rates per month and grouping (docs/metrics.md, "Portfolio").

Pure Polars in, Polars out. Every account row is stacked once per grouping with a
(grouping, group_value) label and the whole table is one group_by, so 10,000 accounts ×
36 months take well under a second.

Rules this module settles where the definitions leave a choice (docs/metrics.md repeats them
under "Choices we made where the specification was open"):

- An account belongs to the group it carries on its ACCOUNT_MONTHLY row of the reporting
  month (account_monthly carries each account's current tier, segment and manager on
  every row). A null segment (or tier, or manager) is reported as group_value
  "unassigned".
- A group gets a row for a month when it has at least one account row that month; the
  grouping "all" has a row for every month present in account_monthly.
- Money is summed exactly as Decimal(18,4). ``arpa`` = mrr_end / customers_end is a
  Decimal division rounded half to even at 4 decimals (Polars' Decimal division).
- Rates are Float64, computed from the exact Decimal sums; any rate whose denominator is
  0 is null. ``ltv`` uses that rounded ``arpa`` (arpa × gross_margin / churn rate).
- 12-month cohort: MRR(M-12) of an account is the mrr on its row of month M-12, 0 when
  there is no such row; the cohort is counted among the accounts with a row in M (the
  contract gives every account a row up to the reporting month). The 12-month rates are
  null when M-12 is before ``first_billing_month`` (its month is used, the day is
  ignored) or when first_billing_month is None.
- customer_churn_rate_6m sums churned_customers and customers_start over the group's
  rows of M-5 .. M; a month without a row for the group counts 0.
- Pooled voice of the customer: nps_12m = 100 × (Σ promoters - Σ detractors) /
  Σ responses, csat_3m = 100 × Σ satisfied / Σ responses over the group's accounts;
  null counts count as 0.
- Health band counts use the effective ``band`` of account_health (the override's band
  when one is active); an account-month without a health row counts in no band.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipeline.schemas import MONEY, PORTFOLIO_FORECAST_COLUMNS, PORTFOLIO_MONTHLY

__all__ = [
    "ACCOUNT_MONTHLY_READ",
    "GROUPING_EXPRESSIONS",
    "GROUPING_ORDER",
    "bridge_violations",
    "group_sums",
    "portfolio_from_group_sums",
    "portfolio_monthly",
]

# The columns of account_monthly that portfolio_monthly reads, and portfolio_forecast's
# open_expansion_pipeline: the asset reads only these, two thirds of the mart's bytes at
# 100,000 accounts (tests hold the list complete).
ACCOUNT_MONTHLY_READ = (
    "account_id",
    "month",
    "tier",
    "segment",
    "account_manager_id",
    "mrr",
    "mrr_previous",
    "mrr_new",
    "mrr_expansion",
    "mrr_contraction",
    "mrr_churn",
    "mrr_reactivation",
    "invoiced_net",
    "collected",
    "overdue_amount",
    "nps_responses_12m",
    "nps_promoters_12m",
    "nps_detractors_12m",
    "csat_responses_3m",
    "csat_satisfied_3m",
    "touches_3m",
    "open_expansion_pipeline",
)

MOVEMENTS = ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churn", "mrr_reactivation")
UNASSIGNED = "unassigned"
# (grouping, group_value expression): forecast.py stacks its rows the same way.
GROUPING_EXPRESSIONS: tuple[tuple[str, pl.Expr], ...] = (
    ("all", pl.lit("all")),
    ("tier", pl.col("tier").fill_null(UNASSIGNED)),
    ("segment", pl.col("segment").fill_null(UNASSIGNED)),
    ("account_manager", pl.col("account_manager_id").fill_null(UNASSIGNED)),
)
GROUPING_ORDER = {name: i for i, (name, _) in enumerate(GROUPING_EXPRESSIONS)}
_BANDS = ("green", "amber", "red", "insufficient_data")
_ZERO = pl.lit(0, dtype=MONEY)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator as Float64; null when the denominator is 0 or null."""
    den = denominator.cast(pl.Float64)
    return pl.when(den != 0).then(numerator.cast(pl.Float64) / den)


def _account_rows(account_monthly: pl.DataFrame, account_health: pl.DataFrame | None) -> pl.LazyFrame:
    """Per account-month: the flags and amounts the group sums need."""
    am = account_monthly.lazy()
    year_ago = am.select(
        "account_id",
        pl.col("month").dt.offset_by("12mo"),
        pl.col("mrr").alias("_mrr_12m_ago"),
    )
    rows = am.join(year_ago, on=["account_id", "month"], how="left")
    if account_health is not None:
        bands = account_health.lazy().select("account_id", "month", pl.col("band").alias("_band"))
        rows = rows.join(bands, on=["account_id", "month"], how="left")
    else:
        rows = rows.with_columns(_band=pl.lit(None, dtype=pl.String))

    then = pl.col("_mrr_12m_ago").fill_null(_ZERO)
    now = pl.col("mrr").fill_null(_ZERO)
    in_cohort = then > 0
    return rows.with_columns(
        _customer_start=(pl.col("mrr_previous") > 0).fill_null(False).cast(pl.Int64),
        _customer_end=(now > 0).cast(pl.Int64),
        _new=(pl.col("mrr_new") > 0).fill_null(False).cast(pl.Int64),
        _churned=(pl.col("mrr_churn") > 0).fill_null(False).cast(pl.Int64),
        _reactivated=(pl.col("mrr_reactivation") > 0).fill_null(False).cast(pl.Int64),
        _cohort=in_cohort.cast(pl.Int64),
        _cohort_retained=(in_cohort & (now > 0)).cast(pl.Int64),
        _cohort_mrr_then=pl.when(in_cohort).then(then).otherwise(_ZERO),
        _cohort_mrr_now=pl.when(in_cohort).then(now).otherwise(_ZERO),
        _cohort_mrr_min=pl.when(in_cohort).then(pl.when(now < then).then(now).otherwise(then)).otherwise(_ZERO),
        **{f"_band_{b}": (pl.col("_band") == b).fill_null(False).cast(pl.Int64) for b in _BANDS},
    )


def portfolio_monthly(
    account_monthly: pl.DataFrame,
    account_health: pl.DataFrame | None,
    *,
    gross_margin: float,
    first_billing_month: date | None,
    forecast: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per month and group (all, each tier, segment, account manager); PORTFOLIO_MONTHLY.

    ``forecast``: the looking-ahead columns per month and group (PORTFOLIO_FORECAST, from
    ``forecast.portfolio_forecast``), joined on month, grouping and group_value; a group
    without a forecast row (or no ``forecast`` at all) has them null.
    """
    return portfolio_from_group_sums(
        [group_sums(account_monthly, account_health)],
        gross_margin=gross_margin,
        first_billing_month=first_billing_month,
        forecast=forecast,
    )


_KEYS = ["month", "grouping", "group_value"]


def group_sums(account_monthly: pl.DataFrame, account_health: pl.DataFrame | None) -> pl.DataFrame:
    """Per month and group, the sums every portfolio number is made of, over these accounts.

    Every number of the portfolio is a ratio of sums over accounts, so the sums of slices
    of accounts add up to the sums of all of them (``portfolio_from_group_sums``): the
    asset sums 20,000 accounts at a time and never holds account_monthly whole."""
    dupes = account_monthly.filter(pl.struct("account_id", "month").is_duplicated())
    if dupes.height:
        first_dupe = dupes.row(0, named=True)
        raise ValueError(
            f"portfolio: {dupes.height} account_monthly rows share an account and month "
            f"(first: {first_dupe['account_id']} {first_dupe['month']}); expected one row per account and month"
        )
    rows = _account_rows(account_monthly, account_health)
    keys = _KEYS

    def money(column: str) -> pl.Expr:
        return pl.col(column).sum().cast(MONEY)

    sums = [
        money("mrr_previous").alias("mrr_start"),
        money("mrr").alias("mrr_end"),
        *[money(c) for c in MOVEMENTS],
        pl.col("_customer_start").sum().alias("customers_start"),
        pl.col("_customer_end").sum().alias("customers_end"),
        pl.col("_new").sum().alias("new_customers"),
        pl.col("_churned").sum().alias("churned_customers"),
        pl.col("_reactivated").sum().alias("reactivated_customers"),
        pl.col("_cohort").sum(),
        pl.col("_cohort_retained").sum(),
        pl.col("_cohort_mrr_then").sum(),
        pl.col("_cohort_mrr_now").sum(),
        pl.col("_cohort_mrr_min").sum(),
        pl.col("nps_promoters_12m").sum().alias("_promoters"),
        pl.col("nps_detractors_12m").sum().alias("_detractors"),
        pl.col("nps_responses_12m").sum(),
        pl.col("csat_satisfied_3m").sum().alias("_satisfied"),
        pl.col("csat_responses_3m").sum(),
        money("invoiced_net"),
        money("collected"),
        money("overdue_amount"),
        pl.col("touches_3m").sum(),
        pl.len().cast(pl.Int64).alias("accounts"),
        *[pl.col(f"_band_{b}").sum().alias(f"accounts_{b}") for b in _BANDS],
    ]
    # The account rows are built once, with only the columns the sums and groupings read,
    # and summed one grouping at a time: stacking four copies of every account-month (one
    # per grouping) took about 3 GiB more at 100,000 accounts. The groups of a grouping are
    # disjoint, so the sums are the same.
    needed = {n for e in [*sums, *(v for _, v in GROUPING_EXPRESSIONS)] for n in e.meta.root_names()}
    built = rows.select(["month", *sorted(needed - {"month"})]).collect()
    return pl.concat(
        [
            built.lazy().with_columns(grouping=pl.lit(name), group_value=value).group_by(keys).agg(sums).collect()
            for name, value in GROUPING_EXPRESSIONS
        ]
    )


def portfolio_from_group_sums(
    parts: list[pl.DataFrame],
    *,
    gross_margin: float,
    first_billing_month: date | None,
    forecast: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """PORTFOLIO_MONTHLY from the ``group_sums`` of disjoint slices of accounts (see
    ``portfolio_monthly``): the slices' sums are added up per month and group first."""
    keys = _KEYS
    g = pl.concat(parts).lazy()
    if len(parts) > 1:
        money = [c for c, t in parts[0].schema.items() if t == MONEY]
        g = g.group_by(keys).agg(pl.exclude(keys).sum()).with_columns(pl.col(money).cast(MONEY))

    # Σ over M-5 .. M of the same group: each group-month row is spread to the six months
    # whose window holds it; a month without a row contributes nothing (counts 0).
    window = (
        pl.concat(
            [
                g.select(
                    "grouping",
                    "group_value",
                    pl.col("month").dt.offset_by(f"{k}mo"),
                    "churned_customers",
                    "customers_start",
                )
                for k in range(6)
            ]
        )
        .group_by(keys)
        .agg(
            pl.col("churned_customers").sum().alias("_churned_6m"),
            pl.col("customers_start").sum().alias("_customers_start_6m"),
        )
    )
    g = g.join(window, on=keys, how="left")

    if first_billing_month is None:
        has_year = pl.lit(False)
    else:
        first = date(first_billing_month.year, first_billing_month.month, 1)
        has_year = pl.col("month").dt.offset_by("-12mo") >= pl.lit(first)

    mrr_start = pl.col("mrr_start")
    g = g.with_columns(
        arr_end=(pl.col("mrr_end") * 12).cast(MONEY),
        logo_retention_1m=_ratio(pl.col("customers_start") - pl.col("churned_customers"), pl.col("customers_start")),
        nrr_1m=_ratio(mrr_start + pl.col("mrr_expansion") - pl.col("mrr_contraction") - pl.col("mrr_churn"), mrr_start),
        grr_1m=_ratio(mrr_start - pl.col("mrr_contraction") - pl.col("mrr_churn"), mrr_start),
        expansion_rate_1m=_ratio(pl.col("mrr_expansion"), mrr_start),
        logo_retention_12m=pl.when(has_year).then(_ratio(pl.col("_cohort_retained"), pl.col("_cohort"))),
        nrr_12m=pl.when(has_year).then(_ratio(pl.col("_cohort_mrr_now"), pl.col("_cohort_mrr_then"))),
        grr_12m=pl.when(has_year).then(_ratio(pl.col("_cohort_mrr_min"), pl.col("_cohort_mrr_then"))),
        # Decimal / null is null, so a group without customers never divides by zero.
        arpa=(pl.col("mrr_end") / pl.when(pl.col("customers_end") > 0).then(pl.col("customers_end"))).cast(MONEY),
        customer_churn_rate_6m=_ratio(pl.col("_churned_6m"), pl.col("_customers_start_6m")),
        nps_12m=_ratio(100 * (pl.col("_promoters") - pl.col("_detractors")), pl.col("nps_responses_12m")),
        csat_3m=_ratio(100 * pl.col("_satisfied"), pl.col("csat_responses_3m")),
    ).with_columns(
        ltv=pl.when(pl.col("customer_churn_rate_6m") > 0).then(
            pl.col("arpa").cast(pl.Float64) * gross_margin / pl.col("customer_churn_rate_6m")
        ),
    )
    if forecast is None:
        g = g.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in PORTFOLIO_FORECAST_COLUMNS.items())
    else:
        g = g.join(forecast.lazy().select(*keys, *PORTFOLIO_FORECAST_COLUMNS), on=keys, how="left")
    return (
        g.with_columns(_order=pl.col("grouping").replace_strict(GROUPING_ORDER, return_dtype=pl.Int64))
        .sort("month", "_order", "group_value")
        .select([pl.col(name).cast(dtype) for name, dtype in PORTFOLIO_MONTHLY.items()])
        .collect()
    )


def bridge_violations(portfolio: pl.DataFrame) -> pl.DataFrame:
    """Rows where mrr_end != mrr_start + new + reactivation + expansion - contraction - churn.

    Exact Decimal comparison (to the cent and below). Returns month, grouping, group_value,
    the bridge amounts, ``expected_mrr_end`` and ``difference`` = mrr_end - expected; empty
    when the identity holds everywhere.
    """
    expected = (
        pl.col("mrr_start")
        + pl.col("mrr_new")
        + pl.col("mrr_reactivation")
        + pl.col("mrr_expansion")
        - pl.col("mrr_contraction")
        - pl.col("mrr_churn")
    )
    return (
        portfolio.select(
            "month",
            "grouping",
            "group_value",
            "mrr_start",
            *MOVEMENTS,
            "mrr_end",
            expected.cast(MONEY).alias("expected_mrr_end"),
        )
        .with_columns(difference=(pl.col("mrr_end") - pl.col("expected_mrr_end")).cast(MONEY))
        .filter(pl.col("difference") != 0)
    )
