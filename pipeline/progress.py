"""A console logger that prints one plain line per step and check, not Dagster's full log."""

from __future__ import annotations

import logging
import sys

import dagster as dg

_EVENTS = {
    "STEP_START": "…",
    "STEP_SUCCESS": "ok",
    "STEP_FAILURE": "FAILED",
    "ASSET_CHECK_EVALUATION": "check",
}


class ProgressHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        try:
            if event is None:
                if record.levelno >= logging.WARNING:
                    print(f"  ! {step}: {record.getMessage().splitlines()[-1][:300]}", file=sys.stderr, flush=True)
                return
            kind = event.event_type_value
            if kind == "STEP_START":
                print(f"  … {step}", flush=True)
            elif kind == "STEP_SUCCESS":
                secs = (event.event_specific_data.duration_ms or 0) / 1000
                print(f"  ok {step} ({secs:.1f}s)", flush=True)
            elif kind == "STEP_FAILURE":
                print(f"  FAILED {step}", file=sys.stderr, flush=True)
            elif kind == "ASSET_CHECK_EVALUATION":
                ev = event.event_specific_data
                if not ev.passed:
                    print(
                        f"  check failed: {ev.asset_key.to_user_string()} {ev.check_name}",
                        file=sys.stderr,
                        flush=True,
                    )
        except Exception:  # a progress line must never break a run
            pass


@dg.logger(description="One plain line per step, failures and warnings on stderr.")
def progress_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    log = logging.getLogger("pipeline.progress")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not any(isinstance(h, ProgressHandler) for h in log.handlers):
        log.addHandler(ProgressHandler())
    return log
