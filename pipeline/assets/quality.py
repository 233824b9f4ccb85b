"""The data-quality report: every quarantined value, for the person who fixes the exports."""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipeline.assets.ingest import OWNERS
from pipeline.assets.marts import ACCOUNT_MONTHLY_KEY, reporting_month
from pipeline.contract import SOURCES
from pipeline.metadata import md
from pipeline.reporting.quality import build_context, source_summary
from pipeline.store.pack_inputs import table_stats
from pipeline.files import atomic_write
from pipeline.resources.renderer.worker import TEMPLATES_DIR, make_environment
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource


def source_counts(wh: Warehouse) -> pl.DataFrame:
    """Rows loaded (raw) and staged per source, 0 for a source never loaded."""
    with wh.connect() as con:
        stats = table_stats(con)
    return stats.select(
        "source",
        pl.col("raw_rows").fill_null(0).cast(pl.Int64).alias("rows_in"),
        pl.col("staging_rows").fill_null(0).cast(pl.Int64).alias("rows_staged"),
    )


def build_quality_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    @asset(
        key=AssetKey("data_quality_report"),
        group_name="reports",
        kinds={"html", "duckdb"},
        owners=OWNERS,
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=[AssetKey(["staging", s.name]) for s in SOURCES] + [ACCOUNT_MONTHLY_KEY],
        description=(
            "An HTML page (reports/YYYY-MM/data-quality.html) listing every quarantined value "
            "with file, row, column, value and reason, plus a CSV of the same rows, for the "
            "person who fixes the exports."
        ),
    )
    def data_quality_report(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ) -> MaterializeResult:
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        quarantine = wh.query("ops/quarantine_all")
        counts = source_counts(wh)
        page = build_context(
            month=month,
            generated_at=datetime.now(UTC),
            counts=counts,
            quarantine=quarantine,
            company_name=cfg.branding.company_name,
        )
        html = make_environment(TEMPLATES_DIR).get_template("ops/data_quality.html").render(**page)
        folder = cfg.reports_dir / f"{month:%Y-%m}"
        html_path, csv_path = folder / "data-quality.html", folder / "quarantine.csv"
        atomic_write([(html_path, html.encode("utf-8")), (csv_path, quarantine.write_csv().encode("utf-8"))])
        summary = source_summary(counts, quarantine)
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(html_path)),
                "csv": MetadataValue.path(str(csv_path)),
                "rows_quarantined": int(summary["rows_quarantined"].sum()),
                "problems": quarantine.height,
                "by_source": md(summary.select("source", "rows_in", "rows_staged", "rows_quarantined", "problems"), 20),
            }
        )

    return [data_quality_report]
