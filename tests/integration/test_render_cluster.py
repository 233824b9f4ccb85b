"""Rendering on a Dask cluster (``PIPELINE_RENDER_CLUSTER``), with real processes.

Each cluster test starts ``dask scheduler`` and two ``dask worker`` processes on free
127.0.0.1 ports (``.venv/bin/dask``, the project's preload module), waits for them with
a bound, and ends them (by pid) whatever happens:

- a close run through the CLI with the setting renders every report and the pack on the
  cluster, byte-identical (sha256) to the local pool's;
- a worker SIGKILLed while jobs are in flight loses nothing: every report is written
  exactly once, the manifest is complete, the bytes equal the local pool's;
- a closed port fails the step with one line naming the address and the setting, no
  traceback, and nothing rendered locally instead.

And the determinism they rely on: fonts come only from report_templates/fonts (a font
installed for the user changes nothing), and fonts are subset by HarfBuzz only (the
fontTools path stamps the time into the PDF).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import REPO, subprocess_cli
from tests.support.closed_month import END

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask")]

DASK = Path(sys.executable).parent / "dask"
PRELOAD = "pipeline.resources.renderer.dask_worker"
MARCH = date(2024, 3, 1)
START_TIMEOUT = 120  # seconds for the scheduler and both workers to be up (a busy 2-core machine)


@pytest.fixture(autouse=True)
def test_instance():
    """These tests need no Dagster instance of their own."""
    yield None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    logs: Path
    pids: dict[str, int] = field(default_factory=dict)  # worker address -> pid

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(self.logs.glob("*.log")))


def _start(args: list[str], log: Path) -> subprocess.Popen:
    out = open(log, "wb")
    try:
        return subprocess.Popen(
            [str(DASK), *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
    finally:
        out.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextmanager
def dask_cluster(tmp_path: Path, workers: int = 2):
    """A scheduler and ``workers`` single-threaded workers (no nanny: a killed worker stays
    dead) on 127.0.0.1; always stopped on exit."""
    from distributed import Client

    logs = tmp_path / "dask-logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _start(
        ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], logs / "scheduler.log"
    )
    cluster = Cluster(address, scheduler, [], logs)
    try:
        for i in range(workers):
            cluster.workers.append(
                _start(
                    [
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--no-nanny",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--death-timeout",
                        "60",
                        "--local-directory",
                        str(tmp_path / f"dask-w{i}"),
                        "--preload",
                        PRELOAD,
                    ],
                    logs / f"worker-{i}.log",
                )
            )
        client = Client(address, timeout=START_TIMEOUT, set_as_default=False)
        try:
            client.wait_for_workers(workers, timeout=START_TIMEOUT)
            cluster.pids = client.run(os.getpid)
        finally:
            client.close()
        assert sorted(cluster.pids.values()) == sorted(p.pid for p in cluster.workers), cluster.log_tail()
        yield cluster
    finally:
        for proc in [*cluster.workers, scheduler]:
            _stop(proc)


def worker_counts(address: str) -> dict[str, int]:
    """Documents each live worker rendered since it started."""
    from distributed import Client

    from pipeline.resources.renderer.dask_worker import worker_environment

    with Client(address, timeout=30, set_as_default=False) as client:
        return {w: env["rendered"] for w, env in client.run(worker_environment).items()}


def manifest(db: Path, period: str) -> dict[tuple[str, str], dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute(
            "SELECT kind, account_id, status, html_path, pdf_path, html_sha256, pdf_sha256 "
            "FROM ops.report_manifest WHERE period = ? ORDER BY kind, account_id",
            [period],
        )
        names = [d[0] for d in cur.description]
        return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every rendered document's file under ``root`` (client reports, the pack,
    the managers' books; not the data-quality page, no render job), leftovers included."""
    from pipeline.files import sha256_file

    return {
        p.relative_to(root).as_posix(): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).parts[0] in ("clients", "leadership", "managers")
    }


# --------------------------------------------------------------------------- the close


def test_a_close_rendered_on_the_cluster_is_byte_identical_to_the_local_pool(closed_month, tmp_path: Path) -> None:
    """The closed month's reports are removed and the month is closed again twice: with
    the local pool, then with PIPELINE_RENDER_CLUSTER. Every client report, the pack and
    the managers' books come back from the cluster with the local pool's sha256, written
    once each, manifest complete. (Both renders happen here, same code and templates.)"""
    period = END
    reports = closed_month.data / "reports"

    def close_again(**env: str) -> tuple[dict, dict]:
        (reports / period).rename(tmp_path / f"before-{len(list(tmp_path.glob('before-*')))}")  # all due again
        run = subprocess_cli(["run", "--month", period], closed_month.env(**env))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return manifest(closed_month.warehouse, period), file_hashes(reports / period)

    local, local_files = close_again()
    assert any(kind == "client" for kind, _ in local) and ("leadership", "") in local
    with dask_cluster(tmp_path) as cluster:
        remote, remote_files = close_again(PIPELINE_RENDER_CLUSTER=cluster.address)
        rendered_on_cluster = sum(worker_counts(cluster.address).values())

    assert remote.keys() == local.keys()
    assert {r["status"] for r in remote.values()} == {"rendered"}
    for key, row in local.items():
        assert (remote[key]["pdf_sha256"], remote[key]["html_sha256"]) == (row["pdf_sha256"], row["html_sha256"]), key
    assert rendered_on_cluster == len(local)  # every document came from a worker, none from a local pool
    assert remote_files == local_files  # same files, same bytes, no .part left


