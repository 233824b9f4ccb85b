"""NPS over M-11 .. M and CSAT over M-2 .. M, with the window edges hand-checked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pytest

from pipeline.transforms.calendar import month_range, month_spine
from pipeline.transforms.voice import VOICE_COLUMNS, monthly_voice

UTC = UTC


def _at(*parts: int, offset_hours: int = 0) -> datetime:
    """A timestamp given in a local offset, stored in UTC the way staging stores it."""
    return datetime(*parts, tzinfo=timezone(timedelta(hours=offset_hours))).astimezone(UTC)


RESPONSES = pl.DataFrame(
    [
        # NPS. For M = Dec 2024 the window is Jan 2024 .. Dec 2024.
        ("r1", "a", "nps", 10, _at(2024, 1, 1, 0, 0)),  # first instant of M-11: counts
        ("r2", "a", "nps", 9, _at(2023, 12, 31, 23, 59, 59)),  # last second of M-12: out
        ("r3", "a", "nps", 9, _at(2023, 12, 31, 23, 30, offset_hours=-2)),  # = 1 Jan 01:30Z
        ("r4", "a", "nps", 7, _at(2024, 6, 15, 12, 0)),  # passive
        ("r5", "a", "nps", 6, _at(2024, 12, 31, 23, 59)),  # detractor, last minute of M
        ("r6", "a", "nps", 0, _at(2025, 1, 1, 0, 0)),  # after the reporting month
        # CSAT. For M = Dec 2024 the window is Oct .. Dec 2024.
        ("c1", "a", "csat", 5, _at(2024, 10, 1, 0, 0)),  # first instant of M-2
        ("c2", "a", "csat", 4, _at(2024, 9, 30, 23, 59)),  # last minute of M-3
        ("c3", "a", "csat", 5, _at(2024, 12, 31, 22, 0, offset_hours=-3)),  # = 1 Jan 2025
        ("c4", "a", "csat", 3, _at(2024, 11, 15, 9, 0)),  # not satisfied
        ("c5", "a", "csat", 1, _at(2024, 12, 1, 9, 0)),
    ],
    schema={
        "response_id": pl.String(),
        "account_id": pl.String(),
        "survey_type": pl.String(),
        "score": pl.Int64(),
        "responded_at": pl.Datetime("us", "UTC"),
    },
    orient="row",
)

SPINE = month_spine(
    pl.DataFrame({"account_id": ["a", "b"], "first_month": [date(2023, 12, 1), date(2024, 11, 1)]}),
    date(2024, 12, 1),
)
MONTHS = month_range(date(2023, 12, 1), date(2024, 12, 1))  # 13 months for a


@pytest.fixture(scope="module")
def out() -> pl.DataFrame:
    return monthly_voice(RESPONSES, SPINE)


def _a(out: pl.DataFrame, column: str) -> list[object]:
    return out.filter(pl.col("account_id") == "a")[column].to_list()


def test_nps_window_edges_and_counts(out: pl.DataFrame) -> None:
    # Dec 2023: r2 -> 1 response, 1 promoter: 100
    # Jan .. May 2024: r2, r1, r3 -> 3 promoters of 3: 100
    # Jun .. Nov 2024: + r4 (passive) -> 4 responses, 3 promoters: 75
    # Dec 2024: r2 leaves; r1, r3 (promoters), r4 (passive), r5 (detractor):
    #   100 × (2 - 1) / 4 = 25. r6 (January 2025) is not counted.
    assert _a(out, "nps_responses_12m") == [1, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4]
    assert _a(out, "nps_promoters_12m") == [1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]
    assert _a(out, "nps_detractors_12m") == [0] * 12 + [1]
    assert _a(out, "nps_12m") == [100.0] * 6 + [75.0] * 6 + [25.0]


def test_csat_window_edges_and_counts(out: pl.DataFrame) -> None:
    # Sep 2024: c2 -> 1 of 1 satisfied: 100; Oct: c2, c1 -> 2 of 2: 100
    # Nov: c2, c1, c4 -> 2 of 3: 66.7; Dec: c1, c4, c5 -> 1 of 3: 33.3 (c2 is M-3,
    # c3 falls on 1 January 2025 in UTC). Dec 2023 .. Aug 2024: no responses: null.
    assert _a(out, "csat_responses_3m") == [0] * 9 + [1, 2, 3, 3]
    assert _a(out, "csat_satisfied_3m") == [0] * 9 + [1, 2, 2, 1]
    assert _a(out, "csat_3m") == pytest.approx([None] * 9 + [100.0, 100.0, 200 / 3, 100 / 3])


def test_no_responses_gives_zero_counts_and_null_scores(out: pl.DataFrame) -> None:
    b = out.filter(pl.col("account_id") == "b")
    assert b.height == 2
    assert b["nps_12m"].to_list() == [None, None]
    assert b["csat_3m"].to_list() == [None, None]
    for count in ("nps_responses_12m", "nps_promoters_12m", "csat_responses_3m"):
        assert b[count].to_list() == [0, 0]


def test_output_columns_and_types(out: pl.DataFrame) -> None:
    assert out.columns == ["account_id", "month", *VOICE_COLUMNS]
    assert out.schema["nps_12m"] == pl.Float64 and out.schema["csat_3m"] == pl.Float64
    assert out.schema["nps_responses_12m"] == pl.Int64
    assert _a(out, "month") == MONTHS
