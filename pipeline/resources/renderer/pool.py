"""The renderer: render jobs go to a backend, results come back as bytes, the run
process writes them.

Two backends share one interface (``RenderBackend``: ``map`` jobs to results as they
complete, ``warm``, ``close``, ``workers``):

- ``RenderPool`` (the default): a pool of long-lived warm worker processes on this
  machine (``pipeline.resources.renderer.worker`` does the work inside each worker).
  Importing WeasyPrint costs about 1.4 s per process (measured), so a process per report
  is never an option: workers are started once (``spawn``, so no Dagster or DuckDB state
  is forked), import and warm up once, and render every document of every run in this
  process. Pools are cached per (workers, templates folder) and shut down at exit.
- ``DaskCluster`` (``PIPELINE_RENDER_CLUSTER=tcp://HOST:PORT``): the same jobs on a Dask
  distributed cluster (``pipeline.resources.renderer.cluster``).

Both take the jobs as an iterable, so a caller can hand over a generator that builds
contexts while earlier documents render, and both return each document's bytes: the
run process writes every file (``worker.write_rendered``, atomically) and the manifest.

``Renderer.render_many`` streams a batch through the backend; ``Renderer.render``
renders one document to its two files.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.resources.renderer.worker import (
    TEMPLATES_DIR,
    RenderJob,
    RenderResult,
    failed_result,
    init_worker,
    run_job,
    worker_pid,
    write_rendered,
)

_POOLS: dict[tuple[int, str], RenderPool] = {}
_CLUSTERS: dict[tuple[str, str], Any] = {}
JOBS_PER_WORKER = 3  # jobs in flight per local worker: one rendering, the next ones queued


class RenderBackend(Protocol):
    """Where documents are rendered: jobs in (any iterable, consumed as it is rendered),
    results with the bytes out, in completion order."""

    workers: int

    def map(self, jobs: Iterable[RenderJob]) -> Iterator[RenderResult]: ...

    def warm(self) -> list[int]: ...

    def close(self) -> None: ...


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

    def map(self, jobs: Iterable[RenderJob]) -> Iterator[RenderResult]:
        """Submit each job as ``jobs`` yields it (a few per worker in flight) and yield its
        result as soon as it is back. A worker that dies (out of memory, killed) fails
        the jobs in flight; the rest go to a fresh pool."""
        in_flight: dict[Future, RenderJob] = {}
        pending = iter(jobs)
        exhausted = False
        window = max(2, JOBS_PER_WORKER * self.workers)
        try:
            while True:
                while not exhausted and len(in_flight) < window:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    try:
                        in_flight[self._ensure().submit(run_job, job)] = job
                    except BrokenProcessPool as exc:  # broke since the last result
                        self.close()
                        yield failed_result(job, f"render worker died: {exc}")
                if not in_flight:
                    return
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                broken = False
                for future in done:
                    job = in_flight.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool as exc:
                        broken = True
                        yield failed_result(job, f"render worker died: {exc}")
                if broken:
                    for future, job in list(in_flight.items()):
                        del in_flight[future]
                        yield failed_result(job, "render worker died while this job was queued")
                    self.close()
        finally:
            for future in in_flight:  # the caller stopped early or something failed
                future.cancel()

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


def get_cluster(address: str, templates_dir: Path = TEMPLATES_DIR):
    """The (cached) connection to the render cluster at ``address``; connects, warms and
    checks its workers now, raising ``RenderClusterError`` (one line) if it cannot."""
    from pipeline.resources.renderer.cluster import DaskCluster

    key = (address, str(Path(templates_dir).resolve()))
    with _POOLS_LOCK:
        cluster = _CLUSTERS.get(key)
        if cluster is None:
            cluster = _CLUSTERS[key] = DaskCluster(address, Path(templates_dir))
    cluster.connect()
    return cluster


@atexit.register
def shutdown_pools() -> None:
    with _POOLS_LOCK:
        backends = [*_POOLS.values(), *_CLUSTERS.values()]
        _POOLS.clear()
        _CLUSTERS.clear()
    for backend in backends:
        backend.close()


class Renderer:
    """Render templates of one templates folder through a backend: the warm local pool,
    or the Dask cluster at ``cluster`` (``tcp://HOST:PORT``)."""

    def __init__(self, workers: int, templates_dir: Path = TEMPLATES_DIR, cluster: str | None = None):
        self.templates_dir = Path(templates_dir).resolve()
        self.cluster = cluster or None
        self.pool: RenderBackend = (
            get_cluster(cluster, self.templates_dir) if cluster else get_pool(workers, self.templates_dir)
        )
        self.workers = self.pool.workers

    def render_many(self, jobs: Iterable[RenderJob]) -> Iterator[RenderResult]:
        """Render every job (``jobs`` may be a generator, consumed while earlier jobs
        render); yields results as they complete, failures included, each carrying its
        bytes for the caller to write (``worker.write_rendered``)."""
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
            template=template,
            context=context,
            html_path=str(html_path),
            pdf_path=str(pdf_path),
            root=str(root),
            key=key or template,
            chart_builder=chart_builder,
        )
        result = write_rendered(next(iter(self.render_many([job]))), Path(root))
        if not result.ok:
            raise RuntimeError(f"Rendering {template} to {pdf_path} failed: {result.error}")
        return result


class RendererResource(ConfigurableResource):
    """Renders report templates to HTML and PDF: in a pool of warm worker processes, or on
    a Dask cluster when ``settings.render_cluster`` (``PIPELINE_RENDER_CLUSTER``) is set.

    ``workers`` 0 = ``settings.render_workers`` (whose 0 = one per core);
    ``templates_dir`` empty = the project's report_templates/;
    ``cluster`` empty = ``settings.render_cluster`` (empty: the local pool).
    """

    workers: int = Field(default=0, description="Worker processes; 0 = settings.render_workers.")
    templates_dir: str = Field(default="", description="Templates folder; empty = report_templates/.")
    cluster: str = Field(default="", description="Dask scheduler address; empty = settings.render_cluster.")

    def get(self, render_workers_setting: int = 0, render_cluster_setting: str | None = None) -> Renderer:
        """The renderer for a step. A render cluster that cannot be used fails the step with
        one line naming its address and the setting (``RenderClusterError``, a Dagster
        ``Failure``: no traceback, no fall-back to the local pool)."""
        count = worker_count(self.workers or render_workers_setting)
        templates = Path(self.templates_dir) if self.templates_dir else TEMPLATES_DIR
        return Renderer(count, templates, cluster=self.cluster or render_cluster_setting)
