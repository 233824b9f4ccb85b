"""The warehouse_snapshot asset: the last step of a monthly close.

It depends on every asset nothing else depends on, so it runs only when the whole close
succeeded (a failed step skips it), and keeps a verified snapshot of the warehouse in
``data/backups/`` (``pipeline.store.recovery.snapshot_close``), the newest
``PIPELINE_SNAPSHOT_RETENTION`` of them, and records the close in the ledger.
"""

from collections.abc import Sequence

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

from pipeline.assets.reports import OWNERS, partition_months
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.store.recovery import snapshot_close

WAREHOUSE_SNAPSHOT_KEY = AssetKey("warehouse_snapshot")


def build_snapshot_assets(partitions_def: PartitionsDefinition, after: Sequence[AssetKey]) -> list[AssetsDefinition]:
    """``after``: the assets the snapshot waits for (every leaf of the close, in order)."""

    @asset(
        key=WAREHOUSE_SNAPSHOT_KEY,
        group_name="ops",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=list(dict.fromkeys(after)),
        kinds={"duckdb"},
        owners=OWNERS,
        description=(
            "After a successful monthly close: a checkpointed, verified copy of the warehouse in "
            "data/backups/ with its sha256 (the newest PIPELINE_SNAPSHOT_RETENTION are kept, default 3), and "
            "the close recorded in the ledger. `pipeline restore` puts one back."
        ),
    )
    def warehouse_snapshot(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ) -> MaterializeResult:
        s = settings.get()
        month = partition_months(context)[-1]
        record = snapshot_close(warehouse.get(), s, month, context.run.run_id)
        snap = record.snapshot
        if snap is None:
            context.log.info("PIPELINE_SNAPSHOT_RETENTION is 0: no snapshot kept; the close is recorded in the ledger.")
            return MaterializeResult(metadata={"month": record.month, "snapshot": "none (retention 0)"})
        for name in record.removed:
            context.log.info(f"removed the snapshot {name} (beyond the newest {s.snapshot_retention})")
        return MaterializeResult(
            metadata={
                "month": record.month,
                "snapshot": MetadataValue.path(str(snap.path)),
                "sha256": snap.sha256,
                "bytes": snap.bytes,
                "mib": MetadataValue.float(round(snap.bytes / 1_048_576, 1)),
                "copy_seconds": MetadataValue.float(snap.copy_seconds),
                "verify_seconds": MetadataValue.float(snap.verify_seconds),
                "seconds": MetadataValue.float(round(record.seconds, 3)),
                "kept": s.snapshot_retention,
                "removed": MetadataValue.md("\n".join(f"- {n}" for n in record.removed) or "_none_"),
            }
        )

    return [warehouse_snapshot]
