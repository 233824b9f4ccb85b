"""The book of business context and the managers' e-mails, on hand-built frames.

Two managers: M1 (Dana) holds Acme (red, renewing in 20 days, quiet for 75 days, an
alert, a goal behind, an idea) and Birch (green, MRR up from 1,000 to 1,200); M2 (Sam)
holds Cobalt (amber) and its alert, idea and goal. Month: March 2024 (end 31 March).
"""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from decimal import Decimal as D
from email import policy

import polars as pl
import pytest

from pipeline.reporting.mail import AlertMail, BookMail, build_alert_message, build_book_message
from pipeline.reporting.manager.context import BookContextError, book_plan, build_book_context
from pipeline.reporting.manager.inputs import BookInputs
from pipeline.schemas import ACCOUNT_ALERTS, ACCOUNT_GOALS, CROSS_SELL_IDEAS, MONEY
from pipeline.settings import Settings

FEB, MAR = date(2024, 2, 1), date(2024, 3, 1)
NOW = datetime(2024, 4, 2, 6, tzinfo=UTC)
SETTINGS = Settings()

ACCOUNTS = pl.DataFrame(
    [
        ("ACME-1", "Acme <b>Rockets</b>", "key", "mid_market", date(2024, 4, 20), "M1", "Dana", "dana@nw.example"),
        ("BIRCH-2", "Birch & Co", "transactional", "smb", date(2024, 9, 1), "M1", "Dana", "dana@nw.example"),
        ("COBALT-3", "Cobalt Mining", "strategic", "enterprise", date(2024, 5, 1), "M2", "Sam", "sam@nw.example"),
    ],
    schema={
        "account_id": pl.String(),
        "account_name": pl.String(),
        "tier": pl.String(),
        "segment": pl.String(),
        "renewal_date": pl.Date(),
        "account_manager_id": pl.String(),
        "manager_name": pl.String(),
        "manager_email": pl.String(),
    },
    orient="row",
).with_columns(_loaded_at=pl.lit(NOW))

MANAGERS = pl.DataFrame(
    [("M1", "Dana Whitfield", "dana@nw.example", "Key accounts"), ("M2", "Sam Okafor", "sam@nw.example", "Enterprise")],
    schema=["manager_id", "name", "email", "team"],
    orient="row",
)


def monthly() -> pl.DataFrame:
    rows = []
    for account, tier, manager, feb, mar, quiet in (
        ("ACME-1", "key", "M1", 5000, 5000, 75),
        ("BIRCH-2", "transactional", "M1", 1000, 1200, 10),
        ("COBALT-3", "strategic", "M2", 9000, 8000, 5),
    ):
        for month, mrr, prev in ((FEB, feb, feb), (MAR, mar, feb)):
            rows.append((account, month, tier, manager, D(mrr), D(prev), quiet if month == MAR else 5))
    return pl.DataFrame(
        rows,
        schema={
            "account_id": pl.String(),
            "month": pl.Date(),
            "tier": pl.String(),
            "account_manager_id": pl.String(),
            "mrr": MONEY,
            "mrr_previous": MONEY,
            "days_since_last_touch": pl.Int64(),
        },
        orient="row",
    )


def health() -> pl.DataFrame:
    rows = [
        ("ACME-1", FEB, 72.0, "green", None, "no contact for 40 days"),
        ("ACME-1", MAR, 35.0, "red", -37.0, "no contact for 75 days; key accounts expect one every 30 days"),
        ("BIRCH-2", MAR, 90.0, "green", 1.0, ""),
        ("COBALT-3", MAR, 55.0, "amber", -3.0, "NPS is -20"),
    ]
    return pl.DataFrame(
        rows,
        schema={
            "account_id": pl.String(),
            "month": pl.Date(),
            "score": pl.Float64(),
            "band": pl.String(),
            "score_change": pl.Float64(),
            "drivers": pl.String(),
        },
        orient="row",
    )


def alerts() -> pl.DataFrame:
    base = {c: None for c in ACCOUNT_ALERTS.names()}
    rows = [
        {
            **base,
            "account_id": "ACME-1",
            "month": MAR,
            "rule": "band_drop",
            "severity": "high",
            "message": "Acme <b>Rockets</b> moved from green to red (score 35, was 72)",
            "details": "",
            "alert_id": "band_drop|ACME-1|2024-03",
            "account_name": "Acme <b>Rockets</b>",
            "account_manager_id": "M1",
        },
        {
            **base,
            "account_id": "ACME-1",
            "month": MAR,
            "rule": "detractor",
            "severity": "medium",
            "message": "Acme <b>Rockets</b> got an NPS score of 2 out of 10 on 3 March 2024",
            "details": "Slow <script>alert(1)</script> support",
            "alert_id": "detractor|ACME-1|2024-03|R1",
            "account_name": "Acme <b>Rockets</b>",
            "account_manager_id": "M1",
            "response_id": "R1",
        },
        {
            **base,
            "account_id": "COBALT-3",
            "month": MAR,
            "rule": "overdue",
            "severity": "medium",
            "message": "Cobalt Mining has $9,000 overdue at the end of Mar 2024",
            "details": "",
            "alert_id": "overdue|COBALT-3|2024-03",
            "account_name": "Cobalt Mining",
            "account_manager_id": "M2",
        },
    ]
    return pl.DataFrame(rows, schema=ACCOUNT_ALERTS)


