"""Account-manager alerts on hand-built frames; every expected sentence is written out.

Defaults: band_drop green > amber > red;
score_drop score_change <= -15; detractor NPS 0-6; renewal_risk renewal_date in
(end(M), end(M+3)] with band red/amber/insufficient_data; gone_quiet days since last
touch > 2 x tier cadence (key 30, strategic 14) or never touched, for customers;
overdue overdue_amount >= 1000; goal_behind status behind or missed. State rules alert
when the condition holds at M and not at M-1.

Every scenario starts from a quiet account-month (nothing fires) and changes one thing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.contract import source
from pipeline.schemas import ACCOUNT_MONTHLY, MONEY, staging_schema
from pipeline.settings import HealthSettings, Settings, SettingsError
from pipeline.transforms.alerts import (
    ACCOUNT_ALERTS,
    RULES,
    STATE_RULES,
    AlertRule,
    AlertSettings,
    account_alerts,
    alert_counts,
    event_alert_mismatches,
    expected_event_alerts,
    expected_state_alerts,
    gone_quiet_holds,
    state_alert_mismatches,
    state_conditions,
    worst_first,
)
from pipeline.transforms.health import account_health_schema

HEALTH = HealthSettings()
HEALTH_SCHEMA = account_health_schema(HEALTH)
JAN, FEB, MAR, APR = (date(2024, m, 1) for m in (1, 2, 3, 4))
ACCOUNT_SCHEMA = staging_schema(source("accounts"), lineage=False)
RESPONSE_SCHEMA = staging_schema(source("responses"), lineage=False)
GOAL_SCHEMA = {
    "goal_id": pl.String(),
    "account_id": pl.String(),
    "month": pl.Date(),
    "status": pl.String(),
    "description": pl.String(),
    "metric": pl.String(),
    "target": pl.Float64(),
    "value": pl.Float64(),
    "expected": pl.Float64(),
    "due_month": pl.Date(),
}
NAMES = {
    "a1": "Fjord Semiconductors",
    "a2": "Birch & Co",
    "a3": "Cedar Labs",
    "a4": "Delta Foods",
    "a5": "Elm Retail",
    "a6": "Fig Partners",
}
SHOWN = ["account_id", "month", "rule", "severity", "message", "details"]
DEFAULTS = AlertSettings()


def accounts(**overrides: dict) -> pl.DataFrame:
    """Staging accounts a1..a6 (key tier, manager m1, no renewal date) with overrides per id."""
    rows = []
    for account_id, name in NAMES.items():
        row = {c: None for c in ACCOUNT_SCHEMA.names()}
        row.update(
            account_id=account_id,
            account_name=name,
            tier="key",
            segment="mid_market",
            account_manager_id="m1",
            currency="usd",
            report_cadence="monthly",
        )
        row.update(overrides.get(account_id, {}))
        rows.append(row)
    return pl.DataFrame(rows, schema=ACCOUNT_SCHEMA)


def months(*rows: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(account_monthly, account_health) from rows mixing both frames' columns.

    A quiet default: mrr 1000, touched 5 days before month end, nothing overdue, green
    band, score 80, no score change, no drivers.
    """
    monthly, health = [], []
    for r in rows:
        m = {c: None for c in ACCOUNT_MONTHLY.names()}
        m.update({c: Decimal("0") for c, t in ACCOUNT_MONTHLY.items() if t == MONEY})
        m.update(account_id="a1", month=JAN, tier="key", mrr=Decimal("1000"), days_since_last_touch=5)
        h = {c: None for c in HEALTH_SCHEMA.names()}
        h.update(
            account_id="a1",
            month=JAN,
            band="green",
            computed_band="green",
            score=80.0,
            drivers="",
            drivers_detail=[],
            missing_measures=[],
        )
        for key, value in r.items():
            if key in ACCOUNT_MONTHLY:
                m[key] = Decimal(str(value)) if ACCOUNT_MONTHLY[key] == MONEY and value is not None else value
            if key in HEALTH_SCHEMA:
                h[key] = value
            if key not in ACCOUNT_MONTHLY and key not in HEALTH_SCHEMA:
                raise KeyError(key)
        monthly.append(m)
        health.append(h)
    return pl.DataFrame(monthly, schema=ACCOUNT_MONTHLY), pl.DataFrame(health, schema=HEALTH_SCHEMA)


def drivers(*sentences: str) -> dict:
    """drivers_detail and drivers for the given sentences (worst first)."""
    detail = [dict(measure="m", label="M", value=0.0, score=0.0, shortfall=1.0, sentence=s) for s in sentences]
    return dict(drivers_detail=detail, drivers="; ".join(sentences))


