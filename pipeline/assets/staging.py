"""Staging assets: typed, validated, latest version per key; rejects go to quarantine."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipeline.assets.ingest import OWNERS, raw_key
from pipeline.checks import check_quarantine_rate, check_unique
from pipeline.contract import SOURCES, Source
from pipeline.contract import source as source_by_name
from pipeline.metadata import md
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.store.loading import top_reasons
from pipeline.store.staging import stage
from pipeline.transforms.matching import account_lookups


def staging_key(source: Source) -> AssetKey:
    return AssetKey(["staging", source.name])


def build_staging_asset(source: Source) -> AssetsDefinition:
    # The staged tables it checks references against, and those a vendor record's account is
    # looked up in (crm/account_aliases; the contacts for survey responses).
    refs = sorted(
        ({c.references.split(".")[0] for c in source.columns if c.references} | set(account_lookups(source)))
        - {source.name}
    )
    deps = [raw_key(source)] + [staging_key(source_by_name(r)) for r in refs]
    check_name = "rows_balance"

    @asset(
        key=staging_key(source),
        group_name="staging",
        kinds={"duckdb", "polars"},
        owners=OWNERS,
        deps=deps,
        check_specs=[
            AssetCheckSpec(
                check_name,
                asset=staging_key(source),
                description="Rows in = rows staged + rows quarantined + older versions superseded.",
            ),
            AssetCheckSpec(
                "one_row_per_key",
                asset=staging_key(source),
                description=f"No two staged rows share the key ({', '.join(source.key)}).",
                blocking=True,
            ),
            AssetCheckSpec(
                "quarantine_rate",
                asset=staging_key(source),
                description="Share of this source's rows in quarantine is at most PIPELINE_QUARANTINE_RATE_THRESHOLD.",
            ),
        ],
        description=(
            f"{source.description} Typed per the contract, codes lower-case, the latest "
            f"version of each key ({', '.join(source.key)}) from all loaded files. Rows that "
            "break the contract are in ops.quarantine with file, row, column and reason."
        ),
    )
    def _staging(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        wh, cfg = warehouse.get(), settings.get()
        result = stage(wh, source, recompute=cfg.recompute_unchanged)
        rate = result.rows_quarantined / result.rows_in if result.rows_in else 0.0
        if result.skipped:
            context.log.info(f"staging/{source.name}: inputs unchanged since the last rebuild; table kept")
        preview = wh.query_table_head(f"staging.{source.name}", 5)
        if result.rows_quarantined:
            context.log.warning(f"{result.rows_quarantined} {source.name} row(s) quarantined; see ops.quarantine")
        balanced = result.rows_in == result.rows_staged + result.rows_quarantined + result.rows_superseded
        yield MaterializeResult(
            metadata={
                "rows_in": result.rows_in,
                "rows_staged": result.rows_staged,
                "rows_quarantined": result.rows_quarantined,
                "rows_superseded": result.rows_superseded,
                "quarantine_rate": MetadataValue.float(round(rate, 6)),
                "top_quarantine_reasons": md(top_reasons(wh, source.name, "staging")),
                "recomputed": not result.skipped,
                "preview": md(preview.drop("_loaded_at", strict=False)),
                "dagster/row_count": result.rows_staged,
            },
        )
        yield AssetCheckResult(
            check_name=check_name,
            passed=balanced,
            metadata={
                "rows_in": result.rows_in,
                "staged + quarantined + superseded": result.rows_staged
                + result.rows_quarantined
                + result.rows_superseded,
            },
        )
        # result.frame: the stored rows whose key repeats (pipeline.store.staging.repeated_keys)
        yield check_unique(result.frame, list(source.key), "one_row_per_key")
        yield check_quarantine_rate(
            result.rows_in, result.rows_quarantined, cfg.quarantine_rate_threshold, "quarantine_rate"
        )

    return _staging


def build_staging_assets() -> list[AssetsDefinition]:
    return [build_staging_asset(s) for s in SOURCES]
