"""Looking ahead: committed MRR, band retention, expected MRR, renewals due, win rate.

Pure Polars in, Polars out. Every forecast is made at a
reporting month M from data known at M, and each function works for any M, history
included, so a forecast made at M-3 can be rebuilt and checked against what happened at M
(`forecast_error_3m`).

How the pieces fit (the asset layer only reads, calls and writes):

    retention = band_retention(account_monthly, account_health)         # per month and band
    forecast  = account_forecast(account_monthly, account_health,
                                 subscriptions, accounts, retention=retention)
    wins      = expansion_win_rate(opportunities, months)
    portfolio = portfolio_forecast(forecast, account_monthly, wins)    # joins onto portfolio_monthly

Rules this module settles where the definitions of these figures leave a choice:

- **Committed MRR** is the Account MRR formula (`recurring_revenue.mrr_by_month`) read at
  end(M+k) over the subscriptions on file, so cmrr_k at M is exactly the MRR the file
  gives M+k. `subscriptions` must be *all* subscriptions (booked ones included) already
  converted at their start_date with `fx.convert_or_quarantine`; a booked start after the
  last rate on file uses that last rate (the latest rate dated on or before start_date).
  The file has no booking date, so a past month's committed MRR uses today's file.
- **Forecast rows** are the account_monthly rows of each month, plus accounts known in
  `accounts` that have no row yet but committed MRR above 0 within the 12 months (booked
  new business of an account with no dated record yet). Such a row has mrr 0 and no band.
- **Band retention** counts a pair (a, t) only when account_health has a row for a at t
  (its effective ``band``); MRR_a(t+3) is the mrr on the account's row of t+3, 0 without
  one. Every month gets a row for each of the four bands. ``rate`` is null only when no
  band has a pair; ``pooled`` is then true (the pooled value, null, stood in).
- **Expected MRR**: MRR(M) × rate is computed exactly (the Float64 rate as a decimal with 12
  places) and rounded once, half away from zero, to 4 decimals, per account; the portfolio
  sums those. A customer without a health row at M uses the pooled rate (flagged pooled).
  For a non-customer the expected MRR is its cmrr_3m and band_retention_3m /
  band_retention_pooled are null (no rate is used). A group's expected_mrr_3m is null when
  one of its customers has no rate (no pairs at all in that month).
- **Forecast accuracy** reads the forecast rows of M-3: the customers then (mrr > 0) of the
  group the account is in at M, their expected_mrr_3m then (the risk-adjusted part, since
  they were customers), against their mrr at M. Null when the frame has no row of M-3 for
  them, when one of them had no rate, when the group had no customers at M-3, or when their
  actual MRR at M is 0 (a rate over a zero denominator).
- **Renewals due**: renewal_date is the account's current CRM value (as days_to_renewal);
  an unknown date is not due (renewal_due_3m false). At risk means effective band red,
  amber or insufficient_data at M; a row without a band is not at risk.
- **Win rate** counts opportunities, not amounts: upsell and cross_sell with is_closed and a
  close_date in M-11 .. M; won = is_won among them. An is_closed opportunity without a
  close_date cannot be placed in time and counts nowhere (as in the pipeline).
  weighted_expansion_pipeline = Σ open_expansion_pipeline of the group × win rate, rounded
  once to 4 decimals.
- Groupings are portfolio.py's (the group on the account's row at M; null is
  "unassigned"); a group gets a row for a month when it has a forecast row that month.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import polars as pl

from pipeline.schemas import (
    ACCOUNT_FORECAST,
    BAND_RETENTION,
    CMRR_COLUMNS,
    CMRR_HORIZON,
    EXPANSION_WIN_RATE,
    MONEY,
    PORTFOLIO_FORECAST,
)
from pipeline.transforms.activity import expansion_opportunities
from pipeline.transforms.calendar import ACCOUNT, MONTH, add_months, month_end, month_spine, month_start
from pipeline.transforms.fx import convert_or_quarantine
from pipeline.transforms.health import BAND_AMBER, BAND_GREEN, BAND_INSUFFICIENT, BAND_RED

# portfolio.py's groupings, reused so the forecast columns join onto portfolio_monthly's rows.
from pipeline.transforms.portfolio import GROUPING_EXPRESSIONS, GROUPING_ORDER
from pipeline.transforms.recurring_revenue import mrr_by_month

__all__ = [
    "ACCOUNT_FORECAST",
    "BAND_RETENTION",
    "EXPANSION_WIN_RATE",
    "PORTFOLIO_FORECAST",
    "account_forecast",
    "band_retention",
    "committed_mrr",
    "expansion_win_rate",
    "expected_mrr_3m",
    "forecast_subscriptions",
    "portfolio_forecast",
    "renewals_due",
]

HORIZON = CMRR_HORIZON  # committed MRR at M+1 .. M+12
AHEAD = 3  # expected MRR, band retention and renewals look three months ahead
OBSERVATION_MONTHS = 12  # band retention observes t = M-14 .. M-3
MIN_PAIRS = 20  # fewer pairs than this: the band uses the pooled value
WIN_RATE_MONTHS = 12  # close dates in M-11 .. M
BANDS = (BAND_GREEN, BAND_AMBER, BAND_RED, BAND_INSUFFICIENT)
RISK_BANDS = (BAND_RED, BAND_AMBER, BAND_INSUFFICIENT)

_KEYS = [ACCOUNT, MONTH]
_ATTRIBUTES = ("tier", "segment", "account_manager_id")
_RATE_DECIMAL = pl.Decimal(38, 12)
_ZERO = pl.lit(0, dtype=MONEY)

# --------------------------------------------------------------------------- helpers


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator as Float64; null when the denominator is 0 or null."""
    den = denominator.cast(pl.Float64)
    return pl.when(den != 0).then(numerator.cast(pl.Float64) / den)