def responses(*rows: dict) -> pl.DataFrame:
    out = []
    for r in rows:
        row = {c: None for c in RESPONSE_SCHEMA.names()}
        row.update(r)
        out.append(row)
    return pl.DataFrame(out, schema=RESPONSE_SCHEMA)


NO_RESPONSES = responses()


def goals(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([{**{c: None for c in GOAL_SCHEMA}, **r} for r in rows], schema=GOAL_SCHEMA)


def run(rows, *, resp=NO_RESPONSES, goal_rows=None, settings=DEFAULTS, accts=None) -> pl.DataFrame:
    monthly, health = months(*rows)
    return account_alerts(
        account_monthly=monthly,
        account_health=health,
        accounts=accounts() if accts is None else accts,
        responses=resp,
        goals=goal_rows,
        settings=settings,
        health=HEALTH,
        currency="usd",
    )


def expected(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={c: ACCOUNT_ALERTS[c] for c in SHOWN}, orient="row")


def shown(out: pl.DataFrame, rule: str | None = None) -> pl.DataFrame:
    if rule is not None:
        out = out.filter(pl.col("rule") == rule)
    return out.select(SHOWN)


def only(rule: str) -> AlertSettings:
    """The default settings with every other rule switched off."""
    d = AlertSettings()
    return replace(d, **{r: replace(d.rule(r), enabled=(r == rule)) for r in RULES})


# --------------------------------------------------------------------------- quiet


def test_a_quiet_book_has_no_alerts_and_the_exact_schema():
    out = run([dict(account_id=a, month=m) for a in NAMES for m in (JAN, FEB)])
    assert out.height == 0
    assert out.schema == ACCOUNT_ALERTS


# --------------------------------------------------------------------------- band_drop


def test_band_drop_fires_on_worse_bands_only():
    nps = "NPS over the last 12 months is 12 (target 50)"
    quiet = "no contact for 41 days; key accounts expect one every 30 days"
    out = run(
        [
            dict(account_id="a1", month=JAN, band="green", score=80.0),
            dict(
                account_id="a1",
                month=FEB,
                band="amber",
                score=62.0,
                **drivers(nps, quiet, "1 high-priority ticket open"),
            ),
            dict(account_id="a1", month=MAR, band="red", score=35.5, **drivers("3 high-priority tickets open")),
            # to and from insufficient_data is no drop
            dict(account_id="a2", month=JAN, band="green"),
            dict(account_id="a2", month=FEB, band="insufficient_data"),
            dict(account_id="a2", month=MAR, band="red"),
            # better is no drop
            dict(account_id="a3", month=JAN, band="red"),
            dict(account_id="a3", month=FEB, band="green"),
            # an override pins red while the computed band stays green: the effective band counts
            dict(account_id="a4", month=JAN, band="green", score=81.0),
            dict(
                account_id="a4",
                month=FEB,
                band="red",
                computed_band="green",
                score=80.0,
                override_band="red",
                override_set_by="m1",
                override_reason="CFO left;\nrenewal at risk",
            ),
            # no row for February: January and March are not compared
            dict(account_id="a5", month=JAN, band="green"),
            dict(account_id="a5", month=MAR, band="red"),
        ]
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a1",
                FEB,
                "band_drop",
                "high",
                f"Fjord Semiconductors moved from green to amber (score 62, was 80): {nps}; {quiet}",
                f"{nps}; {quiet}; 1 high-priority ticket open",
            ),
            (
                "a4",
                FEB,
                "band_drop",
                "high",
                "Delta Foods moved from green to red, a band set by m1 (CFO left; renewal at risk)",
                "",
            ),
            (
                "a1",
                MAR,
                "band_drop",
                "high",
                "Fjord Semiconductors moved from amber to red (score 35.5, was 62): 3 high-priority tickets open",
                "3 high-priority tickets open",
            ),
        ),
    )
    extras = out.filter(pl.col("account_id") == "a1").select(
        "alert_id", "account_name", "account_manager_id", "tier", "band", "score", "response_id", "goal_id"
    )
    assert extras.rows() == [
        ("band_drop|a1|2024-02", "Fjord Semiconductors", "m1", "key", "amber", 62.0, None, None),
        ("band_drop|a1|2024-03", "Fjord Semiconductors", "m1", "key", "red", 35.5, None, None),
    ]


# --------------------------------------------------------------------------- score_drop


