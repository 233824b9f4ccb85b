"""Run `pipeline ...` and SIGKILL it at a chosen point: no test hook in the product.

    python tests/support/kill_runner.py PLAN.json RESULTS.json

PLAN.json is a list of steps ``{"target": NAME, "n": N, "argv": [...], "log": PATH}``
run one after another, each in a fresh child process (forked from this warm one, so
Dagster, DuckDB, Polars and WeasyPrint are imported once). The child makes itself a
process group, monkeypatches one function of the pipeline (see ``TARGETS``) so that
its N-th call SIGKILLs the whole group (the run and its render workers: what an OOM
kill or ``kill -9`` of the run's process tree does), then calls
``pipeline.cli.main(argv)``. Target ``none`` runs without a kill point.

RESULTS.json gets one entry per step: ``{"target", "n", "killed", "rc", "hits"}``
(``killed``: the child died of SIGKILL at its N-th call; otherwise ``rc`` is its exit
code and the kill point was not reached); a killed step notes where it died in ``<log>.kill``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path

# Imported before forking, so every child starts warm. Nothing here opens the
# warehouse, the Dagster instance or a Polars thread pool.
import dagster  # noqa: F401
import duckdb  # noqa: F401
import polars  # noqa: F401

import pipeline.cli
import pipeline.definitions
import pipeline.publish.client_reports
import pipeline.publish.deliveries
import pipeline.resources.mailer
import pipeline.resources.renderer.pool
import pipeline.resources.renderer.worker
import pipeline.store.loading
from pipeline.resources.warehouse import Warehouse

with contextlib.suppress(Exception):  # warm WeasyPrint too (in-process rendering of the ``render_rename`` target)
    import weasyprint  # noqa: F401


NOTE = {"path": ""}  # where the child notes its kill point (Dagster captures a step's stdout)


def die(what: str = "") -> None:
    """SIGKILL this process group: the run and any render worker it started."""
    if NOTE["path"]:
        fd = os.open(NOTE["path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, f"{what}\n".encode())
        os.close(fd)
    sys.stdout.flush()
    sys.stderr.flush()
    os.killpg(os.getpgid(0), signal.SIGKILL)


class Counter:
    def __init__(self, n: int) -> None:
        self.n = n
        self.hits = 0

    def hit(self) -> bool:
        """Count one call; True on the N-th (time to die)."""
        self.hits += 1
        return self.hits == self.n


# ----------------------------------------------------------------------------- targets
# Each installs its patch for a Counter. "before" kills before the real function runs,
# "after" kills after it returned (inside the caller's open transaction, where there
# is one).


def t_raw_insert(c: Counter) -> None:
    """During ingest, inside the transaction of one landing file: its raw rows are
    inserted, its ops.loads row not yet (loading._insert_raw)."""
    real = pipeline.store.loading.load_sql

    def load_sql(name: str) -> str:
        if name == "ops/record_load" and c.hit():
            die("raw insert, before its ops.loads row")
        return real(name)

    pipeline.store.loading.load_sql = load_sql


def t_read_landing(c: Counter) -> None:
    """During ingest, before reading the N-th new landing file."""
    real = pipeline.store.loading.read_landing_file

    def read_landing_file(*a, **k):
        if c.hit():
            die("reading a landing file")
        return real(*a, **k)

    pipeline.store.loading.read_landing_file = read_landing_file


def _after_replace(method: str, prefix: str):
    def install(c: Counter) -> None:
        real = getattr(Warehouse, method)

        def wrapper(con, qualified, *a, **k):
            real(con, qualified, *a, **k)
            if qualified.startswith(prefix) and c.hit():
                die(f"{method} {qualified}")  # the slice is replaced but not committed

        setattr(Warehouse, method, staticmethod(wrapper))

    return install


t_staging_write = _after_replace("replace_table_from_query", "staging.")
t_marts_write = _after_replace("replace_rows_from_query", "marts.")
t_manifest_write = _after_replace("replace_rows_from_query", "ops.report_manifest")


def t_render_rename(c: Counter) -> None:
    """During rendering, in process (no pool): the N-th rename of a report file from its
    temporary name. A report's PDF is renamed before its HTML, so an even N dies with
    a new PDF next to an old (or no) HTML and the HTML's temporary file left behind."""
    import pipeline.resources.renderer.worker as render

    real_replace = os.replace

    def replace(src, dst, *a, **k):
        name = os.path.basename(str(dst))
        if str(src).endswith(".part") and name.startswith(("account-report-", "account-health-pack-")) and c.hit():
            die(f"rename to {dst}")
        return real_replace(src, dst, *a, **k)

    os.replace = replace
    pipeline.resources.renderer.pool.Renderer.render_many = lambda self, jobs: [render.run_job(j) for j in jobs]


