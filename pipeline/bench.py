"""`pipeline bench`: time the monthly close stage by stage against its two floors.

In a fresh temporary data folder (PIPELINE_DATA_DIR, DAGSTER_HOME) it writes sample data
of the requested size, runs the monthly close for the sample's end month through
``pipeline.runs.run_month`` (the same in-process Dagster path as ``pipeline run``) as two
runs, the data stages (ingest..health) and the reports, splits each run's wall time by
stage from its step events, and measures, in the same process:

* the ingest floor: DuckDB reading every landing CSV once
  (``CREATE TEMP TABLE t AS SELECT * FROM read_csv(?, all_varchar=true)``), nothing else,
  best of 3 passes;
* the render floor: WeasyPrint turning one already-built client report (PDF-mode HTML
  and charts) into a PDF in a warm process, median of 5 after a warm-up, times the number
  of reports rendered, divided by the render workers used.

and two lower bounds for the data stages, which no implementation of them can beat here:

* the engine bound: DuckDB alone doing less than ingest and staging must (``engine_bound``);
* the Dagster floor: the same asset graph run with empty bodies (``dagster_floor``).

Then it runs the same month again with no input change (the rerun), and, unless told
not to, ingest..health once more in a fresh folder with Dagster's multiprocess executor
to compare executors. Everything printed also goes to a JSON file.

Notes on the numbers:

* a stage's time is the sum of its steps (STEP_START to STEP_SUCCESS); "dagster overhead"
  is each run's wall time outside every step (start-up, planning, bookkeeping);
* peak RSS of children is ``RUSAGE_CHILDREN``: the largest single reaped child (the
  sample generator, which runs in a child so that this process's peak is the close's,
  and the render workers, reaped when the pool is shut down after each run), not their sum.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

DATA_SELECT = (
    "group:ingest or group:staging or key:marts/account_monthly or key:marts/portfolio_monthly "
    "or key:marts/account_health"
)
DATA_STAGES = ["ingest", "staging", "marts", "health"]
REPORT_STAGES = ["data_quality_report", "client_reports", "leadership_pack", "delivery"]
FLOOR_OF = {"ingest": "ingest", "staging": "ingest", "marts": "ingest", "health": "ingest", "client_reports": "render"}


def stage_of(step_key: str) -> str:
    """The benchmark stage a Dagster step belongs to (step keys are asset keys joined by '__')."""
    if step_key.startswith("raw__"):
        return "ingest"
    if step_key.startswith("staging__"):
        return "staging"
    if step_key == "marts__account_health":
        return "health"
    if step_key.startswith("marts__"):
        return "marts"
    if step_key.startswith("client_reports"):  # includes the every_due_client_has_a_report check's step
        return "client_reports"
    return {"report_deliveries": "delivery"}.get(step_key, step_key)


PACKAGES = ("dagster", "duckdb", "polars", "weasyprint")


@dataclass
class Stage:
    name: str
    seconds: float = 0.0
    steps: int = 0
    units: int | None = None
    unit: str = ""

    def rate(self) -> float | None:
        if self.units is None or self.seconds <= 0:
            return None
        return self.units / self.seconds


# ---------------------------------------------------------------- machine


def machine_info() -> dict[str, Any]:
    mem: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                mem[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "cores": os.cpu_count(),
        "mem_total_bytes": mem.get("MemTotal"),
        "mem_available_bytes": mem.get("MemAvailable"),
        "platform": platform.platform(),
        "versions": versions,
    }


def peak_rss() -> dict[str, int]:
    """ru_maxrss is in KiB on Linux."""
    return {
        "self_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "children_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
    }


# ---------------------------------------------------------------- warehouse counts


def _count_schema(con, schema: str, names: list[str] | None = None) -> int:
    tables = (
        [
            r[0]
            for r in con.sql(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ",
                params=[schema],
            ).fetchall()
        ]
        if names is None
        else names
    )
    total = 0
    for t in tables:
        total += con.sql(f'SELECT count(*) FROM "{schema}"."{t}"').fetchall()[0][0]
    return total


def warehouse_counts(path: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            "raw_rows": _count_schema(con, "raw"),
            "staged_rows": _count_schema(con, "staging"),
            "mart_rows": _count_schema(con, "marts", ["account_monthly", "portfolio_monthly"]),
            "health_rows": _count_schema(con, "marts", ["account_health"]),
        }
    finally:
        con.close()


def reports_rendered(path: Path, period: str) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.sql(
            "SELECT status, count(*) FROM ops.report_manifest WHERE period = ? AND kind = 'client' GROUP BY status",
            params=[period],
        ).fetchall()
    finally:
        con.close()
    return {status: n for status, n in rows}


def client_report_hashes(path: Path, period: str) -> dict[str, tuple[str, str]]:
    """account -> (pdf sha256, html sha256) of the period's client reports in the manifest."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.sql(
            "SELECT account_id, pdf_sha256, html_sha256 FROM ops.report_manifest "
            "WHERE period = ? AND kind = 'client' AND status IN ('rendered', 'unchanged')",
            params=[period],
        ).fetchall()
    finally:
        con.close()
    return {a: (pdf, html) for a, pdf, html in rows}


