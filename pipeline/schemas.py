"""Polars schemas of the staging tables and the marts: the interface between stages.

Staging schemas are derived from the contract; mart schemas are written out here so a
transform, the warehouse DDL and the reports agree on every column and type.
"""

from __future__ import annotations

import polars as pl

from pipeline.contract import Kind, Source

MONEY = pl.Decimal(18, 4)
NUMBER = pl.Decimal(18, 6)
TIMESTAMP = pl.Datetime("us", "UTC")

KIND_DTYPES: dict[Kind, pl.DataType] = {
    Kind.TEXT: pl.String(),
    Kind.CODE: pl.String(),
    Kind.CURRENCY: pl.String(),
    Kind.DATE: pl.Date(),
    Kind.MONTH: pl.Date(),  # the first day of the month
    Kind.TIMESTAMP: TIMESTAMP,
    Kind.MONEY: MONEY,
    Kind.NUMBER: NUMBER,
    Kind.INTEGER: pl.Int64(),
    Kind.BOOLEAN: pl.Boolean(),
    Kind.EMAIL: pl.String(),
    Kind.EMAIL_LIST: pl.String(),
}

# Lineage columns every staging row keeps.
LINEAGE: dict[str, pl.DataType] = {
    "_file": pl.String(),
    "_row": pl.Int64(),
    "_loaded_at": TIMESTAMP,
}


def staging_schema(source: Source, lineage: bool = True) -> pl.Schema:
    cols: dict[str, pl.DataType] = {c.name: KIND_DTYPES[c.kind] for c in source.columns}
    if lineage:
        cols.update(LINEAGE)
    return pl.Schema(cols)


QUARANTINE = pl.Schema(
    {
        "source": pl.String(),
        "stage": pl.String(),  # staging or marts
        "file": pl.String(),
        "row": pl.Int64(),  # 1-based data row number in the file (the header is row 0)
        "column": pl.String(),
        "value": pl.String(),
        "reason": pl.String(),
        "record_key": pl.String(),
        "loaded_at": TIMESTAMP,
    }
)

ACCOUNT_MONTHLY = pl.Schema(
    {
        "account_id": pl.String(),
        "month": pl.Date(),
        "tier": pl.String(),
        "segment": pl.String(),
        "account_manager_id": pl.String(),
        "mrr": MONEY,
        "arr": MONEY,
        "mrr_previous": MONEY,
        "mrr_new": MONEY,
        "mrr_expansion": MONEY,
        "mrr_contraction": MONEY,
        "mrr_churn": MONEY,
        "mrr_reactivation": MONEY,
        "is_customer": pl.Boolean(),
        "revenue_trend_3m": pl.Float64(),
        "invoiced_net": MONEY,
        "invoiced_tax": MONEY,
        "collected": MONEY,
        "overdue_amount": MONEY,
        "invoiced_net_mom": pl.Float64(),
        "invoiced_net_yoy": pl.Float64(),
        "nps_12m": pl.Float64(),
        "nps_responses_12m": pl.Int64(),
        "nps_promoters_12m": pl.Int64(),
        "nps_detractors_12m": pl.Int64(),
        "csat_3m": pl.Float64(),
        "csat_responses_3m": pl.Int64(),
        "csat_satisfied_3m": pl.Int64(),
        "touches_3m": pl.Int64(),
        "days_since_last_touch": pl.Int64(),
        "tickets_opened": pl.Int64(),
        "open_tickets": pl.Int64(),
        "open_high_priority_tickets": pl.Int64(),
        "open_expansion_pipeline": MONEY,
        "days_to_renewal": pl.Int64(),
    }
)

GROUPINGS = ("all", "tier", "segment", "account_manager")

# --------------------------------------------------------------------------- looking ahead
# marts.account_forecast, marts.band_retention and the forecast columns of
# marts.portfolio_monthly (pipeline/transforms/forecast.py); marts.account_goals
# (pipeline/transforms/goals.py). Formulas: docs/metrics.md, "Looking ahead".

CMRR_HORIZON = 12  # committed MRR at M+1 .. M+12
CMRR_COLUMNS = tuple(f"cmrr_{k}m" for k in range(1, CMRR_HORIZON + 1))

BAND_RETENTION = pl.Schema(
    {
        "month": pl.Date(),
        "band": pl.String(),
        "pairs": pl.Int64(),  # pairs (a, t) of this band over t = M-14 .. M-3
        "band_rate": pl.Float64(),  # the band's own Σ MRR(t+3) / Σ MRR(t); null without pairs
        "pooled_rate": pl.Float64(),  # the same over the pairs of every band
        "rate": pl.Float64(),  # the rate used: band_rate, or pooled_rate when pooled
        "pooled": pl.Boolean(),  # pairs < MIN_PAIRS: pooled_rate stands in
    }
)

ACCOUNT_FORECAST = pl.Schema(
    {
        "account_id": pl.String(),
        "month": pl.Date(),
        "tier": pl.String(),
        "segment": pl.String(),
        "account_manager_id": pl.String(),
        "mrr": MONEY,  # MRR(M), what the forecast starts from
        "band": pl.String(),  # effective health band at M (null without a health row)
        **{c: MONEY for c in CMRR_COLUMNS},
        "expected_mrr_3m": MONEY,
        "band_retention_3m": pl.Float64(),  # the rate used; null for a non-customer
        "band_retention_pooled": pl.Boolean(),  # true when the pooled rate stood in
        "renewal_date": pl.Date(),
        "renewal_due_3m": pl.Boolean(),  # renewal_date in (end(M), end(M+3)]
    }
)

EXPANSION_WIN_RATE = pl.Schema(
    {
        "month": pl.Date(),
        "expansion_closed_12m": pl.Int64(),
        "expansion_won_12m": pl.Int64(),
        "expansion_win_rate_12m": pl.Float64(),
    }
)