def test_score_drop_fires_at_minus_15_not_at_minus_14_9():
    out = run(
        [
            dict(account_id="a1", month=JAN, score=90.0),
            dict(
                account_id="a1",
                month=FEB,
                score=75.0,
                score_change=-15.0,
                engagement_change=-10.0,
                satisfaction_change=-6.0,
                support_change=1.0,
                **drivers("no contact for 75 days; key accounts expect one every 30 days"),
            ),
            dict(account_id="a2", month=JAN, score=90.0),
            dict(account_id="a2", month=FEB, score=75.1, score_change=-14.9, engagement_change=-14.9),
            dict(account_id="a3", month=JAN, score=None, band="insufficient_data"),
            dict(account_id="a3", month=FEB, score=60.0, band="insufficient_data", score_change=None),
            dict(account_id="a5", month=JAN, score=95.0),
            dict(account_id="a5", month=FEB, score=72.6, score_change=-22.4),
        ]
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a1",
                FEB,
                "score_drop",
                "medium",
                "The health score of Fjord Semiconductors fell 15 points, from 90 to 75; "
                "the largest fall is in engagement (10 points)",
                "no contact for 75 days; key accounts expect one every 30 days",
            ),
            ("a5", FEB, "score_drop", "medium", "The health score of Elm Retail fell 22.4 points, from 95 to 72.6", ""),
        ),
    )


# --------------------------------------------------------------------------- detractor


def test_one_detractor_alert_per_response_with_its_comment_kept():
    comment = "<script>alert('x')</script> Slow\n\tsupport\x07!\u202e"
    resp = responses(
        dict(
            response_id="r1",
            account_id="a1",
            contact_email="jane@fjord.example",
            survey_type="nps",
            score=6,
            responded_at=datetime(2024, 2, 10, 9, 0, tzinfo=UTC),
            comment=comment,
        ),
        dict(
            response_id="r2",
            account_id="a1",
            survey_type="nps",
            score=7,  # a passive: the edge
            responded_at=datetime(2024, 2, 11, tzinfo=UTC),
            comment="fine",
        ),
        # 23:30 at UTC-2 on 31 January is 1 February in UTC: a February response
        dict(
            response_id="r3",
            account_id="a1",
            survey_type="nps",
            score=0,
            responded_at=datetime(2024, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
        ),
        dict(
            response_id="r4",
            account_id="a1",
            survey_type="csat",
            score=2,  # CSAT never counts
            responded_at=datetime(2024, 2, 12, tzinfo=UTC),
        ),
        dict(
            response_id="r5",
            account_id="a2",
            survey_type="nps",
            score=5,
            responded_at=datetime(2024, 1, 20, tzinfo=UTC),
        ),
        dict(
            response_id="r6",
            account_id="a2",
            survey_type="nps",
            score=1,  # after the last month
            responded_at=datetime(2024, 6, 2, tzinfo=UTC),
        ),
    )
    out = run(
        [
            dict(account_id="a1", month=JAN),
            dict(account_id="a1", month=FEB, nps_12m=-20.0),
            dict(account_id="a2", month=JAN),
            dict(account_id="a2", month=FEB),
        ],
        resp=resp,
    )
    assert_frame_equal(
        shown(out),
        expected(
            ("a2", JAN, "detractor", "medium", "Birch & Co got an NPS score of 5 out of 10 on 20 January 2024", ""),
            (
                "a1",
                FEB,
                "detractor",
                "medium",
                "Fjord Semiconductors got an NPS score of 6 out of 10 from jane@fjord.example on 10 February 2024; "
                "NPS over the last 12 months is -20",
                # verbatim but for whitespace collapsed and the BEL and RTL override dropped; not escaped
                "<script>alert('x')</script> Slow support!",
            ),
            (
                "a1",
                FEB,
                "detractor",
                "medium",
                "Fjord Semiconductors got an NPS score of 0 out of 10 on 1 February 2024; "
                "NPS over the last 12 months is -20",
                "",
            ),
        ),
    )
    assert out["response_id"].to_list() == ["r5", "r1", "r3"]
    assert out["alert_id"].to_list() == [
        "detractor|a2|2024-01|r5",
        "detractor|a1|2024-02|r1",
        "detractor|a1|2024-02|r3",
    ]


# --------------------------------------------------------------------------- renewal_risk


def test_renewal_risk_window_edges_and_bands():
    # February's window is (29 Feb, 31 May]
    accts = accounts(
        a1={"renewal_date": date(2024, 5, 31)},  # last day of the window: in
        a2={"renewal_date": date(2024, 6, 1)},  # one day after: out
        a3={"renewal_date": date(2024, 2, 29)},  # end(M) itself: out
        a4={"renewal_date": date(2024, 4, 15)},  # in, but green
        a5={"renewal_date": date(2024, 3, 10)},  # in, insufficient data, no MRR
    )
    out = run(
        [
            dict(
                account_id="a1",
                month=FEB,
                band="amber",
                **drivers("NPS over the last 12 months is 12 (target 50)", "2 high-priority tickets open"),
            ),
            dict(account_id="a2", month=FEB, band="amber"),
            dict(account_id="a3", month=FEB, band="red"),
            dict(account_id="a4", month=FEB, band="green"),
            dict(account_id="a5", month=FEB, band="insufficient_data", mrr=0),
        ],
        accts=accts,
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a1",
                FEB,
                "renewal_risk",
                "high",
                "Fjord Semiconductors renews on 31 May 2024, in 92 days, with an amber health band and $1,000 a month "
                "at stake: NPS over the last 12 months is 12 (target 50)",
                "NPS over the last 12 months is 12 (target 50); 2 high-priority tickets open",
            ),
            (
                "a5",
                FEB,
                "renewal_risk",
                "high",
                "Elm Retail renews on 10 March 2024, in 10 days, with too little data for a health band",
                "",
            ),
        ),
    )


