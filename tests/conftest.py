"""Shared fixtures: a temporary data folder, its warehouse, and a landing-file writer."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.resources.warehouse import Warehouse


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
