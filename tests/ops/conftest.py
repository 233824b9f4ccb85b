"""Operations fixtures: real servers (PostgreSQL, `dagster dev`) started and stopped by the test.

Each server runs on 127.0.0.1 on a free port, in a temporary folder, and is stopped at
teardown; only processes this module started are ever signalled. A missing system tool
(PostgreSQL, Chromium) skips the test with the reason, or fails it when
PIPELINE_REQUIRE_SYSTEM_TOOLS=1 (CI sets it: there a skip would hide a broken set-up).
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import closed_month as shared

REPO = Path(__file__).resolve().parents[2]
END_MONTH = "2026-06"
FIRST_MONTH = "2025-01"
PG_BINARIES = ("initdb", "pg_ctl", "psql")


# ---------------------------------------------------------------- missing tools


def tools_required() -> bool:
    return os.environ.get("PIPELINE_REQUIRE_SYSTEM_TOOLS") == "1"


def missing_tool(message: str) -> None:
    """Skip (a developer's machine) or fail (CI, PIPELINE_REQUIRE_SYSTEM_TOOLS=1)."""
    if tools_required():
        pytest.fail(f"{message} (PIPELINE_REQUIRE_SYSTEM_TOOLS=1, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(f"{message}; set PIPELINE_REQUIRE_SYSTEM_TOOLS=1 to make this a failure")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------- the pipeline CLI


def cli(args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pipeline_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a demo instance in `root`: its own data folder and DAGSTER_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "DAGSTER_"))}
    if "PIPELINE_REQUIRE_SYSTEM_TOOLS" in os.environ:
        env["PIPELINE_REQUIRE_SYSTEM_TOOLS"] = os.environ["PIPELINE_REQUIRE_SYSTEM_TOOLS"]
    env.update(
        PIPELINE_DATA_DIR=str(root / "data"),
        DAGSTER_HOME=str(root / "dagster_home"),
        PIPELINE_FIRST_MONTH=FIRST_MONTH,
        **extra,
    )
    return env


def run_monthly_close(root: Path, env: Mapping[str, str], accounts: int) -> subprocess.CompletedProcess:
    """`pipeline sample` then `pipeline run --month END_MONTH`, as an operator types them."""
    sample = cli(["sample", "--accounts", str(accounts), "--months", "14", "--end-month", END_MONTH], env, root)
    assert sample.returncode == 0, f"pipeline sample failed:\n{sample.stdout}\n{sample.stderr}"
    run = cli(["run", "--month", END_MONTH], env, root)
    assert run.returncode == 0, f"pipeline run failed:\n{run.stdout}\n{run.stderr}"
    return run


# ---------------------------------------------------------------- processes we started


