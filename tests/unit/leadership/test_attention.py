"""Accounts that need attention: each list holds exactly the accounts its rule selects."""

from __future__ import annotations

import pytest

from pipeline.reporting.pack.attention import attention_lists, drop_reasons
from tests.support.leadership_builders import (
    MONTH,
    PREV,
    D,
    accounts,
    driver,
    health,
    health_row,
    monthly,
    monthly_row,
)


def _case():
    """One account per case; the id says what it tests."""
    h, m, a = [], [], []

    def add(
        account_id,
        band_now,
        band_before="__none__",
        mrr=1000,
        score=None,
        score_change=None,
        days_to_renewal=None,
        overdue=0,
        tier="key",
        prev_score=None,
        **health_values,
    ):
        m.append(
            monthly_row(
                account_id,
                MONTH,
                mrr=mrr,
                tier=tier,
                overdue_amount=overdue,
                days_to_renewal=days_to_renewal,
                account_manager_id="M1",
            )
        )
        h.append(health_row(account_id, MONTH, band_now, score, score_change=score_change, **health_values))
        if band_before != "__none__":
            h.append(health_row(account_id, PREV, band_before, prev_score))
        a.append((account_id, f"Name of {account_id}", "M1", "Ada Lovelace"))

    # red
    add("red_customer", "red", "red", mrr=500, score=30.0)
    add("red_big_customer", "red", "amber", mrr=5000, score=35.0)
    add("red_not_customer", "red", "red", mrr=0, score=20.0)
    # newly amber
    add("amber_was_green", "amber", "green", score=60.0)
    add("amber_was_insufficient", "amber", "insufficient_data", score=60.0)
    add("amber_new_account", "amber", score=60.0)
    add("amber_was_amber", "amber", "amber", score=60.0)
    add("amber_was_red", "amber", "red", score=45.0)
    # score drops
    add("drop_5", "green", "green", score=75.0, score_change=-5.0)
    add("drop_4_9", "green", "green", score=75.0, score_change=-4.9)
    add("drop_20", "green", "green", score=71.0, score_change=-20.0)
    add("drop_not_customer", "green", "green", mrr=0, score=71.0, score_change=-30.0)
    # renewals
    add("renew_0_amber", "amber", "amber", days_to_renewal=0)
    add("renew_90_red", "red", "red", mrr=10, days_to_renewal=90)
    add("renew_91_amber", "amber", "amber", days_to_renewal=91)
    add("renew_30_green", "green", "green", days_to_renewal=30)
    add("renew_30_insufficient", "insufficient_data", "insufficient_data", days_to_renewal=30)
    add("renew_past", "amber", "amber", days_to_renewal=-1)
    # overdue (threshold 1000)
    add("overdue_1000", "green", "green", overdue=1000)
    add("overdue_1000_01", "green", "green", overdue="1000.01")
    add("overdue_not_customer", "green", "green", mrr=0, overdue=5000)
    return health(*h), monthly(*m), accounts(*a)


@pytest.fixture
def lists():
    h, m, a = _case()
    result = attention_lists(h, m, a, MONTH, 1000.0, "usd")
    return {lst["key"]: lst for lst in result["lists"]}, result


def ids(lst):
    return [r["account_id"] for r in lst["rows"]]


def test_red_customers_most_mrr_first(lists):
    by, _ = lists
    assert ids(by["red"]) == ["red_big_customer", "red_customer", "renew_90_red"]


def test_newly_amber(lists):
    by, _ = lists
    assert set(ids(by["newly_amber"])) == {"amber_was_green", "amber_was_insufficient", "amber_new_account"}


def test_score_drops_of_five_points_or_more_largest_first(lists):
    by, _ = lists
    assert ids(by["drops"]) == ["drop_20", "drop_5"]


def test_renewals_within_90_days_that_are_not_green_soonest_first(lists):
    by, _ = lists
    assert ids(by["renewals"]) == ["renew_0_amber", "renew_30_insufficient", "renew_90_red"]
    row = by["renewals"]["rows"][0]
    assert row["renewal_date"].isoformat() == "2026-10-31"


def test_overdue_above_the_threshold_any_account(lists):
    by, _ = lists
    assert ids(by["overdue"]) == ["overdue_not_customer", "overdue_1000_01"]
    assert by["overdue"]["overdue"] == D("6000.01")


def test_rows_carry_manager_name_tier_and_counts(lists):
    by, result = lists
    row = by["red"]["rows"][0]
    assert row["manager"] == "Ada Lovelace"
    assert row["tier"] == "Key"
    assert row["name"] == "Name of red_big_customer"
    assert by["red"]["count"] == 3 and by["red"]["more"] == 0
    flagged = {r for lst in by.values() for r in ids(lst)}
    assert result["accounts_flagged"] == len(flagged)


def test_long_lists_show_the_first_n_and_count_the_rest():
    h, m, a = _case()
    result = attention_lists(h, m, a, MONTH, 1000.0, "usd", limit=1)
    red = {lst["key"]: lst for lst in result["lists"]}["red"]
    assert ids(red) == ["red_big_customer"]
    assert red["more"] == 2
    assert red["more_mrr"] == 510


def test_manager_falls_back_to_the_id_then_unassigned():
    m = monthly(
        monthly_row("a1", MONTH, mrr=100, account_manager_id="M9"),
        monthly_row("a2", MONTH, mrr=100, account_manager_id=None),
    )
    h = health(health_row("a1", MONTH, "red", 10.0), health_row("a2", MONTH, "red", 10.0))
    result = attention_lists(h, m, accounts(), MONTH, 1000.0, "usd")
    red = result["lists"][0]["rows"]
    assert [r["manager"] for r in red] == ["M9", "Unassigned"]
    assert [r["name"] for r in red] == ["a1", "a2"]


def test_drop_reasons_in_words():
    measures = [
        ("satisfaction", "Satisfaction (NPS)", 20.0),
        ("engagement", "Engagement", 20.0),
        ("revenue_trend", "Revenue trend", 25.0),
        ("support", "Support", 15.0),
    ]
    row = {
        "score_before": 90.0,
        "satisfaction_score": 10.0,
        "satisfaction_score_before": 60.0,  # fell 50 x 20
        "engagement_score": 100.0,
        "engagement_score_before": 100.0,  # only rescaled: not a reason
        "revenue_trend_score": 0.0,
        "revenue_trend_score_before": None,  # newly measured, 90 x 25
        "support_score": None,
        "support_score_before": 100.0,  # went missing
        "drivers_detail": [
            driver("revenue_trend", "recurring revenue fell 24% over 3 months"),
            driver("satisfaction", "NPS over the last 12 months is -85 (target 50)"),
        ],
    }
    assert drop_reasons(row, measures, limit=3) == [
        "Revenue trend newly measured at 0: recurring revenue fell 24% over 3 months",
        "Satisfaction (NPS) 60 → 10: NPS over the last 12 months is -85 (target 50)",
        "Support: no data this month",
    ]


def test_an_override_explains_the_band():
    m = monthly(monthly_row("a1", MONTH, mrr=100))
    h = health(health_row("a1", MONTH, "red", 95.0, override_band="red", override_reason="Sponsor left"))
    result = attention_lists(h, m, accounts(), MONTH, 1000.0, "usd")
    row = result["lists"][0]["rows"][0]
    assert row["overridden"] is True
    assert row["why"][0] == "band set to red by override: Sponsor left"
