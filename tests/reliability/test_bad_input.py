"""Promise 1 of issue 10: bad input never crashes and never disappears.

For every source of the contract, a fixed set of broken files and broken values and a
hypothesis corpus of generated files must end either in a file-level message that names
the file and what to fix, or with every broken row in ops.quarantine (file, row, column,
plain reason) and rows in = staged + quarantined + superseded, counted here from the
rows themselves rather than from the staging code's own numbers.

The pure functions (reading a landing file, staging) take the bulk of the cases; two
real `pipeline run` processes over one landing folder full of bad files prove that no
traceback reaches the operator, that the warehouse balances, and that the marts still
run once the unreadable files are removed.

Cases tried (printed with -s): see ``COUNTS`` and the module docstring of input_helpers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.contract import SOURCES, Source, load_order
from pipeline.landing import LandingFileError, read_landing_file
from pipeline.profiles import builtin_names
from pipeline.profiles.plan import plan_file
from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.store.loading import load_new_files
from pipeline.store.staging import stage
from pipeline.transforms.staging import stage_source
from tests.support.budgets import examples
from tests.support.input_helpers import (
    FILE_CASES,
    GeneratedFile,
    as_raw,
    base_file,
    base_rows,
    check_balance,
    check_quarantine_rows,
    check_staged_values,
    combined_row_cases,
    generated_file,
    known_keys,
    landing_file,
    leaks,
)
from tests.support.vendor_inputs import (
    SpecResult,
    VendorFile,
    builtin_profiles,
    combined_cases,
    export_file,
    generated_vendor_file,
    groups,
    sql_refs,
    stage_group,
    stage_spec,
    to_csv,
    vendor_file,
)

COUNTS: dict[str, int] = {}


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance in this process (the CLI runs are processes of
    their own); skip the folder's per-test one, which costs a second or more each."""
    yield None


PURE_EXAMPLES_PER_SOURCE = examples(40)  # per source, as run in CI (see tests.support.budgets)
WAREHOUSE_EXAMPLES = examples(30)


@pytest.fixture(scope="module", autouse=True)
def _print_counts():
    yield
    if COUNTS:
        print("\nbad-input cases tried: " + ", ".join(f"{k} {v}" for k, v in COUNTS.items()))


def _count(name: str, n: int = 1) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + n


class Failures(list):
    """Collects every failing case of a loop, so one run reports all of them."""

    def run(self, label: str, fn, *args) -> None:
        try:
            fn(*args)
        except AssertionError as exc:
            self.append(f"{label}: {exc}")
        except Exception:  # a crash is a failure of the promise too
            self.append(f"{label}: CRASH\n{traceback.format_exc()}")

    def check(self) -> None:
        assert not self, f"{len(self)} case(s) failed:\n" + "\n".join(self[:40])


# ------------------------------------------------------------------ fixed broken files


def _one_file_case(tmp: Path, source: Source, case) -> None:
    f = landing_file(tmp, source, f"{source.pattern}_case.csv", case.build(source))
    where = f"{source.folder}/{f.name}"
    if case.error:
        try:
            read_landing_file(f, source)
        except LandingFileError as exc:
            msg = str(exc)
            assert msg.startswith(where), msg
            assert case.error in msg, msg
            assert not leaks(msg), msg
            assert len(msg) < 1500, f"message of {len(msg)} characters"
            return
        raise AssertionError("the file was accepted; expected a file-level message")
    frame, extra = read_landing_file(f, source)
    assert frame.height == case.rows, (frame.height, case.rows)
    assert frame["_row"].to_list() == list(range(1, frame.height + 1))
    assert set(case.extra) <= set(extra), extra
    result = stage_and_check(as_raw(frame, where), source)
    if case.name in (
        "BOM and CRLF",
        "old Mac line endings (CR only)",
        "mixed line endings",
        "columns reordered, upper case, spaces",
        "extra columns",
        "optional column missing",
    ):
        assert result.rows_quarantined == 0, result.rejects.select("column", "reason").to_dicts()
        assert result.rows_staged == case.rows
    if case.name == "a row with fewer fields":
        assert result.rejects["row"].unique().to_list() == [3]


def stage_and_check(raw: pl.DataFrame, source):
    """Stage raw rows, then check the outcome against the tables' own counts and the contract."""
    result = stage_source(source, raw, known_keys())
    counts = check_balance(raw, result.frame, result.rejects, source)
    assert counts["in"] == result.rows_in
    assert (counts["staged"], counts["quarantined"], counts["superseded"]) == (
        result.rows_staged,
        result.rows_quarantined,
        result.rows_superseded,
    )
    check_quarantine_rows(result.rejects)
    check_staged_values(result.frame, source)
    return result


