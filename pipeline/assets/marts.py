"""Mart assets: per-account monthly KPIs, account health and the portfolio.

A materialization of month M recomputes every month up to M from staging (cheap, and
history stays consistent after a corrected export) and replaces the rows with
``month <= M`` in one transaction, so a rerun of M changes nothing and a crash changes
nothing either. When nothing a month is built from has changed, the stored rows are
kept (``pipeline.store.marts.build_or_reuse``).
"""

from datetime import date
from typing import Any

import polars as pl
from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipeline import checks
from pipeline.assets.ingest import OWNERS
from pipeline.checks import MOVEMENTS_IN, MOVEMENTS_OUT
from pipeline.metadata import md, md_record
from pipeline.partitions import record_rewritten_months, reporting_month
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.schemas import ACCOUNT_FORECAST, ACCOUNT_MONTHLY, PORTFOLIO_MONTHLY
from pipeline.store.loading import read_staging
from pipeline.store.mart_slices import KPI_SOURCES, account_health_parts, account_monthly_parts, portfolio_group_sums
from pipeline.store.marts import (
    Build,
    Computed,
    StoredBuild,
    build_or_reuse,
    build_or_reuse_in_parts,
    first_billing_month,
    mart_inputs,
    read_month_columns,
    read_months,
    repeated_keys,
    rows_per_month,
)
from pipeline.transforms.calendar import add_months
from pipeline.transforms.forecast import expansion_win_rate, portfolio_forecast
from pipeline.transforms.health import account_health_schema
from pipeline.transforms.portfolio import portfolio_from_group_sums

ACCOUNT_MONTHLY_KEY = AssetKey(["marts", "account_monthly"])
ACCOUNT_HEALTH_KEY = AssetKey(["marts", "account_health"])
PORTFOLIO_MONTHLY_KEY = AssetKey(["marts", "portfolio_monthly"])
# The looking-ahead marts (pipeline.assets.forecast); portfolio_monthly reads the forecast.
BAND_RETENTION_KEY = AssetKey(["marts", "band_retention"])
ACCOUNT_FORECAST_KEY = AssetKey(["marts", "account_forecast"])

# The sources whose records account_monthly quarantines (stage "marts") for a missing rate.
FX_QUARANTINE_SOURCES = ("subscriptions", "invoices", "opportunities")


def report_build(context: AssetExecutionContext, name: str, build: Build | StoredBuild, month: date) -> None:
    """Log a reused build; mark the earlier months a recomputed build rewrote as materialized."""
    if build.recomputed:
        record_rewritten_months(context, build.rows_per_month, month)
    else:
        context.log.info(f"{name}: inputs unchanged since the last build of this month; rows kept")


def month_meta(frame: pl.DataFrame, month: date) -> dict:
    return stored_month_meta(rows_per_month(frame), month)


def stored_month_meta(rows: dict[date, int], month: date) -> dict:
    """Row counts of a mart's months up to the reporting month, for its materialization."""
    return {
        "dagster/row_count": sum(rows.values()),
        "rows_for_month": rows.get(month, 0),
        "months": len(rows),
        "reporting_month": month.isoformat(),
    }


def mart_asset_options(partitions_def: PartitionsDefinition) -> dict[str, Any]:
    """What every mart asset shares (this module's, the forecast and goal marts', the alert
    marts'): its group, kinds, owners and monthly partitions."""
    return dict(
        group_name="marts",
        kinds={"duckdb", "polars"},
        owners=OWNERS,
        partitions_def=partitions_def,
        # A range backfill is one run: computing up to its last month rewrites them all.
        backfill_policy=BackfillPolicy.single_run(),
    )


def blocking_checks(key: AssetKey, *items: tuple[str, str]) -> list[AssetCheckSpec]:
    """Blocking check specs of a mart, from (name, description) pairs: a mart that fails
    one holds back everything downstream of it (reports, e-mails)."""
    return [AssetCheckSpec(n, asset=key, description=d, blocking=True) for n, d in items]


