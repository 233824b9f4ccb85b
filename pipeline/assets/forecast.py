"""Looking-ahead marts: band retention, the account forecast and the account goals.

Thin assets over ``pipeline.transforms.forecast`` and ``pipeline.transforms.goals``
(docs/metrics.md, "Looking ahead" and "Account goals"), built like every mart: a
materialization of month M recomputes every month up to M and replaces ``month <= M``
in one transaction, or keeps the stored rows when nothing they are built from changed
(``pipeline.store.marts.build_or_reuse``). The forecast columns of
``marts.portfolio_monthly`` are computed by that asset (``pipeline.assets.marts``), from
the rows written here.
"""

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipeline import checks
from pipeline.assets.marts import (
    ACCOUNT_FORECAST_KEY,
    ACCOUNT_HEALTH_KEY,
    ACCOUNT_MONTHLY_KEY,
    BAND_RETENTION_KEY,
    blocking_checks,
    mart_asset_options,
    month_meta,
    report_build,
)
from pipeline.metadata import md
from pipeline.partitions import reporting_month
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.schemas import (
    ACCOUNT_FORECAST,
    ACCOUNT_GOALS,
    ACCOUNT_MONTHLY,
    BAND_RETENTION,
    CMRR_COLUMNS,
    GOAL_STATUSES,
)
from pipeline.store.loading import read_staging
from pipeline.store.marts import Computed, build_or_reuse, mart_inputs, read_months, read_months_as_stored
from pipeline.transforms.forecast import account_forecast, band_retention, forecast_subscriptions
from pipeline.transforms.goals import SOURCE as GOALS_SOURCE
from pipeline.transforms.goals import account_goals

ACCOUNT_GOALS_KEY = AssetKey(["marts", "account_goals"])


