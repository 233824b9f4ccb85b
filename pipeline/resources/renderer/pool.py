"""The renderer: a pool of long-lived warm worker processes that turn templates into
HTML + PDF files (``pipeline.resources.renderer.worker`` does the work inside each worker).

Importing WeasyPrint costs about 1.4 s per process (GROUND.md), so a process per report
is never an option: workers are started once (``spawn``, so no Dagster or DuckDB state
is forked), import and warm up once, and render every document of every run in this
process. Pools are cached per (workers, templates folder) and shut down at exit.

``Renderer.render_many`` renders a batch across the pool; ``Renderer.render`` renders
one document (the leadership pack reuses it): any template name + context to an HTML
and a PDF file, written atomically.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Sequence

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.resources.renderer.worker import TEMPLATES_DIR, RenderJob, RenderResult, init_worker, run_job, worker_pid

_POOLS: dict[tuple[int, str], "RenderPool"] = {}
_POOLS_LOCK = threading.Lock()


def worker_count(setting: int) -> int:
    """``settings.render_workers``: 0 means one worker per core."""
    if setting and setting > 0:
        return int(setting)
    return max(1, os.cpu_count() or 1)


class RenderPool:
    """A process pool whose workers import WeasyPrint once and stay warm."""

    def __init__(self, workers: int, templates_dir: Path):
        self.workers = workers
        self.templates_dir = Path(templates_dir).resolve()
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _ensure(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=init_worker,
                    initargs=(str(self.templates_dir),),
                )
            return self._executor

    def warm(self) -> list[int]:
        """Start every worker now (each imports and warms once); returns their pids."""
        executor = self._ensure()
        return sorted(set(executor.map(worker_pid, [0.2] * (self.workers * 2))))

    def map(self, jobs: Sequence[RenderJob]) -> list[RenderResult]:
        if not jobs:
            return []
        try:
            return list(self._ensure().map(run_job, jobs))
        except BrokenProcessPool as exc:
            # A worker died (out of memory, killed): report every job of the batch as
            # failed, and start a fresh pool next time.
            self.close()
            return [
                RenderResult(key=j.key, ok=False, html_path=j.html_path, pdf_path=j.pdf_path,
                             error=f"render worker died: {exc}")
                for j in jobs
            ]

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None


def get_pool(workers: int, templates_dir: Path = TEMPLATES_DIR) -> RenderPool:
    key = (workers, str(Path(templates_dir).resolve()))
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = RenderPool(workers, Path(templates_dir))
        return pool


@atexit.register
def shutdown_pools() -> None:
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


class Renderer:
    """Render templates of one templates folder through a warm pool."""

    def __init__(self, workers: int, templates_dir: Path = TEMPLATES_DIR):
        self.workers = workers
        self.templates_dir = Path(templates_dir).resolve()
        self.pool = get_pool(workers, self.templates_dir)

    def render_many(self, jobs: Sequence[RenderJob]) -> list[RenderResult]:
        """Render every job across the pool; results in the jobs' order, failures included."""
        return self.pool.map(jobs)

    def render(
        self,
        template: str,
        context: dict[str, Any],
        html_path: Path,
        pdf_path: Path,
        root: Path,
        chart_builder: str | None = None,
        key: str = "",
    ) -> RenderResult:
        """Render one template + context to ``html_path`` and ``pdf_path`` (both inside
        ``root``), atomically. Raises ``RuntimeError`` naming the template if it fails."""
        job = RenderJob(
            template=template, context=context, html_path=str(html_path), pdf_path=str(pdf_path),
            root=str(root), key=key or template, chart_builder=chart_builder,
        )
        result = self.render_many([job])[0]
        if not result.ok:
            raise RuntimeError(f"Rendering {template} to {pdf_path} failed: {result.error}")
        return result


class RendererResource(ConfigurableResource):
    """Renders report templates to HTML and PDF in a pool of warm worker processes.

    ``workers`` 0 = ``settings.render_workers`` (whose 0 = one per core);
    ``templates_dir`` empty = the project's report_templates/.
    """

    workers: int = Field(default=0, description="Worker processes; 0 = settings.render_workers.")
    templates_dir: str = Field(default="", description="Templates folder; empty = report_templates/.")

    def get(self, render_workers_setting: int = 0) -> Renderer:
        count = worker_count(self.workers or render_workers_setting)
        return Renderer(count, Path(self.templates_dir) if self.templates_dir else TEMPLATES_DIR)
