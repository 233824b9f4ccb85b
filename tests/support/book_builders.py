"""A hand-built book of business for the alert, cross-sell and manager-book tests.

Twelve key mid-market customers P01..P12 (January to March 2024), all on Platform
(1,000 a month); P06..P12 also on Analytics (200), so each of P01..P05 has 11 peers of
whom 7 hold Analytics (64%): one cross-sell idea each. Managers: M1 Dana (P01..P05),
M2 Sam (P06..P10), M3 Lee (P11, P12), who has no e-mail address.

What happens in March (January and February are quiet, green, score 80):

- P01 red, score 35 (-45): band_drop (high) and score_drop;
- P02 an NPS detractor (3/10) with a comment holding markup;
- P03 amber (band_drop) and renewing on 15 May 2024 (renewal_risk, high);
- P04 untouched for 75 days (45 in February): gone_quiet;
- P05 a goal on track in February and behind in March: goal_behind (when goals are written);
- P06 amber: band_drop; P07 1,500 overdue: overdue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.resources.warehouse import Warehouse
from pipeline.schemas import ACCOUNT_GOALS
from tests.support.report_builders import Book, add_manager

JAN, FEB, MAR = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
ACCOUNTS = [f"P{i:02d}" for i in range(1, 13)]
NAMES = {
    "P01": "Acme <b>Rockets</b>",
    "P02": "Birch & Co",
    "P03": "Cedar Labs",
    "P04": "Delta Foods",
    "P05": "Elm Retail",
    "P06": "Fjord Semiconductors",
    "P07": "Gale Logistics",
    "P08": "Hazel Media",
    "P09": "Iris Health",
    "P10": "Juniper Bank",
    "P11": "Kestrel Air",
    "P12": "Linden Grid",
}
MANAGER_OF = {a: ("M1" if i < 5 else "M2" if i < 10 else "M3") for i, a in enumerate(ACCOUNTS)}
ALERTS_IN_MARCH = {
    ("P01", "band_drop"),
    ("P01", "score_drop"),
    ("P02", "detractor"),
    ("P03", "band_drop"),
    ("P03", "renewal_risk"),
    ("P04", "gone_quiet"),
    ("P06", "band_drop"),
    ("P07", "overdue"),
}
GOAL_ALERT = ("P05", "goal_behind")


def _health(book: Book, account: str, month: date, band: str, score: float, change: float | None, drivers: str) -> None:
    book.rows.setdefault("account_health", []).append(
        dict(
            account_id=account,
            month=month,
            score=score,
            band=band,
            computed_band=band,
            drivers=drivers,
            score_change=change,
        )
    )


def book_of_business(dana_email: str = "dana@northwind.example", sam_email: str = "sam@northwind.example") -> Book:
    book = Book()
    add_manager(book, "M1", "Dana Whitfield", dana_email, "Key accounts")
    add_manager(book, "M2", "Sam Okafor", sam_email, "Enterprise")
    add_manager(book, "M3", "Lee Park", None, "Key accounts")
    for i, a in enumerate(ACCOUNTS):
        book.add(
            "accounts",
            account_id=a,
            account_name=NAMES[a],
            tier="key",
            segment="mid_market",
            account_manager_id=MANAGER_OF[a],
            currency="usd",
            report_cadence="none",
            renewal_date=date(2024, 5, 15) if a == "P03" else date(2025, 1, 1),
        )
        book.add(
            "subscriptions",
            subscription_id=f"{a}-S1",
            account_id=a,
            product="Platform",
            start_date=date(2023, 6, 1),
            end_date=None,
            mrr=Decimal(1000),
            currency="usd",
        )
        if i >= 5:
            book.add(
                "subscriptions",
                subscription_id=f"{a}-S2",
                account_id=a,
                product="Analytics",
                start_date=date(2023, 6, 1),
                end_date=None,
                mrr=Decimal(200),
                currency="usd",
            )
        mrr = 1200 if i >= 5 else 1000
        for month in (JAN, FEB, MAR):
            values: dict[str, Any] = dict(
                mrr=mrr, mrr_previous=mrr, days_since_last_touch=5, touches_3m=4, account_manager_id=MANAGER_OF[a]
            )
            if a == "P04":
                values["days_since_last_touch"] = {JAN: 15, FEB: 45, MAR: 75}[month]
            if a == "P07" and month == MAR:
                values["overdue_amount"] = 1500
            if month == MAR and a == "P03":
                values["days_to_renewal"] = 45
            book.monthly(a, month, **values)
            band, score, change, drivers = "green", 80.0, 0.0 if month != JAN else None, ""
            if month == MAR and a == "P01":
                band, score, change, drivers = "red", 35.0, -45.0, "no contact for 12 days; NPS is -40 (target 50)"
            if month == MAR and a in ("P03", "P06"):
                band, score, change, drivers = "amber", 65.0, -14.0, "recurring revenue was flat over 3 months"
            _health(book, a, month, band, score, change, drivers)
    book.add(
        "responses",
        response_id="R1",
        account_id="P02",
        contact_email="jo@birch.example",
        survey_type="nps",
        score=3,
        responded_at=datetime(2024, 3, 12, 9, tzinfo=UTC),
        comment="Support is <script>alert('slow')</script>",
    )
    return book


def goals_frame() -> pl.DataFrame:
    """marts.account_goals for P05: on track in February, behind in March."""
    base = {c: None for c in ACCOUNT_GOALS.names()}
    rows = [
        {
            **base,
            "goal_id": "G1",
            "account_id": "P05",
            "month": m,
            "metric": "mrr",
            "description": "Grow to $2,000",
            "direction": "at_least",
            "start_month": FEB,
            "due_month": date(2024, 6, 1),
            "value": 1000.0,
            "baseline": 1000.0,
            "expected": e,
            "target": 2000.0,
            "status": s,
            "visible_to_client": True,
        }
        for m, e, s in ((FEB, 1000.0, "on_track"), (MAR, 1250.0, "behind"))
    ]
    return pl.DataFrame(rows, schema=ACCOUNT_GOALS)


def write_book_of_business(warehouse: Warehouse, with_goals: bool = True, **emails: str) -> Warehouse:
    book_of_business(**emails).write(warehouse)
    if with_goals:
        with warehouse.transaction() as con:
            Warehouse.replace_table(con, "marts.account_goals", goals_frame())
    return warehouse


def write_alert_marts(warehouse: Warehouse, month: date = MAR) -> Warehouse:
    """marts.account_alerts and marts.cross_sell_ideas computed by the pure transforms (as
    the assets do) and written, without Dagster: for the book and delivery tests."""
    from pipeline.assets.alerts import AlertInputs
    from pipeline.schemas import ACCOUNT_ALERTS, CROSS_SELL_IDEAS
    from pipeline.settings import Settings
    from pipeline.store.loading import read_staging
    from pipeline.transforms.alerts import account_alerts
    from pipeline.transforms.cross_sell import build_cross_sell_ideas

    settings = Settings()
    data = AlertInputs(warehouse, month)
    alerts = account_alerts(
        account_monthly=data.account_monthly,
        account_health=data.account_health,
        accounts=data.accounts,
        responses=data.responses,
        goals=data.goals,
        settings=settings.alert_rules,
        health=settings.health,
    )
    ideas = build_cross_sell_ideas(
        subscriptions=read_staging(warehouse, "subscriptions"),
        fx_rates=read_staging(warehouse, "fx_rates"),
        accounts=read_staging(warehouse, "accounts"),
        reporting_month=month,
        reporting_currency="usd",
    )
    with warehouse.transaction() as con:
        Warehouse.replace_table(con, "marts.account_alerts", alerts.cast(ACCOUNT_ALERTS))
        Warehouse.replace_table(con, "marts.cross_sell_ideas", ideas.cast(CROSS_SELL_IDEAS))
    return warehouse
