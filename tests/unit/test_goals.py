"""Account goals: value, baseline, expected path and status per month.

expected(M) = baseline + (target - baseline) × elapsed / span, elapsed and span in months
from start_month, span >= 1, never past the target. Status, in order: no_data (no value),
met (value reaches the target), missed (M >= due), on_track (value at or past expected),
behind; in the month after due the status of the due month stays.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl
from polars.testing import assert_frame_equal

from pipeline.schemas import MONEY, QUARANTINE
from pipeline.transforms.goals import ACCOUNT_GOALS, account_goals

REPORTING = date(2024, 8, 1)


def m(month: int) -> date:
    return date(2024, month, 1)


GOALS_SCHEMA = {
    "goal_id": pl.String(),
    "account_id": pl.String(),
    "metric": pl.String(),
    "target": pl.Decimal(18, 6),
    "direction": pl.String(),
    "start_month": pl.String(),
    "due_month": pl.String(),
    "owner": pl.String(),
    "description": pl.String(),
    "visible_to_client": pl.Boolean(),
    "_file": pl.String(),
    "_row": pl.Int64(),
}


def goals(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        [
            (g, a, metric, D(t) if t is not None else None, d, s, due, "m1", f"goal {g}", None, "account_goals.csv", i)
            for i, (g, a, metric, t, d, s, due) in enumerate(rows, start=1)
        ],
        schema=GOALS_SCHEMA,
        orient="row",
    )


GOALS = goals(
    # at_least (direction left empty): NPS from 10 to 50 over Jan .. May (span 4)
    ("G1", "A1", "nps_12m", "50", None, "2024-01", "2024-05"),
    # at_most: overdue from 500 to 100 over Feb .. Apr (span 2); money compared exactly
    ("G2", "A2", "overdue_amount", "100", "at_most", "2024-02", "2024-04"),
    # at_most: high-priority tickets from 4 to 0 over Jan .. Mar
    ("G3", "A2", "open_high_priority_tickets", "0", "at_most", "2024-01", "2024-03"),
    # at_least: CSAT to 90 by October, no value in the start month June
    ("G4", "A1", "csat_3m", "90", "at_least", "2024-06", "2024-10"),
    # at_most: days since the last touch down to 30 by September; never touched in July
    ("G5", "A2", "days_since_last_touch", "30", "AT_MOST", "2024-07", "2024-09"),
    # starts after the reporting month: no rows yet
    ("G6", "A1", "mrr", "1000", "at_least", "2024-09", "2024-12"),
)

NPS = [10.0, 25.0, 25.0, 55.0, 40.0, 60.0, 60.0, 60.0]  # A1, Jan .. Aug
CSAT = [None, None, None, None, None, None, 80.0, 70.0]
OVERDUE = ["0", "500", "250", "100", "300", "0", "0", "0"]  # A2
TICKETS = [4, 3, 1, None, 0, 0, 0, 0]
DAYS = [None] * 7 + [45]


def account_monthly() -> pl.DataFrame:
    months = [m(i) for i in range(1, 9)]
    return pl.DataFrame(
        {
            "account_id": ["A1"] * 8 + ["A2"] * 8,
            "month": months * 2,
            "tier": ["key"] * 16,
            "mrr": [D("900")] * 16,
            "nps_12m": NPS + [None] * 8,
            "csat_3m": CSAT + [None] * 8,
            "overdue_amount": [D("0")] * 8 + [D(v) for v in OVERDUE],
            "open_high_priority_tickets": [0] * 8 + TICKETS,
            "days_since_last_touch": [3] * 8 + DAYS,
        },
        schema_overrides={
            "mrr": MONEY,
            "overdue_amount": MONEY,
            "open_high_priority_tickets": pl.Int64,
            "days_since_last_touch": pl.Int64,
            "csat_3m": pl.Float64,
        },
    )


def test_goal_values_baselines_expected_and_status_in_both_directions() -> None:
    out = account_goals(GOALS, account_monthly(), REPORTING)
    assert out.frame.schema == ACCOUNT_GOALS
    assert out.rejects.is_empty()
    columns = ["goal_id", "month", "value", "baseline", "baseline_month", "expected", "status"]
    expected = pl.DataFrame(
        [
            # G1 at_least, target 50, baseline 10 (Jan): expected 10 + 40 × e / 4
            ("G1", m(1), 10.0, 10.0, m(1), 10.0, "on_track"),  # 10 >= 10
            ("G1", m(2), 25.0, 10.0, m(1), 20.0, "on_track"),  # 25 >= 20
            ("G1", m(3), 25.0, 10.0, m(1), 30.0, "behind"),  # 25 < 30
            ("G1", m(4), 55.0, 10.0, m(1), 40.0, "met"),  # 55 >= 50 (before due)
            ("G1", m(5), 40.0, 10.0, m(1), 50.0, "missed"),  # due, 40 < 50
            ("G1", m(6), 60.0, 10.0, m(1), 50.0, "missed"),  # due + 1: the due month's status;
            # expected would be 60, capped at the target 50; the value shown is the current 60
            # G2 at_most, target 100, baseline 500 (Feb): expected 500 - 400 × e / 2
            ("G2", m(2), 500.0, 500.0, m(2), 500.0, "on_track"),  # 500 <= 500
            ("G2", m(3), 250.0, 500.0, m(2), 300.0, "on_track"),  # 250 <= 300
            ("G2", m(4), 100.0, 500.0, m(2), 100.0, "met"),  # due, 100 <= 100: met before missed
            ("G2", m(5), 300.0, 500.0, m(2), 100.0, "met"),  # due + 1: stays met; -100 capped at 100
            # G3 at_most, target 0, baseline 4 (Jan): expected 4 - 4 × e / 2
            ("G3", m(1), 4.0, 4.0, m(1), 4.0, "on_track"),
            ("G3", m(2), 3.0, 4.0, m(1), 2.0, "behind"),  # 3 > 2
            ("G3", m(3), 1.0, 4.0, m(1), 0.0, "missed"),  # due, 1 > 0
            ("G3", m(4), None, 4.0, m(1), 0.0, "missed"),  # due + 1: no value now, status of due
            # G4 at_least, target 90, span Jun .. Oct = 4; no value in June: baseline from July,
            # elapsed still from June: Jul 80 + 10 × 1 / 4 = 82.5, Aug 80 + 10 × 2 / 4 = 85
            ("G4", m(6), None, None, None, None, "no_data"),
            ("G4", m(7), 80.0, 80.0, m(7), 82.5, "behind"),
            ("G4", m(8), 70.0, 80.0, m(7), 85.0, "behind"),  # rows stop at the reporting month
            # G5 at_most, target 30, span 2: Jul never touched; Aug 45 + (30 - 45) × 1 / 2 = 37.5
            ("G5", m(7), None, None, None, None, "no_data"),
            ("G5", m(8), 45.0, 45.0, m(8), 37.5, "behind"),  # 45 > 37.5
        ],
        schema={c: ACCOUNT_GOALS[c] for c in columns},
        orient="row",
    )
    assert_frame_equal(out.frame.select(columns), expected)


def test_goal_rows_carry_what_a_report_needs() -> None:
    out = account_goals(GOALS, account_monthly(), REPORTING).frame
    first = out.row(0, named=True)
    assert first == {
        "goal_id": "G1",
        "account_id": "A1",
        "month": m(1),
        "metric": "nps_12m",
        "description": "goal G1",
        "owner": "m1",
        "visible_to_client": True,  # empty: the default
        "direction": "at_least",  # empty: the default
        "start_month": m(1),
        "due_month": m(5),
        "value": 10.0,
        "baseline": 10.0,
        "baseline_month": m(1),
        "expected": 10.0,
        "target": 50.0,
        "status": "on_track",
    }
    assert out.filter(pl.col("goal_id") == "G5")["direction"].unique().to_list() == ["at_most"]


def test_status_after_due_is_the_status_at_due_for_every_outcome() -> None:
    out = account_goals(GOALS, account_monthly(), REPORTING).frame
    after_due = out.filter(pl.col("month") > pl.col("due_month"))
    assert after_due.select("goal_id", "month", "status").rows() == [
        ("G1", m(6), "missed"),  # the current value 60 would meet the target
        ("G2", m(5), "met"),  # the current value 300 would not
        ("G3", m(4), "missed"),
    ]


def test_months_as_dates_and_a_one_month_goal() -> None:
    one = pl.DataFrame(
        {
            "goal_id": ["G7"],
            "account_id": ["A1"],
            "metric": ["nps_12m"],
            "target": [30.0],
            "start_month": [m(2)],
            "due_month": [m(2)],  # span 0 counts as 1
        }
    )
    out = account_goals(one, account_monthly(), REPORTING)
    # Feb: baseline 25, due: 25 < 30 -> missed; Mar: due + 1 -> missed; expected Mar: capped 30
    assert out.frame.select("month", "expected", "status", "visible_to_client").rows() == [
        (m(2), 25.0, "missed", True),
        (m(3), 30.0, "missed", True),
    ]


def test_goals_that_cannot_be_evaluated_are_quarantined_with_a_reason() -> None:
    bad = goals(
        ("B1", "A1", "revenue", "1", "at_least", "2024-01", "2024-05"),
        ("B2", "A1", "tier", "1", "at_least", "2024-01", "2024-05"),
        ("B3", "A1", "mrr", "1", "at_least", "2024-06", "2024-03"),
        ("B4", "A1", "mrr", "1", "at_least", "June", "2024-09"),
        ("B5", "A1", "mrr", "1", "up", "2024-01", "2024-05"),
        ("G1", "A1", "nps_12m", "50", None, "2024-01", "2024-05"),
    )
    out = account_goals(bad, account_monthly(), REPORTING)
    assert out.frame["goal_id"].unique().to_list() == ["G1"]
    assert out.rejects.schema == QUARANTINE
    rows = out.rejects.select("record_key", "row", "column", "value", "reason").rows()
    assert [r[:4] for r in rows] == [
        ("B1", 1, "metric", "revenue"),
        ("B2", 2, "metric", "tier"),
        ("B3", 3, "due_month", "2024-03"),
        ("B4", 4, "start_month", "June"),
        ("B5", 5, "direction", "up"),
    ]
    assert rows[0][4].startswith("metric 'revenue' is not a numeric column of marts.account_monthly")
    assert "nps_12m" in rows[0][4]
    assert rows[2][4] == "due_month 2024-03 is before start_month 2024-06"
    assert rows[3][4] == "start_month 'June' is not a month (YYYY-MM)"
    assert rows[4][4] == "direction 'up' is not at_least or at_most"
    assert set(out.rejects["source"]) == {"account_goals"} and set(out.rejects["stage"]) == {"marts"}