def _times_rate(amount: pl.Expr, rate: pl.Expr) -> pl.Expr:
    """amount × rate as money: exact product, rounded once half away from zero to 4 places."""
    product = amount.cast(pl.Decimal(38, 4)) * rate.cast(_RATE_DECIMAL)
    return product.round(4, mode="half_away_from_zero").cast(MONEY)


def _months_frame(months: Sequence[date] | pl.Series) -> pl.DataFrame:
    keyed = sorted({month_start(m) for m in months})
    return pl.DataFrame({MONTH: keyed}, schema={MONTH: pl.Date()})


def _months_of(account_monthly: pl.DataFrame, months: Sequence[date] | None) -> pl.DataFrame:
    return _months_frame(account_monthly[MONTH].unique() if months is None else months)


def _shifted(months: int) -> pl.Expr:
    """The month key moved by `months` (negative: earlier), for joining M to M±k."""
    return pl.col(MONTH).dt.offset_by(f"{months}mo")


def _spread(frame: pl.LazyFrame, offsets: range) -> pl.LazyFrame:
    """Each row copied to the months `offsets` later: a trailing window as one group_by.

    `frame` is collected first (it is small: one row per month and key), so the copies
    do not each recompute the plan that produced it.
    """
    rows = frame.collect().lazy()
    return pl.concat([rows.with_columns(_shifted(k)) for k in offsets])


# --------------------------------------------------------------------------- committed MRR


def committed_mrr(subscriptions: pl.DataFrame, spine: pl.DataFrame, *, horizon: int = HORIZON) -> pl.DataFrame:
    """Committed MRR at M+1 .. M+horizon for each (account_id, month) row of `spine`.

    cmrr_k = Σ mrr of the subscriptions on file active on end(M+k) (start_date <= d <
    end_date), i.e. the Account MRR formula applied to today's subscriptions: booked
    starts count from their start, scheduled ends drop out. `subscriptions`: account_id,
    start_date, end_date, mrr, already in the reporting currency (see the module notes).
    Output: `account_id`, `month`, cmrr_1m .. cmrr_{horizon}m (Decimal(18,4), 0 when
    nothing is committed), in spine order.
    """
    columns = [f"cmrr_{k}m" for k in range(1, horizon + 1)]
    keys = spine.select(pl.col(ACCOUNT).cast(pl.String), pl.col(MONTH).cast(pl.Date))
    last: date | None = keys[MONTH].max()  # type: ignore[assignment]
    if last is None:
        return keys.with_columns(pl.lit(None, MONEY).alias(c) for c in columns)
    end = add_months(last, horizon)
    history = mrr_by_month(subscriptions, end)
    # Every month from each account's first spine month to last + horizon, so that "k
    # months later" is "k rows later"; months before the first subscription are 0.
    dense = month_spine(keys.select(ACCOUNT, pl.col(MONTH).alias("first_month")), end)
    # The run is sorted by account and month, so row i + k is M+k when it is the same account.
    later = [
        pl.when(pl.col(ACCOUNT).shift(-k) == pl.col(ACCOUNT)).then(pl.col("mrr").shift(-k)).cast(MONEY).alias(c)
        for k, c in enumerate(columns, start=1)
    ]
    ahead = (
        dense.join(history, on=_KEYS, how="left", maintain_order="left")
        .with_columns(pl.col("mrr").fill_null(0))
        .with_columns(later)
        .drop("mrr")
    )
    return keys.join(ahead, on=_KEYS, how="left", maintain_order="left")


