"""Shared helpers of the fault, idempotence and concurrency tests (whose uninterrupted
baseline run is the session's closed sample month, tests.support.closed_month): CLI and
kill-runner drivers, and fingerprints of everything a run leaves behind (mart rows, ops
tables, report files, outbox messages).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import duckdb

from tests.support.closed_month import (  # noqa: F401  (re-exported for the reliability tests)
    ACCOUNTS,
    END,
    FIRST,
    LEADERS,
    MONTHS,
    PREVIOUS,
    copy_root,
    env_for,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
KILL_RUNNER = HERE / "kill_runner.py"

MARTS = ("account_monthly", "account_health", "portfolio_monthly")
# Files the reports folder holds besides the manifest's documents.
UNLISTED_REPORT_FILES = ("data-quality.html", "quarantine.csv")


def cli(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args],
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_plan(root: Path, env: dict[str, str], steps: list[dict[str, Any]], timeout: float = 600) -> list[dict]:
    """Run the kill runner over ``steps``; returns its results (one per step run)."""
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    for i, step in enumerate(steps):
        step.setdefault("log", str(logs / f"{i:02d}-{step['target']}.log"))
    plan, results = root / "plan.json", root / "results.json"
    plan.write_text(json.dumps(steps, indent=1))
    done = subprocess.run(
        [sys.executable, str(KILL_RUNNER), str(plan), str(results)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results.read_text())


def log_of(step: dict) -> str:
    return Path(step["log"]).read_text(errors="replace")


def killed_at(step: dict) -> str:
    """Where the kill runner's child died ('' if it was not killed)."""
    note = Path(step["log"] + ".kill")
    return note.read_text().strip() if note.exists() else ""


# ------------------------------------------------------------------------- fingerprints


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [schema]
        ).fetchall()
    ]


def warehouse_state(db: Path) -> dict[str, Any]:
    """Open the warehouse as the next run would (read-write, replaying its WAL) and
    fingerprint it: every mart row of every month (ordered, hashed), the quarantine,
    raw row counts per source, and raw rows without (or differing from) their
    ops.loads record."""
    con = duckdb.connect(str(db))
    try:
        marts = {}
        for t in _tables(con, "marts"):
            rows = con.execute(f'SELECT * FROM marts."{t}" ORDER BY ALL').fetchall()
            marts[t] = [len(rows), _digest(rows)]
        raw = {}
        orphans = []
        for t in _tables(con, "raw"):
            raw[t] = con.execute(f'SELECT count(*) FROM raw."{t}"').fetchall()[0][0]
            orphans += con.execute(
                f"""SELECT '{t}', r._file_hash, r.n, l.rows FROM
                    (SELECT _file_hash, count(*) AS n FROM raw."{t}" GROUP BY 1) r
                    LEFT JOIN ops.loads l ON l.file_hash = r._file_hash
                    WHERE l.rows IS DISTINCT FROM r.n"""
            ).fetchall()
        loads_without_rows = []
        if "ops" in [r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()]:
            for source, file_hash, n in con.execute("SELECT source, file_hash, rows FROM ops.loads").fetchall():
                if n and source in raw:
                    got = con.execute(
                        f'SELECT count(*) FROM raw."{source}" WHERE _file_hash = ?', [file_hash]
                    ).fetchall()[0][0]
                    if got != n:
                        loads_without_rows.append((source, file_hash, n, got))
        quarantine = (
            con.execute(
                'SELECT file, "row", "column", value, reason, stage FROM ops.quarantine ORDER BY ALL'
            ).fetchall()
            if "quarantine" in _tables(con, "ops")
            else []
        )
        staging = {
            t: con.execute(f'SELECT count(*) FROM staging."{t}"').fetchall()[0][0] for t in _tables(con, "staging")
        }
        return {
            "marts": marts,
            "raw_rows": raw,
            "raw_without_load": [list(map(str, o)) for o in orphans],
            "loads_without_raw": [list(map(str, o)) for o in loads_without_rows],
            "quarantine": [len(quarantine), _digest(quarantine)],
            "staging_rows": staging,
        }
    finally:
        con.close()


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_GENERATED = re.compile(rb"generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


def report_files(data: Path) -> dict[str, str]:
    """Every file under reports/ (relative path -> sha256), temporary files included.
    The data-quality page says when it was generated (each run re-generates it): that
    stamp is masked, so the rest of the page must be byte-identical."""
    root = data / "reports"
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            body = p.read_bytes()
            if p.name == "data-quality.html":
                body = _GENERATED.sub(b"generated <masked>", body)
            out[p.relative_to(root).as_posix()] = hashlib.sha256(body).hexdigest()
    return out


def report_problems(data: Path) -> list[str]:
    """What is wrong with the reports folder: a manifest entry whose file is missing or
    differs from its recorded sha256, a visible file no manifest entry accounts for
    (a half-written report would be one), a temporary file that looks like a report."""
    root = data / "reports"
    problems: list[str] = []
    listed: set[str] = set()
    rows = query(
        data / "warehouse.duckdb",
        "SELECT period, kind, account_id, html_path, html_sha256, pdf_path, pdf_sha256 "
        "FROM ops.report_manifest WHERE status IN ('rendered', 'unchanged')",
    )
    for period, kind, account, html, html_sha, pdf, pdf_sha in rows:
        for rel, sha in ((html, html_sha), (pdf, pdf_sha)):
            listed.add(rel)
            path = root / rel
            if not path.is_file():
                problems.append(f"{period} {kind} {account}: {rel} is missing")
            elif file_sha256(path) != sha:
                problems.append(f"{period} {kind} {account}: {rel} differs from its manifest sha256")
    for rel in report_files(data):
        name = rel.rsplit("/", 1)[-1]
        if name.startswith(".") and name.endswith(".part"):
            continue  # a temporary file: hidden, never a report (counted by temp_files)
        if name.startswith(".") or name.endswith(".part"):
            problems.append(f"{rel}: a temporary-looking file")
        elif rel not in listed and name not in UNLISTED_REPORT_FILES:
            problems.append(f"{rel}: a report file no manifest entry accounts for")
    return problems


def temp_files(data: Path) -> list[str]:
    return sorted(p.relative_to(data).as_posix() for p in data.rglob(".*.part"))


def outbox_counts(data: Path) -> Counter:
    """Messages in the outbox per (period, account folder, recipient)."""
    counts: Counter = Counter()
    root = data / "outbox"
    for p in sorted(root.rglob("*.eml")) if root.exists() else []:
        rel = p.relative_to(root).parts
        with open(p, "rb") as f:
            to = BytesHeaderParser().parse(f)["To"]
        counts[(rel[0], rel[1], str(to).lower())] += 1
    return counts


def deliveries(data: Path) -> list[tuple]:
    return query(
        data / "warehouse.duckdb", "SELECT kind, account_id, period, recipient, status FROM ops.deliveries ORDER BY ALL"
    )