def build_mart_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    common = mart_asset_options(partitions_def)
    specs = blocking_checks

    @asset(
        key=ACCOUNT_MONTHLY_KEY,
        check_specs=specs(
            ACCOUNT_MONTHLY_KEY,
            ("one_row_per_account_month", "No two rows share account_id and month."),
            ("mrr_never_null", "Every row in range has an MRR (0 when nothing is active)."),
            ("months_complete", "Every account has every month from its first to the reporting month."),
            (
                "account_mrr_bridge",
                "Per account and month: mrr = previous + new + reactivation + expansion - contraction - churn, to the cent.",
            ),
        ),
        deps=[AssetKey(["staging", s]) for s in KPI_SOURCES],
        description=(
            "One row per account and month, from the account's first month with data to the "
            "reporting month: MRR and its five movements, invoicing, collections, overdue, "
            "NPS/CSAT, touches, tickets, expansion pipeline, days to renewal (docs/metrics.md). "
            "Money in the reporting currency."
        ),
        **common,
    )
    def account_monthly(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh,
            "marts/account_monthly",
            month,
            {"reporting_currency": cfg.reporting_currency},
            [f"staging/{name}" for name in KPI_SOURCES],
        )

        build = build_or_reuse_in_parts(
            wh,
            "marts.account_monthly",
            month,
            inputs,
            ACCOUNT_MONTHLY,
            lambda: account_monthly_parts(wh, month, cfg.reporting_currency),
            cfg.recompute_unchanged,
            quarantine_sources=FX_QUARANTINE_SOURCES,
            quarantines=True,
        )
        report_build(context, "account_monthly", build, month)
        rejected = build.counts.get("rows_quarantined_missing_fx", 0)
        this = read_month_columns(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY, ACCOUNT_MONTHLY.names(), [month])
        yield MaterializeResult(
            metadata={
                **stored_month_meta(build.rows_per_month, month),
                "recomputed": build.recomputed,
                "mrr": MetadataValue.float(float(this["mrr"].sum() or 0)),
                "customers": int(this["is_customer"].sum() or 0),
                "rows_quarantined_missing_fx": rejected,
                "preview": md(
                    this.sort("mrr", descending=True)
                    .select(
                        "account_id",
                        "mrr",
                        "mrr_new",
                        "mrr_expansion",
                        "mrr_contraction",
                        "mrr_churn",
                        "mrr_reactivation",
                        "nps_12m",
                        "overdue_amount",
                    )
                    .head(5)
                ),
            }
        )
        del this
        yield checks.check_repeats(
            repeated_keys(wh, "marts.account_monthly", ["account_id", "month"], month), "one_row_per_account_month"
        )
        # Only the columns the checks read: the whole mart was 1.0 GiB at 100,000 accounts.
        checked = read_month_columns(
            wh,
            "marts.account_monthly",
            month,
            ACCOUNT_MONTHLY,
            ["account_id", "month", "mrr_previous", "mrr", *MOVEMENTS_IN, *MOVEMENTS_OUT],
        )
        yield checks.check_no_null(checked, "mrr", "mrr_never_null")
        yield checks.check_months_complete(checked, month, "months_complete")
        yield checks.check_bridge(
            checked, start="mrr_previous", end="mrr", keys=["account_id", "month"], name="account_mrr_bridge"
        )

    @asset(
        key=ACCOUNT_HEALTH_KEY,
        check_specs=specs(
            ACCOUNT_HEALTH_KEY,
            ("score_in_range", "Every score is between 0 and 100."),
            ("change_split_adds_up", "The per-measure parts of score_change add up to it (to 0.1)."),
            ("one_row_per_account_month", "No two rows share account_id and month."),
        ),
        deps=[ACCOUNT_MONTHLY_KEY, AssetKey(["staging", "health_overrides"])],
        description=(
            "Explainable health per account and month: a 0-100 score from six measures, "
            "its band, missing measures, the drivers in words (worst first), the change "
            "since last month split by measure, and any manual override."
        ),
        **common,
    )
    def account_health_asset(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh,
            "marts/account_health",
            month,
            {"health": repr(cfg.health)},
            ["marts/account_monthly", "staging/health_overrides"],
        )

        schema = account_health_schema(cfg.health)
        build = build_or_reuse_in_parts(
            wh,
            "marts.account_health",
            month,
            inputs,
            schema,
            lambda: account_health_parts(wh, month, cfg.health),
            cfg.recompute_unchanged,
        )
        report_build(context, "account_health", build, month)
        # This month and the last for the metadata; only the numbers for the checks (the
        # drivers' sentences are most of the mart's bytes).
        recent = read_month_columns(
            wh,
            "marts.account_health",
            month,
            schema,
            ["account_id", "month", "score", "score_change", "band", "drivers"],
            [add_months(month, -1), month],
        )
        yield MaterializeResult(
            metadata={
                **stored_month_meta(build.rows_per_month, month),
                "recomputed": build.recomputed,
                **health_metadata(recent, month),
            }
        )
        changes = [f"{m.name}_change" for m in cfg.health.measures]
        scores = read_month_columns(wh, "marts.account_health", month, schema, ["score", "score_change", *changes])
        yield checks.check_score_range(scores, "score_in_range")
        yield checks.check_change_split(scores, changes, "change_split_adds_up")
        yield checks.check_repeats(
            repeated_keys(wh, "marts.account_health", ["account_id", "month"], month), "one_row_per_account_month"
        )

    @asset(
        key=PORTFOLIO_MONTHLY_KEY,
        check_specs=specs(
            PORTFOLIO_MONTHLY_KEY,
            (
                "mrr_bridge",
                "Per grouping and month: mrr_end = mrr_start + new + reactivation + expansion - contraction - churn, to the cent.",
            ),
            ("one_row_per_group_month", "No two rows share month, grouping and group_value."),
            (
                "committed_mrr_adds_up",
                "Per grouping and month: cmrr_3m, cmrr_12m and expected_mrr_3m equal the sum of the accounts' values in marts.account_forecast, to the cent.",
            ),
        ),
        deps=[ACCOUNT_MONTHLY_KEY, ACCOUNT_HEALTH_KEY, ACCOUNT_FORECAST_KEY, AssetKey(["staging", "opportunities"])],
        description=(
            "One row per month and grouping (all, tier, segment, account manager): MRR bridge, "
            "customers, logo retention, NRR/GRR over 1 and 12 months, ARPA, churn rate, LTV, "
            "pooled NPS/CSAT, health band counts, and looking ahead: committed MRR at M+3 and "
            "M+12, expected MRR at M+3, the error of the forecast made three months earlier, "
            "renewal MRR due and at risk, and the weighted expansion pipeline."
        ),
        **common,
    )
    def portfolio_monthly_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh,
            "marts/portfolio_monthly",
            month,
            {"gross_margin": cfg.gross_margin},
            # the first billing month comes from staged subscriptions and invoices
            [
                "marts/account_monthly",
                "marts/account_health",
                "staging/subscriptions",
                "staging/invoices",
                "marts/account_forecast",
                "staging/opportunities",
            ],
        )

        def compute() -> Computed:
            # A slice of accounts at a time (store.mart_slices), plus the three columns the
            # forecast and the win rates read.
            sums = portfolio_group_sums(wh, month, account_health_schema(cfg.health))
            pipeline = read_month_columns(
                wh, "marts.account_monthly", month, ACCOUNT_MONTHLY, ["account_id", "month", "open_expansion_pipeline"]
            )
            forecast = read_months(wh, "marts.account_forecast", month, ACCOUNT_FORECAST)
            wins = expansion_win_rate(read_staging(wh, "opportunities"), pipeline["month"].unique().to_list())
            return Computed(
                portfolio_from_group_sums(
                    sums,
                    gross_margin=cfg.gross_margin,
                    first_billing_month=first_billing_month(wh),
                    forecast=portfolio_forecast(forecast, pipeline, wins),
                )
            )

        build = build_or_reuse(
            wh, "marts.portfolio_monthly", month, inputs, PORTFOLIO_MONTHLY, compute, cfg.recompute_unchanged
        )
        report_build(context, "portfolio_monthly", build, month)
        frame = build.frame
        total = frame.filter((pl.col("month") == month) & (pl.col("grouping") == "all"))
        yield MaterializeResult(
            metadata={
                **month_meta(frame, month),
                "recomputed": build.recomputed,
                "summary": md_record(
                    total.select(
                        "mrr_start",
                        "mrr_end",
                        "customers_end",
                        "nrr_1m",
                        "grr_1m",
                        "nrr_12m",
                        "grr_12m",
                        "logo_retention_12m",
                        "arpa",
                        "ltv",
                        "cmrr_3m",
                        "cmrr_12m",
                        "expected_mrr_3m",
                        "forecast_error_3m",
                        "renewal_mrr_due_3m",
                        "renewal_mrr_at_risk_3m",
                        "weighted_expansion_pipeline",
                    )
                ),
            }
        )
        yield checks.check_bridge(
            frame, start="mrr_start", end="mrr_end", keys=["month", "grouping", "group_value"], name="mrr_bridge"
        )
        yield checks.check_unique(frame, ["month", "grouping", "group_value"], "one_row_per_group_month")
        yield checks.check_group_sums(
            read_months(wh, "marts.account_forecast", month, ACCOUNT_FORECAST),
            frame,
            ["cmrr_3m", "cmrr_12m", "expected_mrr_3m"],
            "committed_mrr_adds_up",
        )

    return [account_monthly, account_health_asset, portfolio_monthly_asset]


def health_metadata(health: pl.DataFrame, month: date) -> dict:
    """Band counts, band changes since last month and the biggest drops."""
    this = health.filter(pl.col("month") == month)
    prev_month = add_months(month, -1)
    prev = health.filter(pl.col("month") == prev_month).select("account_id", pl.col("band").alias("band_before"))
    moved = this.join(prev, on="account_id", how="inner").filter(pl.col("band") != pl.col("band_before"))
    counts = {f"accounts_{b}": int((this["band"] == b).sum()) for b in ("green", "amber", "red", "insufficient_data")}
    drops = (
        this.filter(pl.col("score_change").is_not_null())
        .sort("score_change")
        .head(5)
        .select("account_id", "score", "score_change", "band", "drivers")
    )
    return {
        **counts,
        "accounts_changed_band": moved.height,
        "band_changes": md(moved.select("account_id", "band_before", "band")),
        "biggest_drops": md(drops),
    }