# ---------------------------------------------------------------- floors


def ingest_floor(landing: Path, repeats: int = 3) -> dict[str, Any]:
    """DuckDB reading every landing CSV once, and nothing else: the best of ``repeats``
    passes, since a floor is what the machine can do, and one pass varied by a third."""
    import duckdb

    files = sorted(landing.rglob("*.csv"))
    passes = []
    rows = 0
    for _ in range(repeats):
        con = duckdb.connect()
        try:
            rows = 0
            started = time.perf_counter()
            for f in files:
                con.execute("CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM read_csv(?, all_varchar=true)", [str(f)])
                rows += con.sql("SELECT count(*) FROM t").fetchall()[0][0]
            passes.append(time.perf_counter() - started)
        finally:
            con.close()
    return {
        "seconds": min(passes),
        "passes": passes,
        "files": len(files),
        "rows": rows,
        "bytes": sum(f.stat().st_size for f in files),
    }


# What each contract kind becomes in the engine bound's staging tables.
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "code": "VARCHAR",
    "currency": "VARCHAR",
    "email": "VARCHAR",
    "email_list": "VARCHAR",
    "date": "DATE",
    # YYYY-MM: TRY_CAST reads it as NULL, which leaves the bound doing less than staging
    # (parsing the month), as a lower bound should.
    "month": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "money": "DECIMAL(18,4)",
    "number": "DECIMAL(18,6)",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
}


def engine_bound(landing: Path, folder: Path) -> dict[str, Any]:
    """The least ingest and staging could cost in DuckDB alone, on this machine and data.

    It does less than the pipeline must, so no implementation of ingest..health can beat
    it: each source's files persisted in one ``read_csv`` statement with their file name
    (no row numbers, no header checks, no content hashes, one transaction for all), then
    each column cast to its staging type with ``TRY_CAST`` and the latest version of each
    key kept (no reasons, no quarantine, no reference checks). No marts, no health, no
    Dagster. The targets are judged against this as well as against the ingest floor.
    """
    import duckdb

    from pipeline.contract import SOURCES
    from pipeline.landing import discover
    from pipeline.sql import quote_ident

    files = {s.name: [str(f.path) for f in discover(landing, s)] for s in SOURCES}
    path = folder / "engine_bound.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA raw; CREATE SCHEMA staging")
        started = time.perf_counter()
        for s in SOURCES:
            if files[s.name]:
                con.execute(
                    f"CREATE TABLE raw.{quote_ident(s.name)} AS SELECT *, now() AS _loaded_at "
                    "FROM read_csv(?, all_varchar = true, union_by_name = true, filename = '_file')",
                    [files[s.name]],
                )
        con.execute("CHECKPOINT")
        ingested = time.perf_counter()
        for s in SOURCES:
            if not files[s.name]:
                continue
            present = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
                    [s.name],
                ).fetchall()
            }
            typed = ", ".join(
                f"TRY_CAST(trim({quote_ident(c.name)}) AS {DUCKDB_TYPES[c.kind.value]}) AS {quote_ident(c.name)}"
                for c in s.columns
                if c.name in present
            )
            key = ", ".join(quote_ident(k) for k in s.key)
            con.execute(
                f"CREATE TABLE staging.{quote_ident(s.name)} AS SELECT {typed}, _file, _loaded_at "
                f"FROM raw.{quote_ident(s.name)} "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _file DESC) = 1"
            )
        con.execute("CHECKPOINT")
        staged = time.perf_counter()
    finally:
        con.close()
        for p in folder.glob("engine_bound.duckdb*"):
            p.unlink()
    return {"seconds": staged - started, "ingest_seconds": ingested - started, "staging_seconds": staged - ingested}


