"""MRR and its movements, hand-computed from docs/metrics.md on a few subscriptions.

Subscriptions here are already in the reporting currency (conversion: test_fx.py,
test_account_monthly.py). Active on day d: start_date <= d < end_date (or no
end_date); MRR(M) is taken on end(M).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import month_spine
from pipeline.transforms.recurring_revenue import (
    MOVEMENTS,
    monthly_mrr,
    mrr_by_month,
    mrr_movements,
)

MONTHS = [date(2024, m, 1) for m in range(1, 9)]  # Jan .. Aug 2024
LAST = date(2024, 8, 1)


def _subs(rows: list[tuple[str, date, date | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"account_id": a, "start_date": s, "end_date": e, "mrr": D(m)} for a, s, e, m in rows],
        schema={
            "account_id": pl.String(),
            "start_date": pl.Date(),
            "end_date": pl.Date(),
            "mrr": MONEY,
        },
    )


SUBS = _subs(
    [
        # a: open-ended 100 from mid-January, an overlapping 50 for March and April,
        # and a 999 that starts and ends inside May (never on a month end).
        ("a", date(2024, 1, 15), None, "100"),
        ("a", date(2024, 3, 1), date(2024, 5, 1), "50"),
        ("a", date(2024, 5, 10), date(2024, 5, 25), "999"),
        # b: 80 ending on 31 March (not active on end(Mar) = 31 March), back in June.
        ("b", date(2024, 1, 1), date(2024, 3, 31), "80"),
        ("b", date(2024, 6, 20), None, "60"),
        # c: ends on 1 April, so still active on 31 March: churn in April.
        ("c", date(2024, 2, 10), date(2024, 4, 1), "30"),
        # d: only a subscription inside February: never shows.
        ("d", date(2024, 2, 3), date(2024, 2, 20), "70"),
    ]
)


def _spine(firsts: dict[str, date]) -> pl.DataFrame:
    return month_spine(pl.DataFrame({"account_id": list(firsts), "first_month": list(firsts.values())}), LAST)


def _column(frame: pl.DataFrame, account: str, column: str) -> list[object]:
    return frame.filter(pl.col("account_id") == account)[column].to_list()


def _money(*values: int) -> list[D]:
    return [D(v).quantize(D("0.0001")) for v in values]


@pytest.fixture(scope="module")
def result() -> pl.DataFrame:
    spine = _spine({"a": date(2024, 1, 1), "b": date(2024, 1, 1), "c": date(2024, 2, 1), "d": date(2024, 2, 1)})
    return monthly_mrr(SUBS, spine)


def test_new_account_with_overlap_expansion_and_contraction(result: pl.DataFrame) -> None:
    # a, Jan..Aug: 100 | 100 | 100+50 | 150 | 100 (the 50 ended 1 May; the 999 never
    # shows) | 100 | 100 | 100
    assert _column(result, "a", "mrr") == _money(100, 100, 150, 150, 100, 100, 100, 100)
    assert _column(result, "a", "mrr_previous") == _money(0, 100, 100, 150, 150, 100, 100, 100)
    assert _column(result, "a", "mrr_new") == _money(100, 0, 0, 0, 0, 0, 0, 0)
    assert _column(result, "a", "mrr_expansion") == _money(0, 0, 50, 0, 0, 0, 0, 0)
    assert _column(result, "a", "mrr_contraction") == _money(0, 0, 0, 0, 50, 0, 0, 0)
    assert _column(result, "a", "mrr_churn") == _money(0, 0, 0, 0, 0, 0, 0, 0)
    assert _column(result, "a", "mrr_reactivation") == _money(0, 0, 0, 0, 0, 0, 0, 0)
    assert _column(result, "a", "arr") == _money(1200, 1200, 1800, 1800, 1200, 1200, 1200, 1200)
    assert _column(result, "a", "is_customer") == [True] * 8


def test_churn_in_the_month_whose_end_is_missed_then_reactivation_not_new(
    result: pl.DataFrame,
) -> None:
    # b: 80 | 80 | 0 (end_date 31 Mar = end(Mar): not active) | 0 | 0 | 60 | 60 | 60
    assert _column(result, "b", "mrr") == _money(80, 80, 0, 0, 0, 60, 60, 60)
    assert _column(result, "b", "mrr_new") == _money(80, 0, 0, 0, 0, 0, 0, 0)
    assert _column(result, "b", "mrr_churn") == _money(0, 0, 80, 0, 0, 0, 0, 0)
    assert _column(result, "b", "mrr_reactivation") == _money(0, 0, 0, 0, 0, 60, 0, 0)
    assert _column(result, "b", "is_customer") == [True, True, False, False, False, True, True, True]
    # c: Feb 30 | Mar 30 (end_date 1 Apr: active on 31 Mar) | Apr 0, churn 30 | ...
    assert _column(result, "c", "mrr") == _money(30, 30, 0, 0, 0, 0, 0)
    assert _column(result, "c", "mrr_churn") == _money(0, 0, 30, 0, 0, 0, 0)


def test_a_subscription_inside_one_month_never_shows(result: pl.DataFrame) -> None:
    d = result.filter(pl.col("account_id") == "d")
    assert d.height == 7  # Feb .. Aug: the rows exist, all zero
    for column in ("mrr", "arr", "mrr_previous", *MOVEMENTS):
        assert d[column].to_list() == _money(*[0] * 7), column
    assert d["is_customer"].to_list() == [False] * 7
    assert d["revenue_trend_3m"].to_list() == [None] * 7


def test_revenue_trend_needs_three_months_of_history_and_a_base(result: pl.DataFrame) -> None:
    # a: Apr 150/100-1 = 0.5, May 100/100-1 = 0, Jun 100/150-1, Jul 100/150-1, Aug 100/100-1
    assert _column(result, "a", "revenue_trend_3m") == pytest.approx([None, None, None, 0.5, 0.0, -1 / 3, -1 / 3, 0.0])
    # b: Apr 0/80-1 = -1, May 0/80-1 = -1, Jun base Mar = 0 -> null, Jul, Aug bases 0 -> null
    assert _column(result, "b", "revenue_trend_3m") == [None, None, None, -1.0, -1.0, None, None, None]


def test_reactivation_counts_revenue_from_before_the_account_spine() -> None:
    # e had 40 at end(Jan) only; its rows start in May (as if its first data were later).
    subs = _subs(
        [
            ("e", date(2024, 1, 1), date(2024, 2, 1), "40"),
            ("e", date(2024, 6, 1), None, "40"),
        ]
    )
    out = monthly_mrr(subs, _spine({"e": date(2024, 5, 1)}))
    assert out["month"].to_list() == MONTHS[4:]
    assert out["mrr"].to_list() == _money(0, 40, 40, 40)
    assert out["mrr_reactivation"].to_list() == _money(0, 40, 0, 0)
    assert out["mrr_new"].to_list() == _money(0, 0, 0, 0)
    # Jun and Jul: M-3 is before the first row; Aug: MRR(May) = 0
    assert out["revenue_trend_3m"].to_list() == [None, None, None, None]


def test_mrr_by_month_starts_at_the_first_subscription_month() -> None:
    history = mrr_by_month(SUBS.filter(pl.col("account_id") == "c"), date(2024, 5, 1))
    expected = pl.DataFrame(
        {
            "account_id": ["c"] * 4,
            "month": [date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)],
            "mrr": _money(30, 30, 0, 0),
        },
        schema_overrides={"mrr": MONEY},
    )
    assert_frame_equal(history, expected)


def test_movements_follow_the_ordered_tests() -> None:
    history = pl.DataFrame(
        {
            "account_id": ["x"] * 7,
            "month": MONTHS[:7],
            "mrr": _money(0, 10, 25, 5, 0, 0, 7),
        },
        schema_overrides={"mrr": MONEY},
    )
    out = mrr_movements(history)
    # 0 -> 10 new; 10 -> 25 expansion 15; 25 -> 5 contraction 20; 5 -> 0 churn 5;
    # 0 -> 0 nothing; 0 -> 7 reactivation (it had MRR before)
    assert out["mrr_previous"].to_list() == _money(0, 0, 10, 25, 5, 0, 0)
    assert out["mrr_new"].to_list() == _money(0, 10, 0, 0, 0, 0, 0)
    assert out["mrr_expansion"].to_list() == _money(0, 0, 15, 0, 0, 0, 0)
    assert out["mrr_contraction"].to_list() == _money(0, 0, 0, 20, 0, 0, 0)
    assert out["mrr_churn"].to_list() == _money(0, 0, 0, 0, 5, 0, 0)
    assert out["mrr_reactivation"].to_list() == _money(0, 0, 0, 0, 0, 0, 7)
    assert history.columns == ["account_id", "month", "mrr"]  # input untouched


def test_subscriptions_after_the_last_month_are_ignored() -> None:
    subs = _subs([("f", date(2024, 9, 1), None, "10")])
    assert mrr_by_month(subs, LAST).is_empty()
