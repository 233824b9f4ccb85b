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