def test_fixed_broken_files_for_every_source(tmp_path):
    failures = Failures()
    for source in SOURCES:
        for n, case in enumerate(FILE_CASES):
            failures.run(f"{source.name} / {case.name}", _one_file_case, tmp_path / f"{source.name}{n}", source, case)
            _count("fixed files")
    failures.check()


# ------------------------------------------------------------------ fixed broken values


def _check_row_case(where: str, case, offset: int, result) -> None:
    rows = range(offset + 1, offset + len(case.rows) + 1)
    q = result.rejects.filter(pl.col("row").is_in(list(rows)))
    staged = result.frame.filter(pl.col("_row").is_in(list(rows)))
    bad = sorted(r - offset for r in q["row"].unique().to_list())
    assert bad == list(case.bad), q.select("row", "column", "reason").to_dicts()
    for row in case.bad:
        hits = q.filter((pl.col("row") == offset + row) & (pl.col("column") == case.column))
        assert any(case.reason in r for r in hits["reason"]), (row, case.column, q.to_dicts())
        assert set(hits["file"]) == {where}
        if "," not in case.column:  # the quarantined value is the cell as delivered
            cell = case.rows[row - 1][case.column].replace("\r\n", "\n").replace("\r", "\n").strip()
            assert hits["value"][0] == (cell[:500] or None)
    assert staged.height == len(case.rows) - len(case.bad) - case.superseded, staged.height
    for row, column, value in case.staged:
        got = staged.filter(pl.col("_row") == offset + row)[column].to_list()
        assert got == [value], (column, str(got)[:200], str(value)[:200])


def test_fixed_broken_values_for_every_source(tmp_path):
    """Each source's cases share one file (each on keys of its own): one staging per source."""
    failures = Failures()
    for source in SOURCES:
        data, placed = combined_row_cases(source)
        f = landing_file(tmp_path, source, f"{source.pattern}_cases.csv", data)
        where = f"{source.folder}/{f.name}"
        frame, _ = read_landing_file(f, source)
        assert frame.height == sum(len(c.rows) for c, _ in placed)
        result = stage_and_check(as_raw(frame, where), source)
        for case, offset in placed:
            failures.run(f"{source.name} / {case.name}", _check_row_case, where, case, offset, result)
            _count("fixed values")
    failures.check()


def test_regressions_found_by_this_suite(tmp_path):
    """Each of these crashed, lost data or misled before the fixes that came with this suite."""
    from pipeline.contract import source as by_name

    subs, overrides = by_name("subscriptions"), by_name("health_overrides")
    header = "subscription_id,account_id,product,start_date,end_date,mrr,currency"
    row = "S1,RXA1,Core,2024-01-01,,10,usd"

    def read(src, data, name="x"):
        return read_landing_file(landing_file(tmp_path / name, src, f"{src.pattern}_{name}.csv", data), src)

    # a column called _row crashed the reader (polars DuplicateError); now it is an ignored extra
    frame, extra = read(subs, f"{header},_row\n{row},7\n".encode(), "rowcol")
    assert frame["_row"].to_list() == [1] and extra == ["_row"]
    # an exact repeated header was silently renamed and its values dropped
    with pytest.raises(LandingFileError, match="subscription_id more than once"):
        read(subs, f"{header},subscription_id\n{row},S2\n".encode(), "twice")
    # CR-only and mixed line endings failed the file, or merged two rows into one value
    frame, _ = read(subs, f"{header}\r{row}\rS2,RXA1,Core,2024-01-01,,10,usd\r".encode(), "cr")
    assert frame["subscription_id"].to_list() == ["S1", "S2"]
    frame, _ = read(
        subs, f"{header}\r\n{row}\nS2,RXA1,Core,2024-01-01,,10,usd\rS3,RXA1,x,2024-01-01,,1,usd\r\n".encode(), "mixed"
    )
    assert frame["subscription_id"].to_list() == ["S1", "S2", "S3"]
    # a file without a header row whose first row repeats a value was reported as a repeated column
    with pytest.raises(LandingFileError, match=r"missing the required column.*first line must be the header"):
        read(subs, f"{row}\nS2,RXA1,Core,2024-01-01,,10,usd\n".replace("Core", "10").encode(), "nohead")
    # a ragged row named no row; UTF-16 was called "not UTF-8 (byte 0)"
    with pytest.raises(LandingFileError, match="data row 2 has 8 fields but the header has 7"):
        read(subs, f"{header}\n{row}\n{row},extra\n".encode(), "ragged")
    with pytest.raises(LandingFileError, match="is UTF-16 text"):
        read(subs, f"{header}\n{row}\n".encode("utf-16"), "utf16")
    # a broken value in a column named "reason" was quarantined with the reason as its value
    frame, _ = read(overrides, b"account_id,band,reason,set_by,expires_on\nRXA1,red,,ann,2026-01-01\n", "reason")
    rejects = stage_source(overrides, as_raw(frame, "crm/x.csv"), known_keys()).rejects
    assert rejects.select("column", "value", "reason").rows() == [("reason", None, "missing required value")]
    # a 100,000-character unknown code was copied whole into the reason
    long_tier = "gold" * 25_000
    frame, _ = read(
        by_name("accounts"),
        f"account_id,account_name,tier,account_manager_id,currency\nRXA1,Acme,{long_tier},RXM1,usd\n".encode(),
        "long",
    )
    rejects = stage_source(by_name("accounts"), as_raw(frame, "crm/x.csv"), known_keys()).rejects
    assert rejects["column"].to_list() == ["tier"] and len(rejects["reason"][0]) < 200
    assert rejects["value"][0] == long_tier[:500]