def build_forecast_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    common = mart_asset_options(partitions_def)
    specs = blocking_checks

    @asset(
        key=BAND_RETENTION_KEY,
        check_specs=specs(
            BAND_RETENTION_KEY,
            (
                "rate_in_range",
                "Every band retention rate is 0 or more (null only without any pair); the month's pairs per band in the metadata.",
            ),
            ("one_row_per_month_band", "No two rows share month and band."),
        ),
        deps=[ACCOUNT_MONTHLY_KEY, ACCOUNT_HEALTH_KEY],
        description=(
            "3-month net revenue retention of each health band (green, amber, red, insufficient "
            "data) as known at each month: pairs (account, month t) over t = M-14 .. M-3 with MRR "
            "and that band at t, Σ MRR(t+3) / Σ MRR(t); a band with fewer than 20 pairs uses the "
            "pooled rate of all bands (pooled true). The rate behind expected MRR."
        ),
        **common,
    )
    def band_retention_asset(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(wh, "marts/band_retention", month, {}, ["marts/account_monthly", "marts/account_health"])

        def compute() -> Computed:
            monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
            health = read_months_as_stored(wh, "marts.account_health", month)
            bands = health.select("account_id", "month", "band") if health is not None else _no_bands()
            return Computed(band_retention(monthly, bands))

        build = build_or_reuse(
            wh, "marts.band_retention", month, inputs, BAND_RETENTION, compute, cfg.recompute_unchanged
        )
        report_build(context, "band_retention", build, month)
        frame = build.frame
        this = frame.filter(pl.col("month") == month)
        yield MaterializeResult(
            metadata={
                **month_meta(frame, month),
                "recomputed": build.recomputed,
                "this_month": md(this.select("band", "pairs", "band_rate", "pooled_rate", "rate", "pooled")),
            }
        )
        yield checks.check_band_retention(frame, month, "rate_in_range")
        yield checks.check_unique(frame, ["month", "band"], "one_row_per_month_band")

    @asset(
        key=ACCOUNT_FORECAST_KEY,
        check_specs=specs(
            ACCOUNT_FORECAST_KEY,
            ("one_row_per_account_month", "No two rows share account_id and month."),
            (
                "committed_mrr_steady",
                "Committed MRR at M+k equals MRR(M) when no subscription of the account starts or ends in (end(M), end(M+k)], to the cent.",
            ),
        ),
        deps=[
            ACCOUNT_MONTHLY_KEY,
            ACCOUNT_HEALTH_KEY,
            BAND_RETENTION_KEY,
            AssetKey(["staging", "subscriptions"]),
            AssetKey(["staging", "accounts"]),
            AssetKey(["staging", "fx_rates"]),
        ],
        description=(
            "One row per account and month: committed MRR at M+1 .. M+12 (today's subscriptions, "
            "booked starts and scheduled ends included), expected MRR at M+3 (MRR × the retention "
            "of the account's health band, or booked new business), the band retention used and "
            "whether it was the pooled rate, the renewal date and whether it falls in the next "
            "three months. Money in the reporting currency."
        ),
        **common,
    )
    def account_forecast_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh,
            "marts/account_forecast",
            month,
            {"reporting_currency": cfg.reporting_currency},
            [
                "marts/account_monthly",
                "marts/account_health",
                "marts/band_retention",
                "staging/subscriptions",
                "staging/accounts",
                "staging/fx_rates",
            ],
        )

        def compute() -> Computed:
            monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
            health = read_months_as_stored(wh, "marts.account_health", month)
            bands = health.select("account_id", "month", "band") if health is not None else _no_bands()
            retention = read_months(wh, "marts.band_retention", month, BAND_RETENTION)
            subscriptions, unconverted = forecast_subscriptions(
                read_staging(wh, "subscriptions"),
                read_staging(wh, "fx_rates"),
                reporting_month=month,
                reporting_currency=cfg.reporting_currency,
            )
            frame = account_forecast(monthly, bands, subscriptions, read_staging(wh, "accounts"), retention=retention)
            return Computed(frame, {"booked_subscriptions_without_rate": unconverted["record_key"].to_list()})

        build = build_or_reuse(
            wh, "marts.account_forecast", month, inputs, ACCOUNT_FORECAST, compute, cfg.recompute_unchanged
        )
        report_build(context, "account_forecast", build, month)
        frame = build.frame
        this = frame.filter(pl.col("month") == month)
        unconverted = build.counts.get("booked_subscriptions_without_rate", [])
        if unconverted:
            context.log.warning(
                f"{len(unconverted)} booked subscription(s) have no exchange rate at all and are left out "
                f"of committed MRR: {', '.join(unconverted[:10])}; add their currency to billing/fx_rates"
            )
        yield MaterializeResult(
            metadata={
                **month_meta(frame, month),
                "recomputed": build.recomputed,
                "mrr": MetadataValue.float(float(this["mrr"].sum() or 0)),
                "cmrr_3m": MetadataValue.float(float(this["cmrr_3m"].sum() or 0)),
                "cmrr_12m": MetadataValue.float(float(this["cmrr_12m"].sum() or 0)),
                "expected_mrr_3m": MetadataValue.float(float(this["expected_mrr_3m"].sum() or 0)),
                "renewals_due_3m": int(this["renewal_due_3m"].sum() or 0),
                "booked_subscriptions_without_rate": len(unconverted),
                "preview": md(
                    this.sort("mrr", descending=True)
                    .select(
                        "account_id",
                        "mrr",
                        "band",
                        "cmrr_3m",
                        "cmrr_12m",
                        "expected_mrr_3m",
                        "band_retention_3m",
                        "renewal_date",
                        "renewal_due_3m",
                    )
                    .head(5)
                ),
            }
        )
        yield checks.check_unique(frame, ["account_id", "month"], "one_row_per_account_month")
        yield checks.check_committed_steady(
            frame,
            read_staging(wh, "subscriptions").select("account_id", "start_date", "end_date"),
            list(CMRR_COLUMNS),
            "committed_mrr_steady",
        )

    @asset(
        key=ACCOUNT_GOALS_KEY,
        check_specs=specs(
            ACCOUNT_GOALS_KEY,
            ("status_is_known", "Every goal row has one of the five statuses: no_data, met, missed, on_track, behind."),
            ("one_row_per_goal_month", "No two rows share goal_id and month."),
        ),
        deps=[ACCOUNT_MONTHLY_KEY, AssetKey(["staging", GOALS_SOURCE])],
        description=(
            "One row per goal agreed with a client (crm/account_goals) and month, from its start "
            "month to the month after it is due: the metric's value, the baseline, where the "
            "straight line from baseline to target expects it, and the status (met, on track, "
            "behind, missed, no data)."
        ),
        **common,
    )
    def account_goals_asset(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(wh, "marts/account_goals", month, {}, ["marts/account_monthly", f"staging/{GOALS_SOURCE}"])

        def compute() -> Computed:
            monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
            result = account_goals(read_staging(wh, GOALS_SOURCE), monthly, month)
            return Computed(result.frame, {"goals_quarantined": result.rejects.height}, result.rejects)

        build = build_or_reuse(
            wh,
            "marts.account_goals",
            month,
            inputs,
            ACCOUNT_GOALS,
            compute,
            cfg.recompute_unchanged,
            quarantine_sources=(GOALS_SOURCE,),
        )
        report_build(context, "account_goals", build, month)
        frame = build.frame
        this = frame.filter(pl.col("month") == month)
        statuses = {f"goals_{s}": int((this["status"] == s).sum()) for s in GOAL_STATUSES}
        yield MaterializeResult(
            metadata={
                **month_meta(frame, month),
                "recomputed": build.recomputed,
                "goals": this["goal_id"].n_unique() if this.height else 0,
                **statuses,
                "goals_quarantined": build.counts.get("goals_quarantined", 0),
                "preview": md(
                    this.select("goal_id", "account_id", "metric", "value", "baseline", "expected", "target", "status")
                ),
            }
        )
        yield checks.check_values_in(frame, "status", GOAL_STATUSES, "status_is_known")
        yield checks.check_unique(frame, ["goal_id", "month"], "one_row_per_goal_month")

    return [band_retention_asset, account_forecast_asset, account_goals_asset]


def _no_bands() -> pl.DataFrame:
    return pl.DataFrame(schema={"account_id": pl.String(), "month": pl.Date(), "band": pl.String()})


__all__ = ["ACCOUNT_GOALS_KEY", "build_forecast_assets"]