def test_renewal_risk_fires_once_then_again_after_it_cleared():
    # a six-month window keeps 15 July inside it from January to April
    settings = replace(AlertSettings(), renewal_risk=AlertRule(True, 6.0, "high"))
    out = run(
        [
            dict(month=JAN, band="amber"),
            dict(month=FEB, band="red"),  # still at risk: no second alert
            dict(month=MAR, band="green"),  # cleared
            dict(month=APR, band="amber"),  # again
        ],
        accts=accounts(a1={"renewal_date": date(2024, 7, 15)}),
        settings=settings,
    )
    assert_frame_equal(
        shown(out, "renewal_risk"),
        expected(
            (
                "a1",
                JAN,
                "renewal_risk",
                "high",
                "Fjord Semiconductors renews on 15 July 2024, in 166 days, with an amber health band and $1,000 a month "
                "at stake",
                "",
            ),
            (
                "a1",
                APR,
                "renewal_risk",
                "high",
                "Fjord Semiconductors renews on 15 July 2024, in 76 days, with an amber health band and $1,000 a month "
                "at stake",
                "",
            ),
        ),
    )


def test_renewal_risk_fires_when_the_renewal_enters_the_window():
    # renewal on 20 May: outside January's window (31 Jan, 30 Apr], inside February's
    out = run(
        [dict(month=JAN, band="red"), dict(month=FEB, band="red")],
        accts=accounts(a1={"renewal_date": date(2024, 5, 20)}),
    )
    assert shown(out, "renewal_risk")["month"].to_list() == [FEB]


# --------------------------------------------------------------------------- gone_quiet


def test_gone_quiet_edges():
    accts = accounts(a4={"tier": "strategic"}, a5={"tier": "strategic"})
    out = run(
        [
            dict(account_id="a1", month=FEB, days_since_last_touch=60),  # key: 2 x 30, not more
            dict(account_id="a2", month=FEB, days_since_last_touch=61),  # more than 60
            dict(account_id="a3", month=FEB, days_since_last_touch=None, mrr=2500),  # never touched
            dict(account_id="a4", month=FEB, days_since_last_touch=28),  # strategic: 2 x 14, not more
            dict(account_id="a5", month=FEB, days_since_last_touch=29),
            dict(account_id="a6", month=FEB, days_since_last_touch=None, mrr=0),  # not a customer
        ],
        accts=accts,
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a2",
                FEB,
                "gone_quiet",
                "medium",
                "Birch & Co, at $1,000 a month, has had no contact for 61 days; key accounts expect one every 30 days",
                "",
            ),
            (
                "a3",
                FEB,
                "gone_quiet",
                "medium",
                "Cedar Labs, at $2,500 a month, has no recorded contact at all; key accounts expect one every 30 days",
                "",
            ),
            (
                "a5",
                FEB,
                "gone_quiet",
                "medium",
                "Elm Retail, at $1,000 a month, has had no contact for 29 days; strategic accounts expect one every 14 days",
                "",
            ),
        ),
    )


