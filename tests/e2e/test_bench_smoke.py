"""`pipeline bench` at a tiny size, through the CLI: it runs, and the JSON has what it promises.

No timing assertions: this only checks that the benchmark works end to end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STAGES = {"ingest", "staging", "marts", "health", "client_reports", "leadership_pack", "delivery"}


def test_bench_smoke(tmp_path: Path):
    out = tmp_path / "results.json"
    env = {
        k: v for k, v in os.environ.items() if k not in ("PIPELINE_DATA_DIR", "DAGSTER_HOME", "PIPELINE_FIRST_MONTH")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "bench", "--accounts", "6", "--months", "13", "--out", str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    names = {s["name"] for s in result["stages"]}
    assert names >= STAGES
    for s in result["stages"]:
        assert s["seconds"] > 0
    assert result["floors"]["ingest"]["seconds"] > 0
    assert result["floors"]["ingest"]["rows"] > 0
    assert len(result["floors"]["ingest"]["passes"]) == 3 and result["floors"]["ingest"]["seconds"] == min(
        result["floors"]["ingest"]["passes"]
    )
    assert result["floors"]["render"]["seconds"] > 0
    assert result["floors"]["render"]["seconds_per_report"] > 0
    assert result["rerun"]["seconds"] > 0
    assert result["rerun"]["ratio_to_first"] > 0
    assert {s["name"] for s in result["rerun"]["stages"]} == names
    assert result["peak_rss"]["self_bytes"] > 0
    d = result["data_subtotal"]
    assert 0 < d["in_steps"] <= d["seconds"] and d["overhead"] >= 0
    assert result["executors"]["multiprocess_data_seconds"] > 0
    # The first run rendered every client report; the rerun changed nothing, so re-rendered
    # none (recorded as 0, not left out: None means the bench ran without reports).
    assert {s["name"]: s for s in result["stages"]}["client_reports"]["units"] > 0
    assert result["rerun"]["reports_rendered"] == 0
    assert "Rerun" in proc.stdout
    # The two bounds the data-stage target is judged against, from the same run.
    eb, df = result["engine_bound"], result["dagster_floor"]
    assert eb["ingest_seconds"] > 0 and eb["staging_seconds"] > 0
    # The floor stubs exactly the assets of the data selection (ingest..health), however many
    # the graph has as marts are added.
    assert df["assets"] == _data_selection_size() and df["checks"] > 0 and df["seconds"] > 0
    assert result["lower_bound"]["seconds"] == pytest.approx(eb["seconds"] + df["seconds"])
    assert "Least ingest..health could take here" in proc.stdout


def _data_selection_size() -> int:
    import dagster as dg

    from pipeline.bench import DATA_SELECT
    from pipeline.definitions import build_definitions
    from pipeline.settings import Settings

    defs = build_definitions(Settings())
    return len(dg.AssetSelection.from_string(DATA_SELECT).resolve(defs.resolve_asset_graph()))