def _session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session is `sid`: the ones a server we started left."""
    pids = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.split("/")[2]))
    return pids


def stop_session(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGINT to the process group of a server started with start_new_session=True, then wait.

    `dagster dev` ignores SIGTERM and shuts down its webserver, daemon and code servers on
    SIGINT. Anything still in the session after the grace period was started by it (the
    session is new and ours), so it is killed; nothing else is touched.
    """
    sid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sid, signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sid, signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while (left := _session_members(sid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _restore_sigint() -> None:
    # A shell starts background jobs (`cmd &`) with SIGINT ignored, and that is inherited:
    # restore the default so that our SIGINT stops the server.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# ---------------------------------------------------------------- dagster dev


def graphql(base_url: str, query: str, variables: dict | None = None, timeout: float = 10) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        payload = json.load(resp)
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


WORKSPACE_QUERY = """
{ workspaceOrError { __typename
    ... on Workspace { locationEntries { name loadStatus
        locationOrLoadError { __typename ... on PythonError { message } } } }
    ... on PythonError { message } } }
"""


@dataclass
class DagsterDev:
    url: str
    proc: subprocess.Popen
    log: Path
    startup_seconds: float

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        return graphql(self.url, query, variables)


def _wait_until_loaded(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dagster dev exited with code {proc.returncode} before answering:\n{tail(log)}", pytrace=False)
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5) as resp:
                resp.read()
            data = graphql(url, WORKSPACE_QUERY)["workspaceOrError"]
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
            continue
        if data["__typename"] != "Workspace":
            pytest.fail(f"dagster dev cannot load the workspace: {data.get('message')}", pytrace=False)
        entries = data["locationEntries"]
        for entry in entries:
            error = entry["locationOrLoadError"]
            if error and error["__typename"] == "PythonError":
                pytest.fail(f"code location {entry['name']} failed to load:\n{error['message']}", pytrace=False)
        if entries and all(e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries):
            return
        last = f"locations: {[(e['name'], e['loadStatus']) for e in entries]}"
        time.sleep(0.5)
    pytest.fail(
        f"dagster dev did not load the code location within {timeout:.0f}s ({last}):\n{tail(log)}", pytrace=False
    )


@contextlib.contextmanager
def dagster_dev(env: Mapping[str, str], log: Path, timeout: float = 120) -> Iterator[DagsterDev]:
    """`dagster dev -w workspace.yaml` on 127.0.0.1:<free port>, from the repository root.

    Started in its own session (so its process group is exactly what it spawned) with
    SIGINT at its default; stopped with SIGINT to that group at exit.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_restore_sigint,
        )
    try:
        _wait_until_loaded(url, proc, log, timeout)
        yield DagsterDev(url, proc, log, time.monotonic() - started)
    finally:
        stop_session(proc)


# ---------------------------------------------------------------- PostgreSQL


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db: str
    bindir: Path

    def psql(self, sql: str) -> list[list[str]]:
        """Rows of a query through psql over TCP, fields split on '|'."""
        out = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                self.db,
                "-X",
                "-A",
                "-t",
                "-F",
                "|",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            env={**os.environ, "PGPASSWORD": self.password, "PGCONNECT_TIMEOUT": "10"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, f"psql failed: {out.stderr}"
        return [line.split("|") for line in out.stdout.splitlines() if line]

    @property
    def dagster_env(self) -> dict[str, str]:
        """The variables deploy/dagster.postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db,
        }


def find_pg_bindir() -> Path | None:
    """Debian's /usr/lib/postgresql/<version>/bin (newest), else initdb on PATH."""

    def version(path: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in Path(path).parent.parent.name.split("."))
        except ValueError:
            return (0,)

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    if not candidates and (on_path := shutil.which("initdb")):
        candidates = [on_path]
    for initdb in candidates:
        bindir = Path(initdb).parent
        if all((bindir / b).exists() for b in PG_BINARIES):
            return bindir
    return None


def _as_postgres_user() -> Callable[[list[str]], list[str]] | None:
    """PostgreSQL refuses to run as root: as root, wrap commands to run as user postgres."""
    if os.geteuid() != 0:
        return lambda cmd: cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    if runuser := shutil.which("runuser"):
        return lambda cmd: [runuser, "-u", "postgres", "--", *cmd]
    if su := shutil.which("su"):
        return lambda cmd: [su, "postgres", "-s", "/bin/sh", "-c", shlex.join(cmd)]
    return None


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>, password-authenticated.

    initdb into a fresh folder under /tmp (pytest's own tmp folder is private to its
    user, and PostgreSQL runs as `postgres` when we are root), pg_ctl start with the port,
    the socket in that folder and TCP on 127.0.0.1 only; create the database; at teardown
    pg_ctl stop -m fast and remove the folder.
    """
    bindir = find_pg_bindir()
    if bindir is None:
        missing_tool(
            "PostgreSQL server binaries (initdb, pg_ctl, psql) not found in /usr/lib/postgresql/*/bin or on PATH: "
            "install Debian's `postgresql` package"
        )
    as_pg = _as_postgres_user()
    if as_pg is None:
        missing_tool("running as root, PostgreSQL needs a `postgres` user and runuser or su to start the server")

    base = Path(tempfile.mkdtemp(prefix="pipeline-pg-"))
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
    user, db = "dagster", "dagster_ops_test"
    password = "p@ss:w/rd%" + secrets.token_hex(8)  # characters that must be quoted in a URL
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        os.chown(pwfile, pg.pw_uid, pg.pw_gid)
    data = base / "data"
    log = base / "postgres.log"

    def run(cmd: list[str], what: str, timeout: float = 120) -> None:
        out = subprocess.run(as_pg(cmd), capture_output=True, text=True, timeout=timeout, cwd=base)
        if out.returncode != 0:
            raise AssertionError(f"{what} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}\n{tail(log)}")

    started = False
    try:
        run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            "initdb",
        )
        for attempt in range(3):  # a free port can be taken between choosing and binding it
            port = free_port()
            try:
                run(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(log),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off",
                        "start",
                    ],
                    "pg_ctl start",
                )
                started = True
                break
            except AssertionError:
                if attempt == 2:
                    raise
        server = Postgres("127.0.0.1", port, user, password, "postgres", bindir)
        server.psql(f"CREATE DATABASE {db}")
        server.db = db
        yield server
    finally:
        try:
            if started:
                run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"], "pg_ctl stop")
        except (AssertionError, subprocess.TimeoutExpired):
            _kill_postmaster(data)  # the server of this data folder only
            raise
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _kill_postmaster(data: Path) -> None:
    with contextlib.suppress(OSError, ValueError, ProcessLookupError):
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGQUIT)


# ---------------------------------------------------------------- fixtures for the modules


@dataclass
class Demo:
    """A demo instance: sample data written and END_MONTH closed through the CLI."""

    root: Path
    env: dict[str, str]
    home: Path
    run: subprocess.CompletedProcess
    seconds: float


@pytest.fixture(scope="session")
def demo_instance(tmp_path_factory) -> Callable[..., Demo]:
    """Factory: make(name, accounts, dagster_yaml=None, **env) → a closed month in a new tmp folder.

    `dagster_yaml` is written as $DAGSTER_HOME/dagster.yaml before the run (default: the
    local SQLite instance with telemetry off); `env` adds variables (e.g. DAGSTER_PG_*).
    """

    def make(name: str, accounts: int, dagster_yaml: str | None = None, **extra_env: str) -> Demo:
        root = tmp_path_factory.mktemp(name)
        env = pipeline_env(root, **extra_env)
        home = Path(env["DAGSTER_HOME"])
        home.mkdir()
        (home / "dagster.yaml").write_text(dagster_yaml or "telemetry:\n  enabled: false\n", encoding="utf-8")
        started = time.monotonic()
        run = run_monthly_close(root, env, accounts)
        return Demo(root, env, home, run, time.monotonic() - started)

    return make


@pytest.fixture(scope="session")
def closed_demo(tmp_path_factory, closed_month_template_root) -> Callable[[str], Demo]:
    """Factory: make(name) → a copy of the session's closed sample month (tests.support.closed_month,
    closed once through the CLI for the whole session) as a demo instance in a new tmp folder."""

    def make(name: str) -> Demo:
        root = tmp_path_factory.mktemp(name)
        month = shared.copy_closed_month(closed_month_template_root, root)
        env = pipeline_env(root)
        env.update(
            DAGSTER_HOME=str(month.home),
            PIPELINE_FIRST_MONTH=shared.FIRST,
            PIPELINE_LEADERSHIP_RECIPIENTS=shared.LEADERS,
        )
        run = subprocess.CompletedProcess(
            ["pipeline", "run", "--month", shared.END], 0, month.run_stdout, month.run_stderr
        )
        return Demo(root, env, month.home, run, 0.0)

    return make


@pytest.fixture(scope="session")
def start_dagster_dev() -> Callable[..., contextlib.AbstractContextManager[DagsterDev]]:
    """The `dagster_dev(env, log)` context manager (see there)."""
    return dagster_dev


CHROMIUM_CANDIDATES = ("chromium", "chromium-browser")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium for Playwright (Playwright's own browser download is not used)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing_tool("the Python package `playwright` is not installed (dev dependency; run `uv sync`)")
    path = next(filter(None, map(shutil.which, CHROMIUM_CANDIDATES)), None)
    if not path:
        missing_tool(
            "Chromium not found (looked for `chromium`, `chromium-browser` on PATH): install Debian's `chromium` package"
        )
    return path
