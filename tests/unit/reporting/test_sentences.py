"""The executive summary speaks the numbers in plain sentences."""

from __future__ import annotations

from copy import deepcopy
from decimal import Decimal

from pipeline.reporting.client.sentences import (
    billing_sentences,
    relationship_sentence,
    revenue_sentence,
    service_sentence,
    voice_sentence,
)

BASE = {
    "currency": "usd",
    "period": {"noun": "month"},
    "revenue": {
        "mrr": Decimal("12400"),
        "mrr_start": Decimal("11923.08"),
        "arr": Decimal("148800"),
        "net_change_ratio": 0.04,
        "products_added": ["Analytics"],
        "products_ended": [],
    },
    "billing": {
        "invoices_issued": 0,
        "collected": Decimal(0),
        "invoiced_total": Decimal(0),
        "overdue_amount": Decimal(0),
        "overdue_count": 0,
        "oldest_overdue_due_on": None,
        "open_count": 0,
    },
    "service": {
        "opened": 0,
        "resolved": 0,
        "open_total": 0,
        "open_high_priority": 0,
        "median_first_response_hours": None,
    },
    "voice": {"nps": None, "csat": None, "nps_responses": 0},
    "comparison": {"rows": []},
    "relationship": {"touches": 0, "renewal_date": None, "days_to_renewal": None},
}


def ctx(**changes) -> dict:
    c = deepcopy(BASE)
    for path, value in changes.items():
        section, key = path.split("__")
        c[section][key] = value
    return c


def test_the_issue_example() -> None:
    assert revenue_sentence(ctx()) == (
        "Recurring revenue rose 4.0% to $12,400 a month after the Analytics add-on, or $148,800 a year."
    )


def test_revenue_fell_held_started_ended() -> None:
    assert revenue_sentence(
        ctx(
            revenue__net_change_ratio=-0.1, revenue__products_added=[], revenue__products_ended=["Reporting", "Exports"]
        )
    ).startswith("Recurring revenue fell 10.0% to $12,400 a month after Reporting and Exports ended")
    assert revenue_sentence(ctx(revenue__net_change_ratio=0.0, revenue__products_added=[])) == (
        "Recurring revenue held steady at $12,400 a month, or $148,800 a year."
    )
    assert revenue_sentence(ctx(revenue__mrr_start=Decimal(0), revenue__net_change_ratio=None)) == (
        "Your subscriptions started this month with Analytics: recurring revenue is $12,400 a month ($148,800 a year)."
    )
    assert revenue_sentence(ctx(revenue__mrr=Decimal(0), revenue__arr=Decimal(0))) == (
        "Your subscriptions ended this month; recurring revenue went from $11,923.08 a month to zero."
    )
    assert revenue_sentence(ctx(revenue__products_added=["A", "B", "C"])).endswith(
        "after adding A, B and 1 more, or $148,800 a year."
    )


def test_billing_sentences() -> None:
    assert billing_sentences(ctx()) == [
        "There were no invoices or payments this month.",
        "Nothing is outstanding: every invoice is paid.",
    ]
    out = billing_sentences(
        ctx(
            billing__invoices_issued=1,
            billing__invoiced_total=Decimal("1200.5"),
            billing__collected=Decimal("99"),
            billing__overdue_amount=Decimal("2500"),
            billing__overdue_count=2,
            billing__oldest_overdue_due_on=__import__("datetime").date(2024, 1, 15),
        )
    )
    assert out == [
        "We issued 1 invoice for $1,200.50 including tax and collected $99 in payments.",
        "$2,500 is overdue across 2 invoices; the oldest was due on 15 January 2024.",
    ]


def test_service_voice_and_relationship() -> None:
    assert service_sentence(ctx()) == "No support tickets were opened this month and none is open."
    assert service_sentence(
        ctx(service__opened=4, service__resolved=3, service__open_total=3, service__open_high_priority=2)
    ) == ("Your team opened 4 support tickets and we resolved 3. 3 tickets remain open, 2 of them high priority.")
    assert service_sentence(
        ctx(service__opened=4, service__open_total=4, service__median_first_response_hours=2.0)
    ) == (
        "Your team opened 4 support tickets, with a median first response of 2 h; none was resolved by the end "
        "of the month. 4 tickets remain open."
    )
    assert voice_sentence(ctx()) is None
    assert voice_sentence(ctx(voice__csat=91.25)) == (
        "91.3% of support ratings in the last three months were satisfied."
    )
    assert relationship_sentence(ctx()) == "We had no recorded meetings or calls this month."
    assert relationship_sentence(
        ctx(
            relationship__touches=1,
            relationship__days_to_renewal=0,
            relationship__renewal_date=__import__("datetime").date(2024, 3, 31),
        )
    ) == ("We were in touch once this month; your renewal is due on 31 March 2024, the last day of this month.")
