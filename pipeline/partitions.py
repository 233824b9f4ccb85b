"""Monthly partitions: a month is the unit of the close, the reports and backfills."""

from __future__ import annotations

from datetime import date

from dagster import MonthlyPartitionsDefinition


def monthly_partitions(first_month: date, timezone: str = "UTC") -> MonthlyPartitionsDefinition:
    """Months from the first month of data to the last complete month (end_offset=0)."""
    return MonthlyPartitionsDefinition(
        start_date=first_month.strftime("%Y-%m-%d"), end_offset=0, timezone=timezone
    )


def month_of_partition(partition_key: str) -> date:
    """'2024-03-01' (Dagster's monthly key) → date(2024, 3, 1)."""
    return date.fromisoformat(partition_key[:10])


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