def goals() -> pl.DataFrame:
    base = {c: None for c in ACCOUNT_GOALS.names()}
    rows = [
        {
            **base,
            "goal_id": "G1",
            "account_id": "ACME-1",
            "month": MAR,
            "metric": "mrr",
            "description": "Grow to $8k",
            "direction": "at_least",
            "value": 5000.0,
            "expected": 6000.0,
            "target": 8000.0,
            "status": "behind",
            "due_month": date(2024, 6, 1),
        },
        {**base, "goal_id": "G2", "account_id": "BIRCH-2", "month": MAR, "metric": "touches_3m", "status": "on_track"},
        {**base, "goal_id": "G3", "account_id": "COBALT-3", "month": MAR, "metric": "nps_12m", "status": "missed"},
    ]
    return pl.DataFrame(rows, schema=ACCOUNT_GOALS)


def ideas() -> pl.DataFrame:
    rows = [
        ("ACME-1", MAR, "Analytics", 0.5, D("200"), 1, 12, 6, "key", "mid_market"),
        ("COBALT-3", MAR, "Cobalt-only product", 0.6, D("900"), 1, 10, 6, "strategic", "enterprise"),
    ]
    return pl.DataFrame(rows, schema=CROSS_SELL_IDEAS, orient="row")


def inputs() -> BookInputs:
    return BookInputs(
        month=MAR,
        accounts=ACCOUNTS,
        managers=MANAGERS,
        monthly=monthly(),
        health=health(),
        alerts=alerts(),
        goals=goals(),
        ideas=ideas(),
    )


def test_the_plan_is_every_manager_with_an_account_this_month() -> None:
    assert book_plan(inputs()) == ["M1", "M2"]
    with pytest.raises(BookContextError, match="no account"):
        build_book_context(inputs(), "M9", SETTINGS)


def test_a_book_holds_its_managers_accounts_and_nothing_else() -> None:
    ctx = build_book_context(inputs(), "M1", SETTINGS)
    text = repr(ctx)
    assert "COBALT-3" not in text and "Cobalt" not in text and "Sam" not in text
    assert [a["account_id"] for a in ctx["accounts"]] == ["ACME-1", "BIRCH-2"]
    assert [a["alert_id"] for a in ctx["alerts"]] == ["band_drop|ACME-1|2024-03", "detractor|ACME-1|2024-03|R1"]
    other = build_book_context(inputs(), "M2", SETTINGS)
    assert "ACME-1" not in repr(other) and "Birch" not in repr(other)


def test_figures_bands_renewals_goals_quiet_and_ideas() -> None:
    ctx = build_book_context(inputs(), "M1", SETTINGS)
    f = ctx["figures"]
    assert (f["accounts"], f["customers"], f["mrr"], f["mrr_previous"], f["mrr_change"]) == (
        2,
        2,
        D(6200),
        D(6000),
        D(200),
    )
    assert f["mrr_change_ratio"] == pytest.approx(200 / 6000)
    assert (f["alerts"], f["high_alerts"], f["at_risk"], f["at_risk_mrr"]) == (2, 1, 1, D(5000))
    assert [(g["band"], g["count"], g["mrr"]) for g in ctx["bands"]] == [("red", 1, D(5000)), ("green", 1, D(1200))]
    acme = ctx["bands"][0]["accounts"][0]
    assert (acme["moved"], acme["score_change"], acme["drivers"]) == (
        "worse",
        -37.0,
        ["no contact for 75 days", "key accounts expect one every 30 days"],
    )
    # renewal 20 April is 20 days after 31 March; Birch (1 September) is outside 90 days
    assert [(r["account_id"], r["days_to_renewal"], r["at_risk"]) for r in ctx["renewals"]] == [("ACME-1", 20, True)]
    assert [(g["account"], g["status"], g["kind"]) for g in ctx["goals"]] == [
        ("Acme <b>Rockets</b>", "behind", "money")
    ]
    # key cadence 30 days, gone quiet after more than twice that
    assert [(q["account_id"], q["days_since_last_touch"], q["cadence_days"]) for q in ctx["quiet"]] == [
        ("ACME-1", 75, 30.0)
    ]
    assert [(x["account_id"], [i["product"] for i in x["ideas"]]) for x in ctx["ideas"]] == [("ACME-1", ["Analytics"])]
    assert ctx["ideas"][0]["ideas"][0]["group"] == "key mid-market"
    assert ctx["summary"] == [
        "2 new alerts in March 2024, 1 of them high severity: 1 band drop and 1 detractor.",
        "Your 2 customers pay $6,200 a month, up $200 (+3.3%) on February 2024.",
        "Acme <b>Rockets</b> moved to a worse health band.",
        "1 account renews in the next 90 days ($5,000 a month); 1 of them is not green.",
        "1 goal behind or missed (0 missed).",
        "1 customer gone quiet: Acme <b>Rockets</b>.",
        "1 cross-sell idea for 1 account.",
    ]


