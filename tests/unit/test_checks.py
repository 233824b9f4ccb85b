"""Each asset check fails on a hand-built bad case and reports the measured value."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from pipeline import checks
from pipeline.schemas import MONEY

D = Decimal


def bridge_frame(end: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "month": [date(2026, 1, 1), date(2026, 1, 1)],
            "grouping": ["all", "tier"],
            "group_value": ["all", "key"],
            "mrr_start": [D("100"), D("50")],
            "mrr_new": [D("10"), D("0")],
            "mrr_reactivation": [D("5"), D("0")],
            "mrr_expansion": [D("20"), D("10")],
            "mrr_contraction": [D("3"), D("0")],
            "mrr_churn": [D("30"), D("0")],
            "mrr_end": [D(end), D("60")],
        }
    ).with_columns(
        pl.col(c).cast(MONEY)
        for c in [
            "mrr_start",
            "mrr_new",
            "mrr_reactivation",
            "mrr_expansion",
            "mrr_contraction",
            "mrr_churn",
            "mrr_end",
        ]
    )


def test_bridge_passes_to_the_cent_and_fails_by_one_cent():
    ok = checks.check_bridge(
        bridge_frame("102.00"), start="mrr_start", end="mrr_end", keys=["month", "grouping", "group_value"], name="b"
    )
    assert ok.passed and ok.metadata["rows_off"].value == 0
    bad = checks.check_bridge(
        bridge_frame("102.01"), start="mrr_start", end="mrr_end", keys=["month", "grouping", "group_value"], name="b"
    )
    assert not bad.passed
    assert bad.metadata["rows_off"].value == 1
    assert bad.metadata["largest_difference"].value == 0.01
    assert bad.metadata["threshold"].value == 0.0


def test_unique_fails_on_a_duplicate_key():
    f = pl.DataFrame({"account_id": ["a", "a", "b"], "month": [date(2026, 1, 1)] * 3})
    r = checks.check_unique(f, ["account_id", "month"], "u")
    assert not r.passed and r.metadata["duplicate_keys"].value == 1


def test_no_null_fails_on_a_null_mrr():
    f = pl.DataFrame({"mrr": [D("1"), None]}, schema={"mrr": MONEY})
    r = checks.check_no_null(f, "mrr", "n")
    assert not r.passed and r.metadata["null_mrr"].value == 1


def test_months_complete_fails_on_a_gap():
    f = pl.DataFrame({"account_id": ["a", "a", "b"], "month": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 3, 1)]})
    r = checks.check_months_complete(f, date(2026, 3, 1), "m")
    assert not r.passed and r.metadata["accounts_with_gaps"].value == 1


def test_score_range_fails_outside_0_100():
    r = checks.check_score_range(pl.DataFrame({"score": [10.0, 100.5, None]}), "s")
    assert not r.passed
    assert r.metadata["scores_outside_0_100"].value == 1 and r.metadata["max_score"].value == 100.5


def test_change_split_fails_when_parts_do_not_add_up():
    f = pl.DataFrame({"score_change": [2.0, -1.0], "a_change": [1.0, -0.5], "b_change": [1.0, -0.8]})
    r = checks.check_change_split(f, ["a_change", "b_change"], "c")
    assert not r.passed
    assert r.metadata["rows_off"].value == 1 and abs(r.metadata["largest_gap"].value - 0.3) < 1e-9
    good = checks.check_change_split(f.head(1), ["a_change", "b_change"], "c")
    assert good.passed
