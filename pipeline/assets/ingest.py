"""Raw assets: one per source, loading new landing files as delivered, with lineage."""

from datetime import UTC, datetime
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.checks import check_freshness
from pipeline.contract import SOURCES, Source
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.store.loading import load_new_files

OWNERS = ["team:data-platform"]


def raw_key(source: Source) -> AssetKey:
    return AssetKey(["raw", source.name])


def build_raw_asset(source: Source) -> AssetsDefinition:
    @asset(
        key=raw_key(source),
        group_name="ingest",
        kinds={"csv", "duckdb"},
        owners=OWNERS,
        check_specs=[
            AssetCheckSpec(
                "fresh",
                asset=raw_key(source),
                description="The newest landing file of this source is no older than PIPELINE_FRESHNESS_DAYS.",
            )
        ],
        description=(
            f"{source.description} Every new file landing/{source.folder}/{source.glob}, and every "
            "vendor export an export profile reads for it under landing/<system>/, appended as "
            "delivered (all text), with file, row and load time; a file is loaded once, identified "
            "by its content hash."
        ),
    )
    def _raw(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        cfg = settings.get()
        report = load_new_files(
            warehouse.get(),
            cfg.landing_dir,
            source,
            run_id=context.run.run_id,
            profiles=cfg.profiles,
            zip_limits=cfg.zip_limits,
        )
        metadata: dict[str, Any] = {
            "files_seen": report.files_seen,
            "files_loaded": len(report.files_loaded),
            "files_already_loaded": len(report.files_skipped),
            "rows_loaded": report.rows_loaded,
            "loaded": MetadataValue.json(report.files_loaded),
        }
        if report.rows_filtered:
            metadata["rows_left_out_by_profile_filters"] = MetadataValue.json(report.rows_filtered)
        if report.extra_columns:
            metadata["ignored_columns"] = MetadataValue.json(report.extra_columns)
            context.log.warning(f"Ignored columns not in the contract: {report.extra_columns}")
        if report.errors:
            raise Failure(
                description="\n".join(report.errors),
                metadata=metadata,
            )
        yield MaterializeResult(metadata=metadata)
        yield check_freshness(report.newest_file_at, datetime.now(UTC), cfg.freshness_days, "fresh")

    return _raw


def build_raw_assets() -> list[AssetsDefinition]:
    return [build_raw_asset(s) for s in SOURCES]
