"""The leadership_pack asset: the monthly account health pack (HTML + PDF) for leadership.

Thin: the work is ``pipeline.publish.leadership_pack.produce_leadership_pack`` and the
renderer resource. The asset adds what only Dagster knows: the latest evaluation, for
the month, of every asset check on the pack's upstream data, handed to the pack's
data-quality appendix.
"""

from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    BoolMetadataValue,
    FloatMetadataValue,
    IntMetadataValue,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TextMetadataValue,
    asset,
)

from pipeline.partitions import PARTITION_TAG, month_of_partition, run_covers_partition
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
)
HISTORY = 50  # evaluations read per check when looking for this month's

# Metadata that depends on when a check ran rather than on the data (a file's age): left
# out of the pack, or every rerun would change the pack and send it again.
VOLATILE_METADATA = frozenset({"newest_file_age_days"})


def _detail(metadata: dict[str, Any]) -> str:
    """The measured values of a check's metadata in one line (tables, markdown and
    values that only say when the check ran left out)."""
    parts = []
    for name, value in metadata.items():
        if name in VOLATILE_METADATA:
            continue
        if isinstance(value, FloatMetadataValue) and value.value is not None:
            parts.append(f"{name.replace('_', ' ')} {value.value:g}")
        elif isinstance(value, (IntMetadataValue, BoolMetadataValue)):
            parts.append(f"{name.replace('_', ' ')} {value.value}")
        elif isinstance(value, TextMetadataValue) and len(value.value) <= 40 and "\n" not in value.value:
            parts.append(f"{name.replace('_', ' ')} {value.value}")
    return " · ".join(parts)


def _asset_graph(context: AssetExecutionContext):
    """Every asset (and check) of the code location, also when the run selected a subset.

    A run launched from the UI or a schedule knows its code location; a run executed in
    process (``pipeline run``, tests) does not, so the graph of the job the run's
    selection was cut from is used instead.
    """
    try:
        return context.repository_def.asset_graph
    except Exception:  # noqa: BLE001 - Dagster raises a CheckError when no code location is set
        job = context.job_def
        while getattr(job, "asset_selection_data", None) is not None:
            job = job.asset_selection_data.parent_job_def
        return job.asset_layer.asset_graph


def latest_check_results(context: AssetExecutionContext, partition_key: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The latest evaluation, for this month, of every asset check on the data the pack is
    built from (the pack's upstream assets: ingest, staging and the marts).

    Checks on assets downstream or beside the pack (client reports, deliveries) are left
    out: in a monthly close they may run after the pack, so the pack would read last
    run's results the second time and change (and be sent again) for no new data. A check on a partitioned asset counts when its evaluation is for this partition (its
    own partition, or the run's partition tags); a check on an unpartitioned asset
    (staging) counts whatever run evaluated it last. Returns (rows, None), or
    (None, why) when the instance cannot be read.
    """
    try:
        from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

        graph = _asset_graph(context)
        instance = context.instance
        storage = instance.event_log_storage
        run_tags: dict[str, dict[str, str]] = {}
        rows = []
        upstream = graph.get_ancestor_asset_keys(LEADERSHIP_PACK_KEY)
        keys = [k for k in graph.asset_check_keys if k.asset_key in upstream]
        for key in sorted(keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
            partitioned = graph.get(key.asset_key).partitions_def is not None
            row = {
                "asset": key.asset_key.to_user_string(), "check": key.name, "status": "not run",
                "severity": "", "detail": "", "run_month": None,
            }
            for record in storage.get_asset_check_execution_history(key, limit=HISTORY):
                if record.status == AssetCheckExecutionRecordStatus.PLANNED or record.event is None:
                    continue
                evaluation = record.event.dagster_event.asset_check_evaluation_data
                if record.run_id not in run_tags:
                    run = instance.get_run_by_id(record.run_id)
                    run_tags[record.run_id] = dict(run.tags) if run else {}
                tags = run_tags[record.run_id]
                if partitioned:
                    if evaluation.partition is not None and evaluation.partition != partition_key:
                        continue
                    if evaluation.partition is None and not run_covers_partition(tags, partition_key):
                        continue
                row.update(
                    status="passed" if evaluation.passed else "failed",
                    severity=evaluation.severity.value if evaluation.severity else "",
                    detail=_detail(dict(evaluation.metadata or {})),
                    run_month=(tags.get(PARTITION_TAG) or "")[:7] or None,
                )
                break
            rows.append(row)
        return rows, None
    except Exception as exc:  # noqa: BLE001 - the pack says the results were unavailable, and why
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"


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
            "need attention with their managers, tables by tier, segment and manager, and a "
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
            checks, note = latest_check_results(context, partition_key)
            if checks is None:
                context.log.warning(f"asset check results unavailable for the {partition_key[:7]} pack: {note}")
            result = produce_leadership_pack(
                warehouse.get(), s, month_of_partition(partition_key), renderer.get(s.render_workers),
                checks, note, run_id=context.run.run_id,
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