# --------------------------------------------------------------------------- a worker dies


def _book(n: int):
    from tests.support.report_builders import Book, add_acme

    book = Book()
    for i in range(n):
        add_acme(book, account_id=f"ACC-{i:02d}", name=f"Client number {i:02d} Ltd")
    book.rows["account_managers"] = book.rows["account_managers"][:1]
    return book


def test_a_worker_killed_mid_render_loses_nothing_and_writes_nothing_twice(tmp_path: Path, monkeypatch) -> None:
    from distributed import Client

    import pipeline.publish.client_reports as client_reports
    import pipeline.publish.documents as documents
    from pipeline.resources.renderer.pool import Renderer
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import Settings
    from pipeline.store.records import read_manifest

    n = 14
    local_settings = Settings(data_dir=tmp_path / "local")
    local = client_reports.produce_client_reports(
        _book(n).write(Warehouse(local_settings.warehouse_path)), local_settings, MARCH, Renderer(2)
    )
    assert (local.rendered, local.failed) == (n, 0), local.failures
    expected = {r["account_id"]: (r["pdf_sha256"], r["html_sha256"]) for r in local.rows}

    settings = Settings(data_dir=tmp_path / "cluster")
    wh = _book(n).write(Warehouse(settings.warehouse_path))
    with dask_cluster(tmp_path) as cluster, Client(cluster.address, timeout=30, set_as_default=False) as observer:
        renderer = Renderer(2, cluster=cluster.address)
        assert renderer.workers == 2
        writes: Counter[str] = Counter()
        killed: dict[str, object] = {}
        real_write, real_build = documents.write_rendered, client_reports.build_client_context
        built = [0]

        def build(*args, **kwargs):
            built[0] += 1
            return real_build(*args, **kwargs)

        def write_and_kill(result, root):
            writes[result.key] += 1
            if not killed:  # the first result: SIGKILL a worker that has jobs in flight
                killed["contexts_built"] = built[0]
                busy = {w: keys for w, keys in observer.processing().items() if keys}
                assert busy, "no job in flight when the first result came back"
                victim = sorted(busy)[0]
                os.kill(cluster.pids[victim], signal.SIGKILL)
                killed.update(worker=victim, in_flight=list(busy[victim]))
            return real_write(result, root)

        monkeypatch.setattr(documents, "write_rendered", write_and_kill)
        monkeypatch.setattr(client_reports, "build_client_context", build)
        try:
            summary = client_reports.produce_client_reports(wh, settings, MARCH, renderer)
        finally:
            renderer.pool.close()  # before the scheduler goes away
        victim_proc = next(p for p in cluster.workers if p.pid == cluster.pids[killed["worker"]])
        assert victim_proc.wait(timeout=30) == -signal.SIGKILL
        survivors = worker_counts(cluster.address)

    assert killed["in_flight"], "the killed worker had nothing in flight"
    assert killed["contexts_built"] < n == built[0], "rendering did not start before the last context was built"
    assert killed["worker"] not in survivors and len(survivors) == 1
    assert (summary.rendered, summary.failed) == (n, 0), summary.failures
    assert writes == Counter({key: 1 for key in expected}), "a report was written twice or not at all"
    rows = read_manifest(Warehouse(settings.warehouse_path), "2024-03").iter_rows(named=True)
    got = {r["account_id"]: (r["status"], r["pdf_sha256"], r["html_sha256"]) for r in rows}
    assert got == {k: ("rendered", *v) for k, v in expected.items()}
    files = [p for p in settings.reports_dir.rglob("*") if p.is_file()]
    assert len(files) == 2 * n and not [p for p in files if p.name.endswith(".part")]


# --------------------------------------------------------------------------- no scheduler


def test_an_unreachable_scheduler_fails_the_step_in_one_line_and_renders_nothing(closed_month) -> None:
    period = END
    reports = closed_month.data / "reports" / period
    for path in [p for p in reports.rglob("*") if p.is_file()]:
        path.unlink()
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    run = subprocess_cli(
        ["run", "--month", period, "--select", "key:client_reports"],
        closed_month.env(PIPELINE_RENDER_CLUSTER=address),
        timeout=300,
    )
    elapsed = time.monotonic() - started
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if address in line]
    assert len(lines) == 1 and "PIPELINE_RENDER_CLUSTER" in lines[0], out
    assert "cannot reach the scheduler" in lines[0]
    assert not [p for p in reports.rglob("*") if p.is_file()], "something was rendered without the cluster"
    assert elapsed < 240