def render_floor(settings, month: date, n_reports: int, workers: int, repeats: int = 5) -> dict[str, Any]:
    """WeasyPrint alone on one already-built client report, in this (warmed) process."""
    from pipeline.publish.client_reports import CHART_BUILDER, TEMPLATE
    from pipeline.reporting.client.context import build_client_context, report_plan
    from pipeline.resources.renderer.worker import DocumentRenderer, RenderJob
    from pipeline.resources.warehouse import Warehouse
    from pipeline.store.report_inputs import load_report_inputs

    wh = Warehouse(settings.warehouse_path)
    inputs = load_report_inputs(
        wh, month, settings.reporting_currency, with_health=settings.show_health_in_client_reports
    )
    plan = report_plan(inputs.accounts, inputs.monthly, month)
    if not plan:
        return {
            "seconds": 0.0,
            "seconds_per_report": None,
            "reports": n_reports,
            "workers": workers,
            "note": "no client report due this month",
        }
    account_id, _cadence, period = plan[0]
    ctx = build_client_context(inputs, account_id, period, settings)
    renderer = DocumentRenderer()
    job = RenderJob(
        template=TEMPLATE, context=ctx, html_path="", pdf_path="", root="", key=account_id, chart_builder=CHART_BUILDER
    )
    charts = renderer.draw_charts(job)
    html = renderer.render_html(TEMPLATE, ctx, "pdf", charts)  # the already-built document
    renderer.render_pdf(html, "en", charts)  # warm-up (fonts, caches)
    times = []
    pages = 0
    for _ in range(repeats):
        started = time.perf_counter()
        _pdf, pages, _req, _ref = renderer.render_pdf(html, "en", charts)
        times.append(time.perf_counter() - started)
    per = statistics.median(times)
    cores_used = max(1, min(workers, n_reports or 1, os.cpu_count() or 1))
    return {
        "seconds": per * n_reports / cores_used,
        "seconds_per_report": per,
        "samples": times,
        "pages": pages,
        "reports": n_reports,
        "cores_used": cores_used,
        "account_id": account_id,
    }


# ---------------------------------------------------------------- runs


def worker_peak_rss() -> list[int]:
    """VmHWM (peak RSS) of each live render worker, read from /proc before the pool closes.

    RUSAGE_CHILDREN alone overstates a spawned worker: Linux keeps the RSS the child had
    as a fork of this (large) process before exec in its ru_maxrss."""
    from pipeline.resources.renderer import pool as renderer

    peaks = []
    for pool in list(renderer._POOLS.values()):
        executor = getattr(pool, "_executor", None)
        for pid in list(getattr(executor, "_processes", None) or {}):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) * 1024)
            except OSError:
                pass
    return peaks


WORKER_PEAKS: list[int] = []


@dataclass
class RunTiming:
    """One Dagster run of the close: its wall time and where the time went."""

    label: str
    seconds: float
    stages: list[Stage]

    @property
    def in_steps(self) -> float:
        return sum(st.seconds for st in self.stages)

    @property
    def overhead(self) -> float:
        """Wall time outside every step: run start-up, planning, event-log writes between steps."""
        return max(0.0, self.seconds - self.in_steps)


def step_seconds(instance, run_id: str) -> dict[str, float]:
    """Each step's time from its STEP_START to its STEP_SUCCESS/STEP_FAILURE event."""
    import dagster as dg

    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None or not ev.step_key:
            continue
        if ev.event_type == dg.DagsterEventType.STEP_START:
            started[ev.step_key] = entry.timestamp
        elif (
            ev.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
            and ev.step_key in started
        ):
            seconds[ev.step_key] = entry.timestamp - started[ev.step_key]
    return seconds


