"""Touches, tickets, expansion pipeline and renewal timing, hand-computed.

Account a has rows Jan .. Jun 2024; account b Mar .. Jun 2024 with no activity.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal as D

import polars as pl
import pytest

from pipeline.schemas import MONEY
from pipeline.transforms.activity import (
    TICKET_COLUMNS,
    TOUCH_COLUMNS,
    monthly_days_to_renewal,
    monthly_expansion_pipeline,
    monthly_tickets,
    monthly_touches,
)
from pipeline.transforms.calendar import month_spine

UTC = UTC
TS = pl.Datetime("us", "UTC")


def _at(*parts: int, offset_hours: int = 0) -> datetime:
    return datetime(*parts, tzinfo=timezone(timedelta(hours=offset_hours))).astimezone(UTC)


SPINE = month_spine(
    pl.DataFrame({"account_id": ["a", "b"], "first_month": [date(2024, 1, 1), date(2024, 3, 1)]}),
    date(2024, 6, 1),
)


def _a(frame: pl.DataFrame, column: str) -> list[object]:
    return frame.filter(pl.col("account_id") == "a")[column].to_list()


def _b(frame: pl.DataFrame, column: str) -> list[object]:
    return frame.filter(pl.col("account_id") == "b")[column].to_list()


@pytest.fixture(scope="module")
def touches() -> pl.DataFrame:
    activities = pl.DataFrame(
        {
            "activity_id": ["x1", "x2", "x3", "x4", "x5"],
            "account_id": ["a"] * 5,
            "occurred_at": [
                _at(2024, 1, 10, 9, 0),
                _at(2024, 1, 31, 23, 30, offset_hours=-2),  # 1 Feb 01:30 UTC
                _at(2024, 3, 5, 15, 0),
                _at(2024, 6, 20, 8, 0),
                _at(2024, 7, 2, 8, 0),  # after the reporting month
            ],
        },
        schema_overrides={"occurred_at": TS},
    )
    return monthly_touches(activities, SPINE)


def test_touches_over_three_months(touches: pl.DataFrame) -> None:
    # per month Jan 1, Feb 1 (x2 is 1 Feb in UTC), Mar 1, Apr 0, May 0, Jun 1
    # M-2 .. M: Jan 1, Feb 2, Mar 3, Apr 2, May 1, Jun 1
    assert _a(touches, "touches_3m") == [1, 2, 3, 2, 1, 1]
    assert _b(touches, "touches_3m") == [0, 0, 0, 0]


def test_days_since_last_touch_looks_back_across_empty_months(touches: pl.DataFrame) -> None:
    # Jan 31 - Jan 10 = 21; Feb 29 - Feb 1 = 28; Mar 31 - Mar 5 = 26;
    # Apr 30 - Mar 5 = 56; May 31 - Mar 5 = 87; Jun 30 - Jun 20 = 10
    assert _a(touches, "days_since_last_touch") == [21, 28, 26, 56, 87, 10]
    assert _b(touches, "days_since_last_touch") == [None] * 4  # never touched
    assert touches.columns == ["account_id", "month", *TOUCH_COLUMNS]


@pytest.fixture(scope="module")
def tickets() -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "ticket_id": ["t1", "t2", "t3", "t4", "t5", "t6"],
            "account_id": ["a"] * 6,
            "opened_at": [
                _at(2024, 1, 5, 9, 0),
                _at(2024, 1, 20, 9, 0),
                _at(2024, 1, 25, 9, 0),
                _at(2024, 2, 29, 23, 0, offset_hours=-5),  # 1 Mar 04:00 UTC
                _at(2024, 4, 10, 9, 0),
                _at(2024, 7, 1, 9, 0),  # after the reporting month
            ],
            "resolved_at": [
                _at(2024, 1, 31, 10, 0),  # resolved on end(Jan): not open then
                _at(2024, 2, 1, 0, 30, offset_hours=2),  # 31 Jan 22:30 UTC: not open
                _at(2024, 2, 1, 0, 30),  # open at end(Jan) only
                None,
                _at(2024, 6, 15, 9, 0),
                None,
            ],
            "priority": ["high", "urgent", "normal", "urgent", "high", "high"],
        },
        schema_overrides={"opened_at": TS, "resolved_at": TS},
    )
    return monthly_tickets(frame, SPINE)


def test_tickets_opened_and_open_at_month_end(tickets: pl.DataFrame) -> None:
    # opened: Jan t1 t2 t3; Mar t4; Apr t5
    assert _a(tickets, "tickets_opened") == [3, 0, 1, 1, 0, 0]
    # open: end(Jan) t3; end(Feb) none; end(Mar) t4; end(Apr), end(May) t4 t5; end(Jun) t4
    assert _a(tickets, "open_tickets") == [1, 0, 1, 2, 2, 1]
    # high or urgent among them: t4 (urgent) and t5 (high); t3 is normal
    assert _a(tickets, "open_high_priority_tickets") == [0, 0, 1, 2, 2, 1]
    assert _b(tickets, "open_tickets") == [0, 0, 0, 0]
    assert tickets.columns == ["account_id", "month", *TICKET_COLUMNS]


def test_open_expansion_pipeline() -> None:
    rows = [
        # id, type, amount, created_on, close_date, is_closed
        ("o1", "upsell", "1000", date(2024, 1, 15), date(2024, 2, 1), False),  # open: expected date ignored
        ("o2", "cross_sell", "500", date(2024, 2, 10), date(2024, 4, 30), True),  # closed on end(Apr)
        ("o3", "new_business", "9999", date(2024, 1, 1), None, False),  # not expansion
        ("o4", "upsell", "300", date(2024, 1, 1), None, True),  # closed, no date: never counts
        ("o5", "upsell", "200", date(2024, 5, 1), date(2024, 5, 31), True),  # closed within May
        ("o6", "renewal", "700", date(2024, 2, 1), None, False),  # not expansion
        ("o7", "cross_sell", "50", date(2024, 6, 30), None, False),  # created on end(Jun)
    ]
    opportunities = pl.DataFrame(
        [(i, "a", t, D(x), c, d, closed) for i, t, x, c, d, closed in rows],
        schema={
            "opportunity_id": pl.String(),
            "account_id": pl.String(),
            "type": pl.String(),
            "amount": MONEY,
            "created_on": pl.Date(),
            "close_date": pl.Date(),
            "is_closed": pl.Boolean(),
        },
        orient="row",
    )
    out = monthly_expansion_pipeline(opportunities, SPINE)
    # Jan o1 1000; Feb, Mar o1 + o2 = 1500; Apr, May o1 1000; Jun o1 + o7 = 1050
    expected = [D(v).quantize(D("0.0001")) for v in (1000, 1500, 1500, 1000, 1000, 1050)]
    assert _a(out, "open_expansion_pipeline") == expected
    assert _b(out, "open_expansion_pipeline") == [D("0.0000")] * 4
    assert out.schema["open_expansion_pipeline"] == MONEY


def test_days_to_renewal_may_be_negative_and_is_null_when_unknown() -> None:
    accounts = pl.DataFrame(
        {"account_id": ["a", "b"], "renewal_date": [date(2024, 3, 15), None]},
        schema_overrides={"renewal_date": pl.Date()},
    )
    out = monthly_days_to_renewal(accounts, SPINE)
    # Mar 15 - Jan 31 = 44; - Feb 29 = 15; - Mar 31 = -16; - Apr 30 = -46;
    # - May 31 = -77; - Jun 30 = -107
    assert _a(out, "days_to_renewal") == [44, 15, -16, -46, -77, -107]
    assert _b(out, "days_to_renewal") == [None] * 4
    assert out.schema["days_to_renewal"] == pl.Int64
