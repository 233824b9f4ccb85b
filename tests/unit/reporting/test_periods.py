"""Cadence: which months produce a report, and what period it covers."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.reporting.periods import month_period, quarter_period, report_period


@pytest.mark.parametrize("month", range(1, 13))
def test_monthly_reports_every_month(month: int) -> None:
    p = report_period("monthly", date(2024, month, 1))
    assert p is not None and p.kind == "month" and p.months == (date(2024, month, 1),)


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        (1, None),
        (2, None),
        (3, "2024-Q1"),
        (4, None),
        (5, None),
        (6, "2024-Q2"),
        (7, None),
        (8, None),
        (9, "2024-Q3"),
        (10, None),
        (11, None),
        (12, "2024-Q4"),
    ],
)
def test_quarterly_reports_only_when_a_quarter_closes(month: int, expected: str | None) -> None:
    p = report_period("quarterly", date(2024, month, 1))
    assert (p.key if p else None) == expected


def test_quarter_covers_its_three_months_and_compares_with_the_right_quarters() -> None:
    q = report_period("quarterly", date(2024, 3, 1))
    assert q.months == (date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1))
    assert (q.start, q.end, q.end_exclusive) == (date(2024, 1, 1), date(2024, 3, 31), date(2024, 4, 1))
    assert q.label == "Q1 2024" and q.span_label == "January – March 2024"
    assert q.reporting_month == "2024-03"
    assert q.previous().key == "2023-Q4" and q.previous().months[0] == date(2023, 10, 1)
    assert q.year_ago().key == "2023-Q1"


def test_month_period_labels_and_neighbours() -> None:
    m = month_period(date(2024, 2, 1))
    assert (m.key, m.label, m.span_label, m.end) == (
        "2024-02",
        "February 2024",
        "1 – 29 February 2024",
        date(2024, 2, 29),
    )
    assert m.previous().key == "2024-01" and m.year_ago().key == "2023-02"
    assert quarter_period(date(2023, 12, 1)).previous().key == "2023-Q3"


@pytest.mark.parametrize("cadence", ["none", "NONE"])
def test_none_never_reports(cadence: str) -> None:
    assert all(report_period(cadence, date(2024, m, 1)) is None for m in range(1, 13))


def test_empty_cadence_is_monthly_and_unknown_cadence_is_an_error() -> None:
    assert report_period(None, date(2024, 5, 1)).key == "2024-05"
    assert report_period("", date(2024, 5, 1)).key == "2024-05"
    with pytest.raises(ValueError, match="weekly"):
        report_period("weekly", date(2024, 5, 1))
