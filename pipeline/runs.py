"""Running the monthly close through Dagster from the command line: the local instance
(``$DAGSTER_HOME``, created with a ``dagster.yaml`` on first use, without compute logs),
the month checks, and ``run_month``, the in-process run that ``pipeline run``,
``backfill``, ``demo`` and ``pipeline bench`` all use.

Errors the operator can fix are ``UserError``s: the CLI prints their message as is.
"""

from __future__ import annotations

import os
import time
import warnings
from datetime import date
from pathlib import Path

DAGSTER_YAML = """\
# Local Dagster instance used by `pipeline run` and `make ui` (see README: Operating it).
telemetry:
  enabled: false
# One run at a time: runs launched from the UI, the schedule or the sensor queue behind
# the one in progress (the warehouse is one DuckDB file with a single writer).
concurrency:
  runs:
    max_concurrent_runs: 1
"""


class UserError(Exception):
    """An error the operator can fix; its message is printed as is."""


def last_complete_month(today: date | None = None) -> date:
    from pipeline.transforms.calendar import add_months, month_start

    return add_months(month_start(today or date.today()), -1)


def parse_month(text: str) -> date:
    try:
        d = date.fromisoformat(text.strip()[:7] + "-01")
    except ValueError:
        raise UserError(f"--month must look like 2024-03 (YYYY-MM); got {text!r}.") from None
    return d


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME, defaulting to .dagster/ in the working directory (what `make ui` serves)."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# Dagster mirrors a run's stdout and stderr through `tail -F` subprocesses (its compute
# logs). A CLI run prints its own progress from the event log, and those subprocesses
# inherit the terminal or pipe: when one outlives the run, `pipeline run | tee log` (or a
# test capturing the output) waits for it forever. CLI runs keep no compute logs; every
# message of the pipeline is in the run's event log, shown in the UI.
NO_COMPUTE_LOGS = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
        "config": {},
    }
}


def cli_instance(home: Path):
    """The Dagster instance of $DAGSTER_HOME (its dagster.yaml), without compute logs."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=NO_COMPUTE_LOGS))


def _failure_messages(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.step_failure_data
        text = None
        if data.user_failure_data is not None and data.user_failure_data.description:
            text = data.user_failure_data.description
        elif data.error is not None:
            err = data.error
            while err.cause is not None and "DagsterExecutionStepExecutionError" in (err.cls_name or ""):
                err = err.cause
            text = (err.message or "").strip()
        messages.append(f"{event.step_key}: {text or 'failed (see the run in the Dagster UI)'}")
    return messages


def run_month(month: date, select: str | None = None, quiet: bool = False, run_id: str | None = None) -> int:
    """Materialize the month's assets through Dagster, recorded in the local instance;
    fails at once if another run holds the warehouse (its run lock), and before any step
    if the warehouse is damaged (``preflight``)."""
    from pipeline.resources.warehouse import run_lock
    from pipeline.settings import load_settings

    with run_lock(load_settings().warehouse_path):
        preflight(quiet)
        _run_month(month, select, quiet, run_id)
        return 0


def preflight(quiet: bool = False) -> bool:
    """Check that the warehouse opens and every block reads cleanly before any work
    (raises ``WarehouseDamaged``: one line naming the file and the two ways out); say so
    when there is none and a snapshot could bring it back faster. False: no file yet."""
    from pipeline.resources.backups import list_snapshots
    from pipeline.resources.warehouse import check_warehouse
    from pipeline.settings import load_settings

    settings = load_settings()
    if check_warehouse(settings.warehouse_path):
        return True
    snaps = list_snapshots(settings.backups_dir)
    if snaps and not quiet:
        print(
            f"There is no warehouse at {settings.warehouse_path}: this run builds it from the landing folder "
            f"(`pipeline restore` would bring back {snaps[-1].describe()} faster). Nothing is sent again."
        )
    return False


def _run_month(
    month: date,
    select: str | None = None,
    quiet: bool = False,
    run_id: str | None = None,
    job_name: str | None = None,
    tags: dict[str, str] | None = None,
):
    """Execute the job (default: the monthly close) for the month in this process; returns
    the result, or raises ``UserError`` saying which steps failed."""
    from dagster import AssetSelection
    from dagster._core.utils import make_new_run_id

    from pipeline.definitions import build_definitions
    from pipeline.jobs import MONTHLY_CLOSE
    from pipeline.progress import QUIET_RUN_CONFIG, run_with_progress
    from pipeline.settings import load_settings

    job_name = job_name or MONTHLY_CLOSE
    settings = load_settings()
    if month < settings.first_month:
        raise UserError(
            f"{month:%Y-%m} is before the first month of partitions ({settings.first_month:%Y-%m}); "
            "set PIPELINE_FIRST_MONTH earlier or pick a later month."
        )
    if month > last_complete_month():
        raise UserError(
            f"{month:%Y-%m} is not complete yet; the latest month you can run is {last_complete_month():%Y-%m}."
        )
    home = ensure_dagster_home()
    defs = build_definitions(settings)
    job = defs.resolve_job_def(job_name)
    keys = None
    if select:
        try:
            # Dagster's own parser of "group:..." passes a beta parameter internally.
            warnings.filterwarnings("ignore", message=".*include_sources.*")
            selection = AssetSelection.from_string(select)
            keys = sorted(selection.resolve(defs.resolve_asset_graph()), key=lambda k: k.to_user_string())
        except Exception as exc:  # the selection grammar raises several error types
            raise UserError(
                f"--select {select!r} is not a valid asset selection ({str(exc).splitlines()[0]}). "
                "Examples: 'group:marts', '*marts/account_health', 'key:staging/accounts'."
            ) from None
        if not keys:
            raise UserError(f"--select {select!r} matches no asset.")
    partition_key = month.strftime("%Y-%m-%d")
    if not quiet:
        print(f"Running {job_name} for {month:%Y-%m} (data: {settings.data_dir}, Dagster home: {home})")
    started = time.perf_counter()
    run_id = run_id or make_new_run_id()
    with cli_instance(home) as instance:
        result = run_with_progress(
            instance,
            run_id,
            lambda: job.execute_in_process(
                instance=instance,
                partition_key=partition_key,
                asset_selection=keys,
                raise_on_error=False,
                run_id=run_id,
                run_config=QUIET_RUN_CONFIG,
                tags={"pipeline/trigger": "cli", **(tags or {})},
            ),
            echo=not quiet,
        )
    elapsed = time.perf_counter() - started
    if not result.success:
        msgs = _failure_messages(result)
        raise UserError(
            f"The run for {month:%Y-%m} failed after {elapsed:.0f}s (run id {result.run_id}). "
            + (" ".join(msgs) if msgs else "See the run in the Dagster UI.")
        )
    if not quiet:
        print(f"Done in {elapsed:.1f}s (run id {result.run_id}); it is in the Dagster UI (`make ui`).")
    return result


def materialization_metadata(result, key: str) -> dict:
    """The metadata values of the run's last materialization of asset ``key`` (e.g.
    ``report_deliveries``), or {} when the run did not materialize it."""
    found: dict = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        if materialization.asset_key.to_user_string() == key:
            found = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    return found
