"""The leadership_pack asset: the monthly account health pack (HTML + PDF) for leadership.

Thin: the work is ``pipeline.publish.leadership_pack.produce_leadership_pack`` and the
renderer resource. The asset adds what only Dagster knows: the latest evaluation, for
the month, of every asset check on the pack's upstream data
(``pipeline.check_history.upstream_check_results``), handed to the pack's data-quality
appendix.
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

from pipeline.check_history import upstream_check_results
from pipeline.partitions import month_of_partition
from pipeline.publish.leadership_pack import produce_leadership_pack
from pipeline.resources.config import SettingsResource
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.warehouse import WarehouseResource

LEADERSHIP_PACK_KEY = AssetKey("leadership_pack")
OWNERS = ["team:account-management"]
UPSTREAM = (
    AssetKey(["marts", "portfolio_monthly"]),
    AssetKey(["marts", "account_health"]),
    AssetKey(["marts", "account_monthly"]),
    # the "Looking ahead" page
    AssetKey(["marts", "account_forecast"]),
    AssetKey(["marts", "band_retention"]),
    AssetKey(["marts", "account_goals"]),
)


def build_leadership_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    @asset(
        key=LEADERSHIP_PACK_KEY,
        group_name="reports",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=list(UPSTREAM),
        kinds={"python", "pdf", "html"},
        owners=OWNERS,
        description=(
            "The monthly account health pack for leadership (HTML + PDF in "
            "reports/YYYY-MM/leadership/): the portfolio at a glance with trends, the MRR bridge, "
            "health bands and their migration, whether health predicted churn, the accounts that "
            "need attention with their managers, a looking-ahead page (committed and expected MRR, "
            "the forecast's accuracy, renewals due, weighted pipeline, goals by team), tables by tier, "
            "segment and manager, and a "
            "data-quality appendix with the month's checks on the data it is built from. "
            "Recorded in ops.report_manifest (kind leadership)."
        ),
    )
    def leadership_pack(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: SettingsResource,
        renderer: RendererResource,
    ) -> MaterializeResult:
        s = settings.get()
        keys = list(context.partition_keys) if context.has_partition_key_range else [context.partition_key]
        results = []
        for partition_key in keys:
            checks, note = upstream_check_results(context, LEADERSHIP_PACK_KEY, partition_key)
            if checks is None:
                context.log.warning(f"asset check results unavailable for the {partition_key[:7]} pack: {note}")
            result = produce_leadership_pack(
                warehouse.get(),
                s,
                month_of_partition(partition_key),
                renderer.get(s.render_workers, s.render_cluster),
                checks,
                note,
                run_id=context.run.run_id,
            )
            for url in result.refused_urls:
                context.log.warning(f"the renderer refused to fetch {url[:200]}")
            if result.status == "failed":
                raise RuntimeError(f"The leadership pack for {result.period} failed to render: {result.error}")
            context.log.info(f"leadership pack {result.period}: {result.status}, {result.pages} pages")
            results.append((result, checks))
        result, checks = results[-1]
        return MaterializeResult(
            metadata={
                "status": result.status,
                "months": len(results),
                "pages": result.pages,
                "pdf": MetadataValue.path(str(result.pdf_path)),
                "html": MetadataValue.path(str(result.html_path)),
                "pdf_sha256": result.pdf_sha256 or "",
                "render_seconds": MetadataValue.float(round(result.seconds, 3)),
                "seconds": MetadataValue.float(round(sum(r.wall_seconds for r, _ in results), 3)),
                "checks_read": len(checks) if checks is not None else 0,
                "summary": MetadataValue.md(result.preview),
            }
        )

    return [leadership_pack]
