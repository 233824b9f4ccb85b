"""The monthly close: on a set day and hour, materialize the month that just ended."""

from __future__ import annotations

import dagster as dg

from pipeline.settings import Settings


def build_schedules(monthly_close: dg.UnresolvedAssetJobDefinition, settings: Settings) -> list:
    return [
        dg.build_schedule_from_partitioned_job(
            monthly_close,
            name="monthly_close_schedule",
            description=(
                f"On day {settings.close_day_of_month} of each month at {settings.close_hour:02d}:00 "
                f"({settings.timezone}): load new files, rebuild staging, compute the previous "
                "month's marts, render and deliver its reports."
            ),
            day_of_month=settings.close_day_of_month,
            hour_of_day=settings.close_hour,
            minute_of_hour=0,
            default_status=(
                dg.DefaultScheduleStatus.RUNNING if settings.automation_running else dg.DefaultScheduleStatus.STOPPED
            ),
        )
    ]