def test_gone_quiet_fires_once_then_again_after_it_cleared():
    out = run(
        [
            dict(month=JAN, days_since_last_touch=61),
            dict(month=FEB, days_since_last_touch=90),
            dict(month=MAR, days_since_last_touch=10),
            dict(
                month=APR,
                days_since_last_touch=70,
                **drivers("no contact for 70 days; key accounts expect one every 30 days"),
            ),
        ]
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a1",
                JAN,
                "gone_quiet",
                "medium",
                "Fjord Semiconductors, at $1,000 a month, has had no contact for 61 days; "
                "key accounts expect one every 30 days",
                "",
            ),
            (
                "a1",
                APR,
                "gone_quiet",
                "medium",
                "Fjord Semiconductors, at $1,000 a month, has had no contact for 70 days; "
                "key accounts expect one every 30 days",
                "no contact for 70 days; key accounts expect one every 30 days",
            ),
        ),
    )


def test_gone_quiet_uses_the_health_settings_cadence():
    health = replace(HEALTH, tier_cadence_days={"strategic": 14.0, "key": 20.0, "transactional": 90.0})
    monthly, h = months(dict(month=FEB, days_since_last_touch=41))  # 41 > 2 x 20, not > 2 x 30
    out = account_alerts(
        account_monthly=monthly, account_health=h, accounts=accounts(), responses=NO_RESPONSES, health=health
    )
    assert out["message"].to_list() == [
        "Fjord Semiconductors, at $1,000 a month, has had no contact for 41 days; key accounts expect one every 20 days"
    ]
    assert run([dict(month=FEB, days_since_last_touch=41)]).height == 0


# --------------------------------------------------------------------------- overdue


def test_overdue_edges():
    out = run(
        [
            dict(account_id="a1", month=FEB, overdue_amount="999.99"),
            dict(account_id="a2", month=FEB, overdue_amount="1000.00"),
            dict(account_id="a3", month=FEB, overdue_amount="2400.50", mrr="1500"),  # 1.6003 months
            dict(account_id="a4", month=FEB, overdue_amount="5000", mrr="0"),
        ]
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a2",
                FEB,
                "overdue",
                "medium",
                "Birch & Co has $1,000 overdue at the end of Feb 2024, 1 month of recurring revenue",
                "",
            ),
            (
                "a3",
                FEB,
                "overdue",
                "medium",
                "Cedar Labs has $2,400.50 overdue at the end of Feb 2024, 1.6 months of recurring revenue",
                "",
            ),
            ("a4", FEB, "overdue", "medium", "Delta Foods has $5,000 overdue at the end of Feb 2024", ""),
        ),
    )


def test_overdue_fires_once_then_again_after_it_cleared():
    out = run(
        [
            dict(month=JAN, overdue_amount="1500"),
            dict(month=FEB, overdue_amount="1200"),
            dict(month=MAR, overdue_amount="0"),
            dict(month=APR, overdue_amount="1000"),
        ]
    )
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a1",
                JAN,
                "overdue",
                "medium",
                "Fjord Semiconductors has $1,500 overdue at the end of Jan 2024, 1.5 months of recurring revenue",
                "",
            ),
            (
                "a1",
                APR,
                "overdue",
                "medium",
                "Fjord Semiconductors has $1,000 overdue at the end of Apr 2024, 1 month of recurring revenue",
                "",
            ),
        ),
    )


def test_overdue_threshold_follows_the_attention_setting():
    settings = AlertSettings.from_settings(Settings(overdue_attention_threshold=2000.0))
    assert settings.overdue == AlertRule(True, 2000.0, "medium")
    out = run(
        [
            dict(account_id="a1", month=FEB, overdue_amount="1999.99"),
            dict(account_id="a2", month=FEB, overdue_amount="2000"),
        ],
        settings=settings,
    )
    assert out.select("account_id", "rule").rows() == [("a2", "overdue")]


# --------------------------------------------------------------------------- goal_behind