# --------------------------------------------------------------------------- band retention


def band_retention(
    account_monthly: pl.DataFrame,
    account_health: pl.DataFrame,
    months: Sequence[date] | None = None,
    *,
    min_pairs: int = MIN_PAIRS,
) -> pl.DataFrame:
    """3-month net revenue retention of each health band, as known at each month M.

    Pairs (a, t), t = M-14 .. M-3, with MRR_a(t) > 0 and effective band b at t:
    band_rate = Σ MRR_a(t+3) / Σ MRR_a(t). A band with fewer than `min_pairs` pairs uses
    the pooled value over all bands (pooled true). `account_monthly`: account_id, month,
    mrr with history back to M-14; `account_health`: account_id, month, band (the
    effective band). `months`: the months M (default: every month of account_monthly).
    Output: BAND_RETENTION, one row per month and band (green, amber, red,
    insufficient_data), sorted.
    """
    am = account_monthly.lazy().select(ACCOUNT, MONTH, pl.col("mrr").cast(MONEY))
    bands = account_health.lazy().select(ACCOUNT, MONTH, "band").filter(pl.col("band").is_not_null())
    later = am.select(ACCOUNT, _shifted(-AHEAD), pl.col("mrr").alias("_later"))
    per_t = (
        am.filter(pl.col("mrr") > 0)
        .join(bands, on=_KEYS, how="inner")
        .join(later, on=_KEYS, how="left")
        .group_by(MONTH, "band")
        .agg(
            pl.len().cast(pl.Int64).alias("pairs"),
            pl.col("mrr").sum().alias("_now"),
            pl.col("_later").fill_null(0).sum().alias("_later"),
        )
    )
    # M sees the observation months t = M-14 .. M-3: spread each t to M = t+3 .. t+14.
    windows = (
        _spread(per_t, range(AHEAD, AHEAD + OBSERVATION_MONTHS))
        .group_by(MONTH, "band")
        .agg(pl.col("pairs").sum(), pl.col("_now").sum(), pl.col("_later").sum())
    )
    grid = _months_of(account_monthly, months).lazy().join(pl.LazyFrame({"band": list(BANDS)}), how="cross")
    by_band = grid.join(windows, on=[MONTH, "band"], how="left").with_columns(
        pl.col("pairs").fill_null(0),
        pl.col("_now").fill_null(0).cast(MONEY),
        pl.col("_later").fill_null(0).cast(MONEY),
    )
    pooled = by_band.group_by(MONTH).agg(_ratio(pl.col("_later").sum(), pl.col("_now").sum()).alias("pooled_rate"))
    order = {b: i for i, b in enumerate(BANDS)}
    return (
        by_band.join(pooled, on=MONTH, how="left")
        .with_columns(
            band_rate=_ratio(pl.col("_later"), pl.col("_now")),
            pooled=pl.col("pairs") < min_pairs,
        )
        .with_columns(rate=pl.when(pl.col("pooled")).then(pl.col("pooled_rate")).otherwise(pl.col("band_rate")))
        .sort(MONTH, pl.col("band").replace_strict(order, return_dtype=pl.Int64))
        .select([pl.col(n).cast(t) for n, t in BAND_RETENTION.items()])
        .collect()
    )


# --------------------------------------------------------------------------- expected MRR


