"""The landing-folder sensor: new or changed files start an ingestion run.

The cursor is the set of file content hashes already requested, so the same file
(even renamed or touched) never starts a second run; files the warehouse has already
loaded (ops.loads) are skipped too when the warehouse can be read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipeline.contract import SOURCES
from pipeline.landing import discover
from pipeline.settings import Settings, load_settings


def landing_hashes(landing_dir: Path) -> dict[str, str]:
    """{content hash: 'folder/file name'} of every landing file of every source."""
    out: dict[str, str] = {}
    for source in SOURCES:
        for f in discover(landing_dir, source):
            out.setdefault(f.sha256, f"{source.folder}/{f.name}")
    return out


def loaded_hashes(warehouse_path: Path) -> set[str]:
    """Hashes in ops.loads, or nothing when the warehouse is absent or busy."""
    if not warehouse_path.exists():
        return set()
    try:
        import duckdb

        con = duckdb.connect(str(warehouse_path), read_only=True)
        try:
            return {r[0] for r in con.execute("SELECT file_hash FROM ops.loads").fetchall()}
        finally:
            con.close()
    except Exception:  # locked by a running job, or not bootstrapped yet
        return set()


def new_files(current: dict[str, str], seen: set[str]) -> dict[str, str]:
    return {h: name for h, name in current.items() if h not in seen}


def evaluate_landing(settings: Settings, cursor: str | None) -> tuple[dg.RunRequest | None, str, list[str]]:
    """(run request or None, new cursor, new file names): the sensor's logic, testable alone."""
    seen = set(json.loads(cursor)) if cursor else set()
    current = landing_hashes(settings.landing_dir)
    fresh = new_files(current, seen | loaded_hashes(settings.warehouse_path))
    new_cursor = json.dumps(sorted(seen | set(current)))
    if not fresh:
        return None, new_cursor, []
    run_key = hashlib.sha256("".join(sorted(fresh)).encode()).hexdigest()[:16]
    names = sorted(fresh.values())
    request = dg.RunRequest(
        run_key=f"landing-{run_key}",
        tags={"pipeline/trigger": "landing_sensor", "pipeline/new_files": str(len(names))},
    )
    return request, new_cursor, names


def build_sensors(ingest_job: dg.UnresolvedAssetJobDefinition, settings: Settings) -> list:
    @dg.sensor(
        name="landing_folder_sensor",
        job=ingest_job,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if settings.automation_running else dg.DefaultSensorStatus.STOPPED
        ),
        description="Starts an ingestion run when new or changed files arrive in the landing folder.",
    )
    def landing_folder_sensor(context: dg.SensorEvaluationContext):
        request, cursor, names = evaluate_landing(load_settings(), context.cursor)
        context.update_cursor(cursor)
        if request is None:
            return dg.SkipReason("No new landing files.")
        context.log.info(f"New landing files: {', '.join(names)}")
        return request

    return [landing_folder_sensor]
