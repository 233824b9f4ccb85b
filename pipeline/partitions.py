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