PORTFOLIO_FORECAST_COLUMNS: dict[str, pl.DataType] = {
    "cmrr_3m": MONEY,
    "cmrr_12m": MONEY,
    "expected_mrr_3m": MONEY,
    "forecast_expected_3m": MONEY,  # the risk-adjusted forecast made at M-3 for M
    "forecast_actual_3m": MONEY,  # what those customers of M-3 have at M
    "forecast_error_3m": pl.Float64(),  # (expected - actual) / actual
    "forecast_abs_error_3m": pl.Float64(),
    "renewal_mrr_due_3m": MONEY,
    "renewal_mrr_at_risk_3m": MONEY,
    "expansion_win_rate_12m": pl.Float64(),
    "weighted_expansion_pipeline": MONEY,
}

PORTFOLIO_FORECAST = pl.Schema(
    {"month": pl.Date(), "grouping": pl.String(), "group_value": pl.String(), **PORTFOLIO_FORECAST_COLUMNS}
)

ACCOUNT_GOALS = pl.Schema(
    {
        "goal_id": pl.String(),
        "account_id": pl.String(),
        "month": pl.Date(),
        "metric": pl.String(),
        "description": pl.String(),
        "owner": pl.String(),
        "visible_to_client": pl.Boolean(),
        "direction": pl.String(),  # at_least or at_most
        "start_month": pl.Date(),
        "due_month": pl.Date(),
        "value": pl.Float64(),  # the metric at M
        "baseline": pl.Float64(),
        "baseline_month": pl.Date(),
        "expected": pl.Float64(),  # where the straight line to the target is at M
        "target": pl.Float64(),
        "status": pl.String(),  # no_data, met, missed, on_track, behind
    }
)
GOAL_STATUSES = ("no_data", "met", "missed", "on_track", "behind")

PORTFOLIO_MONTHLY = pl.Schema(
    {
        "month": pl.Date(),
        "grouping": pl.String(),  # all, tier, segment, account_manager
        "group_value": pl.String(),  # "all" for the whole portfolio; else the tier, segment or manager id
        "mrr_start": MONEY,
        "mrr_end": MONEY,
        "arr_end": MONEY,
        "mrr_new": MONEY,
        "mrr_expansion": MONEY,
        "mrr_contraction": MONEY,
        "mrr_churn": MONEY,
        "mrr_reactivation": MONEY,
        "customers_start": pl.Int64(),
        "customers_end": pl.Int64(),
        "new_customers": pl.Int64(),
        "churned_customers": pl.Int64(),
        "reactivated_customers": pl.Int64(),
        "logo_retention_1m": pl.Float64(),
        "nrr_1m": pl.Float64(),
        "grr_1m": pl.Float64(),
        "expansion_rate_1m": pl.Float64(),
        "logo_retention_12m": pl.Float64(),
        "nrr_12m": pl.Float64(),
        "grr_12m": pl.Float64(),
        "arpa": MONEY,
        "customer_churn_rate_6m": pl.Float64(),
        "ltv": pl.Float64(),
        "nps_12m": pl.Float64(),
        "nps_responses_12m": pl.Int64(),
        "csat_3m": pl.Float64(),
        "csat_responses_3m": pl.Int64(),
        "invoiced_net": MONEY,
        "collected": MONEY,
        "overdue_amount": MONEY,
        "touches_3m": pl.Int64(),
        "accounts": pl.Int64(),
        "accounts_green": pl.Int64(),
        "accounts_amber": pl.Int64(),
        "accounts_red": pl.Int64(),
        "accounts_insufficient_data": pl.Int64(),
        # Looking ahead (transforms/forecast.py, portfolio_forecast): null for a group
        # without forecast rows that month.
        **PORTFOLIO_FORECAST_COLUMNS,
    }
)

DRIVER = pl.Struct(
    {
        "measure": pl.String(),
        "label": pl.String(),
        "value": pl.Float64(),
        "score": pl.Float64(),
        "shortfall": pl.Float64(),
        "sentence": pl.String(),
    }
)

# marts.account_alerts: one row per alert (pipeline.transforms.alerts, docs/metrics.md "Alerts").
ACCOUNT_ALERTS = pl.Schema(
    {
        "account_id": pl.String(),
        "month": pl.Date(),
        "rule": pl.String(),
        "severity": pl.String(),  # high, medium, low
        "message": pl.String(),  # one sentence with its numbers, plain text (not escaped)
        "details": pl.String(),  # the comment (detractor), the goal's description (goal_behind), else the drivers
        "alert_id": pl.String(),  # rule|account_id|YYYY-MM[|response_id or goal_id]: unique
        "account_name": pl.String(),
        "account_manager_id": pl.String(),
        "tier": pl.String(),
        "band": pl.String(),  # the effective health band at M
        "score": pl.Float64(),  # the health score at M
        "drivers": pl.String(),  # the account's health drivers at M, worst first
        "response_id": pl.String(),  # detractor only
        "goal_id": pl.String(),  # goal_behind only
    }
)

# marts.cross_sell_ideas: one row per idea (pipeline.transforms.cross_sell).
CROSS_SELL_IDEAS = pl.Schema(
    {
        "account_id": pl.String(),
        "month": pl.Date(),
        "product": pl.String(),
        "peer_share": pl.Float64(),  # holders / peers, a fraction
        "peer_median_mrr": MONEY,  # median over the holders of their MRR for the product
        "rank": pl.Int64(),  # 1 = the best idea
        "peers": pl.Int64(),  # other customers with the same tier and segment
        "peer_holders": pl.Int64(),  # of them, those with the product active at end(M)
        "tier": pl.String(),
        "segment": pl.String(),
    }
)
