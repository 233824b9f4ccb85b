"""Promise 3: reruns and backfills are idempotent.

The same month run twice gives byte-identical mart rows (every row of every month,
ordered and hashed), the same report files (sha256), and sends nothing new; a backfill
over a range and then a re-run of a month inside it change nothing either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fault_helpers import (
    END,
    PREVIOUS,
    cli,
    copy_root,
    env_for,
    outbox_counts,
    query,
    report_files,
    report_problems,
    warehouse_state,
)

pytestmark = pytest.mark.slow

DELIVERIES = "SELECT delivery_key, status, attempts, message_id, sent_at FROM ops.deliveries ORDER BY ALL"
LOADS = "SELECT file_hash, rows, loaded_at FROM ops.loads ORDER BY ALL"


@pytest.fixture(scope="module")
def base(closed_month_template_root) -> Path:
    """The uninterrupted run: the session's closed sample month (tests.support.closed_month,
    made once and shared by every worker). Copy it before changing it."""
    return closed_month_template_root.root


def snapshot(root: Path) -> dict:
    data = root / "data"
    db = data / "warehouse.duckdb"
    return {
        "warehouse": warehouse_state(db),
        "reports": report_files(data),
        "outbox": {p.relative_to(data).as_posix(): p.stat().st_mtime_ns for p in sorted(data.rglob("*.eml"))},
        "deliveries": query(db, DELIVERIES),
        "loads": query(db, LOADS),
        "manifest": query(
            db, "SELECT period, kind, account_id, pdf_sha256, html_sha256 FROM ops.report_manifest ORDER BY ALL"
        ),
    }


def run_ok(args: list[str], root: Path) -> str:
    done = cli(args, env_for(root))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    return done.stdout


def test_the_same_month_twice_then_a_backfill_and_a_rerun_inside_it_change_nothing(base: Path, tmp_path: Path):
    root = copy_root(base, tmp_path / "rerun")
    before = snapshot(root)
    assert before["outbox"] and before["deliveries"] and before["warehouse"]["marts"]

    # The same month again: byte-identical marts, same report files, nothing sent.
    run_ok(["run", "--month", END], root)
    after = snapshot(root)
    assert after["warehouse"]["marts"] == before["warehouse"]["marts"]  # every mart row, byte for byte
    assert after["warehouse"] == before["warehouse"]
    assert after["reports"] == before["reports"]  # same files, same sha256, none added
    assert after["manifest"] == before["manifest"]
    assert after["outbox"] == before["outbox"]  # no message written or rewritten
    assert after["deliveries"] == before["deliveries"]  # nothing claimed, attempted or sent
    assert after["loads"] == before["loads"]  # no file loaded twice
    assert report_problems(root / "data") == []

    # A backfill over PREVIOUS..END: the marts recompute to the same rows; END's reports
    # and mails are untouched; PREVIOUS gets its reports and mails, each once.
    out = run_ok(["backfill", "--from", PREVIOUS, "--to", END], root)
    assert "Backfilling 2 month(s)" in out
    filled = snapshot(root)
    assert filled["warehouse"] == before["warehouse"]
    assert {k: v for k, v in filled["reports"].items() if k.startswith(END)} == before["reports"]
    assert {k: v for k, v in filled["outbox"].items() if f"/{END}/" in k} == before["outbox"]
    assert any(k.startswith(PREVIOUS) for k in filled["reports"])
    counts = outbox_counts(root / "data")
    assert any(period == PREVIOUS for period, _, _ in counts) and set(counts.values()) == {1}

    # Then PREVIOUS again, inside the range: nothing changes at all.
    run_ok(["run", "--month", PREVIOUS], root)
    assert snapshot(root) == filled
    assert report_problems(root / "data") == []


def test_the_data_quality_page_lists_tied_reasons_in_one_order_whatever_the_row_order():
    """Regression: reasons with the same count in the same column came out in hash order,
    so re-running an unchanged month rewrote data-quality.html differently."""
    import polars as pl

    from pipeline.reporting.quality import top_reasons

    rows = [("responses", "score", reason) for reason in ("not a whole number", "must be at most 10", "empty", "x")]
    frame = pl.DataFrame(rows * 2, schema=["source", "column", "reason"], orient="row")
    orders = {tuple(top_reasons(frame.sample(fraction=1.0, shuffle=True, seed=seed))["reason"]) for seed in range(20)}
    assert orders == {("empty", "must be at most 10", "not a whole number", "x")}
