"""Shared fixtures: a temporary data folder, its warehouse, a landing-file writer, and one
closed sample month (made once per session, copied per test); the Hypothesis profiles.

Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default "ci"):

- "ci": the budgets as written (max_examples 100, and ``tests.support.budgets.examples(n)``
  gives n); what `make test` runs.
- "dev": a tenth of every budget (max_examples 10), for the fast tier
  (`HYPOTHESIS_PROFILE=dev pytest -m "not slow" -n 2`, `make check-tests`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from pipeline.resources.warehouse import Warehouse
from tests.support.cli import InProcessCli
from tests.support.closed_month import ClosedMonth, closed_month_template, copy_closed_month

settings.register_profile("ci", max_examples=100)
settings.register_profile("dev", max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _long_tests_first(items)
    _suffix_xdist_groups(config, items)


def _long_tests_first(items: list[pytest.Item]) -> None:
    """Run the long tests first, so that two workers (-n 2) end together.

    A stable sort: first one test that needs the session's closed month (its worker makes
    the month while the other goes on), then the other slow tests that do not need it,
    then the slow tests that do, then the fast ones; within a tier, the collection order.
    (pytest-xdist keeps this order with --no-loadscope-reorder, in pyproject.toml.)
    """

    def tier(item: pytest.Item) -> int:
        if item.get_closest_marker("slow") is None:
            return 3
        return 2 if "closed_month_template_root" in getattr(item, "fixturenames", ()) else 1

    tiers = {item.nodeid: tier(item) for item in items}
    first = next((item for item in items if tiers[item.nodeid] == 2), None)
    if first is not None:
        tiers[first.nodeid] = 0
    items.sort(key=lambda item: tiers[item.nodeid])


def _suffix_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``--dist loadgroup`` grouping ``xdist_group`` tests on pytest 9.2.

    pytest-xdist 3.8 groups a test by appending ``@group`` to its node id on the worker,
    through ``item._nodeid``, which pytest 9.2's structured node ids no longer read: the
    marks are silently ignored and a module's tests (and its module-scoped server or
    shared run) spread over every worker (pytest-dev/pytest-xdist#1386, fix pending in
    #1388). This appends the suffix the way 9.2 reads it, and does nothing once xdist
    has done it (or without --dist loadgroup under -n).
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own suffix works
        return
    for item in items:
        names = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    (d / "landing").mkdir(parents=True)
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(d))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    (tmp_path / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return d


@pytest.fixture
def warehouse(data_dir: Path) -> Warehouse:
    return Warehouse(data_dir / "warehouse.duckdb")


WriteCsv = Callable[..., Path]


@pytest.fixture
def write_csv(data_dir: Path) -> WriteCsv:
    """write_csv("crm/accounts.csv", header, rows, bom=False) → the file's path."""

    def _write(rel: str, header: list[str], rows: list[list[object]], bom: bool = False) -> Path:
        path = data_dir / "landing" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
        return path

    return _write


@pytest.fixture(scope="session")
def closed_month_template_root(tmp_path_factory: pytest.TempPathFactory) -> ClosedMonth:
    """The sample month closed through the CLI, made once for the whole session (shared by
    xdist workers through a file lock). Never change it: use ``closed_month``."""
    return closed_month_template(tmp_path_factory)


@pytest.fixture
def closed_month(closed_month_template_root: ClosedMonth, tmp_path: Path) -> ClosedMonth:
    """A private copy of the closed sample month (data folder and Dagster home) in tmp_path."""
    return copy_closed_month(closed_month_template_root, tmp_path / "month")


@pytest.fixture
def pipeline_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> InProcessCli:
    """``pipeline_cli(args, env, cwd)``: ``pipeline.cli.main(args)`` in this process (see tests.support.cli)."""
    return InProcessCli(monkeypatch, capsys)
