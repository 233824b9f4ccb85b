"""Looking ahead: committed MRR, band retention, expected MRR, renewals due,
win rate and forecast accuracy, on frames built by hand; every expected number is worked
out in the comments next to it.

Active on day d: start_date <= d < end_date (or no end_date). Committed MRR at M+k is
that rule on end(M+k) over the subscriptions on file, each converted at its start_date.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import add_months, month_end, month_spine
from pipeline.transforms.forecast import (
    ACCOUNT_FORECAST,
    BAND_RETENTION,
    CMRR_COLUMNS,
    EXPANSION_WIN_RATE,
    PORTFOLIO_FORECAST,
    account_forecast,
    band_retention,
    committed_mrr,
    expansion_win_rate,
    expected_mrr_3m,
    portfolio_forecast,
    renewals_due,
)
from pipeline.transforms.fx import convert
from pipeline.transforms.portfolio import ACCOUNT_MONTHLY_READ
from pipeline.transforms.recurring_revenue import monthly_mrr
from tests.support.budgets import examples

M = date(2024, 3, 1)  # the reporting month of the committed-MRR cases; end(M) = 31 March
SUBS_SCHEMA = {
    "subscription_id": pl.String(),
    "account_id": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "mrr": MONEY,
    "currency": pl.String(),
}


def money(*values: str | int | None) -> list[D | None]:
    return [None if v is None else D(str(v)).quantize(D("0.0001")) for v in values]


def subs(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame([(i, a, s, e, D(m), c) for i, a, s, e, m, c in rows], schema=SUBS_SCHEMA, orient="row")


def spine(accounts: list[str], month: date = M) -> pl.DataFrame:
    return pl.DataFrame({"account_id": accounts, "month": [month] * len(accounts)})


def cmrr_row(account: str, month: date, values: list[str | int]) -> dict:
    return {"account_id": account, "month": month, **dict(zip(CMRR_COLUMNS, money(*values), strict=True))}


# --------------------------------------------------------------------------- committed MRR

FX_RATES = pl.DataFrame(
    {
        "date": [date(2024, 1, 1), date(2024, 5, 1)],
        "currency": ["eur", "eur"],
        "rate": [D("1.10"), D("1.20")],
    },
    schema={"date": pl.Date(), "currency": pl.String(), "rate": pl.Decimal(18, 6)},
)

COMMITTED_SUBS = subs(
    [
        # a: open-ended USD 100 since January
        ("s1", "a", date(2024, 1, 15), None, "100", "usd"),
        # a: EUR 50 overlapping it, at 1.10 = 55; scheduled end 30 June = end(Jun): gone at M+3
        ("s2", "a", date(2024, 2, 1), date(2024, 6, 30), "50", "eur"),
        # a: booked EUR 20 from 10 May (M+2), at the rate of 1 May, 1.20 = 24
        ("s3", "a", date(2024, 5, 10), None, "20", "eur"),
        # b: USD 30 active on end(Apr) = 30 April only (ends 1 May)
        ("s4", "b", date(2024, 4, 30), date(2024, 5, 1), "30", "usd"),
        # c: a booked new account from 15 March 2025 = M+12, EUR 200 at 1.20 = 240
        ("s5", "c", date(2025, 3, 15), None, "200", "eur"),
        # c: starts after end(M+12): outside the horizon
        ("s6", "c", date(2025, 4, 1), None, "999", "usd"),
    ]
)


def test_committed_mrr_booked_scheduled_open_ended_overlapping_two_currencies() -> None:
    converted, missing = convert(COMMITTED_SUBS, ["mrr"], "currency", "start_date", FX_RATES, "USD")
    assert missing.is_empty()
    out = committed_mrr(converted, spine(["a", "b", "c", "d"]))
    expected = pl.DataFrame(
        [
            # Apr: 100 + 55; May: + booked 24; Jun..: s2 no longer active on 30 June
            cmrr_row("a", M, [155, 179, 124, 124, 124, 124, 124, 124, 124, 124, 124, 124]),
            # Apr only: active on 30 April, not on 31 May (end_date 1 May)
            cmrr_row("b", M, [30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            # 2025-03 = M+12: booked 240; the 999 starting in April 2025 is past the horizon
            cmrr_row("c", M, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 240]),
            # no subscription at all
            cmrr_row("d", M, [0] * 12),
        ],
        schema={"account_id": pl.String(), "month": pl.Date(), **{c: MONEY for c in CMRR_COLUMNS}},
    )
    assert_frame_equal(out, expected)


def test_committed_mrr_of_several_months_is_the_mrr_the_file_gives_each_later_month() -> None:
    converted, _ = convert(COMMITTED_SUBS, ["mrr"], "currency", "start_date", FX_RATES, "USD")
    out = committed_mrr(converted, pl.DataFrame({"account_id": ["a", "a"], "month": [date(2024, 1, 1), M]}))
    # From January: Feb 155 (s2 from 1 Feb), Mar 155, Apr 155, May 179, Jun.. 124
    assert out.row(0) == ("a", date(2024, 1, 1), *money(155, 155, 155, 179, *[124] * 8))
    assert out.row(1) == ("a", M, *money(155, 179, *[124] * 10))


# Property: with no subscription starting or ending between end(M) and end(M+k), the
# committed MRR at M+1 .. M+k equals MRR(M) as recurring_revenue computes it.
PM = date(2024, 6, 1)
EARLIEST = date(2022, 6, 1)


@st.composite
def quiet_window(draw: st.DrawFn) -> tuple[int, list[tuple[str, date, date | None, D]]]:
    k = draw(st.integers(min_value=1, max_value=12))
    lo, hi = month_end(PM), month_end(add_months(PM, k))
    gap = (hi - lo).days

    def outside(day: date) -> date:
        return day + timedelta(days=gap) if lo < day <= hi else day

    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        account = draw(st.sampled_from(["a", "b", "c"]))
        start = outside(EARLIEST + timedelta(days=draw(st.integers(min_value=0, max_value=1100))))
        length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=500)))
        end = None if length is None else outside(start + timedelta(days=length))
        amount = draw(st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False))
        rows.append((account, start, end, amount))
    return k, rows


@settings(max_examples=examples(50), deadline=None)
@given(case=quiet_window())
def test_committed_mrr_equals_todays_mrr_when_nothing_starts_or_ends(
    case: tuple[int, list[tuple[str, date, date | None, D]]],
) -> None:
    k, rows = case
    frame = pl.DataFrame(
        rows,
        schema={"account_id": pl.String(), "start_date": pl.Date(), "end_date": pl.Date(), "mrr": MONEY},
        orient="row",
    )
    accounts = pl.DataFrame({"account_id": ["a", "b", "c"], "first_month": [EARLIEST] * 3})
    today = monthly_mrr(frame, month_spine(accounts, PM)).filter(pl.col("month") == PM).select("account_id", "mrr")
    ahead = committed_mrr(frame, spine(["a", "b", "c"], PM)).join(today, on="account_id")
    for j in range(1, k + 1):
        assert ahead[f"cmrr_{j}m"].to_list() == ahead["mrr"].to_list(), (j, rows)


# --------------------------------------------------------------------------- band retention

BM = date(2024, 12, 1)  # observation months t = 2023-10 .. 2024-09
T, T3 = date(2024, 6, 1), date(2024, 9, 1)  # the observation month used, and t+3
EMPTY = date(2023, 11, 1)  # observes 2022-09 .. 2023-08: no pairs at all


def retention_case() -> tuple[pl.DataFrame, pl.DataFrame]:
    am: list[tuple[str, date, str]] = []
    health: list[tuple[str, date, str, str]] = []

    def pair(account: str, band: str, now: str, later: str | None, computed: str | None = None) -> None:
        am.append((account, T, now))
        if later is not None:
            am.append((account, T3, later))
        health.append((account, T, band, computed or band))

    for i in range(20):  # green: exactly 20 pairs, 100 -> 110 each: 2200 / 2000 = 1.1
        pair(f"g{i:02d}", "green", "100", "110")
    pair("a1", "amber", "300", "150")  # amber, 2 pairs: 150 / 400 = 0.375, but pooled
    pair("a2", "amber", "100", "0", computed="green")  # an override: amber, not green
    pair("i1", "insufficient_data", "600", "650")  # 1 pair: 650 / 600, pooled
    pair("r1", "red", "0", "100")  # MRR 0 at t: no pair, red has none
    # Outside the window of BM: t = 2023-09 (M-15) and t = 2024-10 (M-2)
    am += [("g00", date(2023, 9, 1), "1000"), ("g00", date(2023, 12, 1), "0")]
    health.append(("g00", date(2023, 9, 1), "green", "green"))
    am.append(("g01", date(2024, 10, 1), "1000"))
    health.append(("g01", date(2024, 10, 1), "green", "green"))
    am_frame = pl.DataFrame(
        [(a, m, D(v)) for a, m, v in am],
        schema={"account_id": pl.String(), "month": pl.Date(), "mrr": MONEY},
        orient="row",
    )
    health_frame = pl.DataFrame(
        health,
        schema={"account_id": pl.String(), "month": pl.Date(), "band": pl.String(), "computed_band": pl.String()},
        orient="row",
    )
    return am_frame, health_frame


def test_band_retention_falls_back_to_pooled_under_20_pairs_and_is_null_without_pairs() -> None:
    am, health = retention_case()
    out = band_retention(am, health, [EMPTY, BM])
    # pooled at BM: (2200 + 150 + 0 + 650) / (2000 + 300 + 100 + 600) = 3000 / 3000 = 1.0
    expected = pl.DataFrame(
        [
            (EMPTY, "green", 0, None, None, None, True),
            (EMPTY, "amber", 0, None, None, None, True),
            (EMPTY, "red", 0, None, None, None, True),
            (EMPTY, "insufficient_data", 0, None, None, None, True),
            (BM, "green", 20, 1.1, 1.0, 1.1, False),
            (BM, "amber", 2, 0.375, 1.0, 1.0, True),
            (BM, "red", 0, None, 1.0, 1.0, True),
            (BM, "insufficient_data", 1, 650 / 600, 1.0, 1.0, True),
        ],
        schema=BAND_RETENTION,
        orient="row",
    )
    assert_frame_equal(out, expected)


def test_band_retention_threshold_is_a_parameter() -> None:
    am, health = retention_case()
    out = band_retention(am, health, [BM], min_pairs=2).filter(pl.col("band") == "amber")
    assert out.select("rate", "pooled").row(0) == (0.375, False)


# --------------------------------------------------------------------------- expected MRR


def retention_rows(month: date, green: float | None, amber: float | None, pooled: float | None) -> pl.DataFrame:
    """A BAND_RETENTION frame: green on its own pairs, every other band pooled."""
    return pl.DataFrame(
        [
            (month, "green", 25, green, pooled, green, False),
            (month, "amber", 3, amber, pooled, pooled, True),
            (month, "red", 0, None, pooled, pooled, True),
            (month, "insufficient_data", 0, None, pooled, pooled, True),
        ],
        schema=BAND_RETENTION,
        orient="row",
    )


def test_expected_mrr_customers_at_band_rate_and_booked_new_at_committed() -> None:
    frame = pl.DataFrame(
        [
            ("x", M, D("123.4567"), "green", D("0")),  # 123.4567 × 1.1 = 135.80237 -> 135.8024
            ("y", M, D("333.33"), "amber", D("0")),  # pooled: 333.33 × 0.9 = 299.997
            ("z", M, D("0"), "red", D("500")),  # booked new: committed MRR at M+3
            ("w", M, D("200"), None, D("0")),  # no health row: the pooled rate, 180
            ("v", M, D("0"), "green", D("0")),  # nothing now, nothing booked
            ("u", M, D("10.0015"), "green", D("0")),  # 11.00165: half away from zero, 11.0017
        ],
        schema={"account_id": pl.String(), "month": pl.Date(), "mrr": MONEY, "band": pl.String(), "cmrr_3m": MONEY},
        orient="row",
    )
    out = expected_mrr_3m(frame, retention_rows(M, green=1.1, amber=0.5, pooled=0.9))
    expected = frame.with_columns(
        band_retention_3m=pl.Series([1.1, 0.9, None, 0.9, None, 1.1]),
        band_retention_pooled=pl.Series([False, True, None, True, None, False]),
        expected_mrr_3m=pl.Series(money("135.8024", "299.997", 500, 180, 0, "11.0017"), dtype=MONEY),
    )
    assert_frame_equal(out, expected)


def test_expected_mrr_of_a_customer_is_null_when_no_band_has_pairs() -> None:
    frame = pl.DataFrame(
        [("x", M, D("100"), "green", D("100")), ("z", M, D("0"), "red", D("40"))],
        schema={"account_id": pl.String(), "month": pl.Date(), "mrr": MONEY, "band": pl.String(), "cmrr_3m": MONEY},
        orient="row",
    )
    out = expected_mrr_3m(frame, retention_rows(M, green=None, amber=None, pooled=None))
    assert out["expected_mrr_3m"].to_list() == money(None, 40)
    assert out["band_retention_pooled"].to_list() == [False, None]


# --------------------------------------------------------------------------- renewals


def test_renewals_due_window_excludes_end_of_m_and_includes_end_of_m_plus_3() -> None:
    accounts = pl.DataFrame(
        {
            "account_id": ["e0", "e1", "e2", "e3", "e4"],
            "renewal_date": [date(2024, 3, 31), date(2024, 4, 1), date(2024, 6, 30), date(2024, 7, 1), None],
        }
    )
    out = renewals_due(accounts, spine(["e0", "e1", "e2", "e3", "e4"]))
    # (end(M), end(M+3)] = (31 Mar, 30 Jun]; an unknown date is not due
    assert out["renewal_due_3m"].to_list() == [False, True, True, False, False]
    assert out["renewal_date"].to_list() == accounts["renewal_date"].to_list()


# --------------------------------------------------------------------------- account forecast


def forecast_inputs() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    am = pl.DataFrame(
        [
            ("a", M, "key", "smb", "m1", D("155")),
            ("b", M, "key", "smb", "m2", D("0")),
            ("e", M, "transactional", None, "m2", D("0")),
        ],
        schema={
            "account_id": pl.String(),
            "month": pl.Date(),
            "tier": pl.String(),
            "segment": pl.String(),
            "account_manager_id": pl.String(),
            "mrr": MONEY,
        },
        orient="row",
    )
    health = pl.DataFrame(
        {"account_id": ["a", "b", "e"], "month": [M] * 3, "band": ["green", "red", "insufficient_data"]}
    )
    subscriptions = subs(
        [
            ("s1", "a", date(2024, 1, 15), None, "100", "usd"),
            ("s2", "a", date(2024, 2, 1), date(2024, 6, 30), "55", "usd"),
            ("s4", "b", date(2024, 4, 30), date(2024, 5, 1), "30", "usd"),
            ("s7", "c", date(2024, 5, 10), None, "80", "usd"),  # c: booked, no row at M yet
            ("s8", "d", date(2025, 6, 1), None, "90", "usd"),  # d: booked after M+12: no row
        ]
    )
    accounts = pl.DataFrame(
        [
            ("a", "key", "smb", "m1", date(2024, 3, 31)),  # = end(M): not due
            ("b", "key", "smb", "m2", date(2024, 6, 30)),  # = end(M+3): due
            ("c", "strategic", "enterprise", "m1", date(2024, 7, 1)),  # after end(M+3)
            ("d", "key", "smb", "m1", date(2024, 4, 1)),
            ("e", "transactional", None, "m2", None),
        ],
        schema={
            "account_id": pl.String(),
            "tier": pl.String(),
            "segment": pl.String(),
            "account_manager_id": pl.String(),
            "renewal_date": pl.Date(),
        },
        orient="row",
    )
    return am, health, subscriptions, accounts


def test_account_forecast_rows_with_a_booked_new_account() -> None:
    am, health, subscriptions, accounts = forecast_inputs()
    retention = retention_rows(M, green=0.9, amber=0.5, pooled=0.95)
    out = account_forecast(am, health, subscriptions, accounts, retention=retention)
    attrs = ["account_id", "month", "tier", "segment", "account_manager_id", "mrr", "band"]
    expected = pl.DataFrame(
        [
            # a: 155 × 0.9 = 139.5; committed Apr, May 155, then 100 (55 ends 30 June)
            dict(zip(attrs, ["a", M, "key", "smb", "m1", D("155"), "green"], strict=True))
            | cmrr_row("a", M, [155, 155, *[100] * 10])
            | {
                "expected_mrr_3m": D("139.5"),
                "band_retention_3m": 0.9,
                "band_retention_pooled": False,
                "renewal_date": date(2024, 3, 31),
                "renewal_due_3m": False,
            },
            # b: not a customer at M: expected = committed MRR at M+3 = 0
            dict(zip(attrs, ["b", M, "key", "smb", "m2", D("0"), "red"], strict=True))
            | cmrr_row("b", M, [30, *[0] * 11])
            | {
                "expected_mrr_3m": D("0"),
                "band_retention_3m": None,
                "band_retention_pooled": None,
                "renewal_date": date(2024, 6, 30),
                "renewal_due_3m": True,
            },
            # c: booked new business, no row at M yet: attributes from the CRM, expected 80
            dict(zip(attrs, ["c", M, "strategic", "enterprise", "m1", D("0"), None], strict=True))
            | cmrr_row("c", M, [0, *[80] * 11])
            | {
                "expected_mrr_3m": D("80"),
                "band_retention_3m": None,
                "band_retention_pooled": None,
                "renewal_date": date(2024, 7, 1),
                "renewal_due_3m": False,
            },
            # e: nothing at all
            dict(zip(attrs, ["e", M, "transactional", None, "m2", D("0"), "insufficient_data"], strict=True))
            | cmrr_row("e", M, [0] * 12)
            | {
                "expected_mrr_3m": D("0"),
                "band_retention_3m": None,
                "band_retention_pooled": None,
                "renewal_date": None,
                "renewal_due_3m": False,
            },
        ],
        schema=ACCOUNT_FORECAST,
    )
    assert_frame_equal(out, expected)


# --------------------------------------------------------------------------- win rate


def test_expansion_win_rate_counts_closed_expansion_in_the_last_12_months() -> None:
    opportunities = pl.DataFrame(
        [
            ("o1", "upsell", True, True, date(2024, 1, 5)),  # M-11: in, won
            ("o2", "cross_sell", True, False, date(2024, 12, 31)),  # M: in, lost
            ("o3", "upsell", True, True, date(2023, 12, 31)),  # M-12: out
            ("o4", "renewal", True, True, date(2024, 6, 1)),  # not expansion
            ("o5", "upsell", False, False, date(2024, 6, 1)),  # open: the date is only expected
            ("o6", "upsell", True, True, None),  # closed without a date: nowhere
            ("o7", "cross_sell", True, True, date(2024, 7, 15)),  # in, won
            ("o8", "upsell", True, False, date(2025, 1, 10)),  # after M: out
        ],
        schema={
            "opportunity_id": pl.String(),
            "type": pl.String(),
            "is_closed": pl.Boolean(),
            "is_won": pl.Boolean(),
            "close_date": pl.Date(),
        },
        orient="row",
    )
    out = expansion_win_rate(opportunities, [date(2024, 12, 1), date(2022, 6, 1), date(2025, 12, 1)])
    expected = pl.DataFrame(
        [
            (date(2022, 6, 1), 0, 0, None),  # nothing closed: null, not 0
            (date(2024, 12, 1), 3, 2, 2 / 3),  # o1, o2, o7 closed; o1, o7 won
            (date(2025, 12, 1), 1, 0, 0.0),  # o8 only, lost: 0
        ],
        schema=EXPANSION_WIN_RATE,
        orient="row",
    )
    assert_frame_equal(out, expected)


# --------------------------------------------------------------------------- portfolio

Q, N = date(2024, 3, 1), date(2024, 6, 1)  # the forecast made at Q is checked at N = Q+3


def forecast_row(
    account: str,
    month: date,
    tier: str,
    segment: str | None,
    manager: str,
    mrr: str,
    band: str | None,
    cmrr_3m: str,
    cmrr_12m: str,
    expected: str | None,
    due: bool,
) -> dict:
    row = {c: None for c in ACCOUNT_FORECAST.names()}
    row.update({c: D("0") for c in CMRR_COLUMNS})
    row.update(
        account_id=account,
        month=month,
        tier=tier,
        segment=segment,
        account_manager_id=manager,
        mrr=D(mrr),
        band=band,
        cmrr_3m=D(cmrr_3m),
        cmrr_12m=D(cmrr_12m),
        expected_mrr_3m=None if expected is None else D(expected),
        renewal_due_3m=due,
    )
    return row


def portfolio_case() -> pl.DataFrame:
    af = pl.DataFrame(
        [
            # at Q: p and q are customers, r is booked (left out of the accuracy check)
            forecast_row("p", Q, "key", "enterprise", "m1", "1000", "green", "1000", "1000", "1100", False),
            forecast_row("q", Q, "key", "smb", "m2", "500", "amber", "500", "0", "400", False),
            forecast_row("r", Q, "strategic", "smb", "m1", "0", None, "300", "300", "300", False),
            # at N: p grew, q churned, r started, s is new since Q
            forecast_row("p", N, "key", "enterprise", "m1", "1200", "green", "1200", "1000", "1320", True),
            forecast_row("q", N, "key", "smb", "m2", "0", "red", "0", "0", "0", True),
            forecast_row("r", N, "strategic", "smb", "m1", "300", "amber", "300", "300", "240", True),
            forecast_row("s", N, "transactional", None, "m2", "50", "insufficient_data", "50", "0", "45", True),
        ],
        schema=ACCOUNT_FORECAST,
    )
    return af


def test_portfolio_forecast_columns_and_forecast_error_signed_and_absolute() -> None:
    af = portfolio_case()
    am = pl.DataFrame(
        {
            "account_id": ["p", "q", "r", "s"],
            "month": [N] * 4,
            "open_expansion_pipeline": money(1000, 0, 500, 0),
        },
        schema_overrides={"open_expansion_pipeline": MONEY},
    )
    wins = pl.DataFrame([(Q, 0, 0, None), (N, 3, 2, 2 / 3)], schema=EXPANSION_WIN_RATE, orient="row")
    out = portfolio_forecast(af, am, wins)
    assert out.schema == PORTFOLIO_FORECAST
    assert set(am.columns) <= set(ACCOUNT_MONTHLY_READ)  # what the asset reads is enough

    # Q: no forecast rows three months earlier -> no check; win rate null -> no weighting
    at_q = out.filter(pl.col("month") == Q)
    assert at_q["forecast_error_3m"].null_count() == at_q.height
    assert at_q["forecast_expected_3m"].null_count() == at_q.height
    assert at_q["weighted_expansion_pipeline"].null_count() == at_q.height

    # N, per group. Forecast made at Q over the customers then (p, q): 1100 + 400 = 1500,
    # against what p and q have at N: 1200 + 0 = 1200 -> (1500 - 1200) / 1200 = +0.25.
    # m1 / enterprise: p alone: (1100 - 1200) / 1200 = -1/12. smb / m2: q's actual is 0 -> null.
    # At risk: due and red/amber/insufficient_data: r 300 + s 50 (q is red but has 0 MRR).
    # Weighted pipeline = pipeline × 2/3, rounded: 1500 -> 1000, 1000 -> 666.6667, 500 -> 333.3333.
    columns = [
        "grouping",
        "group_value",
        "cmrr_3m",
        "cmrr_12m",
        "expected_mrr_3m",
        "forecast_expected_3m",
        "forecast_actual_3m",
        "forecast_error_3m",
        "forecast_abs_error_3m",
        "renewal_mrr_due_3m",
        "renewal_mrr_at_risk_3m",
        "expansion_win_rate_12m",
        "weighted_expansion_pipeline",
    ]
    rows = [
        ("all", "all", 1550, 1300, 1605, 1500, 1200, 0.25, 0.25, 1550, 350, 1000),
        ("tier", "key", 1200, 1000, 1320, 1500, 1200, 0.25, 0.25, 1200, 0, "666.6667"),
        ("tier", "strategic", 300, 300, 240, None, None, None, None, 300, 300, "333.3333"),
        ("tier", "transactional", 50, 0, 45, None, None, None, None, 50, 50, 0),
        ("segment", "enterprise", 1200, 1000, 1320, 1100, 1200, -1 / 12, 1 / 12, 1200, 0, "666.6667"),
        ("segment", "smb", 300, 300, 240, 400, 0, None, None, 300, 300, "333.3333"),
        ("segment", "unassigned", 50, 0, 45, None, None, None, None, 50, 50, 0),
        ("account_manager", "m1", 1500, 1300, 1560, 1100, 1200, -1 / 12, 1 / 12, 1500, 300, 1000),
        ("account_manager", "m2", 50, 0, 45, 400, 0, None, None, 50, 50, 0),
    ]
    expected = pl.DataFrame(
        [
            (g, v, *money(c3, c12, e, fe, fa), err, abs_err, *money(due, risk), 2 / 3, *money(w))
            for g, v, c3, c12, e, fe, fa, err, abs_err, due, risk, w in rows
        ],
        schema={c: PORTFOLIO_FORECAST[c] for c in columns},
        orient="row",
    )
    assert_frame_equal(out.filter(pl.col("month") == N).select(columns), expected)


def test_group_expected_mrr_is_null_when_a_customer_has_no_rate() -> None:
    af = pl.DataFrame(
        [
            forecast_row("p", N, "key", "smb", "m1", "100", "green", "100", "100", None, False),
            forecast_row("q", N, "strategic", "smb", "m2", "0", "red", "70", "70", "70", False),
        ],
        schema=ACCOUNT_FORECAST,
    )
    am = pl.DataFrame(
        {"account_id": ["p", "q"], "month": [N, N], "open_expansion_pipeline": money(0, 0)},
        schema_overrides={"open_expansion_pipeline": MONEY},
    )
    wins = pl.DataFrame([(N, 0, 0, None)], schema=EXPANSION_WIN_RATE, orient="row")
    out = portfolio_forecast(af, am, wins)
    by_group = dict(zip(out["group_value"], out["expected_mrr_3m"], strict=True))
    assert by_group["all"] is None and by_group["key"] is None
    assert by_group["strategic"] == D("70")


def test_forecast_error_has_history_from_the_first_month_with_a_forecast_three_months_earlier() -> None:
    """The whole chain over Jan .. Jul 2024, with band retention as known at each month.

    x: 100 in Jan .. Apr, 50 from May (green); y: 200 every month (red).
    Retention at Apr observes t = Jan only: x 100 -> 100, y 200 -> 200; both bands have
    under 20 pairs -> pooled 300 / 300 = 1.0. At Jan .. Mar nothing is observable -> null.
    Forecast at Apr for Jul: 100 × 1.0 + 200 × 1.0 = 300; actual at Jul 50 + 200 = 250:
    error (300 - 250) / 250 = 0.2. Retention at Jul (t = Jan .. Apr): x 100+50+50+50 over
    400, y 800 over 800: 1050 / 1200 = 0.875; expected at Jul 50 × 0.875 + 200 × 0.875.
    """
    months = [date(2024, m, 1) for m in range(1, 8)]
    x_mrr = ["100"] * 4 + ["50"] * 3
    am = pl.DataFrame(
        {
            "account_id": ["x"] * 7 + ["y"] * 7,
            "month": months * 2,
            "tier": ["key"] * 14,
            "segment": ["smb"] * 14,
            "account_manager_id": ["m1"] * 14,
            "mrr": [D(v) for v in x_mrr + ["200"] * 7],
            "open_expansion_pipeline": [D("0")] * 14,
        },
        schema_overrides={"mrr": MONEY, "open_expansion_pipeline": MONEY},
    )
    health = pl.DataFrame(
        {"account_id": ["x"] * 7 + ["y"] * 7, "month": months * 2, "band": ["green"] * 7 + ["red"] * 7}
    )
    subscriptions = subs(
        [
            ("s1", "x", date(2024, 1, 1), date(2024, 5, 1), "100", "usd"),
            ("s2", "x", date(2024, 5, 1), None, "50", "usd"),
            ("s3", "y", date(2024, 1, 1), None, "200", "usd"),
        ]
    )
    accounts = pl.DataFrame(
        {
            "account_id": ["x", "y"],
            "tier": ["key"] * 2,
            "segment": ["smb"] * 2,
            "account_manager_id": ["m1"] * 2,
            "renewal_date": [None, None],
        },
        schema_overrides={"renewal_date": pl.Date()},
    )
    forecast = account_forecast(am, health, subscriptions, accounts)
    out = portfolio_forecast(
        forecast,
        am,
        expansion_win_rate(
            pl.DataFrame(
                schema={"type": pl.String(), "is_closed": pl.Boolean(), "is_won": pl.Boolean(), "close_date": pl.Date()}
            ),
            months,
        ),
    ).filter(pl.col("grouping") == "all")
    assert out["month"].to_list() == months
    error = out["forecast_error_3m"].to_list()
    assert error[:6] == [None] * 6 and error[6] == pytest.approx(0.2)
    assert out["forecast_abs_error_3m"].to_list()[6] == pytest.approx(0.2)
    assert out["forecast_expected_3m"].to_list() == [None] * 6 + money(300)
    assert out["forecast_actual_3m"].to_list() == [None] * 6 + money(250)
    # The forecast made at each month: null until Apr (no pairs), then 250 × the pooled rate:
    # May 550/600: 45.8333 + 183.3333; Jun 800/900: 44.4444 + 177.7778; Jul 43.75 + 175
    assert out["expected_mrr_3m"].to_list() == [None] * 3 + money(300, "229.1666", "222.2222", "218.75")
    assert forecast.filter(pl.col("month") == months[-1])["band_retention_3m"].to_list() == [0.875, 0.875]
    assert out["weighted_expansion_pipeline"].null_count() == 7  # nothing ever closed
