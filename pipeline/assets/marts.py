"""Mart assets: per-account monthly KPIs, account health and the portfolio.

A materialization of month M recomputes every month up to M from staging (cheap, and
history stays consistent after a corrected export) and replaces the rows with
``month <= M`` in one transaction, so a rerun of M changes nothing and a crash changes
nothing either.
"""


from dataclasses import dataclass
from datetime import date

import polars as pl
from dagster import (
    AssetCheckSpec,
    BackfillPolicy,
    AssetMaterialization,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipeline import checks
from pipeline.store import fingerprints
from pipeline.assets.ingest import OWNERS
from pipeline.store.loading import read_staging
from pipeline.metadata import md, md_record
from pipeline.partitions import month_of_partition
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource, arrow
from pipeline.schemas import ACCOUNT_MONTHLY, PORTFOLIO_MONTHLY, QUARANTINE
from pipeline.transforms.account_monthly import build_account_monthly
from pipeline.transforms.calendar import add_months
from pipeline.transforms.health import account_health, account_health_schema
from pipeline.transforms.portfolio import portfolio_monthly

ACCOUNT_MONTHLY_KEY = AssetKey(["marts", "account_monthly"])
ACCOUNT_HEALTH_KEY = AssetKey(["marts", "account_health"])
PORTFOLIO_MONTHLY_KEY = AssetKey(["marts", "portfolio_monthly"])

KPI_SOURCES = (
    "accounts",
    "subscriptions",
    "invoices",
    "responses",
    "activities",
    "tickets",
    "opportunities",
    "fx_rates",
)


# Free text no KPI reads: most of the bytes of the largest tables.
UNUSED_TEXT = {"activities": ("subject",), "tickets": ("subject",), "responses": ("comment",)}


def reporting_month(context: AssetExecutionContext) -> date:
    """The partition's month; for a single-run backfill of a range, its last month."""
    if context.has_partition_key_range:
        return month_of_partition(context.partition_key_range.end)
    return month_of_partition(context.partition_key)


def read_months(wh: Warehouse, table: str, month: date, schema: pl.Schema) -> pl.DataFrame:
    """A mart's rows up to the month, typed; an empty frame of the schema before the first run."""
    frame = wh.table(table, where_month_le=month)
    return pl.DataFrame(schema=schema) if frame.is_empty() else frame.cast(schema)


@dataclass(frozen=True)
class Inputs:
    """What a mart for one month is built from (see pipeline.store.fingerprints)."""

    asset: str
    month: date
    fingerprint: str

    def unchanged(self, wh: Warehouse, recompute: bool) -> fingerprints.Built | None:
        """The stored state when the table already holds exactly this build, else None."""
        if recompute:
            return None
        with wh.connect() as con:
            built = fingerprints.read(con, self.asset)
        return built if built is not None and built.matches(self.month, self.fingerprint) else None

    def record(self, con, counts: dict) -> None:
        fingerprints.record(con, self.asset, self.month, self.fingerprint, counts)


def mart_inputs(wh: Warehouse, asset: str, month: date, settings: dict, reads: list[str]) -> Inputs:
    """The fingerprint of a mart month: its settings and the state of every table it reads."""
    with wh.connect() as con:
        tokens = {r: fingerprints.token(con, r) for r in reads}
    return Inputs(asset, month, fingerprints.fingerprint(fingerprints.MART_CODE, asset, month, settings, tokens))


def write_months(
    wh: Warehouse, table: str, frame: pl.DataFrame, month: date, inputs: Inputs | None = None, counts: dict | None = None
) -> None:
    with wh.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            Warehouse.replace_rows(con, table, frame, "month <= ?", [month])
            if inputs is not None:
                inputs.record(con, counts or {})
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def write_months_and_quarantine(
    wh: Warehouse,
    table: str,
    frame: pl.DataFrame,
    month: date,
    rejects: pl.DataFrame,
    inputs: Inputs | None = None,
    counts: dict | None = None,
) -> None:
    """Replace the months and this stage's quarantine rows together, or neither."""
    with wh.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            Warehouse.replace_rows(con, table, frame, "month <= ?", [month])
            con.execute("DELETE FROM ops.quarantine WHERE stage = 'marts'")
            con.register("_q", arrow(rejects.cast(QUARANTINE)))
            con.execute("INSERT INTO ops.quarantine SELECT * FROM _q")
            con.unregister("_q")
            if inputs is not None:
                inputs.record(con, counts or {})
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def record_rewritten_months(context: AssetExecutionContext, frame: pl.DataFrame, month: date) -> None:
    """Mark the earlier months this run rewrote as materialized partitions too.

    A run for month M replaces every month up to M, so those partitions do hold current
    data; without these events the UI would show them as missing.
    """
    partitions = context.assets_def.partitions_def
    if partitions is None or frame.is_empty():
        return
    # Months of this run's own partition (range) are recorded by Dagster itself.
    first_of_run = (
        month_of_partition(context.partition_key_range.start) if context.has_partition_key_range else month
    )
    valid = set(partitions.get_partition_keys())
    for m in sorted(set(frame["month"].to_list())):
        key = m.strftime("%Y-%m-%d")
        if m < first_of_run and key in valid:
            context.log_event(
                AssetMaterialization(
                    asset_key=context.asset_key,
                    partition=key,
                    metadata={"rewritten_by_partition": month.isoformat(), "rows": int((frame["month"] == m).sum())},
                )
            )


def _month_meta(frame: pl.DataFrame, month: date) -> dict:
    this = frame.filter(pl.col("month") == month)
    return {
        "dagster/row_count": frame.height,
        "rows_for_month": this.height,
        "months": frame["month"].n_unique() if frame.height else 0,
        "reporting_month": month.isoformat(),
    }


def build_mart_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    common = dict(
        group_name="marts",
        kinds={"duckdb", "polars"},
        owners=OWNERS,
        partitions_def=partitions_def,
        # A range backfill is one run: computing up to its last month rewrites them all.
        backfill_policy=BackfillPolicy.single_run(),
    )

    def specs(key: AssetKey, *items: tuple[str, str]) -> list[AssetCheckSpec]:
        return [AssetCheckSpec(n, asset=key, description=d, blocking=True) for n, d in items]

    @asset(
        key=ACCOUNT_MONTHLY_KEY,
        check_specs=specs(
            ACCOUNT_MONTHLY_KEY,
            ("one_row_per_account_month", "No two rows share account_id and month."),
            ("mrr_never_null", "Every row in range has an MRR (0 when nothing is active)."),
            ("months_complete", "Every account has every month from its first to the reporting month."),
            ("account_mrr_bridge", "Per account and month: mrr = previous + new + reactivation + expansion - contraction - churn, to the cent."),
        ),
        deps=[AssetKey(["staging", s]) for s in KPI_SOURCES],
        description=(
            "One row per account and month, from the account's first month with data to the "
            "reporting month: MRR and its five movements, invoicing, collections, overdue, "
            "NPS/CSAT, touches, tickets, expansion pipeline, days to renewal (METRICS.md). "
            "Money in the reporting currency."
        ),
        **common,
    )
    def account_monthly(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh, "marts/account_monthly", month, {"reporting_currency": cfg.reporting_currency},
            [f"staging/{name}" for name in KPI_SOURCES],
        )
        built = inputs.unchanged(wh, cfg.recompute_unchanged)
        if built is not None:
            frame = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
            rejected = built.counts.get("rows_quarantined_missing_fx", 0)
            context.log.info("account_monthly: inputs unchanged since the last build of this month; rows kept")
        else:
            staged = {name: read_staging(wh, name, drop=UNUSED_TEXT.get(name, ())) for name in KPI_SOURCES}
            result = build_account_monthly(
                **staged, reporting_month=month, reporting_currency=cfg.reporting_currency
            )
            del staged
            frame = result.frame.cast(ACCOUNT_MONTHLY)
            rejected = result.rejects.height
            write_months_and_quarantine(
                wh, "marts.account_monthly", frame, month, result.rejects,
                inputs, {"rows_quarantined_missing_fx": rejected},
            )
            record_rewritten_months(context, frame, month)
        this = frame.filter(pl.col("month") == month)
        yield MaterializeResult(
            metadata={
                **_month_meta(frame, month),
                "recomputed": built is None,
                "mrr": MetadataValue.float(float(this["mrr"].sum() or 0)),
                "customers": int(this["is_customer"].sum() or 0),
                "rows_quarantined_missing_fx": rejected,
                "preview": md(this.sort("mrr", descending=True).select(
                    "account_id", "mrr", "mrr_new", "mrr_expansion", "mrr_contraction",
                    "mrr_churn", "mrr_reactivation", "nps_12m", "overdue_amount",
                ).head(5)),
            }
        )
        yield checks.check_unique(frame, ["account_id", "month"], "one_row_per_account_month")
        yield checks.check_no_null(frame, "mrr", "mrr_never_null")
        yield checks.check_months_complete(frame, month, "months_complete")
        yield checks.check_bridge(
            frame, start="mrr_previous", end="mrr", keys=["account_id", "month"], name="account_mrr_bridge"
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
    def account_health_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh, "marts/account_health", month, {"health": repr(cfg.health)},
            ["marts/account_monthly", "staging/health_overrides"],
        )
        built = inputs.unchanged(wh, cfg.recompute_unchanged)
        schema = account_health_schema(cfg.health)
        if built is not None:
            health = read_months(wh, "marts.account_health", month, schema)
            context.log.info("account_health: inputs unchanged since the last build of this month; rows kept")
        else:
            monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
            overrides = read_staging(wh, "health_overrides")
            health = account_health(monthly, overrides, cfg.health).cast(schema)
            del monthly
            write_months(wh, "marts.account_health", health, month, inputs)
            record_rewritten_months(context, health, month)
        yield MaterializeResult(
            metadata={**_month_meta(health, month), "recomputed": built is None, **health_metadata(health, month)}
        )
        yield checks.check_score_range(health, "score_in_range")
        yield checks.check_change_split(
            health, [f"{m.name}_change" for m in cfg.health.measures], "change_split_adds_up"
        )
        yield checks.check_unique(health, ["account_id", "month"], "one_row_per_account_month")

    @asset(
        key=PORTFOLIO_MONTHLY_KEY,
        check_specs=specs(
            PORTFOLIO_MONTHLY_KEY,
            ("mrr_bridge", "Per grouping and month: mrr_end = mrr_start + new + reactivation + expansion - contraction - churn, to the cent."),
            ("one_row_per_group_month", "No two rows share month, grouping and group_value."),
        ),
        deps=[ACCOUNT_MONTHLY_KEY, ACCOUNT_HEALTH_KEY],
        description=(
            "One row per month and grouping (all, tier, segment, account manager): MRR bridge, "
            "customers, logo retention, NRR/GRR over 1 and 12 months, ARPA, churn rate, LTV, "
            "pooled NPS/CSAT and health band counts."
        ),
        **common,
    )
    def portfolio_monthly_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh, "marts/portfolio_monthly", month, {"gross_margin": cfg.gross_margin},
            # the first billing month comes from staged subscriptions and invoices
            ["marts/account_monthly", "marts/account_health", "staging/subscriptions", "staging/invoices"],
        )
        built = inputs.unchanged(wh, cfg.recompute_unchanged)
        if built is not None:
            frame = read_months(wh, "marts.portfolio_monthly", month, PORTFOLIO_MONTHLY)
            context.log.info("portfolio_monthly: inputs unchanged since the last build of this month; rows kept")
        else:
            monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
            health = wh.table("marts.account_health", where_month_le=month)
            first = wh.query("marts/first_billing_month")["first_month"][0]
            frame = portfolio_monthly(
                monthly,
                None if health.is_empty() else health,
                gross_margin=cfg.gross_margin,
                first_billing_month=first,
            ).cast(PORTFOLIO_MONTHLY)
            del monthly, health
            write_months(wh, "marts.portfolio_monthly", frame, month, inputs)
            record_rewritten_months(context, frame, month)
        total = frame.filter((pl.col("month") == month) & (pl.col("grouping") == "all"))
        yield MaterializeResult(
            metadata={
                **_month_meta(frame, month),
                "recomputed": built is None,
                "summary": md_record(
                    total.select(
                        "mrr_start", "mrr_end", "customers_end", "nrr_1m", "grr_1m",
                        "nrr_12m", "grr_12m", "logo_retention_12m", "arpa", "ltv",
                    )
                ),
            }
        )
        yield checks.check_bridge(
            frame, start="mrr_start", end="mrr_end", keys=["month", "grouping", "group_value"], name="mrr_bridge"
        )
        yield checks.check_unique(frame, ["month", "grouping", "group_value"], "one_row_per_group_month")

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