def test_an_empty_month_says_so() -> None:
    quiet = BookInputs(
        month=MAR,
        accounts=ACCOUNTS,
        managers=MANAGERS,
        monthly=monthly(),
        health=health(),
        alerts=pl.DataFrame(schema=ACCOUNT_ALERTS),
        goals=pl.DataFrame(schema=ACCOUNT_GOALS),
        ideas=pl.DataFrame(schema=CROSS_SELL_IDEAS),
    )
    ctx = build_book_context(quiet, "M2", SETTINGS)
    assert ctx["alerts"] == [] and ctx["goals"] == [] and ctx["ideas"] == []
    assert ctx["summary"][0] == "No new alerts in March 2024."
    assert ctx["summary"][1] == "Your 1 customer pays $8,000 a month, down $1,000 (-11.1%) on February 2024."


# --------------------------------------------------------------------------- e-mails


def _parts(message) -> dict[str, str]:
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    out = {}
    for part in parsed.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            out[part.get_content_type()] = part.get_content()
        if part.get_content_type() == "application/pdf":
            out["pdf"] = part.get_filename()
    return out


def test_the_book_mail_names_what_changed_and_escapes_data() -> None:
    ctx = build_book_context(inputs(), "M1", SETTINGS)
    mail = BookMail(
        sender_name="Northwind",
        sender_email="reports@nw.example",
        recipient="dana@nw.example",
        manager_name="Dana\r\nBcc: evil@x.example",
        period_label="March 2024",
        summary=tuple(ctx["summary"]),
        alerts=tuple((a["severity"], a["rule_label"], a["message"]) for a in ctx["alerts"]),
        more_alerts=3,
        attachment_name="book-of-business-dana-2024-03.pdf",
        pdf=b"%PDF-1.7 book",
    )
    message = build_book_message(mail, NOW)
    assert message["Subject"] == "Your book of business for March 2024: 5 new alerts"
    assert "evil" not in str(message["To"]) and message["Bcc"] is None
    parts = _parts(message)
    text, html = parts["text/plain"], parts["text/html"]
    assert "- [HIGH] Band dropped: Acme <b>Rockets</b> moved from green to red (score 35, was 72)" in text
    assert "- and 3 more in the book" in text and "Hello Dana Bcc: evil@x.example," in text
    assert "<b>Rockets</b>" not in html and "Acme &lt;b&gt;Rockets&lt;/b&gt; moved" in html
    assert parts["pdf"] == "book-of-business-dana-2024-03.pdf"


def test_a_linked_book_has_no_attachment_and_a_safe_link() -> None:
    mail = BookMail(
        sender_name="Northwind",
        sender_email="reports@nw.example",
        recipient="dana@nw.example",
        manager_name="Dana",
        period_label="March 2024",
        summary=("No new alerts in March 2024.",),
        alerts=(),
        more_alerts=0,
        attachment_name="x.pdf",
        link='https://r.example/2024-03/managers/m1/book-2024-03.pdf"><script>',
    )
    parts = _parts(build_book_message(mail, NOW))
    assert "pdf" not in parts
    assert build_book_message(mail, NOW)["Subject"] == "Your book of business for March 2024: no new alerts"
    assert "<script>" not in parts["text/html"] and "&quot;&gt;&lt;script&gt;" in parts["text/html"]


def test_an_alert_mail_is_one_alert() -> None:
    message = build_alert_message(
        AlertMail(
            sender_name="Northwind",
            sender_email="reports@nw.example",
            recipient="dana@nw.example",
            manager_name="Dana",
            account_name="Acme\nRockets",
            period_label="March 2024",
            severity="medium",
            rule_label="Detractor",
            message="Acme got an NPS score of 2 out of 10",
            details="Slow <script>x</script>",
        ),
        NOW,
    )
    assert message["Subject"] == "Alert (medium): Detractor, Acme Rockets"
    parts = _parts(message)
    assert '"Slow <script>x</script>"' in parts["text/plain"]
    assert "&lt;script&gt;" in parts["text/html"] and "<script>" not in parts["text/html"]