# ------------------------------------------------------------------ hypothesis: pure functions


def _stage_generated(tmp: Path, source: Source, files: list[GeneratedFile]) -> None:
    raws = []
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for n, gen in enumerate(files):
        f = landing_file(tmp, source, f"{source.pattern}_gen{n}.csv", gen.data)
        where = f"{source.folder}/{f.name}"
        try:
            frame, _ = read_landing_file(f, source)
        except LandingFileError as exc:
            msg = str(exc)
            assert msg.startswith(where) and not leaks(msg), msg
            _count("generated files refused with a message")
            continue
        if gen.mangle in ("none", "bom"):
            # nothing lost on the way in (a stray CR in an unquoted cell may split a row)
            assert frame.height >= gen.rows, (frame.height, gen.rows)
        raws.append(as_raw(frame, where, base + timedelta(seconds=n)))
        _count("generated files loaded")
    if not raws:
        return
    raw = pl.concat(raws)
    result = stage_and_check(raw, source)
    assert result.frame.select(list(source.key)).is_unique().all()
    _count("generated rows", raw.height)


def test_generated_files_never_crash_and_always_balance():
    """Hypothesis, per source: 1-3 files with random column subsets and orders, stranger
    columns, valid and garbage cells (random bytes, delimiters, quotes, line breaks,
    numbers and dates in other formats), any line ending, sometimes re-encoded,
    truncated or with random bytes spliced in."""
    with tempfile.TemporaryDirectory() as d:
        for source in SOURCES:
            counter = iter(range(10**9))

            @settings(
                max_examples=PURE_EXAMPLES_PER_SOURCE,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(files=st.lists(generated_file(source), min_size=1, max_size=3))
            def prop(files):
                _count("hypothesis examples (pure)")
                # called at once below, inside this iteration: the loop variables are current
                _stage_generated(Path(d) / f"{source.name}-{next(counter)}", source, files)  # noqa: B023

            prop()


# ------------------------------------------------------------------ hypothesis: through the warehouse


@pytest.fixture(scope="module")
def shared_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("wh")
    landing = root / "landing"
    for source in SOURCES:
        landing_file(landing, source, f"{source.pattern}_base.csv", base_file(source))
    wh = Warehouse(root / "warehouse.duckdb")
    for source in load_order():
        assert not load_new_files(wh, landing, source).errors
        assert stage(wh, source).rows_staged == base_rows(source)
    return wh, landing


def _warehouse_tables(wh: Warehouse, source: Source) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    with wh.connect(read_only=False) as con:
        raw = fetch(con, f'SELECT * FROM raw."{source.name}"')
        staged = fetch(con, f'SELECT * FROM staging."{source.name}"')
        q = fetch(con, "SELECT * FROM ops.quarantine WHERE source = ? AND stage = 'staging'", [source.name])
    return raw, staged, q


def test_generated_files_through_the_warehouse_balance(shared_warehouse):
    """The same corpus through load_new_files + stage into DuckDB, files accumulating
    across examples (so later files supersede earlier ones); the balance is counted from
    raw, staging and ops.quarantine with SQL-side data, and ops.loads matches raw."""
    wh, landing = shared_warehouse
    counter = iter(range(10**9))

    @settings(
        max_examples=WAREHOUSE_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def prop(data):
        source = data.draw(st.sampled_from(SOURCES))
        files = data.draw(st.lists(generated_file(source), min_size=1, max_size=3))
        n = next(counter)
        for k, gen in enumerate(files):
            landing_file(landing, source, f"{source.pattern}_w{n:04d}_{k}.csv", gen.data)
        report = load_new_files(wh, landing, source)
        for msg in report.errors:
            assert msg.startswith(f"{source.folder}/{source.pattern}_w{n:04d}_") and not leaks(msg), msg
        # a refused file stays refused; take it out as the operator would
        for k in range(len(files)):
            p = landing / source.folder / f"{source.pattern}_w{n:04d}_{k}.csv"
            if any(m.startswith(f"{source.folder}/{p.name} ") for m in report.errors):
                p.unlink()
        result = stage(wh, source)
        raw, staged, q = _warehouse_tables(wh, source)
        counts = check_balance(raw, staged, q, source)
        assert counts["in"] == result.rows_in and counts["staged"] == result.rows_staged
        assert counts["quarantined"] == result.rows_quarantined
        check_quarantine_rows(q)
        check_staged_values(staged, source)
        with wh.connect() as con:
            per_file = fetch(con, "SELECT file_name AS file, rows FROM ops.loads WHERE source = ?", [source.name])
        raw_per_file = raw.group_by("_file").len().rename({"_file": "file"})
        joined = per_file.join(raw_per_file, on="file", how="full", coalesce=True)
        assert joined["rows"].null_count() == 0, joined  # raw rows of a file never recorded as loaded
        assert (joined["rows"] == joined["len"].fill_null(0)).all(), joined
        _count("hypothesis examples (warehouse)")
        _count("generated files (warehouse)", len(files))

    prop()


# ------------------------------------------------------------------ the real CLI, end to end

END = "2026-03"


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900
    )


@pytest.fixture(scope="module")
def bad_landing(tmp_path_factory):
    """A small sample plus, for every source, a base file, every fixed broken-value case
    as a file of its own, every readable broken file and every unreadable one."""
    root = tmp_path_factory.mktemp("cli")
    env = {
        **os.environ,
        "PIPELINE_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PIPELINE_FIRST_MONTH": "2025-10",
    }
    env.pop("PIPELINE_DEBUG", None)
    sample = cli(["sample", "--accounts", "8", "--months", "6", "--end-month", END], env, root)
    assert sample.returncode == 0, sample.stderr
    landing = root / "data" / "landing"
    expected: dict[str, dict] = {"row_cases": {}, "unreadable": [], "readable_rows": {}}
    for source in SOURCES:
        landing_file(landing, source, f"{source.pattern}_rx_base.csv", base_file(source))
        data, placed = combined_row_cases(source)
        landing_file(landing, source, f"{source.pattern}_rx_cases.csv", data)
        expected["row_cases"][f"{source.folder}/{source.pattern}_rx_cases.csv"] = placed
        for n, case in enumerate(FILE_CASES):
            name = f"{source.pattern}_rx_file{n:02d}.csv"
            f = landing_file(landing, source, name, case.build(source))
            if case.error:
                expected["unreadable"].append((f.path, f"{source.folder}/{name}", case))
            else:
                expected["readable_rows"][f"{source.folder}/{name}"] = case.rows
    return root, env, expected


def _operator_output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_cli_run_with_a_landing_folder_full_of_bad_files(bad_landing):
    root, env, expected = bad_landing
    selection = "group:ingest or group:staging or group:marts"
    db = root / "data" / "warehouse.duckdb"

    # 1. Unreadable files present: the run fails with one message per file, no traceback.
    started = time.perf_counter()
    first = cli(["run", "--month", END, "--select", selection], env, root)
    print(f"\nfirst CLI run {time.perf_counter() - started:.1f}s")
    out = _operator_output(first)
    assert first.returncode == 1, out[-3000:]
    assert not leaks(out), out[-3000:]
    for _path, rel, case in expected["unreadable"]:
        line = next((ln for ln in out.splitlines() if rel in ln), None)
        assert line is not None, f"{rel} ({case.name}) is not named in the operator's output"
        assert case.error in line, (case.name, line)
    for source in SOURCES:
        assert f"FAILED  raw/{source.name}" in first.stderr
    _count("CLI runs")
    con = duckdb.connect(str(db), read_only=True)
    try:
        loads = dict(con.execute("SELECT file_name, rows FROM ops.loads").fetchall())
    finally:
        con.close()
    assert not {rel for _, rel, _ in expected["unreadable"]} & set(loads)
    for rel, rows in expected["readable_rows"].items():
        assert loads.get(rel) == rows, rel  # readable files of a failing source still load
    for rel, placed in expected["row_cases"].items():
        assert loads.get(rel) == sum(len(case.rows) for case, _ in placed), rel

    # 2. The operator removes the unreadable files and runs again: staging and marts run.
    for path, _, _ in expected["unreadable"]:
        path.unlink()
    started = time.perf_counter()
    second = cli(["run", "--month", END, "--select", selection], env, root)
    print(f"second CLI run {time.perf_counter() - started:.1f}s")
    out = _operator_output(second)
    assert second.returncode == 0, out[-3000:]
    assert not leaks(out), out[-3000:]
    for source in SOURCES:
        assert f"ok      staging/{source.name}" in second.stdout
    assert "ok      marts/portfolio_monthly" in second.stdout
    _count("CLI runs")

    wh = Warehouse(db)
    totals = {"in": 0, "staged": 0, "quarantined": 0, "superseded": 0}
    with wh.connect(read_only=True) as con:
        for source in SOURCES:
            raw = fetch(con, f'SELECT * FROM raw."{source.name}"')
            staged = fetch(con, f'SELECT * FROM staging."{source.name}"')
            q = fetch(con, "SELECT * FROM ops.quarantine WHERE source = ? AND stage = 'staging'", [source.name])
            counts = check_balance(raw, staged, q, source)
            check_quarantine_rows(q)
            check_staged_values(staged, source)
            for k in totals:
                totals[k] += counts[k]
        quarantine = fetch(con, "SELECT * FROM ops.quarantine")
        months = fetch(con, "SELECT max(month) AS m, count(*) AS n FROM marts.account_monthly")
        health = fetch(con, "SELECT count(*) AS n FROM marts.account_health WHERE month = ?", [f"{END}-01"])
        portfolio = fetch(con, "SELECT count(*) AS n FROM marts.portfolio_monthly WHERE month = ?", [f"{END}-01"])
    check_quarantine_rows(quarantine)  # the marts' own rejects (a missing fx rate) included
    assert str(months["m"][0]) == f"{END}-01" and months["n"][0] > 0
    assert health["n"][0] > 0 and portfolio["n"][0] > 0
    # every fixed broken row is in quarantine, on its file, row and column
    by_place: dict[tuple, list[str]] = {}
    for r in quarantine.iter_rows(named=True):
        by_place.setdefault((r["file"], r["row"], r["column"]), []).append(r["reason"])
    for rel, placed in expected["row_cases"].items():
        for case, offset in placed:
            for row in case.bad:
                reasons = by_place.get((rel, offset + row, case.column), [])
                assert any(case.reason in reason for reason in reasons), (rel, case.name, row, reasons)
    assert totals["in"] == totals["staged"] + totals["quarantined"] + totals["superseded"]
    _count("rows through the CLI", totals["in"])
    _count("rows quarantined through the CLI", totals["quarantined"])


# ------------------------------------------------------------------ vendor exports (issue 16)
#
# The same promise for the files the export profiles read (landing/<system>/): every file
# and every broken value below is derived from the built-in profiles' data
# (tests.support.vendor_inputs), so a profile, a file spec or a column mapping added to
# pipeline/profiles/*.toml is covered without touching these tests. A broken value is
# named in ops.quarantine by the export's own header, file and row; rows read = staged +
# quarantined + superseded + left out by the profile's filter.


@pytest.fixture(scope="module")
def vendor_files(tmp_path_factory):
    """One VendorFile per (built-in profile, glob), its valid rows found once."""
    tmp = tmp_path_factory.mktemp("vendor-search")
    refs = sql_refs()
    return refs, [vendor_file(p, glob, refs, tmp / p.name) for p in builtin_profiles() for glob in groups(p)]


def test_every_built_in_profile_and_file_spec_is_covered(vendor_files):
    _refs, files = vendor_files
    assert {vf.profile.name for vf in files} == set(builtin_names()) >= {"salesforce", "stripe", "zendesk", "hubspot"}
    assert sum(len(vf.specs) for vf in files) == sum(len(p.files) for p in builtin_profiles())


def _check_vendor_message(msg: str, vf: VendorFile, phrase: str) -> None:
    assert msg.startswith(vf.rel), msg
    assert phrase in msg, (phrase, msg)
    assert "\n" not in msg and "\r" not in msg, msg  # one line
    assert not leaks(msg), msg
    assert len(msg) < 1500, f"message of {len(msg)} characters"


def _check_vendor_balance(r: SpecResult, rows_written: int) -> dict:
    """rows read = staged + quarantined + superseded + filtered, counted from the rows."""
    counts = check_balance(r.raw, r.result.frame, r.result.rejects, r.source)
    assert r.rows_read == rows_written, (r.rows_read, rows_written)
    assert counts["in"] + r.filtered == rows_written
    assert counts["in"] == r.result.rows_in
    assert (counts["staged"], counts["quarantined"], counts["superseded"]) == (
        r.result.rows_staged,
        r.result.rows_quarantined,
        r.result.rows_superseded,
    )
    check_quarantine_rows(r.result.rejects)
    check_staged_values(r.result.frame, r.source)
    return counts


def _headers_as(vf: VendorFile, rows: list[dict[str, str]], shown) -> bytes:
    return to_csv([shown(h) for h in vf.headers], [{shown(h): v for h, v in r.items()} for r in rows])


def _vendor_shapes(vf: VendorFile) -> list[tuple[str, bytes, str | None, int]]:
    """(case, bytes, phrase of the file-level message or None when it loads, data rows)."""
    base = vf.rows(3)
    good = to_csv(vf.headers, base)
    first = vf.headers[0]
    latin1 = to_csv(vf.headers, [*base, vf.row(3, **{first: vf.row(3)[first] + "Jérôme"})]).decode()
    return [
        ("empty file (0 bytes)", b"", "is empty", 0),
        ("binary (PNG bytes)", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not UTF-8", 0),
        ("binary with NUL bytes, valid UTF-8", b"\x00\x01\x02" * 500, "looks binary", 0),
        ("UTF-16 with BOM", good.decode().encode("utf-16"), "UTF-16", 0),
        ("UTF-16 without BOM", good.decode().encode("utf-16-le"), "UTF-16", 0),
        ("Latin-1", latin1.encode("latin-1"), "not UTF-8", 0),
        (
            "a row with more fields than the header",
            good + (",x" * (len(vf.headers) + 1)).encode() + b"\n",
            "data row 4 has",
            0,
        ),
        ("an unclosed quote", good + b'"' + good.splitlines()[1] + b"\n", "not a readable CSV", 0),
        # these load: every row staged
        ("header only", to_csv(vf.headers, []), None, 0),
        ("BOM and CRLF", b"\xef\xbb\xbf" + to_csv(vf.headers, base, "\r\n"), None, 3),
        ("old Mac line endings (CR only)", to_csv(vf.headers, base, "\r"), None, 3),
        ("headers in upper case", _headers_as(vf, base, str.upper), None, 3),
        ("headers in lower case", _headers_as(vf, base, str.lower), None, 3),
        ("columns reversed", to_csv(list(reversed(vf.headers)), base), None, 3),
        ("extra columns", to_csv([*vf.headers, "Notes", "_row", "_file", "_origin"], base), None, 3),
    ]


def _one_vendor_shape(tmp: Path, vf: VendorFile, refs, case: str, data: bytes, phrase: str | None, n: int) -> None:
    f = export_file(tmp / vf.profile.folder / vf.name, vf.profile, data)
    for spec in vf.specs:
        try:
            r = stage_spec(f, vf.profile, spec, refs)
        except LandingFileError as exc:
            assert phrase is not None, f"{spec.source}: refused: {exc}"
            _check_vendor_message(str(exc), vf, phrase)
            continue
        assert phrase is None, f"{spec.source}: the file was accepted; expected a message with {phrase!r}"
        _check_vendor_balance(r, n)
        assert r.result.rows_staged == n, r.result.rejects.select("column", "value", "reason").to_dicts()


def _one_missing_header(tmp: Path, vf: VendorFile, refs, header: str) -> None:
    """Without ``header``: the specs that need it fail naming it and the profile; the others load."""
    headers = [h for h in vf.headers if h != header]
    f = export_file(tmp / vf.profile.folder / vf.name, vf.profile, to_csv(headers, vf.rows(3)))
    for spec in vf.specs:
        needs = plan_file(spec, headers, refs).missing
        try:
            r = stage_spec(f, vf.profile, spec, refs)
        except LandingFileError as exc:
            assert needs, f"{spec.source}: refused, but the plan needs no missing header: {exc}"
            msg = str(exc)
            _check_vendor_message(msg, vf, "is missing the header(s)")
            assert header in msg and f"the {vf.profile.name} profile" in msg, msg
            continue
        assert not needs, f"{spec.source} loaded without the header(s) it needs: {needs}"
        _check_vendor_balance(r, 3)


def test_vendor_broken_files_fail_with_one_line_naming_the_file(vendor_files, tmp_path):
    refs, files = vendor_files
    failures = Failures()
    for k, vf in enumerate(files):
        for n, (case, data, phrase, rows) in enumerate(_vendor_shapes(vf)):
            label = f"{vf.rel} / {case}"
            failures.run(label, _one_vendor_shape, tmp_path / f"s{k}-{n}", vf, refs, case, data, phrase, rows)
            _count("vendor files (fixed shapes)")
        for n, header in enumerate(vf.headers):
            label = f"{vf.rel} / without {header!r}"
            failures.run(label, _one_missing_header, tmp_path / f"m{k}-{n}", vf, refs, header)
            _count("vendor files (a header dropped)")
    failures.check()


def test_vendor_headers_with_surrounding_spaces_load_like_the_plan_says(vendor_files, tmp_path):
    """The plan (and `pipeline profiles check`) match headers ignoring surrounding spaces;
    the load must read such a file too, not fail it blaming the profile's expression."""
    refs, files = vendor_files
    failures = Failures()
    for k, vf in enumerate(files):
        data = _headers_as(vf, vf.rows(3), lambda h: f" {h} ")
        failures.run(
            f"{vf.rel} / ' header '", _one_vendor_shape, tmp_path / f"sp{k}", vf, refs, "spaces", data, None, 3
        )
    failures.check()


def test_a_vendor_file_with_a_repeated_header_fails_naming_it(vendor_files, tmp_path):
    """A contract file with a header twice fails ("more than once"); a vendor export with a
    header the profile reads twice must not silently use one and drop the other."""
    refs, files = vendor_files
    failures = Failures()
    for k, vf in enumerate(files):
        header = vf.headers[0]
        rows = [{**r, f"{header} ": "other"} for r in vf.rows(3)]
        data = to_csv([*vf.headers, f"{header} "], rows)  # the same header, as the reader sees it
        failures.run(
            f"{vf.rel} / {header!r} twice", _one_vendor_shape, tmp_path / f"d{k}", vf, refs, "twice", data,
            "more than once", 0,
        )  # fmt: skip
    failures.check()


def test_a_vendor_column_named_like_the_loaders_own_row_number_is_an_extra(vendor_files, tmp_path):
    """A contract file with a column _row loads it as an ignored extra (a regression of this
    suite); a vendor export with _ROW or _Row must too, not crash the load."""
    refs, files = vendor_files
    failures = Failures()
    for k, vf in enumerate(files):
        for n, extra in enumerate(("_ROW", "_Row")):
            data = to_csv([*vf.headers, extra], [{**r, extra: "x"} for r in vf.rows(3)])
            failures.run(
                f"{vf.rel} / {extra}", _one_vendor_shape, tmp_path / f"r{k}-{n}", vf, refs, extra, data, None, 3
            )
    failures.check()


def _check_vendor_cases(vf: VendorFile, placed, results: list[SpecResult], rows_written: int) -> None:
    headers = {h.lower() for h in vf.headers}
    for r in results:
        _check_vendor_balance(r, rows_written)
        q = r.result.rejects
        assert set(q["file"].to_list()) <= {vf.rel}, q["file"].unique().to_list()
        # The quarantine speaks the export's words: every column it names is a header of the file.
        for column in q["column"].unique().to_list():
            assert {c.strip().lower() for c in column.split(",")} <= headers, (r.spec.source, column)
        staged = set(r.result.frame["_row"].to_list())
        assert {1, 2, 3} <= staged, (r.spec.source, q.filter(pl.col("row") <= 3).to_dicts())
    for case, row in placed:
        r = next(x for x in results if x.spec.source == case.spec_source)
        hits = r.result.rejects.filter(pl.col("row") == row)
        match = hits.filter(
            (pl.col("column") == case.header) & pl.col("reason").str.contains(case.reason, literal=True)
        )
        assert not match.is_empty(), (case.name, row, hits.select("column", "value", "reason").rows())
        assert match["value"][0] == case.value, (case.name, match["value"][0], case.value)
        assert row not in set(r.result.frame["_row"].to_list()), case.name


def test_vendor_broken_values_are_quarantined_in_the_exports_words(vendor_files, tmp_path):
    """Each broken value (a value not of its column's kind, an unknown code or reference,
    an empty required value, a broken expression input, an account that cannot be found)
    of each header each spec reads: quarantined naming the export's file, row, header and
    value; the other rows staged; the count identity holds."""
    refs, files = vendor_files
    failures = Failures()
    for k, vf in enumerate(files):
        data, placed = combined_cases(vf, refs)
        _f, results = stage_group(tmp_path / f"v{k}", vf, data, refs)
        failures.run(vf.rel, _check_vendor_cases, vf, placed, results, 3 + len(placed))
        _count("vendor values (fixed)", len(placed))
    failures.check()


VENDOR_EXAMPLES = examples(40)


def test_generated_vendor_files_never_crash_and_always_balance(vendor_files):
    """Hypothesis: files in each profile file's shape with garbage cells, dropped and
    stranger headers, any line ending and mangled bytes: a one-line message naming the
    file, or every row read staged, quarantined, superseded or filtered."""
    refs, files = vendor_files
    counter = iter(range(10**9))
    with tempfile.TemporaryDirectory() as d:

        @settings(
            max_examples=VENDOR_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=st.data())
        def prop(data):
            vf = data.draw(st.sampled_from(files))
            raw, _n = data.draw(generated_vendor_file(vf))
            f = export_file(Path(d) / str(next(counter)) / vf.profile.folder / vf.name, vf.profile, raw)
            for spec in vf.specs:
                try:
                    r = stage_spec(f, vf.profile, spec, refs)
                except LandingFileError as exc:
                    msg = str(exc)
                    assert msg.startswith(vf.rel) and "\n" not in msg and not leaks(msg), msg
                    _count("generated vendor files refused with a message")
                    continue
                counts = check_balance(r.raw, r.result.frame, r.result.rejects, r.source)
                assert counts["in"] + r.filtered == r.rows_read
                check_quarantine_rows(r.result.rejects)
                check_staged_values(r.result.frame, r.source)
                _count("generated vendor files loaded")

        prop()


def test_a_hostile_zip_in_landing_salesforce_fails_its_sources_in_a_real_run(data_dir, pipeline_cli):
    """`pipeline run` over a sample as Salesforce, Stripe and Zendesk export it, with a ZIP
    whose entry climbs out (../) beside Salesforce's own export: every source Salesforce
    feeds fails with one line naming the archive, no traceback; Stripe's and Zendesk's
    sources load (their staging waits for the accounts, as for any failed source)."""
    import zipfile

    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_DEBUG"}
    env.update(PIPELINE_DATA_DIR=str(data_dir), PIPELINE_FIRST_MONTH="2025-10")
    made = pipeline_cli(
        ["sample", "--accounts", "4", "--months", "3", "--end-month", END, "--format", "salesforce+stripe+zendesk"],
        env,
        data_dir.parent,
    )
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(data_dir / "landing" / "salesforce" / "evil.zip", "w") as z:
        z.writestr("../../Account.csv", "Id,Name\n001X,Evil\n")
    run = pipeline_cli(["run", "--month", END, "--select", "group:ingest or group:staging"], env, data_dir.parent)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-3000:]
    assert not leaks(out), out[-3000:]
    lines = [ln for ln in out.splitlines() if "salesforce/evil.zip" in ln]
    assert lines, out[-3000:]
    for ln in lines:
        assert "salesforce/evil.zip was refused and nothing in it was loaded" in ln and "climbs out" in ln, ln
    fed = {spec.source for p in builtin_profiles() if p.name == "salesforce" for spec in p.files}
    others = {spec.source for p in builtin_profiles() if p.name in ("stripe", "zendesk") for spec in p.files} - fed
    for name in fed:
        assert f"FAILED  raw/{name}" in run.stderr, (name, run.stderr[-2000:])
    wh = Warehouse(data_dir / "warehouse.duckdb")
    with wh.connect(read_only=True) as con:
        loads = fetch(con, "SELECT source, file_name FROM ops.loads")
        for name in others:
            assert f"ok      raw/{name}" in run.stdout, (name, run.stdout[-2000:])
            assert fetch(con, f'SELECT count(*) AS n FROM raw."{name}"')["n"][0] > 0, name
    assert not loads.filter(pl.col("file_name").str.contains("evil.zip")).height
    assert not loads.filter(pl.col("source") == "accounts").height  # the refused archive stops the source