def expected_mrr_3m(frame: pl.DataFrame, retention: pl.DataFrame) -> pl.DataFrame:
    """Expected MRR at M+3 of each account row.

    `frame` has account_id, month, mrr (MRR(M)), band (effective band at M, may be null)
    and cmrr_3m; `retention` is `band_retention` for those months. A customer (mrr > 0)
    is expected at mrr × the rate of its band at M (the pooled rate without a band); any
    other account at its committed MRR at M+3. Returns `frame` with expected_mrr_3m
    (Decimal(18,4)), band_retention_3m and band_retention_pooled (null for a
    non-customer) added, in `frame` order.
    """
    by_band = retention.select(MONTH, "band", pl.col("rate").alias("_rate"), pl.col("pooled").alias("_pooled"))
    by_month = retention.group_by(MONTH).agg(pl.col("pooled_rate").first().alias("_pooled_rate"))
    customer = pl.col("mrr").fill_null(0) > 0
    has_band = pl.col("_pooled").is_not_null()
    rate = pl.when(has_band).then(pl.col("_rate")).otherwise(pl.col("_pooled_rate"))
    return (
        frame.join(by_band, on=[MONTH, "band"], how="left", maintain_order="left")
        .join(by_month, on=MONTH, how="left", maintain_order="left")
        .with_columns(
            band_retention_3m=pl.when(customer).then(rate),
            band_retention_pooled=pl.when(customer).then(pl.col("_pooled").fill_null(True)),
        )
        .with_columns(
            expected_mrr_3m=pl.when(customer)
            .then(_times_rate(pl.col("mrr"), pl.col("band_retention_3m")))
            .otherwise(pl.col("cmrr_3m"))
            .cast(MONEY)
        )
        .drop("_rate", "_pooled", "_pooled_rate")
    )


# --------------------------------------------------------------------------- renewals


