"""Plain progress lines for CLI runs, read from the run's event log while it executes.

Dagster's own console log is silenced for CLI runs (the full log stays in the UI); this
follows the instance's event records and prints one line per finished step and per
failed check.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import dagster as dg

QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

_WATCHED = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
}


def describe(event: Any) -> str | None:
    """One line for an event worth showing, else None."""
    kind = event.event_type
    step = event.step_key or ""
    if kind == dg.DagsterEventType.STEP_SUCCESS:
        secs = (event.event_specific_data.duration_ms or 0) / 1000
        return f"  ok      {step.replace('__', '/')} ({secs:.1f}s)"
    if kind == dg.DagsterEventType.STEP_FAILURE:
        return f"  FAILED  {step.replace('__', '/')}"
    if kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        ev = event.event_specific_data
        if not ev.passed:
            if ev.severity == dg.AssetCheckSeverity.WARN:
                return f"  warn    {ev.asset_key.to_user_string()}: {ev.check_name} (see its metadata)"
            return f"  check   {ev.asset_key.to_user_string()}: {ev.check_name} FAILED"
    return None


def run_with_progress(instance: dg.DagsterInstance, run_id: str, execute: Callable[[], Any], echo: bool = True) -> Any:
    """Run ``execute`` in a thread and print progress lines from the event log meanwhile."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = execute()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="dagster-run", daemon=True)
    worker.start()
    seen = 0
    while True:
        alive = worker.is_alive()
        if echo:
            seen = _print_new(instance, run_id, seen)
        if not alive:
            break
        time.sleep(0.3)
    if "error" in box:
        raise box["error"]
    return box["result"]


def _print_new(instance: dg.DagsterInstance, run_id: str, seen: int) -> int:
    try:
        entries = instance.all_logs(run_id)
    except Exception:  # the run may not be registered yet
        return seen
    for entry in entries[seen:]:
        event = entry.dagster_event
        if event is None or event.event_type not in _WATCHED:
            continue
        line = describe(event)
        if line:
            stream = sys.stderr if "FAILED" in line else sys.stdout
            print(line, file=stream, flush=True)
    return len(entries)
