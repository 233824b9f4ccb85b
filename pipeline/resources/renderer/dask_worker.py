"""What runs inside a Dask worker of the render cluster (``PIPELINE_RENDER_CLUSTER``).

A worker is stateless: it receives a render job (template name and context), renders it
with its own warm ``DocumentRenderer`` (WeasyPrint, fonts and templates loaded once per
process) and returns the bytes. It never writes a file and never opens the warehouse:
the run process writes every file and the manifest.

Warm-up happens once per worker process, either at start with
``dask worker ADDRESS --preload pipeline.resources.renderer.dask_worker`` (``dask_setup``)
or when the run process connects and registers ``RenderWorkerPlugin`` (a worker that
joins later gets the plugin from the scheduler). Both are idempotent.

One renderer per process, used by one thread at a time (WeasyPrint's font
configuration is shared, and the work holds the GIL anyway): start workers with
``--nthreads 1`` and as many processes as cores (``--nworkers N``).

This module imports no Dagster and no DuckDB: a worker machine needs the project's
locked environment and report_templates/, nothing else.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from pipeline.resources.renderer.environment import environment_digest, environment_report, loaded_code_files
from pipeline.resources.renderer.worker import TEMPLATES_DIR, DocumentRenderer, RenderJob, RenderResult, failed_result

PLUGIN_NAME = "pipeline-renderer"
PIPELINE_DIR = Path(__file__).resolve().parents[2]

_LOCK = threading.Lock()
_STATE: dict[str, Any] = {}  # renderer, error, report, digest: set once per process
_RENDERED = [0]  # documents this process has rendered (shown by worker_environment)


def _warm() -> None:
    """Load WeasyPrint, fonts and templates, render a tiny document, and note this
    worker's environment; remember the error instead if any of it fails."""
    with _LOCK:
        if _STATE:
            return
        try:
            renderer = DocumentRenderer(TEMPLATES_DIR)
            renderer.render_pdf("<html lang=en><title>warm-up</title><p>warm-up</p></html>", "en")
            for charts in sorted(PIPELINE_DIR.glob("reporting/*/charts.py")):  # every document's chart code
                importlib.import_module(f"pipeline.reporting.{charts.parent.name}.charts")
            code = loaded_code_files()
            report = environment_report(TEMPLATES_DIR, code)
            _STATE.update(renderer=renderer, error=None, report=report, code=code, digest=environment_digest(report))
        except Exception as exc:
            _STATE.update(renderer=None, error=f"{type(exc).__name__}: {exc}", report={}, code=(), digest="")


def worker_environment() -> dict[str, Any]:
    """This worker's rendering environment (``client.run`` calls it at connect)."""
    _warm()
    return {
        "report": _STATE["report"],
        "code_files": _STATE["code"],
        "error": _STATE["error"],
        "pid": os.getpid(),
        "rendered": _RENDERED[0],
    }


def render_remote(job: RenderJob, expected_digest: str) -> RenderResult:
    """The task: render ``job`` here and return the bytes. Refuses (a failed result naming
    the reason) when this worker cannot render what the run process would."""
    _warm()
    if _STATE["error"]:
        return failed_result(job, f"render worker (pid {os.getpid()}) cannot render: {_STATE['error']}")
    if _STATE["digest"] != expected_digest:
        return failed_result(
            job,
            f"render worker (pid {os.getpid()}) has another rendering environment than the run process "
            "(templates, code or library versions); install the same commit with `uv sync --locked`",
        )
    with _LOCK:
        _RENDERED[0] += 1
        return _STATE["renderer"].produce(job)


def worker_pid(pause: float = 0.0) -> int:
    if pause:
        time.sleep(pause)
    return os.getpid()


class RenderWorkerPlugin(WorkerPlugin):
    """Warms the renderer on every worker (now, and on workers that join later)."""

    idempotent = True

    async def setup(self, worker) -> None:
        await asyncio.get_running_loop().run_in_executor(None, _warm)


def dask_setup(worker) -> None:
    _warm()
