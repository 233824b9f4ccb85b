"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources.

Built by a function at code-location load time (not import time), because the monthly
partitions start at a setting (PIPELINE_FIRST_MONTH) read from the environment.
"""

from __future__ import annotations

import warnings

import dagster as dg

from pipeline.assets.alerts import build_alert_assets
from pipeline.assets.backups import build_snapshot_assets
from pipeline.assets.books import build_book_assets
from pipeline.assets.delivery import build_delivery_assets
from pipeline.assets.forecast import build_forecast_assets
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
from pipeline.sensors import build_alert_sensors, build_sensors
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
        *build_forecast_assets(partitions),
        *build_alert_assets(partitions),
        *build_quality_assets(partitions),
        *build_report_assets(partitions),
        *build_book_assets(partitions),
        *build_delivery_assets(partitions),
        *build_leadership_assets(partitions),
    ]
    assets += build_snapshot_assets(partitions, after=leaf_assets(assets))
    return dg.Definitions(
        assets=assets,
        jobs=list(jobs.values()),
        schedules=build_schedules(jobs[MONTHLY_CLOSE], settings),
        sensors=[*build_sensors(jobs[INGEST], settings), *build_alert_sensors(settings)],
        resources={
            "warehouse": WarehouseResource(),
            "settings": SettingsResource(),
            "renderer": RendererResource(),
            "mailer": MailerResource(),
        },
        executor=executor,
    )


def leaf_assets(assets: list) -> list[dg.AssetKey]:
    """The assets nothing else depends on: the last steps of a close (the snapshot waits for them)."""
    keys: set[dg.AssetKey] = set()
    upstream: set[dg.AssetKey] = set()
    for a in assets:
        if isinstance(a, dg.AssetsDefinition) and not isinstance(a, dg.AssetChecksDefinition):
            keys |= set(a.keys)
            for deps in a.asset_deps.values():
                upstream |= set(deps)
    return sorted(keys - upstream, key=lambda k: k.to_user_string())


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_settings())
