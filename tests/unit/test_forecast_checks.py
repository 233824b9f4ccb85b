"""The looking-ahead asset checks, the property they guard, and the pure pieces around them.

- Property (Hypothesis): committed MRR at M+k equals MRR(M) when none of the account's
  subscriptions starts or ends in (end(M), end(M+k)]; the check
  ``check_committed_steady`` holds on what ``committed_mrr`` computes and fails on a
  tampered value.
- ``check_group_sums``, ``check_band_retention``, ``check_values_in`` on hand-built frames.
- The goal metrics of the contract are the numeric columns of account_monthly; a month
  column (``Kind.MONTH``) stages YYYY-MM; a goal reads as the reports show it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline import checks
from pipeline.contract import GOAL_METRICS, source
from pipeline.reporting.client.sentences import looking_ahead_sentences
from pipeline.reporting.goals import goal_view, progress
from pipeline.schemas import CMRR_COLUMNS, MONEY
from pipeline.transforms.calendar import add_months, month_end
from pipeline.transforms.forecast import committed_mrr
from pipeline.transforms.goals import goal_metrics
from pipeline.transforms.recurring_revenue import mrr_by_month
from pipeline.transforms.staging import stage_source
from tests.support.budgets import examples

FIRST = date(2024, 1, 1)
MONTHS = 18

SUBSCRIPTIONS = st.lists(
    st.tuples(
        st.sampled_from(["A", "B", "C"]),
        st.integers(0, 30 * 28),  # start: days after FIRST
        st.one_of(st.none(), st.integers(1, 30 * 14)),  # length in days, or open-ended
        st.integers(1, 5000),  # mrr
    ),
    min_size=1,
    max_size=8,
)


def _subs(rows) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (a, FIRST + timedelta(days=s), None if n is None else FIRST + timedelta(days=s + n), D(m))
            for a, s, n, m in rows
        ],
        schema={"account_id": pl.String(), "start_date": pl.Date(), "end_date": pl.Date(), "mrr": MONEY},
        orient="row",
    )


@settings(max_examples=examples(100), deadline=None)
@given(SUBSCRIPTIONS)
def test_committed_mrr_equals_mrr_while_nothing_starts_or_ends(rows):
    subs = _subs(rows)
    last = add_months(FIRST, MONTHS - 1)
    history = mrr_by_month(subs, last)  # every account x month from its first subscription
    committed = committed_mrr(subs, history.select("account_id", "month"))
    frame = history.join(committed, on=["account_id", "month"])
    for r in frame.iter_rows(named=True):
        changes = [
            d
            for s in subs.filter(pl.col("account_id") == r["account_id"]).iter_rows(named=True)
            for d in (s["start_date"], s["end_date"])
            if d is not None and d > month_end(r["month"])
        ]
        for k in range(1, 13):
            if all(d > month_end(add_months(r["month"], k)) for d in changes):
                assert r[f"cmrr_{k}m"] == r["mrr"], (r["account_id"], r["month"], k)
    result = checks.check_committed_steady(frame, subs, list(CMRR_COLUMNS), "steady")
    assert result.passed, result.metadata


def test_the_steady_check_fails_on_a_tampered_value():
    subs = _subs([("A", 0, None, 100)])
    history = mrr_by_month(subs, add_months(FIRST, 5))
    frame = history.join(committed_mrr(subs, history.select("account_id", "month")), on=["account_id", "month"])
    assert checks.check_committed_steady(frame, subs, list(CMRR_COLUMNS), "steady").passed
    bad = frame.with_columns(
        pl.when(pl.col("month") == FIRST).then(D(99)).otherwise(pl.col("cmrr_2m")).cast(MONEY).alias("cmrr_2m")
    )
    result = checks.check_committed_steady(bad, subs, list(CMRR_COLUMNS), "steady")
    assert not result.passed and result.metadata["pairs_off"].value == 1


def test_group_sums_to_the_cent():
    m = date(2026, 6, 1)
    accounts = pl.DataFrame(
        {
            "account_id": ["A1", "A2", "A3"],
            "month": [m] * 3,
            "tier": ["key", "key", None],
            "segment": ["smb"] * 3,
            "account_manager_id": ["M1", "M2", "M2"],
            "cmrr_3m": [D("10.10"), D("20.20"), D("5.00")],
        },
        schema_overrides={"cmrr_3m": MONEY},
    )
    groups = pl.DataFrame(
        {
            "month": [m] * 4,
            "grouping": ["all", "tier", "tier", "account_manager"],
            "group_value": ["all", "key", "unassigned", "M2"],
            "cmrr_3m": [D("35.30"), D("30.30"), D("5.00"), D("25.20")],
        },
        schema_overrides={"cmrr_3m": MONEY},
    )
    assert checks.check_group_sums(accounts, groups, ["cmrr_3m"], "sums").passed
    off = groups.with_columns(
        pl.when(pl.col("group_value") == "M2")
        .then(D("25.21"))
        .otherwise(pl.col("cmrr_3m"))
        .cast(MONEY)
        .alias("cmrr_3m")
    )
    result = checks.check_group_sums(accounts, off, ["cmrr_3m"], "sums")
    assert not result.passed and result.metadata["largest_difference"].value == 0.01


def test_band_retention_and_status_checks():
    m = date(2026, 6, 1)
    retention = pl.DataFrame(
        {
            "month": [m, m],
            "band": ["green", "red"],
            "pairs": [30, 0],
            "band_rate": [1.02, None],
            "pooled_rate": [1.01, 1.01],
            "rate": [1.02, 1.01],
            "pooled": [False, True],
        }
    )
    ok = checks.check_band_retention(retention, m, "rate")
    assert ok.passed and ok.metadata["pairs_green"].value == 30
    assert not checks.check_band_retention(retention.with_columns(rate=pl.lit(-0.1)), m, "rate").passed
    statuses = pl.DataFrame({"status": ["met", "behind", None]})
    assert not checks.check_values_in(statuses, "status", ("met", "behind"), "s").passed
    assert checks.check_values_in(statuses.drop_nulls(), "status", ("met", "behind"), "s").passed


def test_goal_metrics_of_the_contract_are_the_numeric_account_monthly_columns():
    assert set(GOAL_METRICS) == set(goal_metrics()) and len(GOAL_METRICS) == len(set(GOAL_METRICS))


def test_month_columns_stage_yyyy_mm():
    src = source("account_goals")
    raw = pl.DataFrame(
        {
            "goal_id": ["G1", "G2", "G3"],
            "account_id": ["A1"] * 3,
            "metric": ["MRR"] * 3,
            "target": ["10"] * 3,
            "direction": ["", "", ""],
            "start_month": ["2026-01", "2026-01-15", "Jan 2026"],
            "due_month": ["2026-03"] * 3,
            "owner": [None] * 3,
            "description": [None] * 3,
            "visible_to_client": [None] * 3,
            "_file": ["g.csv"] * 3,
            "_row": [1, 2, 3],
            "_loaded_at": [datetime(2026, 1, 1, tzinfo=UTC)] * 3,
        }
    )
    out = stage_source(src, raw, {"accounts.account_id": pl.Series(["A1"])})
    assert out.frame["start_month"].to_list() == [date(2026, 1, 1)] * 2
    assert out.frame["direction"].to_list() == ["at_least"] * 2 and out.frame["visible_to_client"].all()
    assert out.rejects["reason"].to_list() == ["not a valid month in YYYY-MM form"]


def test_a_goal_as_the_reports_show_it():
    row = {
        "goal_id": "G1",
        "metric": "mrr",
        "direction": "at_least",
        "description": None,
        "value": 1100.0,
        "baseline": 1000.0,
        "target": 1300.0,
        "expected": 1218.18,
        "status": "behind",
        "due_month": date(2026, 9, 1),
        "month": date(2026, 6, 1),
    }
    view = goal_view(row, "usd")
    assert (view["value"], view["target"], view["progress_pct"], view["status_words"]) == (
        "$1,100",
        "$1,300",
        33,
        "Behind",
    )
    assert view["description"] == "Monthly recurring revenue: at least $1,300"
    assert progress({**row, "status": "met", "value": 1300.0}) == 1.0
    assert progress({**row, "direction": "at_most", "baseline": 4.0, "target": 0.0, "value": 1.0}) == 0.75
    assert progress({**row, "value": None}) is None


def test_looking_ahead_sentences():
    months = [
        {"month": date(2026, 7, 1), "mrr": D(100)},
        {"month": date(2026, 8, 1), "mrr": D(120)},
        {"month": date(2026, 9, 1), "mrr": D(120)},
    ]
    changes = [{"month": date(2026, 8, 1), "mrr": D(120), "from": D(100), "up": True}]
    text = looking_ahead_sentences(D(100), months, changes, date(2026, 10, 1), "usd")
    assert text == [
        "Your next renewal is on 1 October 2026.",
        "With the subscriptions already booked, your committed recurring revenue rises to $120 a month in August 2026.",
    ]
    assert looking_ahead_sentences(D(100), months[:1], [], None, "usd") == [
        "The subscriptions on file keep your recurring revenue at $100 a month through July 2026."
    ]
