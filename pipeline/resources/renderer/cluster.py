"""Render on a Dask distributed cluster instead of the local pool (``PIPELINE_RENDER_CLUSTER``).

``DaskCluster`` has the local pool's interface (``map``: jobs in, results out as they
complete; ``warm``; ``close``; ``workers``). It connects to the scheduler at
``tcp://HOST:PORT``, registers ``RenderWorkerPlugin`` (every worker warms WeasyPrint,
fonts and templates once), checks that every worker renders exactly what this machine
would (``environment_report``: templates, code, library versions) and then streams jobs:
it submits a job as soon as the caller's generator has built its context, keeps a window
of jobs in flight and yields each result when it arrives. Workers return bytes; the run
process writes every file and the manifest, so no worker needs the warehouse or shared
storage.

A worker that dies mid-render loses nothing: the scheduler gives its jobs to other
workers (a job is only given up after ``distributed.scheduler.allowed-failures``, 3 by
default, workers died running it), each future resolves once, and its result is written
once. A scheduler that cannot be reached, has no worker, or goes away during the run
raises ``RenderClusterError`` with one line naming the address and the setting; there is
never a silent fall-back to local rendering.
"""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from dagster import Failure

from pipeline.resources.renderer.worker import TEMPLATES_DIR, RenderJob, RenderResult, failed_result

SETTING = "PIPELINE_RENDER_CLUSTER"
CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler
WORKERS_TIMEOUT = 30.0  # seconds to wait for a first worker
RETRIES = 2  # a job whose task raised is tried again (worker deaths are the scheduler's allowed-failures)
JOBS_PER_WORKER = 4  # jobs in flight per worker process: enough to hide the round trips
CHECK_EVERY = 5.0  # seconds between checks that the scheduler is still there while waiting


