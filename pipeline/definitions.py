"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Built by a function at code-location load time (not import time), because the monthly
partitions start at a setting (PIPELINE_FIRST_MONTH) read from the environment.
"""

from __future__ import annotations

import warnings

import dagster as dg

from pipeline.assets.delivery import build_approval_job, build_delivery_assets, build_resend_job
from pipeline.assets.ingest import build_raw_assets
from pipeline.assets.leadership import build_leadership_assets
from pipeline.assets.marts import build_mart_assets
from pipeline.assets.quality import build_quality_assets
from pipeline.assets.reports import build_report_assets
from pipeline.assets.staging import build_staging_assets
from pipeline.jobs import INGEST, MONTHLY_CLOSE, build_jobs
from pipeline.partitions import monthly_partitions
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.schedules import build_schedules
from pipeline.sensors import build_sensors
from pipeline.settings import Settings, load_settings

# Single-run backfills (one run computes a range of months) are a beta parameter in
# Dagster 1.13; every partitioned asset relies on it on purpose.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def build_definitions(settings: Settings, executor: dg.ExecutorDefinition = dg.in_process_executor) -> dg.Definitions:
    """``executor``: in-process by default, measured faster for this job than a process
    per step (``pipeline bench`` times both)."""
    partitions = monthly_partitions(settings.first_month, settings.timezone)
    jobs = {job.name: job for job in build_jobs()}
    assets = [
        *build_raw_assets(),
        *build_staging_assets(),
        *build_mart_assets(partitions),
        *build_quality_assets(partitions),
        *build_report_assets(partitions),
        *build_delivery_assets(partitions),
        *build_leadership_assets(partitions),
    ]
    return dg.Definitions(
        assets=assets,
        jobs=[*jobs.values(), build_approval_job(), build_resend_job()],
        schedules=build_schedules(jobs[MONTHLY_CLOSE], settings),
        sensors=build_sensors(jobs[INGEST], settings),
        resources={
            "warehouse": WarehouseResource(),
            "settings": SettingsResource(),
            "renderer": RendererResource(),
            "mailer": MailerResource(),
        },
        executor=executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
