"""Monthly partitions: a month is the unit of the close, the reports and backfills."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from dagster import AssetExecutionContext, AssetMaterialization, MonthlyPartitionsDefinition


def monthly_partitions(first_month: date, timezone: str = "UTC") -> MonthlyPartitionsDefinition:
    """Months from the first month of data to the last complete month (end_offset=0)."""
    return MonthlyPartitionsDefinition(start_date=first_month.strftime("%Y-%m-%d"), end_offset=0, timezone=timezone)


def month_of_partition(partition_key: str) -> date:
    """'2024-03-01' (Dagster's monthly key) → date(2024, 3, 1)."""
    return date.fromisoformat(partition_key[:10])


def reporting_month(context: AssetExecutionContext) -> date:
    """The partition's month; for a single-run backfill of a range, its last month."""
    if context.has_partition_key_range:
        return month_of_partition(context.partition_key_range.end)
    return month_of_partition(context.partition_key)


def record_rewritten_months(context: AssetExecutionContext, rows_per_month: Mapping[date, int], month: date) -> None:
    """Mark the earlier months this run rewrote as materialized partitions too.

    A run for month M replaces every month up to M, so those partitions do hold current
    data; without these events the UI would show them as missing.
    """
    partitions = context.assets_def.partitions_def
    if partitions is None or not rows_per_month:
        return
    # Months of this run's own partition (range) are recorded by Dagster itself.
    first_of_run = month_of_partition(context.partition_key_range.start) if context.has_partition_key_range else month
    valid = set(partitions.get_partition_keys())
    for m in sorted(rows_per_month):
        key = m.strftime("%Y-%m-%d")
        if m < first_of_run and key in valid:
            context.log_event(
                AssetMaterialization(
                    asset_key=context.asset_key,
                    partition=key,
                    metadata={"rewritten_by_partition": month.isoformat(), "rows": rows_per_month[m]},
                )
            )


PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_covers_partition(tags: dict[str, str], partition_key: str) -> bool:
    """Whether a run with these tags ran this partition: as its own partition, or inside
    the range of a single-run backfill."""
    if tags.get(PARTITION_TAG) == partition_key:
        return True
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    return bool(start and end and start <= partition_key <= end)
