"""The data-quality report: every quarantined value, for the person who fixes the exports.

Thin: the work is ``pipeline.publish.quality_report.produce_quality_report``.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipeline.assets.ingest import OWNERS
from pipeline.assets.marts import ACCOUNT_MONTHLY_KEY
from pipeline.contract import SOURCES
from pipeline.metadata import md
from pipeline.partitions import reporting_month
from pipeline.publish.quality_report import produce_quality_report
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource


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
        report = produce_quality_report(warehouse.get(), settings.get(), reporting_month(context))
        return MaterializeResult(
            metadata={
                "path": MetadataValue.path(str(report.html_path)),
                "csv": MetadataValue.path(str(report.csv_path)),
                "rows_quarantined": report.rows_quarantined,
                "problems": report.problems,
                "by_source": md(
                    report.summary.select("source", "rows_in", "rows_staged", "rows_quarantined", "problems"), 20
                ),
            }
        )

    return [data_quality_report]