def timed_run(month: date, select: str | None, names: list[str], label: str) -> RunTiming:
    """Run the close (or a selection of it) as ONE in-process Dagster run, the way
    ``pipeline run`` does, and split its wall time by stage from the event log."""
    from dagster import DagsterInstance
    from dagster._core.utils import make_new_run_id

    from pipeline.resources.renderer.pool import shutdown_pools
    from pipeline.runs import run_month

    run_id = make_new_run_id()
    t0 = time.perf_counter()
    failed = run_month(month, select=select, quiet=True, run_id=run_id)
    wall = time.perf_counter() - t0
    if failed:  # a timing of a failed close would be a number about nothing
        raise RuntimeError(f"the {label} run failed (run id {run_id}); see it in the Dagster UI")
    WORKER_PEAKS.extend(worker_peak_rss())
    shutdown_pools()  # reap the render workers so RUSAGE_CHILDREN sees them
    with DagsterInstance.get() as instance:
        per_step = step_seconds(instance, run_id)
    stages = {n: Stage(n) for n in names}
    for key, secs in per_step.items():
        st = stages.setdefault(stage_of(key), Stage(stage_of(key)))
        st.seconds += secs
        st.steps += 1
    timing = RunTiming(label, wall, list(stages.values()))
    for st in timing.stages:
        print(f"  [{label}] {st.name:<20} {st.seconds:8.2f} s  ({st.steps} steps)", flush=True)
    print(f"  [{label}] {'dagster overhead':<20} {timing.overhead:8.2f} s  (wall {wall:.2f} s)", flush=True)
    return timing


def render_comparison(settings, month: date, address: str) -> dict[str, Any]:
    """``--render-cluster``: the client_reports step once more with every report due again
    (the period's client folders removed), first on the local pool, then on the Dask
    cluster at ``address``, in this run; each one's reports/s, and whether the cluster's
    bytes equal the local pool's report by report."""
    from pipeline.resources.renderer.pool import get_cluster, worker_count

    period = f"{month:%Y-%m}"
    saved = os.environ.pop("PIPELINE_RENDER_CLUSTER", None)
    backends: dict[str, Any] = {}
    hashes: dict[str, dict[str, tuple[str, str]]] = {}
    try:
        for name, cluster in (("local", None), ("cluster", address)):
            shutil.rmtree(settings.reports_dir / period / "clients", ignore_errors=True)
            if cluster:
                os.environ["PIPELINE_RENDER_CLUSTER"] = cluster
            timing = timed_run(month, "key:client_reports", ["client_reports"], f"render on the {name}")
            seconds = sum(st.seconds for st in timing.stages if st.name == "client_reports")
            hashes[name] = client_report_hashes(settings.warehouse_path, period)
            n = reports_rendered(settings.warehouse_path, period).get("rendered", 0)
            workers = get_cluster(cluster).workers if cluster else worker_count(settings.render_workers)
            backends[name] = {
                "address": cluster,
                "workers": workers,
                "reports": n,
                "seconds": seconds,
                "reports_per_second": n / seconds if seconds else None,
            }
            os.environ.pop("PIPELINE_RENDER_CLUSTER", None)
    finally:
        os.environ.pop("PIPELINE_RENDER_CLUSTER", None)
        if saved is not None:
            os.environ["PIPELINE_RENDER_CLUSTER"] = saved
    local, remote = hashes["local"], hashes["cluster"]
    same = sum(1 for k, v in local.items() if remote.get(k) == v)
    lr, cr = backends["local"]["reports_per_second"], backends["cluster"]["reports_per_second"]
    return {
        **backends,
        "identical_reports": same,
        "compared_reports": len(local),
        "byte_identical": bool(local) and local == remote,
        "cluster_to_local": cr / lr if lr and cr else None,
    }


def multiprocess_close_job():
    """The monthly close with Dagster's multiprocess executor (a process per step), for
    ``--compare-executors``; module-level so Dagster can rebuild it in each step process."""
    import dagster as dg

    from pipeline.definitions import build_definitions
    from pipeline.jobs import MONTHLY_CLOSE
    from pipeline.settings import load_settings

    return build_definitions(load_settings(), executor=dg.multiprocess_executor).resolve_job_def(MONTHLY_CLOSE)


