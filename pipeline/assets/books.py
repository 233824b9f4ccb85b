"""The manager_books asset: each account manager's book of business (HTML + PDF) for a
month, and the check that every manager with accounts has one.

Thin: the work is ``pipeline.publish.manager_books.produce_manager_books`` (context
building, change detection, manifest) and the renderer resource, the same warm pool (or
render cluster) as the client reports. The e-mails are ``manager_book_deliveries``
(``pipeline.assets.delivery``).
"""

import polars as pl
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
    asset_check,
)

from pipeline.assets.alerts import ACCOUNT_ALERTS_KEY, ACCOUNT_GOALS_KEY, CROSS_SELL_IDEAS_KEY
from pipeline.assets.marts import ACCOUNT_HEALTH_KEY, ACCOUNT_MONTHLY_KEY
from pipeline.assets.reports import OWNERS, partition_months
from pipeline.metadata import md
from pipeline.publish.manager_books import BooksSummary, book_coverage, produce_manager_books
from pipeline.resources.config import SettingsResource
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.warehouse import WarehouseResource

MANAGER_BOOKS_KEY = AssetKey("manager_books")
BOOKS_CHECK = "every_manager_with_accounts_has_a_book"


def _manifest_markdown(summary: BooksSummary, limit: int = 25) -> str:
    if not summary.rows:
        return "_no manager has an account this month_"
    frame = pl.DataFrame(
        [
            {
                "manager": r["account_id"],
                "status": r["status"],
                "pages": r.get("pages"),
                "pdf": r.get("pdf_path") or r.get("error"),
            }
            for r in summary.rows
        ]
    )
    return str(md(frame, limit).value)


def build_book_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    @asset(
        key=MANAGER_BOOKS_KEY,
        group_name="reports",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=[ACCOUNT_ALERTS_KEY, CROSS_SELL_IDEAS_KEY, ACCOUNT_GOALS_KEY, ACCOUNT_MONTHLY_KEY, ACCOUNT_HEALTH_KEY],
        kinds={"python", "pdf", "html"},
        owners=OWNERS,
        description=(
            "Each account manager's book of business for the month (HTML + PDF in "
            "reports/YYYY-MM/managers/<manager>/book-YYYY-MM.*): what changed, the new alerts worst first, "
            "their accounts by health band with MRR, change and drivers, renewals in the next 90 days, goals "
            "behind or missed, accounts gone quiet and cross-sell ideas; only that manager's accounts. "
            "Recorded in ops.report_manifest (kind manager_book); unchanged books are not rendered again."
        ),
    )
    def manager_books(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: SettingsResource,
        renderer: RendererResource,
    ) -> MaterializeResult:
        s = settings.get()
        pool = renderer.get(s.render_workers, s.render_cluster)
        summaries = [
            produce_manager_books(warehouse.get(), s, month, pool, run_id=context.run.run_id)
            for month in partition_months(context)
        ]
        for summary in summaries:
            for manager_id, error in summary.failures:
                context.log.error(f"book of business of {manager_id} for {summary.period} failed: {error}")
            for url in summary.refused_urls:
                context.log.warning(f"the renderer refused to fetch {url[:200]}")
        last = summaries[-1]
        return MaterializeResult(
            metadata={
                "books_due": sum(x.due for x in summaries),
                "books_rendered": sum(x.rendered for x in summaries),
                "books_unchanged": sum(x.unchanged for x in summaries),
                "failures": sum(x.failed for x in summaries),
                "pages": sum(x.pages for x in summaries),
                "seconds": MetadataValue.float(round(sum(x.wall_seconds for x in summaries), 3)),
                "books_folder": MetadataValue.path(str(s.reports_dir / last.period / "managers")),
                "manifest": MetadataValue.md(_manifest_markdown(last)),
            }
        )

    return [manager_books, every_manager_with_accounts_has_a_book]


@asset_check(
    asset=MANAGER_BOOKS_KEY,
    name=BOOKS_CHECK,
    blocking=True,
    description=(
        "Every manager with an account in the month's marts has a book in ops.report_manifest, rendered or "
        "unchanged. A failed or missing book holds back the month's e-mails to managers."
    ),
)
def every_manager_with_accounts_has_a_book(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
) -> AssetCheckResult:
    s = settings.get()
    coverage = [book_coverage(warehouse.get(), s, month) for month in partition_months(context)]
    missing = pl.concat([c.missing.select(pl.lit(c.period).alias("period"), pl.all()) for c in coverage])
    return AssetCheckResult(
        passed=missing.is_empty(),
        metadata={
            "due": sum(c.due for c in coverage),
            "with_book": sum(c.with_book for c in coverage),
            "missing": missing.height,
            "threshold": 0,
            "examples": md(missing.rename({"account_id": "manager_id"})),
        },
    )
