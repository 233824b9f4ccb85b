"""Account health on hand-built ACCOUNT_MONTHLY rows; every expected number is worked out by hand.

Default model (settings.DEFAULT_MEASURES), total weight 100:

    measure        input                      0 at   100 at  weight
    satisfaction   nps_12m                    -100     50      20
    service        csat_3m                      50     95      10
    engagement     days_since_last_touch/cad   3.0    1.0      20   (key: 30 days, strategic: 14)
    revenue_trend  revenue_trend_3m          -0.20   0.10      25
    payments       overdue_amount / mrr        2.0    0.0      10
    support        open_high_priority_tickets    3      0      15

s = (x - zero_at) * 100 / (full_at - zero_at), clamped to 0..100.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from pipeline.schemas import ACCOUNT_MONTHLY, DRIVER, MONEY
from pipeline.settings import HealthSettings
from pipeline.transforms.health import (
    account_health,
    account_health_schema,
    health_inputs,
)
from tests.support.budgets import examples

SETTINGS = HealthSettings()
JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
NO_OVERRIDES = pl.DataFrame(
    schema={"account_id": pl.String, "band": pl.String, "reason": pl.String, "set_by": pl.String, "expires_on": pl.Date}
)

# A "full" account: every measure present.
FULL = dict(
    nps_12m=20.0,  # (20+100)*100/150 = 80
    csat_3m=86.0,  # (86-50)*100/45 = 80
    days_since_last_touch=45,  # key, 30 days: ratio 1.5 -> (1.5-3)*100/(1-3) = 75
    revenue_trend_3m=-0.05,  # (-0.05+0.20)*100/0.30 = 50
    mrr="1000",
    overdue_amount="500",  # ratio 0.5 -> (0.5-2)*100/(0-2) = 75
    open_high_priority_tickets=0,  # 100
)


def am(*rows: dict) -> pl.DataFrame:
    """ACCOUNT_MONTHLY rows: defaults for every column, money given as text."""
    out = []
    for r in rows:
        row = {name: None for name in ACCOUNT_MONTHLY.names()}
        row.update(account_id="a1", month=JAN, tier="key", segment="smb", account_manager_id="m1", mrr="1000")
        for c, dt in ACCOUNT_MONTHLY.items():
            if dt == MONEY:
                row[c] = "0"
        row.update(mrr="1000")
        row.update(r)
        for c, dt in ACCOUNT_MONTHLY.items():
            if dt == MONEY and row[c] is not None:
                row[c] = Decimal(str(row[c]))
        out.append(row)
    return pl.DataFrame(out, schema=ACCOUNT_MONTHLY)


def health(frame: pl.DataFrame, overrides: pl.DataFrame = NO_OVERRIDES, settings: HealthSettings = SETTINGS):
    return account_health(frame, overrides, settings)


def one(result: pl.DataFrame, account_id: str = "a1", month: date = JAN) -> dict:
    rows = result.filter((pl.col("account_id") == account_id) & (pl.col("month") == month)).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_inputs_touch_gap_and_overdue_ratio():
    frame = am(
        dict(account_id="a1", tier="key", days_since_last_touch=45, mrr="1000", overdue_amount="1500"),
        dict(account_id="a2", tier="strategic", days_since_last_touch=7, mrr="0", overdue_amount="200"),
        dict(account_id="a3", tier="transactional", days_since_last_touch=None, mrr="400", overdue_amount="0"),
    )
    out = health_inputs(frame, SETTINGS).sort("account_id")
    assert out.columns[: len(ACCOUNT_MONTHLY)] == ACCOUNT_MONTHLY.names()
    # 45/30 = 1.5; 7/14 = 0.5; no touch -> null.
    assert out["touch_gap_ratio"].to_list() == [1.5, 0.5, None]
    # 1500/1000 = 1.5; mrr 0 -> null (zero denominator); 0/400 = 0.
    assert out["overdue_ratio"].to_list() == [1.5, None, 0.0]


def test_full_account_exact_score_and_band():
    r = one(health(am(FULL)))
    assert r["satisfaction_score"] == pytest.approx(80)
    assert r["service_score"] == pytest.approx(80)
    assert r["engagement_score"] == pytest.approx(75)
    assert r["revenue_trend_score"] == pytest.approx(50)
    assert r["payments_score"] == pytest.approx(75)
    assert r["support_score"] == pytest.approx(100)
    assert r["engagement_input"] == 1.5 and r["payments_input"] == 0.5 and r["support_input"] == 0.0
    # (20*80 + 10*80 + 20*75 + 25*50 + 10*75 + 15*100) / 100 = 7400 / 100 = 74.0
    assert r["score"] == 74.0
    assert r["present_weight"] == 100.0
    assert r["missing_measures"] == []
    assert r["computed_band"] == "green" and r["band"] == "green"
    assert r["override_band"] is None and r["score_change"] is None


def test_missing_two_measures_rescales_weights():
    r = one(
        health(
            am(
                dict(
                    nps_12m=None,  # satisfaction missing
                    csat_3m=95.0,  # 100
                    days_since_last_touch=30,  # ratio 1.0 -> 100
                    revenue_trend_3m=None,  # under 3 months of history: missing
                    overdue_amount="0",  # ratio 0 -> 100
                    open_high_priority_tickets=3,  # 0
                )
            )
        )
    )
    assert r["missing_measures"] == ["satisfaction", "revenue_trend"]  # settings order
    assert r["satisfaction_score"] is None and r["revenue_trend_score"] is None
    assert r["revenue_trend_input"] is None
    # present weight 10 + 20 + 10 + 15 = 55 >= 50
    assert r["present_weight"] == 55.0
    # (10*100 + 20*100 + 10*100 + 15*0) / 55 = 4000 / 55 = 72.727... -> 72.7
    assert r["score"] == 72.7
    assert r["band"] == "green"
    # only the present measure below 100 is a driver; shortfall 15*100/55
    assert [d["measure"] for d in r["drivers_detail"]] == ["support"]
    assert r["drivers_detail"][0]["shortfall"] == pytest.approx(1500 / 55)
    assert r["drivers"] == "3 high-priority tickets open"


def test_insufficient_data_still_shows_score():
    r = one(
        health(
            am(
                dict(
                    nps_12m=None,
                    csat_3m=77.0,  # (77-50)*100/45 = 60
                    days_since_last_touch=None,  # never touched: engagement missing
                    revenue_trend_3m=None,
                    mrr="0",
                    overdue_amount="250",  # mrr 0: ratio null, payments missing
                    open_high_priority_tickets=0,  # 100
                )
            )
        )
    )
    assert r["missing_measures"] == ["satisfaction", "engagement", "revenue_trend", "payments"]
    assert r["payments_input"] is None
    # present weight 10 + 15 = 25 < 0.5 * 100
    assert r["present_weight"] == 25.0
    # (10*60 + 15*100) / 25 = 2100 / 25 = 84.0
    assert r["score"] == 84.0
    assert r["computed_band"] == "insufficient_data" and r["band"] == "insufficient_data"


def test_exactly_half_the_weight_is_enough_and_nothing_present_is_null():
    frame = am(
        # satisfaction 20 + engagement 20 + payments 10 = 50 = 0.5 * 100: not insufficient
        dict(account_id="half", nps_12m=50.0, days_since_last_touch=30, overdue_amount="0"),
        dict(account_id="none", mrr="0", overdue_amount="0"),
    )
    out = health(frame)
    half, none = one(out, "half"), one(out, "none")
    assert half["present_weight"] == 50.0 and half["score"] == 100.0 and half["band"] == "green"
    assert half["drivers"] == "" and half["drivers_detail"] == []
    assert none["present_weight"] == 0.0 and none["score"] is None
    assert none["band"] == "insufficient_data"
    assert none["missing_measures"] == [m.name for m in SETTINGS.measures]


def test_clamping_at_both_ends():
    r = one(
        health(
            am(
                dict(
                    nps_12m=70.0,  # beyond full_at 50 -> 100, not 113.3
                    csat_3m=40.0,  # below zero_at 50 -> 0, not -22.2
                    days_since_last_touch=10,  # 10/30 = 0.33 < full_at 1.0 -> 100
                    revenue_trend_3m=0.25,  # beyond +0.10 -> 100
                    overdue_amount="3000",  # ratio 3.0 beyond zero_at 2.0 -> 0
                    open_high_priority_tickets=5,  # beyond zero_at 3 -> 0
                )
            )
        )
    )
    assert [
        r[f"{m}_score"] for m in ("satisfaction", "service", "engagement", "revenue_trend", "payments", "support")
    ] == [100.0, 0.0, 100.0, 100.0, 0.0, 0.0]
    # (20*100 + 10*0 + 20*100 + 25*100 + 10*0 + 15*0) / 100 = 65.0
    assert r["score"] == 65.0 and r["band"] == "amber"


def test_drivers_order_and_sentences():
    frame = am(
        dict(
            account_id="a1",
            nps_12m=-20.0,  # s = 80*100/150 = 53.33, shortfall 20*46.67/100 = 9.33
            csat_3m=60.0,  # s = 10*100/45 = 22.22, shortfall 10*77.78/100 = 7.78
            days_since_last_touch=45,  # key: 1.5 -> 75, shortfall 20*25/100 = 5
            revenue_trend_3m=-0.12,  # s = 0.08*100/0.3 = 26.67, shortfall 25*73.33/100 = 18.33
            overdue_amount="1500",  # 1.5 months -> 25, shortfall 10*75/100 = 7.5
            open_high_priority_tickets=2,  # s = 33.33, shortfall 15*66.67/100 = 10
        ),
        dict(
            account_id="a2",
            tier="strategic",
            nps_12m=-25.0,  # s = 75*100/150 = 50 exactly, shortfall 20*50/100 = 10
            csat_3m=95.0,  # 100: not a driver
            days_since_last_touch=28,  # 28/14 = 2.0 -> 50 exactly, shortfall 10: ties with satisfaction
            revenue_trend_3m=0.04,  # s = 80, shortfall 25*20/100 = 5
            overdue_amount="400",  # 0.4 -> 80, shortfall 10*20/100 = 2
            open_high_priority_tickets=0,  # 100: not a driver
        ),
    )
    out = health(frame)
    a1 = one(out, "a1")
    assert [d["measure"] for d in a1["drivers_detail"]] == [
        "revenue_trend",
        "support",
        "satisfaction",
        "service",
        "payments",
        "engagement",
    ]
    assert a1["drivers"] == (
        "recurring revenue fell 12% over 3 months; "
        "2 high-priority tickets open; "
        "NPS over the last 12 months is -20 (target 50); "
        "CSAT over the last 3 months is 60% (target 95%); "
        "overdue invoices equal 1.5 months of recurring revenue; "
        "no contact for 45 days; key accounts expect one every 30 days"
    )
    top = a1["drivers_detail"][0]
    assert top["label"] == "Revenue trend" and top["value"] == -0.12
    assert top["score"] == pytest.approx(80 / 3) and top["shortfall"] == pytest.approx(25 * (100 - 80 / 3) / 100)
    # (20*53.333 + 10*22.222 + 20*75 + 25*26.667 + 10*25 + 15*33.333) / 100 = 4205.56 / 100 = 42.06 -> 42.1
    assert a1["score"] == 42.1 and a1["band"] == "amber"

    a2 = one(out, "a2")
    # satisfaction and engagement tie at 10: settings order decides; measures at 100 are no drivers
    assert [d["measure"] for d in a2["drivers_detail"]] == ["satisfaction", "engagement", "revenue_trend", "payments"]
    assert a2["drivers"] == (
        "NPS over the last 12 months is -25 (target 50); "
        "no contact for 28 days; strategic accounts expect one every 14 days; "
        "recurring revenue rose 4% over 3 months (target +10%); "
        "overdue invoices equal 40% of a month's recurring revenue"
    )
    # (20*50 + 10*100 + 20*50 + 25*80 + 10*80 + 15*100) / 100 = 7300 / 100 = 73.0
    assert a2["score"] == 73.0


@pytest.mark.parametrize(
    ("row", "measure", "sentence"),
    [
        (dict(open_high_priority_tickets=1), "support", "1 high-priority ticket open"),
        (dict(overdue_amount="1000"), "payments", "overdue invoices equal 1 month of recurring revenue"),
        (dict(overdue_amount="2"), "payments", "overdue invoices equal under 1% of a month's recurring revenue"),
        (dict(revenue_trend_3m=0.001), "revenue_trend", "recurring revenue was flat over 3 months (target +10%)"),
        (dict(revenue_trend_3m=-0.004), "revenue_trend", "recurring revenue was flat over 3 months (target +10%)"),
        (
            dict(tier="transactional", days_since_last_touch=181),
            "engagement",
            "no contact for 181 days; transactional accounts expect one every 90 days",
        ),
    ],
)
def test_sentence_variants(row, measure, sentence):
    detail = one(health(am(row)))["drivers_detail"]
    assert [d["sentence"] for d in detail if d["measure"] == measure] == [sentence]


def test_score_change_split_adds_up():
    frame = am(
        dict(month=JAN, **FULL),  # 74.0, parts w*s/100: 16, 8, 15, 12.5, 7.5, 15
        dict(
            month=FEB,
            nps_12m=None,  # missing: part 0
            csat_3m=95.0,  # 100
            days_since_last_touch=30,  # 100
            revenue_trend_3m=0.10,  # 100
            overdue_amount="0",  # 100
            open_high_priority_tickets=3,  # 0
        ),  # present 80: (1000 + 2000 + 2500 + 1000 + 0) / 80 = 81.25 -> 81.3
        dict(month=MAR, mrr="0", overdue_amount="0"),  # nothing present: score null
        dict(account_id="gap", month=JAN, **FULL),
        dict(account_id="gap", month=MAR, **FULL),  # no February row: no change
    )
    out = health(frame)
    feb = one(out, "a1", FEB)
    assert feb["score"] == 81.3
    assert feb["score_change"] == 7.3  # 81.3 - 74.0
    # parts(FEB) - parts(JAN): satisfaction 0-16, service 12.5-8, engagement 25-15,
    # revenue_trend 31.25-12.5, payments 12.5-7.5, support 0-15
    expected = dict(satisfaction=-16, service=4.5, engagement=10, revenue_trend=18.75, payments=5, support=-15)
    for name, value in expected.items():
        assert feb[f"{name}_change"] == pytest.approx(value, abs=1e-9)
    parts = sum(feb[f"{m.name}_change"] for m in SETTINGS.measures)
    assert parts == pytest.approx(81.25 - 74.0, abs=1e-9)  # the unrounded change
    assert abs(parts - feb["score_change"]) <= 0.1 + 1e-9

    assert one(out, "a1", JAN)["score_change"] is None  # no previous month
    mar = one(out, "a1", MAR)
    assert mar["score"] is None and mar["score_change"] is None
    assert all(mar[f"{m.name}_change"] is None for m in SETTINGS.measures)
    gap = one(out, "gap", MAR)
    assert gap["score"] == 74.0 and gap["score_change"] is None


def test_overrides_active_until_expiry():
    # Rule: active for month M when end(M) < expires_on (expires_on = first day no longer applied).
    overrides = pl.DataFrame(
        {
            "account_id": ["a1", "a2"],
            "band": ["red", "green"],
            "reason": ["CFO left; renewal at risk", "recovery plan agreed"],
            "set_by": ["m1", "m2"],
            "expires_on": [date(2024, 2, 1), date(2024, 1, 31)],
            "_file": ["health_overrides.csv"] * 2,
            "_row": [1, 2],
            "_loaded_at": [None, None],
        }
    )
    frame = am(
        dict(account_id="a1", month=JAN, **FULL),  # end 2024-01-31 < 2024-02-01: active
        dict(account_id="a1", month=FEB, **FULL),  # end 2024-02-29 >= 2024-02-01: expired
        dict(account_id="a2", month=JAN, **FULL),  # end 2024-01-31, not < 2024-01-31: expired
        dict(account_id="a3", month=JAN, **FULL),  # no override
    )
    out = health(frame, overrides)
    a1_jan = one(out, "a1", JAN)
    assert (a1_jan["computed_band"], a1_jan["band"]) == ("green", "red")
    assert a1_jan["override_band"] == "red"
    assert a1_jan["override_reason"] == "CFO left; renewal at risk"
    assert a1_jan["override_set_by"] == "m1"
    assert a1_jan["override_expires_on"] == date(2024, 2, 1)
    assert a1_jan["score"] == 74.0  # the score is never overridden
    for account, month in (("a1", FEB), ("a2", JAN), ("a3", JAN)):
        r = one(out, account, month)
        assert r["band"] == r["computed_band"] == "green"
        assert r["override_band"] is r["override_reason"] is r["override_set_by"] is r["override_expires_on"] is None


def test_duplicate_overrides_are_refused():
    overrides = pl.DataFrame(
        {
            "account_id": ["a1", "a1"],
            "band": ["red", "green"],
            "reason": ["x", "y"],
            "set_by": ["m", "m"],
            "expires_on": [date(2025, 1, 1)] * 2,
        }
    )
    with pytest.raises(ValueError, match="more than one override for account"):
        health(am(FULL), overrides)


def test_changing_a_weight_changes_the_score():
    heavier = replace(
        SETTINGS,
        measures=tuple(replace(m, weight=50.0) if m.name == "revenue_trend" else m for m in SETTINGS.measures),
    )
    r = one(health(am(FULL), settings=heavier))
    # (20*80 + 10*80 + 20*75 + 50*50 + 10*75 + 15*100) / 125 = 8650 / 125 = 69.2 (was 74.0)
    assert r["score"] == 69.2
    assert r["band"] == "amber"
    assert r["drivers_detail"][0]["shortfall"] == pytest.approx(50 * 50 / 125)


def test_measures_come_only_from_settings():
    two = replace(SETTINGS, measures=tuple(m for m in SETTINGS.measures if m.name in ("service", "support")))
    out = health(am(FULL), settings=two)
    assert out.schema == account_health_schema(two)
    assert "satisfaction_score" not in out.columns
    # (10*80 + 15*100) / 25 = 92.0
    assert one(out)["score"] == 92.0


def test_band_thresholds_exactly_at_70_and_40():
    base = dict(nps_12m=50.0, csat_3m=95.0, overdue_amount="0")  # satisfaction, service, payments 100
    frame = am(
        # 2000 + 1000 + 20*100 + 25*0 + 1000 + 15*66.67 = 7000 -> 70.0
        dict(account_id="at70", days_since_last_touch=30, revenue_trend_3m=-0.20, open_high_priority_tickets=1, **base),
        # payments 90 (ratio 0.2) instead of 100: 7000 - 100 = 6900 -> 69.0
        dict(
            account_id="below70",
            days_since_last_touch=30,
            revenue_trend_3m=-0.20,
            open_high_priority_tickets=1,
            **{**base, "overdue_amount": "200"},
        ),
        # 2000 + 1000 + 20*0 + 25*0 + 1000 + 15*0 = 4000 -> 40.0
        dict(account_id="at40", days_since_last_touch=90, revenue_trend_3m=-0.20, open_high_priority_tickets=3, **base),
        # payments 90: 3900 -> 39.0
        dict(
            account_id="below40",
            days_since_last_touch=90,
            revenue_trend_3m=-0.20,
            open_high_priority_tickets=3,
            **{**base, "overdue_amount": "200"},
        ),
    )
    out = health(frame)
    got = {r["account_id"]: (r["score"], r["band"]) for r in out.iter_rows(named=True)}
    assert got == {
        "at70": (70.0, "green"),
        "below70": (69.0, "amber"),
        "at40": (40.0, "amber"),
        "below40": (39.0, "red"),
    }


def test_output_schema_and_one_row_per_account_month():
    frame = am(
        dict(account_id="b", month=FEB, **FULL),
        dict(account_id="a", month=JAN, **FULL),
        dict(account_id="b", month=JAN, **FULL),
    )
    out = health(frame)
    assert out.schema == account_health_schema(SETTINGS)
    assert out.schema["drivers_detail"] == pl.List(DRIVER)
    assert out.select("account_id", "month").rows() == [("a", JAN), ("b", JAN), ("b", FEB)]
    assert list(out.columns[:10]) == [
        "account_id",
        "month",
        "tier",
        "score",
        "computed_band",
        "band",
        "override_band",
        "override_reason",
        "override_set_by",
        "override_expires_on",
    ]
    empty = health(am(FULL).clear())
    assert empty.height == 0 and empty.schema == account_health_schema(SETTINGS)


_maybe = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731
_inputs = st.fixed_dictionaries(
    dict(
        nps_12m=_maybe(st.integers(-100, 100).map(float)),
        csat_3m=_maybe(st.integers(0, 100).map(float)),
        days_since_last_touch=_maybe(st.integers(0, 400)),
        revenue_trend_3m=_maybe(st.integers(-100, 100).map(lambda p: p / 100)),
        mrr=st.sampled_from(["0", "250", "1000"]),
        overdue_amount=st.sampled_from(["0", "100", "900", "4000"]),
        open_high_priority_tickets=_maybe(st.integers(0, 6)),
        tier=st.sampled_from(["strategic", "key", "transactional"]),
    )
)


@hypothesis_settings(max_examples=examples(60), deadline=None)
@given(jan=_inputs, feb=_inputs)
def test_properties_on_random_inputs(jan, feb):
    out = health(am(dict(month=JAN, **jan), dict(month=FEB, **feb)))
    names = [m.name for m in SETTINGS.measures]
    for r in out.iter_rows(named=True):
        assert r["missing_measures"] == [n for n in names if r[f"{n}_score"] is None]
        if r["score"] is not None:
            assert 0 <= r["score"] <= 100
        shortfalls = [x["shortfall"] for x in r["drivers_detail"]]
        assert shortfalls == sorted(shortfalls, reverse=True) and all(x > 0 for x in shortfalls)
        assert r["drivers"] == "; ".join(x["sentence"] for x in r["drivers_detail"])
        if r["score"] is not None:
            # the shortfalls of all present measures add up to 100 - unrounded score
            assert abs(100 - sum(shortfalls) - r["score"]) <= 0.05 + 1e-9
    feb_row = one(out, "a1", FEB)
    if feb_row["score_change"] is not None:
        parts = sum(feb_row[f"{n}_change"] for n in names)
        assert abs(parts - feb_row["score_change"]) <= 0.1 + 1e-9


def test_health_by_slices_of_accounts_equals_one_piece():
    """Every health number reads only its own account's months, which is what lets the
    asset compute a slice of accounts at a time (pipeline.store.mart_slices): changes
    still read the account's own previous month, and overrides still apply."""
    overrides = pl.DataFrame(
        {"account_id": ["b"], "band": ["red"], "reason": ["CFO left"], "set_by": ["m1"], "expires_on": [MAR]}
    )
    frame = am(
        dict(account_id="c", month=FEB, **FULL),
        dict(account_id="a", month=JAN, **FULL),
        dict(account_id="a", month=FEB, **{**FULL, "nps_12m": -40.0}),
        dict(account_id="b", month=JAN, **FULL),
        dict(account_id="b", month=FEB, **{**FULL, "open_high_priority_tickets": 3}),
        dict(account_id="c", month=JAN, mrr="0", overdue_amount="0"),
    )
    whole = account_health(frame, overrides, SETTINGS)
    ids = ["a", "b", "c"]
    for per_part in (1, 2):
        slices = [
            account_health(frame.filter(pl.col("account_id").is_in(ids[i : i + per_part])), overrides, SETTINGS)
            for i in range(0, len(ids), per_part)
        ]
        assert pl.concat(slices).sort("account_id", "month").equals(whole.sort("account_id", "month")), per_part
    assert one(whole, "a", FEB)["score_change"] is not None  # the case the slices must keep
    assert one(whole, "b", JAN)["band"] == "red"