def renewals_due(accounts: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """Each spine row's renewal_date and whether it falls in (end(M), end(M+3)].

    `accounts`: account_id, renewal_date (the current CRM value). An unknown renewal date
    is not due. Output: `account_id`, `month`, `renewal_date`, `renewal_due_3m`, in spine
    order.
    """
    renewals = accounts.select(ACCOUNT, "renewal_date").unique(ACCOUNT, keep="last")
    day = pl.col("renewal_date")
    window_end = pl.col(MONTH).dt.offset_by(f"{AHEAD}mo").dt.month_end()
    return (
        spine.select(ACCOUNT, MONTH)
        .join(renewals, on=ACCOUNT, how="left", maintain_order="left")
        .with_columns(renewal_due_3m=((day > pl.col(MONTH).dt.month_end()) & (day <= window_end)).fill_null(False))
    )


# --------------------------------------------------------------------------- win rate


def expansion_win_rate(opportunities: pl.DataFrame, months: Sequence[date]) -> pl.DataFrame:
    """Won / closed of upsell and cross_sell opportunities with close_date in M-11 .. M.

    Counts, not amounts; closed = is_closed with a close_date (on or before end(M), as in
    open_expansion_pipeline); null when none closed. `opportunities`: staging shape (type,
    is_closed, is_won, close_date). Output: EXPANSION_WIN_RATE, one row per month, sorted.
    """
    closed = (
        expansion_opportunities(opportunities)
        .lazy()
        .filter(pl.col("is_closed").fill_null(False) & pl.col("close_date").is_not_null())
        .group_by(pl.col("close_date").dt.month_start().alias(MONTH))
        .agg(
            pl.len().cast(pl.Int64).alias("expansion_closed_12m"),
            pl.col("is_won").fill_null(False).cast(pl.Int64).sum().alias("expansion_won_12m"),
        )
    )
    windows = (
        _spread(closed, range(WIN_RATE_MONTHS))
        .group_by(MONTH)
        .agg(pl.col("expansion_closed_12m").sum(), pl.col("expansion_won_12m").sum())
    )
    return (
        _months_frame(months)
        .lazy()
        .join(windows, on=MONTH, how="left")
        .with_columns(pl.col("expansion_closed_12m", "expansion_won_12m").fill_null(0))
        .with_columns(expansion_win_rate_12m=_ratio(pl.col("expansion_won_12m"), pl.col("expansion_closed_12m")))
        .sort(MONTH)
        .select([pl.col(n).cast(t) for n, t in EXPANSION_WIN_RATE.items()])
        .collect()
    )


# --------------------------------------------------------------------------- account forecast


def account_forecast(
    account_monthly: pl.DataFrame,
    account_health: pl.DataFrame,
    subscriptions: pl.DataFrame,
    accounts: pl.DataFrame,
    *,
    months: Sequence[date] | None = None,
    retention: pl.DataFrame | None = None,
    min_pairs: int = MIN_PAIRS,
) -> pl.DataFrame:
    """`marts.account_forecast`: one row per account and month (ACCOUNT_FORECAST).

    - `account_monthly`: ACCOUNT_MONTHLY rows (account_id, month, tier, segment,
      account_manager_id, mrr are used), with the history band retention needs (M-14 ..);
    - `account_health`: account_id, month, band (effective);
    - `subscriptions`: every subscription on file, in the reporting currency;
    - `accounts`: staging accounts (account_id, renewal_date, tier, segment,
      account_manager_id);
    - `months`: the months to forecast from (default: every month of account_monthly);
    - `retention`: `band_retention` for those months, computed here when None.
    Rows: the account_monthly rows of those months, plus accounts without a row that
    month but with committed MRR above 0 (booked new business). Sorted by account, month.
    """
    wanted = _months_of(account_monthly, months)
    if retention is None:
        retention = band_retention(account_monthly, account_health, wanted[MONTH].to_list(), min_pairs=min_pairs)
    attributes = accounts.select(ACCOUNT, *_ATTRIBUTES).unique(ACCOUNT, keep="last")
    rows = account_monthly.join(wanted, on=MONTH, how="semi").select(
        pl.col(ACCOUNT).cast(pl.String), MONTH, *_ATTRIBUTES, pl.col("mrr").cast(MONEY)
    )
    # Accounts that could have booked business without a row that month.
    booked = (
        subscriptions.select(pl.col(ACCOUNT).cast(pl.String))
        .unique()
        .join(attributes.select(ACCOUNT), on=ACCOUNT, how="semi")
        .join(wanted, how="cross")
        .join(rows, on=_KEYS, how="anti")
    )
    spine = pl.concat([rows.select(_KEYS), booked.select(_KEYS)])
    committed = committed_mrr(subscriptions, spine)
    booked_rows = (
        committed.join(booked, on=_KEYS, how="semi")
        .filter(pl.any_horizontal(pl.col(c) > 0 for c in CMRR_COLUMNS))
        .select(_KEYS)
        .join(attributes, on=ACCOUNT, how="left")
        .with_columns(mrr=_ZERO)
    )
    frame = (
        pl.concat([rows, booked_rows.select(rows.columns)])
        .join(committed, on=_KEYS, how="left")
        .join(account_health.select(ACCOUNT, MONTH, "band"), on=_KEYS, how="left")
    )
    frame = expected_mrr_3m(frame, retention)
    frame = frame.join(renewals_due(accounts, frame), on=_KEYS, how="left")
    return frame.select([pl.col(n).cast(t) for n, t in ACCOUNT_FORECAST.items()]).sort(ACCOUNT, MONTH)


# --------------------------------------------------------------------------- inputs


def forecast_subscriptions(
    subscriptions: pl.DataFrame,
    fx_rates: pl.DataFrame,
    *,
    reporting_month: date,
    reporting_currency: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every subscription on file in the reporting currency, for `committed_mrr`.

    Each is converted at its start_date (a booked start after the newest rate uses that
    rate). Returns (converted, booked_without_rate): the second holds QUARANTINE rows
    (stage "marts") for the *booked* subscriptions (start after end(reporting_month))
    that have no rate at all; a subscription that started by then and has no rate is
    already quarantined by account_monthly, and both leave it out of every sum.
    """
    converted, rejects = convert_or_quarantine(
        subscriptions,
        source="subscriptions",
        key_columns=("subscription_id",),
        amount_columns=("mrr",),
        currency_column="currency",
        date_column="start_date",
        fx_rates=fx_rates,
        reporting_currency=reporting_currency,
    )
    booked = subscriptions.filter(pl.col("start_date") > month_end(reporting_month)).select(
        pl.col("subscription_id").cast(pl.String).alias("record_key")
    )
    return converted, rejects.join(booked, on="record_key", how="semi")


# --------------------------------------------------------------------------- portfolio


def portfolio_forecast(
    account_forecast: pl.DataFrame,
    account_monthly: pl.DataFrame,
    win_rates: pl.DataFrame,
) -> pl.DataFrame:
    """The forecast columns of `marts.portfolio_monthly` per month and group (PORTFOLIO_FORECAST).

    `account_forecast`: ACCOUNT_FORECAST rows of the months to report and of the months
    three earlier (the forecasts being checked; a month without them has a null error);
    `account_monthly`: account_id, month, open_expansion_pipeline; `win_rates`:
    `expansion_win_rate`. One row per month of `account_forecast` and group (all, tier,
    segment, account manager) with a forecast row that month, sorted like
    portfolio_monthly, so it joins onto it by month, grouping, group_value.
    """
    af = account_forecast.lazy()
    then = af.select(
        ACCOUNT,
        _shifted(AHEAD),
        pl.col("mrr").alias("_mrr_then"),
        pl.col("expected_mrr_3m").alias("_expected_then"),
    )
    pipeline = account_monthly.lazy().select(ACCOUNT, MONTH, "open_expansion_pipeline")
    was_customer = (pl.col("_mrr_then") > 0).fill_null(False)
    due = pl.col("renewal_due_3m").fill_null(False)
    at_risk = due & pl.col("band").is_in(RISK_BANDS).fill_null(False)
    mrr = pl.col("mrr").fill_null(0)
    rows = (
        af.join(then, on=_KEYS, how="left")
        .join(pipeline, on=_KEYS, how="left")
        .with_columns(
            _fc_customers=was_customer.cast(pl.Int64),
            _fc_unknown=(was_customer & pl.col("_expected_then").is_null()).cast(pl.Int64),
            _fc_expected=pl.when(was_customer).then(pl.col("_expected_then")).otherwise(_ZERO),
            _fc_actual=pl.when(was_customer).then(mrr).otherwise(_ZERO),
            _due=pl.when(due).then(mrr).otherwise(_ZERO),
            _risk=pl.when(at_risk).then(mrr).otherwise(_ZERO),
            _pipeline=pl.col("open_expansion_pipeline").fill_null(0),
        )
    )
    stacked = pl.concat(
        [rows.with_columns(grouping=pl.lit(name), group_value=value) for name, value in GROUPING_EXPRESSIONS]
    )
    keys = ["month", "grouping", "group_value"]

    def money(column: str) -> pl.Expr:
        return pl.col(column).sum().cast(MONEY)

    g = stacked.group_by(keys).agg(
        money("cmrr_3m"),
        money("cmrr_12m"),
        money("expected_mrr_3m").alias("_expected"),
        pl.col("expected_mrr_3m").null_count().alias("_expected_unknown"),
        pl.col("_fc_customers").sum(),
        pl.col("_fc_unknown").sum(),
        money("_fc_expected"),
        money("_fc_actual"),
        money("_due").alias("renewal_mrr_due_3m"),
        money("_risk").alias("renewal_mrr_at_risk_3m"),
        money("_pipeline"),
    )
    checked = (pl.col("_fc_customers") > 0) & (pl.col("_fc_unknown") == 0)
    wins = win_rates.lazy().select(MONTH, "expansion_win_rate_12m")
    return (
        g.join(wins, on=MONTH, how="left")
        .with_columns(
            expected_mrr_3m=pl.when(pl.col("_expected_unknown") == 0).then(pl.col("_expected")),
            forecast_expected_3m=pl.when(checked).then(pl.col("_fc_expected")),
            forecast_actual_3m=pl.when(checked).then(pl.col("_fc_actual")),
            weighted_expansion_pipeline=_times_rate(pl.col("_pipeline"), pl.col("expansion_win_rate_12m")),
        )
        .with_columns(
            forecast_error_3m=_ratio(
                pl.col("forecast_expected_3m") - pl.col("forecast_actual_3m"), pl.col("forecast_actual_3m")
            )
        )
        .with_columns(forecast_abs_error_3m=pl.col("forecast_error_3m").abs())
        .with_columns(_order=pl.col("grouping").replace_strict(GROUPING_ORDER, return_dtype=pl.Int64))
        .sort("month", "_order", "group_value")
        .select([pl.col(n).cast(t) for n, t in PORTFOLIO_FORECAST.items()])
        .collect()
    )