# --------------------------------------------------------------------------- determinism

RENDER_SCRIPT = r"""
import hashlib, json, pickle, sys, time
mode = sys.argv[2]
if mode == "system-fonts":  # what WeasyPrint does by default: every font fontconfig finds
    import pipeline.resources.renderer.worker as worker
    from weasyprint.text.fonts import FontConfiguration
    worker.isolated_font_configuration = lambda templates_dir: FontConfiguration()
if mode == "fonttools":  # WeasyPrint's fall-back where HarfBuzz-Subset is missing
    import weasyprint.pdf.fonts
    weasyprint.pdf.fonts.harfbuzz_subset = None
from pipeline.resources.renderer.worker import DocumentRenderer, RenderJob
job = pickle.loads(open(sys.argv[1], "rb").read())
renderer = DocumentRenderer()
first = renderer.produce(job)
assert first.ok, first.error
time.sleep(1.1)
second = renderer.produce(job)
print(json.dumps([first.pdf_sha256, second.pdf_sha256]))
"""


def _render_in_process(job_file: Path, mode: str, tmp_path: Path, extra_fonts: Path | None) -> list[str]:
    """Render the job twice (a second apart) in a fresh process whose user font folder
    ($XDG_DATA_HOME/fonts) is empty or holds ``extra_fonts``."""
    xdg = tmp_path / f"xdg-{mode}-{'extra' if extra_fonts else 'plain'}"
    (xdg / "fonts").mkdir(parents=True)
    if extra_fonts:
        for font in extra_fonts.glob("STIXGeneral*.ttf"):
            (xdg / "fonts" / font.name).write_bytes(font.read_bytes())
    env = {**os.environ, "XDG_DATA_HOME": str(xdg), "XDG_CACHE_HOME": str(xdg / "cache"), "PYTHONPATH": str(REPO)}
    env.pop("FONTCONFIG_FILE", None)
    done = subprocess.run(
        [sys.executable, "-c", RENDER_SCRIPT, str(job_file), mode],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bytes_do_not_depend_on_the_machines_fonts_or_the_time(tmp_path: Path) -> None:
    """A client report whose name has characters the shipped fonts lack ("ℊ ⌚"), rendered
    in processes with and without extra fonts in the user's font folder: with the
    renderer's font isolation the bytes are the same; with WeasyPrint's default (all
    fonts fontconfig finds) they are not. And the same document a second later is the
    same bytes with HarfBuzz subsetting, not with fontTools."""
    import pickle

    import matplotlib

    from pipeline.reporting.client.context import build_client_context, report_plan
    from pipeline.resources.renderer.worker import RenderJob
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import Settings
    from pipeline.store.report_inputs import load_report_inputs
    from tests.support.report_builders import Book, add_acme

    book = Book()
    add_acme(book, name="Acme ℊ ⌚ Rockets")
    settings = Settings(data_dir=tmp_path / "data")
    wh = book.write(Warehouse(settings.warehouse_path))
    inputs = load_report_inputs(wh, MARCH, settings.reporting_currency, with_health=False)
    ((account_id, _, period),) = report_plan(inputs.accounts, inputs.monthly, MARCH)
    ctx = build_client_context(inputs, account_id, period, settings)
    job = RenderJob(
        "client/report.html",
        ctx,
        "/r/x.html",
        "/r/x.pdf",
        "/r",
        account_id,
        "pipeline.reporting.client.charts:client_charts",
    )
    job_file = tmp_path / "job.pickle"
    job_file.write_bytes(pickle.dumps(job))
    stix = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    assert list(stix.glob("STIXGeneral*.ttf"))

    isolated = [_render_in_process(job_file, "isolated", tmp_path, fonts) for fonts in (None, stix)]
    system = [_render_in_process(job_file, "system-fonts", tmp_path, fonts) for fonts in (None, stix)]
    fonttools = _render_in_process(job_file, "fonttools", tmp_path, None)

    assert isolated[0][0] == isolated[0][1] == isolated[1][0] == isolated[1][1]
    assert system[0][0] != system[1][0], "the extra fonts did not change the default rendering: the test shows nothing"
    assert fonttools[0] != fonttools[1], "fontTools subsetting became reproducible: revisit environment.py"


def test_without_harfbuzz_subset_the_renderer_refuses_to_start(monkeypatch) -> None:
    import weasyprint.text.ffi

    from pipeline.resources.renderer.environment import RenderEnvironmentError, require_harfbuzz_subset

    require_harfbuzz_subset()  # this machine has it
    monkeypatch.setattr(weasyprint.text.ffi, "harfbuzz_subset", None)
    with pytest.raises(RenderEnvironmentError, match=re.escape("apt-get install libharfbuzz-subset0")):
        require_harfbuzz_subset()
