"""The data-quality appendix: sources, checks and the one-line verdict."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.contract import source
from pipeline.reporting.pack.quality import check_summary, source_quality, trust_sentence
from pipeline.store.pack_inputs import SOURCE_DATE_COLUMNS
from tests.support.leadership_builders import MONTH, loads, quarantine, reasons, table_stats


def _sources(newest=date(2026, 10, 31)):
    return source_quality(
        table_stats(
            ("accounts", 10, 9, None, None),
            ("activities", 100, 98, "occurred_at", newest),
            ("tickets", None, None, "opened_at", None),
        ),
        loads(("accounts", 1, 10), ("activities", 2, 100)),
        quarantine(("accounts", "staging", 1), ("activities", "staging", 2), ("activities", "marts", 1)),
        reasons(("activities", "missing required value", 2), ("activities", "no fx rate", 1)),
        MONTH,
        freshness_days=45,
    )


def test_every_date_column_is_a_contract_column():
    for name, column in SOURCE_DATE_COLUMNS.items():
        assert column in source(name).column_names


def test_sources_carry_counts_reasons_and_freshness():
    rows = {r["source"]: r for r in _sources()}
    act = rows["activities"]
    assert (act["files"], act["rows_loaded"], act["raw_rows"], act["staging_rows"]) == (2, 100, 100, 98)
    assert act["quarantined"] == 2 and act["quarantined_marts"] == 1
    assert act["quarantine_rate"] == pytest.approx(0.02)
    assert [r["reason"] for r in act["reasons"]] == ["missing required value", "no fx rate"]
    assert act["stale"] is False and act["last_loaded_time"] == "06:30 UTC"
    assert rows["tickets"]["missing"] is True and rows["tickets"]["files"] == 0


def test_a_source_older_than_the_freshness_window_is_stale():
    rows = {r["source"]: r for r in _sources(newest=date(2026, 9, 15))}
    assert rows["activities"]["stale"] is True


def test_checks_grouped_by_kind_with_failures_listed_one_by_one():
    summary = check_summary(
        [
            {"asset": "marts/portfolio_monthly", "check": "mrr_bridge", "status": "passed", "run_month": "2026-10"},
            {
                "asset": "marts/account_health",
                "check": "score_in_range",
                "status": "failed",
                "severity": "ERROR",
                "detail": "scores outside 0 100 3",
                "run_month": "2026-10",
            },
            {"asset": "staging/accounts", "check": "rows_balance", "status": "not run"},
            {"asset": "staging/tickets", "check": "rows_balance", "status": "passed", "run_month": "2026-09"},
        ],
        MONTH,
    )
    assert (summary["passed"], summary["failed"], summary["other"], summary["total"]) == (2, 1, 1, 4)
    groups = {(g["layer"], g["check"]): g for g in summary["groups"]}
    assert groups[("staging", "rows_balance")] | {} == {
        "layer": "staging",
        "check": "rows_balance",
        "label": "Rows balance",
        "assets": 2,
        "passed": 1,
        "failed": 0,
        "not_run": 1,
    }
    assert summary["groups"][0]["check"] == "score_in_range"  # failures first
    assert [(p["asset"], p["status"]) for p in summary["problems"]] == [
        ("marts/account_health", "failed"),
        ("staging/accounts", "not run"),
    ]
    assert summary["problems"][0]["detail"] == "scores outside 0 100 3"
    assert check_summary(None, MONTH)["available"] is False


def test_trust_sentence():
    checks = check_summary([{"asset": "a", "check": "c", "status": "passed"}], MONTH)
    text, level = trust_sentence(_sources(), checks, MONTH)
    assert text.startswith("Data: the data check passed, 4 of 110 loaded rows quarantined (3.64%)")
    assert "no data for tickets" in text and level == "bad"
    failed = check_summary([{"asset": "a", "check": "c", "status": "failed"}], MONTH)
    assert trust_sentence([], failed, MONTH) == ("Data: 1 of 1 data checks failed.", "bad")
    assert trust_sentence([], check_summary(None, MONTH), MONTH)[1] == "warn"