def test_goal_behind_fires_per_goal_once_then_again_after_it_cleared():
    rows = [dict(month=m) for m in (JAN, FEB, MAR, APR)]
    g = goals(
        # behind in February, missed from April: one lasting condition, one alert
        dict(
            goal_id="g1",
            account_id="a1",
            month=JAN,
            status="on_track",
            description="Grow to $12k a month",
            metric="mrr",
            target=12000.0,
            value=9000.0,
            expected=9500.0,
            due_month=APR,
        ),
        dict(
            goal_id="g1",
            account_id="a1",
            month=FEB,
            status="behind",
            description="Grow to $12k a month",
            metric="mrr",
            target=12000.0,
            value=9500.0,
            expected=10500.0,
            due_month=APR,
        ),
        dict(
            goal_id="g1",
            account_id="a1",
            month=MAR,
            status="behind",
            description="Grow to $12k a month",
            metric="mrr",
            target=12000.0,
            value=10000.0,
            expected=11250.0,
            due_month=APR,
        ),
        dict(
            goal_id="g1",
            account_id="a1",
            month=APR,
            status="missed",
            description="Grow to $12k a month",
            metric="mrr",
            target=12000.0,
            value=11000.0,
            expected=12000.0,
            due_month=APR,
        ),
        # behind, back on track, then missed: two alerts
        dict(
            goal_id="g2",
            account_id="a1",
            month=JAN,
            status="behind",
            description="Lift NPS\nto 40",
            metric="nps_12m",
            target=40.0,
            value=10.0,
            expected=20.0,
            due_month=MAR,
        ),
        dict(
            goal_id="g2",
            account_id="a1",
            month=FEB,
            status="on_track",
            description="Lift NPS\nto 40",
            metric="nps_12m",
            target=40.0,
            value=32.0,
            expected=30.0,
            due_month=MAR,
        ),
        dict(
            goal_id="g2",
            account_id="a1",
            month=MAR,
            status="missed",
            description="Lift NPS\nto 40",
            metric="nps_12m",
            target=40.0,
            value=30.5,
            expected=40.0,
            due_month=MAR,
        ),
        # met and no_data never alert
        dict(goal_id="g3", account_id="a1", month=JAN, status="met", metric="touches_3m", target=3.0, value=4.0),
        dict(goal_id="g3", account_id="a1", month=FEB, status="no_data", metric="touches_3m", target=3.0),
        # a goal-month after the last account-month never alerts
        dict(goal_id="g4", account_id="a1", month=date(2024, 5, 1), status="behind", target=1.0, value=0.0),
    )
    out = run(rows, goal_rows=g)
    assert_frame_equal(
        shown(out),
        expected(
            (
                "a1",
                JAN,
                "goal_behind",
                "medium",
                'Fjord Semiconductors is behind on the goal "Lift NPS to 40": NPS over 12 months is 10, '
                "20 expected by now (target 40)",
                "Lift NPS to 40",
            ),
            (
                "a1",
                FEB,
                "goal_behind",
                "medium",
                'Fjord Semiconductors is behind on the goal "Grow to $12k a month": recurring revenue is $9,500, '
                "$10,500 expected by now (target $12,000)",
                "Grow to $12k a month",
            ),
            (
                "a1",
                MAR,
                "goal_behind",
                "medium",
                'Fjord Semiconductors missed the goal "Lift NPS to 40": NPS over 12 months is 30.5 against a target '
                "of 40, due Mar 2024",
                "Lift NPS to 40",
            ),
        ),
    )
    assert out["goal_id"].to_list() == ["g2", "g1", "g2"]
    assert out["alert_id"].to_list() == [
        "goal_behind|a1|2024-01|g2",
        "goal_behind|a1|2024-02|g1",
        "goal_behind|a1|2024-03|g2",
    ]


# --------------------------------------------------------------------------- settings


def _everything_fires():
    """February of a1: every one of the seven rules fires once."""
    rows = [
        dict(month=JAN, band="green", score=90.0),
        dict(month=FEB, band="amber", score=60.0, score_change=-30.0, days_since_last_touch=70, overdue_amount="1500"),
    ]
    resp = responses(
        dict(
            response_id="r1",
            account_id="a1",
            survey_type="nps",
            score=2,
            responded_at=datetime(2024, 2, 5, tzinfo=UTC),
            comment="no",
        )
    )
    g = goals(
        dict(
            goal_id="g1",
            account_id="a1",
            month=FEB,
            status="behind",
            metric="csat_3m",
            target=90.0,
            value=70.0,
            expected=80.0,
        )
    )
    accts = accounts(a1={"renewal_date": date(2024, 4, 15)})
    return dict(rows=rows, resp=resp, goal_rows=g, accts=accts)


def test_every_rule_fires_in_the_scenario_with_its_default_severity():
    s = _everything_fires()
    out = run(s.pop("rows"), **s)
    assert out.select("month", "rule", "severity").rows() == [
        (FEB, "band_drop", "high"),
        (FEB, "score_drop", "medium"),
        (FEB, "detractor", "medium"),
        (FEB, "renewal_risk", "high"),
        (FEB, "gone_quiet", "medium"),
        (FEB, "overdue", "medium"),
        (FEB, "goal_behind", "medium"),
    ]
    # a goal without a description is named by its metric
    assert out.row(6, named=True)["message"] == (
        "Fjord Semiconductors is behind on the CSAT over 3 months goal: CSAT over 3 months is 70, "
        "80 expected by now (target 90)"
    )
    assert out["alert_id"].n_unique() == out.height


