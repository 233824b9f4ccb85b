"""The client_reports asset: each client's periodic report (HTML + PDF) for a month.

Thin: the work is ``pipeline.publish.client_reports.produce_client_reports`` (context
building, change detection, manifest) and the renderer resource (a pool of warm
WeasyPrint workers).
"""

from datetime import date

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
)

from pipeline.partitions import month_of_partition
from pipeline.publish.client_reports import ClientReportsSummary, produce_client_reports
from pipeline.resources.config import SettingsResource
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.warehouse import WarehouseResource

OWNERS = ["team:account-management"]
CLIENT_REPORTS_KEY = AssetKey("client_reports")
UPSTREAM = (
    AssetKey(["marts", "account_monthly"]),
    AssetKey(["marts", "account_health"]),
    # "Goals we agreed" and "Looking ahead"
    AssetKey(["marts", "account_goals"]),
    AssetKey(["marts", "account_forecast"]),
)


def partition_months(context: AssetExecutionContext | AssetCheckExecutionContext) -> list[date]:
    """The run's months: one partition, or every month of a single-run backfill range."""
    if context.has_partition_key_range:
        return [month_of_partition(k) for k in context.partition_keys]
    return [month_of_partition(context.partition_key)]


def _manifest_markdown(summary: ClientReportsSummary, limit: int = 25) -> str:
    lines = ["| account | period | status | pages | seconds | pdf |", "|---|---|---|---|---|---|"]
    for r in summary.rows[:limit]:
        cell = lambda v: ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")[:60]  # noqa: E731
        lines.append(
            f"| {cell(r['account_id'])} | {cell(r['period_key'])} | {cell(r['status'])} | {cell(r.get('pages'))} "
            f"| {cell(r.get('render_seconds'))} | {cell(r.get('pdf_path') or r.get('error'))} |"
        )
    if len(summary.rows) > limit:
        lines.append(f"\n_{len(summary.rows) - limit} more in ops.report_manifest_")
    return "\n".join(lines) if summary.rows else "_no client is due a report this month_"


def build_report_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    @asset(
        key=CLIENT_REPORTS_KEY,
        group_name="reports",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=list(UPSTREAM),
        kinds={"python", "pdf", "html"},
        owners=OWNERS,
        description=(
            "Per-client periodic reports (HTML + PDF) for the month, on each account's cadence "
            "(monthly, or quarterly in March, June, September and December). Files under "
            "reports/YYYY-MM/clients/<account>/; one row per report in ops.report_manifest. "
            "Only clients whose inputs or templates changed since the last run are re-rendered."
        ),
    )
    def client_reports(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: SettingsResource,
        renderer: RendererResource,
    ) -> MaterializeResult:
        s = settings.get()
        wh = warehouse.get()
        pool = renderer.get(s.render_workers, s.render_cluster)
        summaries = [
            produce_client_reports(wh, s, month, pool, run_id=context.run.run_id) for month in partition_months(context)
        ]
        for summary in summaries:
            for account_id, error in summary.failures:
                context.log.error(f"client report of {account_id} for {summary.period} failed: {error}")
            for url in summary.refused_urls:
                context.log.warning(f"the renderer refused to fetch {url[:200]}")
        rendered = sum(x.rendered for x in summaries)
        seconds = [t for x in summaries for t in x.render_seconds]
        wall = sum(x.wall_seconds for x in summaries)
        last = summaries[-1]
        return MaterializeResult(
            metadata={
                "reports_due": sum(x.due for x in summaries),
                "reports_rendered": rendered,
                "reports_unchanged": MetadataValue.int(sum(x.unchanged for x in summaries)),
                "failures": sum(x.failed for x in summaries),
                "pages": sum(x.pages for x in summaries),
                "seconds_per_report": MetadataValue.float(
                    round(sorted(seconds)[len(seconds) // 2], 3) if seconds else 0.0
                ),
                "wall_seconds_per_report": MetadataValue.float(round(wall / rendered, 3) if rendered else 0.0),
                "render_workers": pool.workers,
                "reports_folder": MetadataValue.path(str(s.reports_dir / last.period / "clients")),
                "manifest": MetadataValue.md(_manifest_markdown(last)),
            }
        )

    return [client_reports]
