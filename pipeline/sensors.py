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


def landing_hashes(landing_dir: Path, settings: Settings | None = None) -> dict[str, str]:
    """{content hash: 'folder/file name'} of every landing file of every source, and
    {load identity: export name} of every vendor export the profiles read."""
    out: dict[str, str] = {}
    for source in SOURCES:
        for f in discover(landing_dir, source):
            out.setdefault(f.sha256, f"{source.folder}/{f.name}")
    if settings is not None:
        from pipeline.exports import discover_exports
        from pipeline.landing import LandingFileError
        from pipeline.store.vendor_loading import load_identity

        for profile in settings.profiles:
            for spec in profile.files:
                try:
                    found = discover_exports(landing_dir, profile, spec, settings.zip_limits)
                except LandingFileError:  # a refused archive: the run says why
                    continue
                for e in found:
                    out.setdefault(load_identity(e, profile, spec), e.name)
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
    current = landing_hashes(settings.landing_dir, settings)
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


# ---------------------------------------------------------------- operator alerts

ALERT_TRIGGER_TAGS = (("dagster/schedule_name", "the schedule"), ("dagster/sensor_name", "the sensor"))
PARTITION_TAG = "dagster/partition"


def _innermost(error) -> str:
    """The message of the error that caused a Dagster error (resource and step wrappers
    name only themselves), on one line."""
    err = error
    while (
        err is not None
        and getattr(err, "cause", None) is not None
        and ((err.cls_name or "").startswith("Dagster") or "Dagster" in (err.cls_name or ""))
    ):
        err = err.cause
    text = (getattr(err, "message", "") or "").strip()
    return " ".join(text.split())


def failure_alert(instance: dg.DagsterInstance, run: dg.DagsterRun, failure_event=None):
    """The operator alert for a failed run started by a schedule or a sensor, or None (a
    run an operator started, who saw it fail)."""
    from pipeline.reporting.operator_alerts import FAILED, OperatorAlert

    trigger = next((f"{label} {run.tags[tag]}" for tag, label in ALERT_TRIGGER_TAGS if run.tags.get(tag)), None)
    if trigger is None:
        return None
    steps = []
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        if event is None:
            continue
        data = event.step_failure_data
        if data.user_failure_data is not None and data.user_failure_data.description:
            message = data.user_failure_data.description
        else:
            message = _innermost(data.error) if data.error is not None else ""
        steps.append(((event.step_key or "").replace("__", "/"), message or "failed (see the run in the Dagster UI)"))
    reason = None
    if not steps:  # failed before any step: a resource (the warehouse check) or the run itself
        for entry in instance.all_logs(
            run.run_id, of_type={dg.DagsterEventType.RESOURCE_INIT_FAILURE, dg.DagsterEventType.RUN_FAILURE}
        ):
            error = getattr(entry.dagster_event and entry.dagster_event.event_specific_data, "error", None)
            if error is not None:
                reason = _innermost(error)
                break
        if reason is None and failure_event is not None:
            reason = failure_event.message
        reason = f"the run failed before any step: {reason or 'see the run in the Dagster UI'}"
    partition = run.tags.get(PARTITION_TAG) or ""
    return OperatorAlert(
        run_id=run.run_id,
        job=run.job_name,
        problem=FAILED,
        month=partition[:7] or None,
        trigger=trigger,
        failed_steps=tuple(steps),
        reason=reason,
    )


def build_alert_sensors(settings: Settings) -> list:
    @dg.run_failure_sensor(
        name="operator_alert_sensor",
        minimum_interval_seconds=30,
        default_status=(
            dg.DefaultSensorStatus.RUNNING if settings.operator_recipients else dg.DefaultSensorStatus.STOPPED
        ),
        description=(
            "E-mails PIPELINE_OPERATOR_RECIPIENTS (once per run) when a run started by a schedule or a sensor "
            "fails: the month, the failed step and what to do. Runs by default when recipients are set."
        ),
    )
    def operator_alert_sensor(context: dg.RunFailureSensorContext):
        from pipeline.publish.operator_alerts import send_operator_alert
        from pipeline.resources.mailer import MailerResource
        from pipeline.resources.warehouse import Warehouse

        alert = failure_alert(context.instance, context.dagster_run, context.failure_event)
        if alert is None:
            return dg.SkipReason(f"run {context.dagster_run.run_id} was not started by a schedule or a sensor")
        s = load_settings()
        if not s.operator_recipients:
            return dg.SkipReason("PIPELINE_OPERATOR_RECIPIENTS is empty: nobody to tell")
        outcome = send_operator_alert(Warehouse.from_settings(s), s, MailerResource().get(s), alert)
        for error in outcome.errors:
            context.log.warning(f"operator alert: {error}")
        context.log.info(
            f"operator alert for run {alert.run_id}: sent to {len(outcome.sent)}, "
            f"already sent to {len(outcome.already)}"
        )
        return None

    return [operator_alert_sensor]