@pytest.mark.parametrize("rule", RULES)
def test_a_disabled_rule_never_fires(rule):
    s = _everything_fires()
    rows = s.pop("rows")
    everything = run(rows, **s)
    settings = replace(AlertSettings(), **{rule: replace(AlertSettings().rule(rule), enabled=False)})
    out = run(rows, settings=settings, **s)
    assert rule not in out["rule"].to_list()
    assert_frame_equal(out, everything.filter(pl.col("rule") != rule))


def test_all_rules_disabled_gives_an_empty_frame_and_severity_is_a_setting():
    s = _everything_fires()
    rows = s.pop("rows")
    off = replace(AlertSettings(), **{r: replace(AlertSettings().rule(r), enabled=False) for r in RULES})
    none = run(rows, settings=off, **s)
    assert none.height == 0 and none.schema == ACCOUNT_ALERTS
    loud = replace(only("overdue"), overdue=AlertRule(True, 1000.0, "high"))
    assert run(rows, settings=loud, **s).select("rule", "severity").rows() == [("overdue", "high")]


@pytest.mark.parametrize(
    ("rule", "value", "message"),
    [
        ("band_drop", AlertRule(True, 1.0, "high"), "alerts.band_drop has no threshold"),
        ("score_drop", AlertRule(True, 15.0, "medium"), "must be below 0"),
        ("detractor", AlertRule(True, 6.5, "medium"), "highest NPS score"),
        ("renewal_risk", AlertRule(True, 0.0, "high"), "whole months"),
        ("overdue", AlertRule(True, None, "medium"), "alerts.overdue.threshold is needed"),
        ("gone_quiet", AlertRule(True, 2.0, "urgent"), "severity must be one of high, medium, low"),
    ],
)
def test_invalid_settings_are_refused(rule, value, message):
    with pytest.raises(SettingsError, match=message):
        replace(AlertSettings(), **{rule: value}).validate()


# --------------------------------------------------------------------------- checks and counts


def _state_scenario():
    rows = [
        dict(month=JAN, days_since_last_touch=61, overdue_amount="1500", band="amber"),
        dict(month=FEB, days_since_last_touch=90, overdue_amount="0", band="red"),
        dict(month=MAR, days_since_last_touch=10, overdue_amount="1000", band="green"),
        dict(month=APR, days_since_last_touch=70, overdue_amount="1000", band="amber"),
    ]
    accts = accounts(a1={"renewal_date": date(2024, 4, 20)})  # in the window of Jan, Feb and Mar
    g = goals(
        *[
            dict(goal_id="g1", account_id="a1", month=m, status=s)
            for m, s in ((JAN, "behind"), (FEB, "on_track"), (MAR, "behind"), (APR, "missed"))
        ]
    )
    return rows, accts, g


def test_the_simple_recomputation_agrees_and_catches_a_wrong_alert():
    rows, accts, g = _state_scenario()
    monthly, health = months(*rows)
    inputs = dict(account_monthly=monthly, account_health=health, accounts=accts, goals=g)
    conditions = state_conditions(**inputs)
    assert conditions.filter(pl.col("holds")).select("rule", "key", "month").rows() == [
        ("goal_behind", "g1", JAN),
        ("goal_behind", "g1", MAR),
        ("goal_behind", "g1", APR),
        ("gone_quiet", "", JAN),
        ("gone_quiet", "", FEB),
        ("gone_quiet", "", APR),
        ("overdue", "", JAN),
        ("overdue", "", MAR),
        ("overdue", "", APR),
        ("renewal_risk", "", JAN),
        ("renewal_risk", "", FEB),
    ]
    assert expected_state_alerts(conditions).select("rule", "key", "month").rows() == [
        ("goal_behind", "g1", JAN),
        ("goal_behind", "g1", MAR),
        ("gone_quiet", "", JAN),
        ("gone_quiet", "", APR),
        ("overdue", "", JAN),
        ("overdue", "", MAR),
        ("renewal_risk", "", JAN),
    ]
    alerts = account_alerts(responses=NO_RESPONSES, **inputs)
    assert state_alert_mismatches(alerts, conditions).height == 0

    # drop one alert and move another: both show up
    wrong = alerts.filter(~((pl.col("rule") == "overdue") & (pl.col("month") == MAR))).with_columns(
        month=pl.when((pl.col("rule") == "gone_quiet") & (pl.col("month") == APR)).then(MAR).otherwise(pl.col("month"))
    )
    mismatches = state_alert_mismatches(wrong, conditions)
    assert mismatches.rows() == [
        ("gone_quiet", "a1", "", MAR, "unexpected alert"),
        ("gone_quiet", "a1", "", APR, "missing alert"),
        ("overdue", "a1", "", MAR, "missing alert"),
    ]