def multiprocess_data_run(month: date) -> float:
    """Wall seconds of ingest..health as one run with the multiprocess executor, one step
    process at a time."""
    import dagster as dg

    from pipeline.definitions import build_definitions
    from pipeline.progress import QUIET_RUN_CONFIG
    from pipeline.settings import load_settings

    defs = build_definitions(load_settings())
    keys = list(dg.AssetSelection.from_string(DATA_SELECT).resolve(defs.resolve_asset_graph()))
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(multiprocess_close_job),
            instance,
            asset_selection=keys,
            tags={"dagster/partition": month.strftime("%Y-%m-%d")},
            # One step at a time: steps in parallel processes would contend for the DuckDB
            # file's single-writer lock (and fail), so this measures a process per step.
            run_config={**QUIET_RUN_CONFIG, "execution": {"config": {"max_concurrent": 1}}},
        )
        ok = result.success
    seconds = time.perf_counter() - t0
    if not ok:
        raise RuntimeError("the multiprocess comparison run failed; see its run in the Dagster UI")
    return seconds


def dagster_floor(month: date) -> dict[str, Any]:
    """Wall seconds of Dagster alone running ingest..health: the same assets, dependencies,
    partitions and checks, with bodies that do nothing (every check passes), in-process, on
    a fresh instance configured like ``pipeline run``'s.

    Whatever the assets do, a run of this graph costs at least this much."""
    import dagster as dg

    from pipeline.definitions import build_definitions
    from pipeline.progress import QUIET_RUN_CONFIG
    from pipeline.runs import cli_instance
    from pipeline.settings import load_settings

    defs = build_definitions(load_settings())
    keys = dg.AssetSelection.from_string(DATA_SELECT).resolve(defs.resolve_asset_graph())

    def empty_body(specs: list, checks: list):
        def body(context):
            for spec in specs:
                yield dg.MaterializeResult(
                    asset_key=spec.key,
                    check_results=[
                        dg.AssetCheckResult(asset_key=c.asset_key, check_name=c.name, passed=True)
                        for c in checks
                        if c.asset_key == spec.key
                    ],
                )

        return body

    stubs = []
    assert defs.assets is not None  # build_definitions always passes its assets
    for n, a in enumerate(defs.assets):
        if isinstance(a, dg.AssetsDefinition) and a.keys and set(a.keys) <= keys:
            specs, checks = list(a.specs), list(a.check_specs)
            stubs.append(
                dg.multi_asset(specs=specs, check_specs=checks, name=f"empty_{n}", partitions_def=a.partitions_def)(
                    empty_body(specs, checks)
                )
            )
    job = dg.Definitions(
        assets=stubs,
        jobs=[dg.define_asset_job("dagster_floor", selection=dg.AssetSelection.all())],
        executor=dg.in_process_executor,
    ).resolve_job_def("dagster_floor")
    with tempfile.TemporaryDirectory(prefix="pipeline-dagster-floor-") as home, cli_instance(Path(home)) as instance:
        t0 = time.perf_counter()
        result = job.execute_in_process(
            instance=instance,
            partition_key=month.strftime("%Y-%m-%d"),
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        seconds = time.perf_counter() - t0
    if not result.success:
        raise RuntimeError("the empty-bodied run of ingest..health failed")
    return {
        "seconds": seconds,
        "assets": sum(len(list(a.specs)) for a in stubs),
        "checks": sum(len(list(a.check_specs)) for a in stubs),
    }


def format_report(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Machine: {m['cores']} cores, {(m['mem_total_bytes'] or 0) / 2**30:.1f} GiB RAM "
        f"({(m['mem_available_bytes'] or 0) / 2**30:.1f} GiB available)",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"Sample: {result['accounts']} accounts, {result['months']} months, end month {result['month']}, "
        f"{result['sample']['rows']:,} landing rows in {result['sample']['files']} files "
        f"(written in {result['sample']['seconds']:.1f} s)",
        "",
        f"Floors: ingest {result['floors']['ingest']['seconds']:.3f} s "
        f"({result['floors']['ingest']['rows']:,} rows, {result['floors']['ingest']['files']} files)",
    ]
    rf = result["floors"].get("render")
    if rf:
        if rf.get("seconds_per_report"):
            lines.append(
                f"        render {rf['seconds']:.2f} s = {rf['seconds_per_report']:.3f} s/report (median of "
                f"{len(rf['samples'])}) x {rf['reports']} reports / {rf['cores_used']} core(s)"
            )
        else:
            lines.append(f"        render: {rf.get('note')}")
    lines += [
        "",
        f"{'stage':<20} {'wall s':>8} {'units':>10} {'rate':>18} {'x floor':>8}",
        "-" * 68,
    ]
    for st in result["stages"]:
        ratio = "" if st["ratio_to_floor"] is None else f"{st['ratio_to_floor']:.1f}"
        units = "" if st["units"] is None else f"{st['units']:,}"
        rate = "" if st["rate"] is None else f"{st['rate']:,.0f} {st['unit']}/s"
        lines.append(f"{st['name']:<20} {st['seconds']:8.2f} {units:>10} {rate:>18} {ratio:>8}")
    overhead = sum(r["overhead"] for r in result["runs"])
    lines.append(f"{'dagster overhead':<20} {overhead:8.2f}   (run start-up and bookkeeping outside the steps)")
    lines.append("-" * 68)
    d = result["data_subtotal"]
    lines.append(
        f"{'ingest..health':<20} {d['seconds']:8.2f} {'':>10} {'(one run, wall)':>18} {d['ratio_to_floor']:8.1f}"
    )
    lines.append(
        f"{'  of which in steps':<20} {d['in_steps']:8.2f} {'':>10} {'':>18} {d['in_steps_ratio_to_floor']:8.1f}"
    )
    lines.append(f"{'total':<20} {result['total_seconds']:8.2f}")
    eb = result.get("engine_bound")
    if eb:
        lines += [
            "",
            f"Engine bound, ingest+staging in DuckDB alone (less work than the pipeline does): {eb['seconds']:.2f} s "
            f"= {eb['ratio_to_floor']:.1f} x floor (raw {eb['ingest_seconds']:.2f} s, typed and deduplicated "
            f"{eb['staging_seconds']:.2f} s)",
        ]
    df = result.get("dagster_floor")
    if df:
        lb = result["lower_bound"]
        lines += [
            f"Dagster alone, ingest..health with empty bodies ({df['assets']} assets, {df['checks']} checks): "
            f"{df['seconds']:.2f} s = {df['ratio_to_floor']:.1f} x floor",
            f"Least ingest..health could take here (the two together): {lb['seconds']:.2f} s "
            f"= {lb['ratio_to_floor']:.1f} x floor",
        ]
    ex = result.get("executors") or {}
    if "multiprocess_data_seconds" in ex:
        lines += [
            "",
            f"Executors, ingest..health: in-process {ex['in_process_data_seconds']:.2f} s, multiprocess "
            f"{ex['multiprocess_data_seconds']:.2f} s "
            f"({ex['multiprocess_data_seconds'] / ex['in_process_data_seconds']:.1f}x); the pipeline uses in-process",
        ]
    rb = result.get("render_backends")
    if rb:
        lines += ["", "Render backends, the client_reports step with every report due again (same run):"]
        for name in ("local", "cluster"):
            b = rb[name]
            where = "local pool" if name == "local" else f"cluster {b['address']}"
            rate = f"{b['reports_per_second']:.2f} reports/s" if b["reports_per_second"] else "n/a"
            lines.append(
                f"  {where:<34} {b['workers']:>2} workers {b['reports']:>7,} reports {b['seconds']:9.2f} s  {rate}"
            )
        lines.append(
            "  cluster / local throughput: "
            + ("n/a" if rb["cluster_to_local"] is None else f"{rb['cluster_to_local']:.2f}")
            + f"; byte-identical reports: {rb['identical_reports']:,} of {rb['compared_reports']:,}"
        )
    rr = result["rerun"]
    lines += [
        "",
        f"Rerun, same month, no input change: {rr['seconds']:.2f} s "
        f"({rr['ratio_to_first']:.2f} x the first run)"
        + ("" if rr.get("reports_rendered") is None else f"; client reports re-rendered: {rr['reports_rendered']}"),
        "  " + ", ".join(f"{s['name']} {s['seconds']:.2f}" for s in rr["stages"]),
        f"  ingest..health with nothing to recompute (Dagster's run costs and the checks): "
        f"{rr['data_seconds']:.2f} s = {rr['data_ratio_to_floor']:.1f} x floor",
        "",
        f"Peak RSS: this process {result['peak_rss']['self_bytes'] / 2**20:,.0f} MiB (after the first run "
        f"{result['peak_rss_first_run']['self_bytes'] / 2**20:,.0f} MiB); largest render worker (VmHWM) "
        + (
            "n/a"
            if not result["peak_rss"]["render_worker_bytes"]
            else f"{result['peak_rss']['render_worker_bytes'] / 2**20:,.0f} MiB"
        )
        + f"; RUSAGE_CHILDREN {result['peak_rss']['children_bytes'] / 2**20:,.0f} MiB (the sample generator; includes the pre-exec fork)",
    ]
    return "\n".join(lines)


def run_bench(
    accounts: int = 10000,
    months: int = 36,
    reports: bool = True,
    out: Path | str = "bench/results.json",
    seed: int = 7,
    keep: bool = False,
    compare_executors: bool = True,
    render_cluster: str | None = None,
    render_features: bool = False,
) -> dict[str, Any]:
    from pipeline.runs import UserError, last_complete_month
    from pipeline.transforms.calendar import add_months

    if accounts < 1 or months < 1:
        raise UserError("--accounts and --months must be at least 1.")
    if render_features and not reports:
        raise UserError("--render-features times the client report's PDF: drop --no-reports.")
    if render_cluster:
        if not reports:
            raise UserError("--render-cluster compares the report rendering: drop --no-reports.")
        from pipeline.resources.renderer.cluster import RenderClusterError
        from pipeline.resources.renderer.pool import get_cluster

        try:  # before the long close, not after it
            get_cluster(render_cluster)
        except RenderClusterError as exc:
            raise UserError(str(exc)) from None
    out = Path(out)
    month = last_complete_month()
    first = add_months(month, -(months - 1))
    root = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    saved = {k: os.environ.get(k) for k in ("PIPELINE_DATA_DIR", "DAGSTER_HOME", "PIPELINE_FIRST_MONTH")}
    os.environ["PIPELINE_DATA_DIR"] = str(root / "data")
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    os.environ["PIPELINE_FIRST_MONTH"] = first.strftime("%Y-%m")
    try:
        from pipeline.resources.renderer.pool import worker_count
        from pipeline.sample.generator import write_sample
        from pipeline.settings import load_settings

        settings = load_settings()
        print(f"Benchmark in {root}: {accounts} accounts x {months} months, month {month:%Y-%m}", flush=True)
        t0 = time.perf_counter()
        # In a child process: at 100,000 accounts the generator alone peaks near 5 GiB,
        # which would otherwise be this process's peak and hide the close's.
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            summary = pool.submit(
                write_sample,
                settings.landing_dir,
                accounts=accounts,
                months=months,
                seed=seed,
                end_month=month,
                reporting_currency=settings.reporting_currency,
            ).result()
        sample = {"seconds": time.perf_counter() - t0, "rows": summary.total_rows, "files": len(summary.files)}
        print(f"  sample written in {sample['seconds']:.1f} s ({sample['rows']:,} rows)", flush=True)

        def close(label: str) -> list[RunTiming]:
            runs = [timed_run(month, DATA_SELECT, DATA_STAGES, f"{label}, data")]
            if reports:
                runs.append(timed_run(month, f"not ({DATA_SELECT})", REPORT_STAGES, f"{label}, reports"))
            return runs

        first_runs = close("first run")
        rss_first = peak_rss()
        stages = [st for r in first_runs for st in r.stages]
        total = sum(r.seconds for r in first_runs)

        period = f"{month:%Y-%m}"
        counts = warehouse_counts(settings.warehouse_path)
        empty = [name for name in ("raw_rows", "staged_rows", "mart_rows", "health_rows") if not counts[name]]
        if empty:  # a close that wrote nothing somewhere is a defect, not a fast stage
            raise RuntimeError(f"the first run left {', '.join(empty)} at zero: {counts}")
        by = {s.name: s for s in stages}
        by["ingest"].units, by["ingest"].unit = counts["raw_rows"], "rows"
        by["staging"].units, by["staging"].unit = counts["staged_rows"], "rows"
        by["marts"].units, by["marts"].unit = counts["mart_rows"], "rows"
        by["health"].units, by["health"].unit = counts["health_rows"], "rows"
        n_reports = 0
        if reports:
            statuses = reports_rendered(settings.warehouse_path, period)
            n_reports = statuses.get("rendered", 0)
            by["client_reports"].units, by["client_reports"].unit = n_reports, "files"
            outbox = settings.outbox_dir
            by["delivery"].units = len(list(outbox.rglob("*.eml"))) if outbox.exists() else 0
            by["delivery"].unit = "e-mails"

        print("  measuring the floors", flush=True)
        floors: dict[str, Any] = {"ingest": ingest_floor(settings.landing_dir)}
        bound = engine_bound(settings.landing_dir, root)
        dagster_alone = dagster_floor(month)
        if reports:
            floors["render"] = render_floor(settings, month, n_reports, worker_count(settings.render_workers))
        features = None
        if render_features:
            from pipeline.bench_render import render_features as measure_features

            print("  the client report's CSS features, one at a time", flush=True)
            features = measure_features(settings, month)

        rerun_runs = close("rerun")
        rerun_total = sum(r.seconds for r in rerun_runs)
        rerun_rendered = reports_rendered(settings.warehouse_path, period).get("rendered", 0) if reports else None

        backends = None
        if render_cluster:
            print(f"  client reports again: local pool, then the cluster at {render_cluster}", flush=True)
            backends = render_comparison(settings, month, render_cluster)

        executors: dict[str, Any] = {"in_process_data_seconds": first_runs[0].seconds}
        if compare_executors:
            # Same data, fresh warehouse and instance: ingest..health with a process per step.
            mp_root = root / "multiprocess"
            shutil.copytree(settings.landing_dir, mp_root / "data" / "landing")
            os.environ["PIPELINE_DATA_DIR"] = str(mp_root / "data")
            os.environ["DAGSTER_HOME"] = str(mp_root / "dagster_home")
            Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
            print("  ingest..health again with the multiprocess executor", flush=True)
            executors["multiprocess_data_seconds"] = multiprocess_data_run(month)
            print(f"  [multiprocess] data stages {executors['multiprocess_data_seconds']:8.2f} s", flush=True)

        def ratio(name: str, seconds: float) -> float | None:
            f = FLOOR_OF.get(name)
            if f is None or f not in floors or not floors[f].get("seconds"):
                return None
            return seconds / floors[f]["seconds"]

        data = first_runs[0]
        least = bound["seconds"] + dagster_alone["seconds"]
        result = {
            "accounts": accounts,
            "months": months,
            "seed": seed,
            "month": period,
            "first_month": first.strftime("%Y-%m"),
            "reports": reports,
            "machine": machine_info(),
            "sample": sample,
            "stages": [
                {
                    "name": s.name,
                    "seconds": s.seconds,
                    "steps": s.steps,
                    "units": s.units,
                    "unit": s.unit,
                    "rate": s.rate(),
                    "floor": FLOOR_OF.get(s.name),
                    "ratio_to_floor": ratio(s.name, s.seconds),
                }
                for s in stages
            ],
            "runs": [
                {"label": r.label, "seconds": r.seconds, "in_steps": r.in_steps, "overhead": r.overhead}
                for r in first_runs
            ],
            "data_subtotal": {
                "seconds": data.seconds,
                "in_steps": data.in_steps,
                "overhead": data.overhead,
                "ratio_to_floor": ratio("ingest", data.seconds),
                "in_steps_ratio_to_floor": ratio("ingest", data.in_steps),
            },
            "total_seconds": total,
            "engine_bound": {**bound, "ratio_to_floor": ratio("ingest", bound["seconds"])},
            "dagster_floor": {**dagster_alone, "ratio_to_floor": ratio("ingest", dagster_alone["seconds"])},
            "lower_bound": {"seconds": least, "ratio_to_floor": ratio("ingest", least)},
            "warehouse_counts": counts,
            "floors": floors,
            "executors": executors,
            "rerun": {
                "seconds": rerun_total,
                "ratio_to_first": rerun_total / total if total else None,
                "stages": [{"name": s.name, "seconds": s.seconds} for r in rerun_runs for s in r.stages],
                "overhead": sum(r.overhead for r in rerun_runs),
                "data_seconds": rerun_runs[0].seconds,
                "data_ratio_to_floor": ratio("ingest", rerun_runs[0].seconds),
                "reports_rendered": rerun_rendered,
            },
            "render_backends": backends,
            "render_features": features,
            "peak_rss_first_run": rss_first,
            "peak_rss": {
                **peak_rss(),
                "render_worker_bytes": max(WORKER_PEAKS, default=None),
                "render_workers_seen": len(WORKER_PEAKS),
            },
        }
        print()
        print(format_report(result))
        if features is not None:
            from pipeline.bench_render import format_features

            print()
            print(format_features(features))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"\nWrote {out}")
        return result
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if keep:
            print(f"Kept the benchmark folder {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
