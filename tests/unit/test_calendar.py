"""Month arithmetic and the spine helpers every KPI family is built on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.transforms.calendar import (
    add_months,
    month_end,
    month_end_balances,
    month_range,
    month_spine,
    month_start,
    relative_change,
    side_by_side,
    trailing_totals,
    utc_day,
)


@pytest.mark.parametrize(
    ("day", "start", "end"),
    [
        (date(2024, 2, 14), date(2024, 2, 1), date(2024, 2, 29)),  # leap year
        (date(2023, 2, 1), date(2023, 2, 1), date(2023, 2, 28)),
        (date(2024, 12, 31), date(2024, 12, 1), date(2024, 12, 31)),
        (date(2024, 4, 30), date(2024, 4, 1), date(2024, 4, 30)),
    ],
)
def test_month_start_and_end(day: date, start: date, end: date) -> None:
    assert month_start(day) == start
    assert month_end(day) == end


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 1), 1, date(2024, 2, 1)),
        (date(2024, 1, 1), -1, date(2023, 12, 1)),
        (date(2024, 3, 1), -12, date(2023, 3, 1)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # clamped to the month's last day
        (date(2024, 11, 15), 3, date(2025, 2, 15)),
        (date(2024, 5, 1), 0, date(2024, 5, 1)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_month_range_is_inclusive_and_empty_when_reversed() -> None:
    assert month_range(date(2023, 11, 20), date(2024, 2, 3)) == [
        date(2023, 11, 1),
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]
    assert month_range(date(2024, 3, 1), date(2024, 3, 31)) == [date(2024, 3, 1)]
    assert month_range(date(2024, 3, 1), date(2024, 2, 29)) == []


def test_utc_day_puts_a_late_evening_offset_timestamp_on_the_next_utc_day() -> None:
    # 2024-01-31T23:30-02:00 is 2024-02-01T01:30Z: it belongs to 1 February.
    local = datetime(2024, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    frame = pl.DataFrame(
        {"at": [local.astimezone(UTC)], "d": [date(2024, 1, 5)]},
        schema={"at": pl.Datetime("us", "UTC"), "d": pl.Date()},
    )
    out = frame.select(utc_day(frame.schema, "at").alias("at"), utc_day(frame.schema, "d"))
    assert out.row(0) == (date(2024, 2, 1), date(2024, 1, 5))


def _spine() -> pl.DataFrame:
    return month_spine(
        pl.DataFrame(
            {
                "account_id": ["b", "a", "a", "c"],
                "first_month": [date(2024, 3, 9), date(2024, 2, 2), date(2024, 1, 20), date(2024, 6, 1)],
            }
        ),
        date(2024, 4, 1),
    )


def test_month_spine_runs_from_the_earliest_month_to_the_last_and_skips_later_starts() -> None:
    expected = pl.DataFrame(
        {
            "account_id": ["a", "a", "a", "a", "b", "b"],
            "month": [
                date(2024, 1, 1),
                date(2024, 2, 1),
                date(2024, 3, 1),
                date(2024, 4, 1),
                date(2024, 3, 1),
                date(2024, 4, 1),
            ],
        }
    )
    assert_frame_equal(_spine(), expected)  # c starts after the last month: no rows


def test_trailing_totals_sum_the_window_and_zero_fill_empty_months() -> None:
    events = pl.DataFrame(
        {
            "account_id": ["a", "a", "a", "b", "a"],
            "m": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 3, 1), date(2024, 4, 1), date(2024, 9, 1)],
            "n": [1, 1, 1, 5, 100],  # the September event is after the spine: ignored
        }
    )
    one = trailing_totals(events, _spine(), month="m", values=["n"])
    assert one["n"].to_list() == [2, 0, 1, 0, 0, 5]
    # a: Jan 2, Feb 2+0, Mar 2+0+1 = 3, Apr 0+1+0 = 1; b: Mar 0, Apr 5
    three = trailing_totals(events, _spine(), month="m", values=["n"], months=3)
    assert three["n"].to_list() == [2, 2, 3, 1, 0, 5]


def test_month_end_balances_count_from_start_up_to_not_including_stop() -> None:
    intervals = pl.DataFrame(
        {
            "account_id": ["a", "a", "a", "a", "b"],
            "s": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1), date(2023, 6, 1), date(2024, 3, 1)],
            "e": [date(2024, 3, 1), None, date(2024, 3, 1), date(2024, 2, 1), date(2024, 1, 1)],
            "v": [1, 10, 100, 1000, 7],
        },
        schema_overrides={"e": pl.Date()},
    )
    out = month_end_balances(intervals, _spine(), start="s", stop="e", values=["v"])
    # a: [Jan, Mar) = 1; [Feb, open) = 10; [Mar, Mar) never; [Jun 2023, Feb) moved onto Jan
    # = 1000 in Jan only. b: stop before start, never open.
    assert out["v"].to_list() == [1001, 11, 10, 10, 0, 0]


def test_relative_change_is_null_without_a_base() -> None:
    frame = pl.DataFrame(
        {
            "account_id": ["a"] * 4 + ["b"] * 2,
            "month": [date(2024, m, 1) for m in (1, 2, 3, 4)] + [date(2024, 1, 1), date(2024, 2, 1)],
            "x": [10, 15, 0, 5, 4, 6],
        }
    )
    out = frame.select(relative_change(pl.col("x"), 1).alias("r"))["r"].to_list()
    # a: Jan no base, Feb 15/10-1, Mar 0/15-1, Apr base 0; b: Jan no base, Feb 6/4-1
    assert out == [None, 0.5, -1.0, None, None, 0.5]


def test_side_by_side_places_aligned_parts_and_joins_the_rest() -> None:
    spine = _spine()
    aligned = spine.with_columns(pl.lit(1).alias("x"))
    # reversed and missing a's January: joined by key, not placed by position
    shuffled = spine.reverse().with_columns(pl.int_range(pl.len()).alias("y")).head(5)
    out = side_by_side(spine, aligned, shuffled)
    assert out.columns == ["account_id", "month", "x", "y"]
    assert out["x"].to_list() == [1] * 6
    assert out["y"].to_list() == [None, 4, 3, 2, 1, 0]