class RenderClusterError(Failure):
    """The render cluster cannot be used; the message is one line for the operator. A
    Dagster ``Failure``, so the step fails with that line as its description (the CLI
    prints it without a traceback) and is not retried."""

    def __init__(self, message: str):
        super().__init__(description=message, allow_retries=False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class DaskCluster:
    """Render jobs on the Dask cluster whose scheduler is at ``address``."""

    def __init__(self, address: str, templates_dir: Path = TEMPLATES_DIR):
        self.address = address
        self.templates_dir = Path(templates_dir).resolve()
        self.workers = 0
        self._client = None
        self._digest = ""
        self._lock = threading.Lock()
        self._slots_checked = 0.0

    # -- connecting ----------------------------------------------------------------

    def _fail(self, what: str, action: str) -> RenderClusterError:
        return RenderClusterError(f"Render cluster {self.address} ({SETTING}): {what}. {action}")

    def connect(self):
        """The connected client; connects, warms and checks the workers on first use."""
        with self._lock:
            if self._client is not None and self._client.status == "running":
                return self._client
            self._close_client()
            self._client = self._connect()
            return self._client

    def _connect(self):
        from distributed import Client

        try:
            client = Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError for a bad address
            raise self._fail(
                f"cannot reach the scheduler ({_first_line(exc)})",
                f"Start `dask scheduler` there, or unset {SETTING} to render in the local pool.",
            ) from None
        try:
            self._prepare(client)
        except BaseException:
            client.close()
            raise
        return client

    def _prepare(self, client) -> None:
        from pipeline.resources.renderer.dask_worker import PLUGIN_NAME, RenderWorkerPlugin, worker_environment
        from pipeline.resources.renderer.environment import (
            environment_differences,
            environment_digest,
            environment_report,
        )

        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except Exception:
            raise self._fail(
                f"the scheduler has no worker after {WORKERS_TIMEOUT:.0f} s",
                f"Start workers: `dask worker {self.address} --nthreads 1 --nworkers N "
                "--preload pipeline.resources.renderer.dask_worker`.",
            ) from None
        try:
            client.register_plugin(RenderWorkerPlugin(), name=PLUGIN_NAME)
            found = client.run(worker_environment)
        except Exception as exc:
            raise self._fail(f"preparing the workers failed ({_first_line(exc)})", "See the workers' logs.") from None
        digest = ""
        for worker, env in sorted(found.items()):
            if env["error"]:
                raise self._fail(
                    f"worker {worker} cannot render: {env['error']}", "Fix that machine and restart its worker."
                )
            # The code this worker loaded, as this machine has it: same files, same bytes?
            here = environment_report(self.templates_dir, tuple(env["code_files"]))
            digest = digest or environment_digest(here)
            differences = environment_differences(here, env["report"])
            if differences:
                raise self._fail(
                    f"worker {worker} would render different bytes than this machine ({'; '.join(differences[:4])})",
                    "Install the same commit there with `uv sync --locked` and the same system libraries.",
                )
        self._digest = digest
        self.workers = len(found)
        self._slots_checked = time.monotonic()

    # -- rendering -----------------------------------------------------------------

    def _window(self, client) -> int:
        if time.monotonic() - self._slots_checked > CHECK_EVERY:
            with contextlib.suppress(Exception):
                self.workers = len(client.nthreads()) or self.workers
            self._slots_checked = time.monotonic()
        return max(8, JOBS_PER_WORKER * self.workers)

    def _wait(self, client, done: queue.SimpleQueue, in_flight: dict) -> list:
        """The futures finished since the last call (at least one), waiting as long as it
        takes while the scheduler is there."""
        while True:
            try:
                ready = [done.get(timeout=CHECK_EVERY)]
                break
            except queue.Empty:
                if client.status != "running":
                    raise self._fail(
                        f"lost the scheduler with {len(in_flight)} document(s) in flight",
                        "Run again when the cluster is back (finished reports are kept).",
                    ) from None
        while True:
            try:
                ready.append(done.get_nowait())
            except queue.Empty:
                return ready

    def _outcome(self, future, job: RenderJob) -> RenderResult:
        from distributed import KilledWorker

        if future.status == "finished":
            try:
                return future.result()
            except Exception as exc:
                error: BaseException = exc
        elif future.status == "cancelled":
            raise self._fail(
                f"the job of {job.key} was cancelled (the scheduler restarted or went away)",
                "Run again when the cluster is back (finished reports are kept).",
            )
        else:
            error = future.exception()
        if isinstance(error, KilledWorker):
            return failed_result(job, f"render workers died while rendering it ({_first_line(error)})")
        return failed_result(job, f"{type(error).__name__}: {_first_line(error)}")

    def map(self, jobs: Iterable[RenderJob]) -> Iterator[RenderResult]:
        """Submit each job as ``jobs`` yields it (at most a window in flight) and yield its
        result as soon as it is back, in completion order."""
        from pipeline.resources.renderer.dask_worker import render_remote

        client = self.connect()
        in_flight: dict = {}
        done: queue.SimpleQueue = queue.SimpleQueue()  # futures whose state is final, put by Dask's callbacks
        pending = iter(jobs)
        exhausted = False
        try:
            while True:
                window = self._window(client)
                while not exhausted and len(in_flight) < window:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    key = f"render-{re.sub(r'[^A-Za-z0-9_.-]', '_', job.key)[:60]}-{uuid.uuid4().hex}"
                    future = client.submit(render_remote, job, self._digest, key=key, pure=False, retries=RETRIES)
                    in_flight[future] = job
                    future.add_done_callback(done.put)
                if not in_flight:
                    return
                for future in self._wait(client, done, in_flight):
                    if future in in_flight:
                        yield self._outcome(future, in_flight.pop(future))
        finally:
            for future in in_flight:  # the caller stopped early or something failed
                future.cancel()

    def warm(self) -> list[int]:
        """Connect (every worker warms up); returns the workers' pids."""
        from pipeline.resources.renderer.dask_worker import worker_pid

        return sorted(set(self.connect().run(worker_pid).values()))

    def _close_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close(timeout=5)
            self._client = None

    def close(self) -> None:
        with self._lock:
            self._close_client()
