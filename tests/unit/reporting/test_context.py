"""Golden tests of the report context for hand-built accounts (numbers worked out by hand
in tests/unit/reporting/builders.py), read back through the reports' SQL from a tmp
DuckDB written with the Warehouse class."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.reporting.client.context import build_client_context, report_plan
from pipeline.reporting.periods import add_months, report_period
from pipeline.resources.renderer.fingerprint import canonical_json, input_hash
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.report_inputs import ReportDataError, load_report_inputs
from tests.support.report_builders import Book, add_acme, add_globex

MARCH = date(2024, 3, 1)


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    book = Book()
    add_acme(book)
    add_globex(book)
    book.add(
        "account_health",
        account_id="ACME-1",
        month=MARCH,
        score=64.5,
        band="amber",
        computed_band="amber",
        drivers="1 high-priority ticket open; overdue invoices",
        score_change=-3.5,
    )
    return book.write(Warehouse(tmp_path / "w.duckdb"))


def context(wh: Warehouse, account_id: str, month: date = MARCH, **settings) -> dict:
    s = Settings(data_dir=Path("unused"), **settings)
    inputs = load_report_inputs(wh, month, "usd", with_health=s.show_health_in_client_reports)
    cadence = "quarterly" if account_id.startswith("GLOBEX") else "monthly"
    return build_client_context(inputs, account_id, report_period(cadence, month), s)


def test_plan_follows_each_cadence(wh: Warehouse) -> None:
    def plan(month: date) -> list[tuple[str, str]]:
        inputs = load_report_inputs(wh, month, "usd", with_health=False)
        return [(a, p.key) for a, _, p in report_plan(inputs.accounts, inputs.monthly, month)]

    assert plan(MARCH) == [("ACME-1", "2024-03"), ("GLOBEX-9", "2024-Q1")]
    assert plan(date(2024, 2, 1)) == [("ACME-1", "2024-02")]  # not a quarter end
    assert plan(date(2023, 12, 1)) == [("ACME-1", "2023-12"), ("GLOBEX-9", "2023-Q4")]
    assert plan(date(2023, 9, 1)) == [("ACME-1", "2023-09")]  # Globex had no data yet


def test_acme_golden_context(wh: Warehouse) -> None:
    ctx = context(wh, "ACME-1")
    D = Decimal
    assert ctx["account"] == {
        "id": "ACME-1",
        "name": "Acme Rockets Ltd",
        "short_name": "Acme Rockets Ltd",
        "billing_currency": "usd",
    }
    assert ctx["prepared_for"] == {"name": "Jordan Lee", "role": "Finance Director"}
    assert ctx["period"]["key"] == "2024-03" and ctx["period"]["end"] == date(2024, 3, 31)
    assert ctx["currency"] == "usd" and ctx["data_as_of"] == date(2024, 4, 2)

    assert ctx["figures"] == {
        "mrr": D(1240),
        "arr": D(14880),
        "invoiced_net": D(1240),
        "invoiced_tax": D(248),
        "collected": D(1200),
        "overdue_amount": D(1200),
        "tickets_opened": 2,
        "open_tickets": 1,
        "nps_12m": 40.0,
        "nps_responses_12m": 10,
        "csat_3m": 80.0,
        "csat_responses_3m": 5,
        "touches": 3,
    }

    rev = ctx["revenue"]
    assert (rev["mrr_start"], rev["mrr"], rev["net_change"], rev["net_change_ratio"]) == (
        D(1000),
        D(1240),
        D(240),
        0.24,
    )
    assert rev["movements"] == {"new": 0, "expansion": 240, "reactivation": 0, "contraction": 0, "churn": 0}
    assert [(p["product"], p["mrr"], p["since"], p["billed_currency"]) for p in rev["products"]] == [
        ("Platform", D(1000), date(2022, 1, 15), "usd"),
        ("Analytics", D(240), date(2024, 3, 10), "usd"),
    ]
    assert rev["products_total"] == D(1240) == rev["mrr"]  # the products tie out to MRR
    assert (rev["products_added"], rev["products_ended"]) == (["Analytics"], [])
    assert [t["month"] for t in rev["trend"]] == [add_months(date(2023, 4, 1), k) for k in range(12)]
    assert [int(t["mrr"]) for t in rev["trend"]] == [800, 800, 800] + [1000] * 8 + [1240]

    bil = ctx["billing"]
    assert (bil["invoiced_net"], bil["invoiced_tax"], bil["invoiced_total"], bil["collected"]) == (
        D(1240),
        D(248),
        D(1488),
        D(1200),
    )
    assert (bil["invoices_issued"], bil["invoices_paid"]) == (2, 1)
    assert [(i["number"], i["net"], i["tax"], i["total"], i["state"], i["paid_on"]) for i in bil["issued"]] == [
        ("INV-301", D(1000), D(200), D(1200), "paid", date(2024, 3, 20)),
        ("INV-302", D(240), D(48), D(288), "open", None),
    ]
    assert [(i["number"], i["total"], i["overdue"], i["days_overdue"]) for i in bil["open"]] == [
        ("INV-201", D(1200), True, 30),
        ("INV-302", D(288), False, 0),
    ]
    assert (bil["open_total"], bil["overdue_count"], bil["oldest_overdue_due_on"]) == (D(1488), 1, date(2024, 3, 1))
    assert bil["overdue_amount"] == D(1200) and bil["foreign_billing"] == []

    svc = ctx["service"]
    assert (svc["opened"], svc["resolved"], svc["open_total"], svc["open_high_priority"]) == (2, 2, 1, 1)
    assert svc["open_by_priority"] == [
        {"priority": "urgent", "count": 0},
        {"priority": "high", "count": 1},
        {"priority": "normal", "count": 0},
        {"priority": "low", "count": 0},
    ]
    assert svc["median_first_response_hours"] == 3.0  # 2 h and 4 h
    assert svc["median_resolution_hours"] == 252.0  # 24 h and 480 h (10 Feb to 1 Mar 2024: 20 days)
    assert svc["open_list"] == [
        {
            "subject": "Dashboard shows stale launch data",
            "priority": "high",
            "opened_on": date(2024, 3, 20),
            "age_days": 11,
        }
    ]

    voice = ctx["voice"]
    assert (voice["nps"], voice["nps_responses"], voice["csat"], voice["csat_responses"]) == (40.0, 10, 80.0, 5)
    assert voice["comments"] == [
        {
            "date": date(2024, 3, 12),
            "survey": "NPS",
            "score": 9,
            "scale": 10,
            "text": "Great support team, quick to help.",
        }
    ]
    assert len(voice["trend"]) == 12

    rel = ctx["relationship"]
    assert rel["touches"] == 3
    assert rel["touches_by_type"] == [{"type": "Meetings", "count": 2}, {"type": "Calls", "count": 1}]
    assert (rel["renewal_date"], rel["days_to_renewal"], rel["days_since_last_touch"]) == (date(2024, 6, 30), 91, 4)
    assert rel["manager"] == {
        "name": "Dana Whitfield",
        "email": "dana.whitfield@northwind.example",
        "team": "Key accounts",
    }

    cmp = {r["label"]: r for r in ctx["comparison"]["rows"]}
    assert ctx["comparison"]["has_previous"] and ctx["comparison"]["has_year_ago"]
    assert (
        ctx["comparison"]["previous_label"] == "February 2024" and ctx["comparison"]["year_ago_label"] == "March 2023"
    )
    mrr = cmp["Monthly recurring revenue (end of period)"]
    assert (mrr["previous"], mrr["previous_change"], mrr["year_ago"], mrr["year_ago_change"]) == (
        D(1000),
        0.24,
        D(800),
        0.55,
    )
    nps = cmp["NPS (last 12 months)"]
    assert (nps["year_ago"], nps["year_ago_change"], nps["change_kind"]) == (20.0, 20.0, "points")
    assert cmp["Overdue at end of period"]["previous_change"] is None  # base 0: no ratio
    assert cmp["Meetings, calls and other touches"]["previous"] == 1

    assert ctx["summary"] == [
        "Recurring revenue rose 24.0% to $1,240 a month after the Analytics add-on, or $14,880 a year.",
        "We issued 2 invoices for $1,488 including tax and collected $1,200 in payments.",
        "$1,200 is overdue across 1 invoice; the oldest was due on 1 March 2024.",
        "Your team opened 2 support tickets and we resolved 2, with a median first response of 3 h. "
        "One ticket remains open, and it is high priority.",
        "Your NPS over the last 12 months is 40 from 10 responses, up from 20 a year ago, "
        "and 80.0% of support ratings in the last three months were satisfied.",
        "We were in touch 3 times this month; your renewal is due on 30 June 2024, in 91 days.",
    ]
    assert ctx["health"] is None and not ctx["show_health"]
    assert "Health score" not in [g["term"] for g in ctx["glossary"]]
    charts = ctx["charts"]
    assert charts["mrr"]["highlight"] == [False] * 11 + [True]
    assert charts["mrr"]["values"][-1] == 1240.0


def test_globex_quarter_in_reporting_currency_with_amounts_as_billed(wh: Warehouse) -> None:
    ctx = context(wh, "GLOBEX-9")
    D = Decimal
    assert ctx["period"]["key"] == "2024-Q1" and ctx["period"]["noun"] == "quarter"
    assert ctx["figures"]["invoiced_net"] == D(6600) and ctx["figures"]["collected"] == D(7920)
    rev = ctx["revenue"]
    assert (rev["mrr_start"], rev["mrr"], rev["net_change_ratio"]) == (D(2200), D(2200), 0.0)
    (product,) = rev["products"]
    assert (product["mrr"], product["billed_currency"], product["billed_mrr"]) == (D(2200), "eur", D(2000))
    bil = ctx["billing"]
    assert [(i["number"], i["net"], i["total"], i["billed"]) for i in bil["issued"]] == [
        (f"GX-000{k}", D(2200), D(2640), {"currency": "eur", "total": D(2400)}) for k in (1, 2, 3)
    ]
    assert bil["open"] == [] and bil["foreign_billing"] == ["eur"]
    assert ctx["comparison"]["has_previous"] and not ctx["comparison"]["has_year_ago"]
    assert ctx["comparison"]["previous_label"] == "Q4 2023"
    assert ctx["voice"]["nps"] is None and ctx["charts"]["voice"]["nps"] == [None] * 12
    assert ctx["charts"]["mrr"]["values"][:6] == [None] * 6  # no data before October 2023
    assert ctx["summary"] == [
        "Recurring revenue held steady at $2,200 a month, or $26,400 a year.",
        "We issued 3 invoices for $7,920 including tax and collected $7,920 in payments.",
        "Nothing is outstanding: every invoice is paid.",
        "Your team opened 1 support ticket and we resolved 1, with a median first response of 1 h. None is open.",
        "We were in touch once this quarter; your renewal is due on 30 September 2024, in 183 days.",
    ]


def test_a_context_holds_only_its_own_client(wh: Warehouse) -> None:
    acme = canonical_json(context(wh, "ACME-1"))
    globex = canonical_json(context(wh, "GLOBEX-9"))
    for word in ("GLOBEX", "Globex", "Grid Insights", "GX-000", "Sam Okafor", "globex.example", "Invoice address"):
        assert word not in acme
    for word in ("ACME", "Acme", "Analytics", "INV-", "Dana Whitfield", "acme.example", "Dashboard", "Jordan"):
        assert word not in globex


def test_health_only_when_the_setting_says_so(wh: Warehouse) -> None:
    ctx = context(wh, "ACME-1", show_health_in_client_reports=True)
    assert ctx["show_health"] and ctx["health"] == {
        "score": 64.5,
        "band": "amber",
        "score_change": -3.5,
        "drivers": ["1 high-priority ticket open", "overdue invoices"],
    }
    assert "Health score" in [g["term"] for g in ctx["glossary"]]


def test_backfill_of_an_older_month_renders_that_period_as_it_was(wh: Warehouse) -> None:
    ctx = context(wh, "ACME-1", month=date(2023, 7, 1))
    assert ctx["period"]["key"] == "2023-07"
    assert ctx["figures"]["mrr"] == Decimal(1000)
    assert ctx["summary"][0] == "Recurring revenue rose 25.0% to $1,000 a month, or $12,000 a year."
    # Analytics (2024) and the 2024 invoices are not in July 2023's report.
    assert [p["product"] for p in ctx["revenue"]["products"]] == ["Platform"]
    assert ctx["billing"]["issued"] == [] and ctx["service"]["open_list"] == []
    assert not ctx["comparison"]["has_year_ago"]


def test_the_input_hash_moves_with_the_data_and_only_then(wh: Warehouse, tmp_path: Path) -> None:
    a = input_hash(context(wh, "ACME-1"), "fp")
    assert a == input_hash(context(wh, "ACME-1"), "fp")
    assert a != input_hash(context(wh, "ACME-1"), "other templates")
    assert a != input_hash(context(wh, "ACME-1", branding=replace(Settings().branding, company_name="X")), "fp")


def test_missing_marts_are_reported_plainly(tmp_path: Path) -> None:
    empty = Warehouse(tmp_path / "empty.duckdb")
    with pytest.raises(ReportDataError, match=r"marts\.account_monthly"):
        load_report_inputs(empty, MARCH, "usd", with_health=False)


def test_fingerprint_covers_only_the_files_asked_for(tmp_path: Path) -> None:
    from pipeline.resources.renderer.fingerprint import render_fingerprint

    (tmp_path / "client").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "client" / "report.html").write_text("a")
    (tmp_path / "other" / "pack.html").write_text("b")
    mine = render_fingerprint(tmp_path, ("client/",))
    everything = render_fingerprint(tmp_path)
    (tmp_path / "other" / "pack.html").write_text("changed")
    assert render_fingerprint(tmp_path, ("client/",)) == mine
    assert render_fingerprint(tmp_path) != everything
    (tmp_path / "client" / "report.html").write_text("changed too")
    assert render_fingerprint(tmp_path, ("client/",)) != mine