def t_render_pool(c: Counter) -> None:
    """During rendering in the worker pool: when the N-th document comes back, while the
    workers are busy with others."""
    from concurrent.futures import as_completed

    from pipeline.resources.renderer.worker import run_job

    real_map = pipeline.resources.renderer.pool.RenderPool.map

    def map_(self, jobs):
        if not jobs:
            return []
        executor = self._ensure()
        for _ in as_completed([executor.submit(run_job, j) for j in jobs]):
            if c.hit():
                die("a render result, workers busy")
        return real_map(self, jobs)

    pipeline.resources.renderer.pool.RenderPool.map = map_


def t_outbox_before(c: Counter) -> None:
    """During delivery: the delivery is claimed (``sending``), the .eml not yet written."""
    cls = pipeline.resources.mailer.OutboxMailer
    real = cls.send

    def send(self, *a, **k):
        if c.hit():
            die("outbox: claimed, not written")
        return real(self, *a, **k)

    cls.send = send


def t_outbox_after(c: Counter) -> None:
    """During delivery: the .eml is written, the delivery not yet finished as ``sent``."""
    cls = pipeline.resources.mailer.OutboxMailer
    real = cls.send

    def send(self, *a, **k):
        out = real(self, *a, **k)
        if c.hit():
            die("outbox: written, not finished")
        return out

    cls.send = send


def t_smtp_before(c: Counter) -> None:
    """During SMTP delivery: claimed, the message not handed to the server yet."""
    cls = pipeline.resources.mailer.SmtpMailer
    real = cls.send

    def send(self, *a, **k):
        if c.hit():
            die("smtp: claimed, not sent")
        return real(self, *a, **k)

    cls.send = send


def t_smtp_after(c: Counter) -> None:
    """During SMTP delivery: the server accepted the message, the delivery is not
    finished as ``sent`` yet."""
    cls = pipeline.resources.mailer.SmtpMailer
    real = cls.send

    def send(self, *a, **k):
        out = real(self, *a, **k)
        if c.hit():
            die("smtp: accepted, not finished")
        return out

    cls.send = send


TARGETS = {
    "none": lambda c: None,
    "read_landing": t_read_landing,
    "raw_insert": t_raw_insert,
    "staging_write": t_staging_write,
    "marts_write": t_marts_write,
    "manifest_write": t_manifest_write,
    "render_rename": t_render_rename,
    "render_pool": t_render_pool,
    "outbox_before": t_outbox_before,
    "outbox_after": t_outbox_after,
    "smtp_before": t_smtp_before,
    "smtp_after": t_smtp_after,
}


def child(step: dict) -> None:
    os.setpgid(0, 0)
    NOTE["path"] = step["log"] + ".kill"
    log = open(step["log"], "ab", buffering=0)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    for k, v in (step.get("env") or {}).items():
        os.environ[k] = v
    counter = Counter(int(step.get("n", 0)))
    TARGETS[step["target"]](counter)
    try:
        code = pipeline.cli.main(step["argv"])
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    sys.stdout.flush()
    sys.stderr.flush()
    print(f"[kill_runner] exit {code}; kill point hit {counter.hits} time(s)", flush=True)
    os._exit(code or 0)


def inspect(step: dict) -> None:
    """Fingerprint the warehouse as the next run finds it (in a child: this process never
    opens DuckDB, so every fork starts clean)."""
    from tests.support.fault_helpers import warehouse_state

    Path(step["out"]).write_text(json.dumps(warehouse_state(Path(step["db"]))))
    os._exit(0)


def main(plan_path: str, results_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    results = []
    for step in plan:
        pid = os.fork()
        if pid == 0:
            try:
                inspect(step) if step["target"] == "inspect" else child(step)
            finally:
                os._exit(99)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        rc = None if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        results.append({"target": step["target"], "n": step.get("n", 0), "killed": killed, "rc": rc})
        Path(results_path).write_text(json.dumps(results, indent=1))
        if step.get("stop_unless_killed") and not killed:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
