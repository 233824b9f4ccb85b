"""One sample month closed through the CLI, made once per test session and copied per test.

``pipeline sample`` then ``pipeline run --month END`` (real processes, as an operator
types them) write a data folder and a Dagster home under pytest's session folder. With
pytest-xdist the workers share it: the first to need it makes it under the session's
base folder (``tmp_path_factory.getbasetemp().parent``) holding a file lock, the others
wait for the lock and reuse it. Tests never change it: they take a copy
(``copy_closed_month``, or the ``closed_month`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from tests.support.cli import REPO, subprocess_cli

END = "2026-06"
PREVIOUS = "2026-05"
FIRST = "2025-11"
ACCOUNTS = 6
MONTHS = 8
LEADERS = "ceo@example.com;cfo@example.com"
TEMPLATE = "closed-month"


def env_for(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a closed month in ``root``: its data folder and Dagster home, the
    first month and the leadership recipients; no other PIPELINE_ setting from outside."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_") or k == "PIPELINE_REQUIRE_SYSTEM_TOOLS"}
    env.update(
        PIPELINE_DATA_DIR=str(root / "data"),
        DAGSTER_HOME=str(root / "dh"),
        PIPELINE_FIRST_MONTH=FIRST,
        PIPELINE_LEADERSHIP_RECIPIENTS=LEADERS,
        PYTHONPATH=str(REPO),
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class ClosedMonth:
    """A root with ``data/`` (landing, warehouse, reports, outbox) and ``dh/`` (the Dagster
    home) after ``pipeline run --month END``; ``run_stdout``/``run_stderr`` are that run's."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def home(self) -> Path:
        return self.root / "dh"

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    @property
    def run_stdout(self) -> str:
        return (self.root / "run.stdout").read_text()

    @property
    def run_stderr(self) -> str:
        return (self.root / "run.stderr").read_text()

    def env(self, **extra: str) -> dict[str, str]:
        return env_for(self.root, **extra)


def copy_root(src: Path, dst: Path) -> Path:
    """Copy a root's data folder and Dagster home (if any) to ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("data", "dh"):
        if (src / name).exists():
            shutil.copytree(src / name, dst / name)
    return dst


def copy_closed_month(month: ClosedMonth, dst: Path) -> ClosedMonth:
    copy_root(month.root, dst)
    for name in ("run.stdout", "run.stderr"):
        shutil.copy(month.root / name, dst / name)
    return ClosedMonth(dst)


def _session_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def closed_month_template(tmp_path_factory: pytest.TempPathFactory) -> ClosedMonth:
    """The session's closed month (made by the first caller of any worker; see above)."""
    base = _session_base(tmp_path_factory)
    root = base / TEMPLATE
    done, failed = root / "done", base / f"{TEMPLATE}.failed"
    with FileLock(str(base / f"{TEMPLATE}.lock")):
        assert not failed.exists(), f"the shared closed month could not be made:\n{failed.read_text()}"
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            env = env_for(root)
            sample = subprocess_cli(
                ["sample", "--accounts", str(ACCOUNTS), "--months", str(MONTHS), "--end-month", END], env
            )
            if sample.returncode != 0:
                failed.write_text(f"pipeline sample exited {sample.returncode}:\n{sample.stderr[-3000:]}")
            assert sample.returncode == 0, sample.stderr[-3000:]
            run = subprocess_cli(["run", "--month", END], env)
            (root / "run.stdout").write_text(run.stdout)
            (root / "run.stderr").write_text(run.stderr)
            if run.returncode != 0:
                failed.write_text(f"pipeline run exited {run.returncode}:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
            assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
            done.write_text("")
    return ClosedMonth(root)