def test_alert_counts_by_rule():
    s = _everything_fires()
    rows = s.pop("rows")
    out = run(rows, **s)
    extra = out.filter(pl.col("rule") == "detractor").with_columns(alert_id=pl.lit("x"))
    counts = alert_counts(pl.concat([out, extra]))
    assert counts.rows() == [
        ("band_drop", "high", 1),
        ("score_drop", "medium", 1),
        ("detractor", "medium", 2),
        ("renewal_risk", "high", 1),
        ("gone_quiet", "medium", 1),
        ("overdue", "medium", 1),
        ("goal_behind", "medium", 1),
    ]
    january = alert_counts(out, JAN)
    assert january["rule"].to_list() == list(RULES)
    assert january["alerts"].to_list() == [0] * 7 and january["severity"].null_count() == 7
    assert set(STATE_RULES) < set(RULES)


def test_duplicate_account_months_are_refused():
    with pytest.raises(ValueError, match="share an account and month"):
        run([dict(month=JAN), dict(month=JAN)])


def test_the_event_recomputation_agrees_and_catches_a_wrong_alert():
    s = _everything_fires()
    monthly, health = months(*s["rows"])
    alerts = account_alerts(
        account_monthly=monthly,
        account_health=health,
        accounts=s["accts"],
        responses=s["resp"],
        goals=s["goal_rows"],
        health=HEALTH,
    )
    events = expected_event_alerts(account_monthly=monthly, account_health=health, responses=s["resp"])
    assert events.rows() == [
        ("band_drop", "a1", "", FEB),
        ("detractor", "a1", "r1", FEB),
        ("score_drop", "a1", "", FEB),
    ]
    assert event_alert_mismatches(alerts, events).height == 0
    # an alert without its event, and an event without its alert
    wrong = alerts.filter(pl.col("rule") != "score_drop").with_columns(
        month=pl.when(pl.col("rule") == "band_drop").then(JAN).otherwise(pl.col("month"))
    )
    assert event_alert_mismatches(wrong, events).rows() == [
        ("band_drop", "a1", "", JAN, "unexpected alert"),
        ("band_drop", "a1", "", FEB, "missing alert"),
        ("score_drop", "a1", "", FEB, "missing alert"),
    ]
    # a switched-off rule is neither expected nor checked
    off = replace(AlertSettings(), detractor=AlertRule(False, 6.0, "medium"))
    assert (
        "detractor"
        not in expected_event_alerts(account_monthly=monthly, account_health=health, responses=s["resp"], settings=off)[
            "rule"
        ].to_list()
    )


def test_worst_first_orders_by_severity_then_revenue():
    s = _everything_fires()
    out = run(s.pop("rows"), **s)
    mrr = pl.DataFrame(
        {"account_id": ["a1"], "month": [FEB], "mrr": [Decimal("1000")]},
        schema={"account_id": pl.String(), "month": pl.Date(), "mrr": MONEY},
    )
    ranked = worst_first(out, mrr)
    assert ranked["rule"].to_list() == [
        "band_drop",
        "renewal_risk",
        "score_drop",
        "detractor",
        "gone_quiet",
        "overdue",
        "goal_behind",
    ]
    assert ranked["mrr"].to_list() == [Decimal("1000")] * 7
    assert worst_first(out)["mrr"].null_count() == 7


def test_gone_quiet_is_one_definition_for_alerts_and_books():
    frame = pl.DataFrame(
        {
            "tier": ["key", "key", "key", "key", "strategic"],
            "mrr": [1, 1, 0, 1, 1],
            "days_since_last_touch": [60, 61, 200, None, 29],
        },
        schema={"tier": pl.String(), "mrr": MONEY, "days_since_last_touch": pl.Int64()},
    )
    assert frame.select(gone_quiet_holds(DEFAULTS, HEALTH).alias("q"))["q"].to_list() == [
        False,
        True,
        False,
        True,
        True,
    ]
