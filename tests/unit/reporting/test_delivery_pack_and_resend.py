"""The leadership pack's message and recipients, resend keys, and which due reports are
missing (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipeline.reporting.mail import (
    PackMail,
    build_pack_message,
    delivery_key,
    missing_reports,
    pack_attachment_name,
    parse_recipients,
    plan_for_report,
)

OK = ("rendered", "unchanged")


def test_leadership_recipients_are_checked_like_a_clients_list() -> None:
    r = parse_recipients(("CEO@Northwind.example", "cfo@northwind.example", "not an address", "ceo@northwind.example"))
    assert r.valid == ("ceo@northwind.example", "cfo@northwind.example")
    assert [a for a, _ in r.invalid] == ["not an address"]
    refused = parse_recipients(
        ("ceo@northwind.example\r\nBcc: all@x.io",), "PIPELINE_LEADERSHIP_RECIPIENTS", "the settings"
    )
    assert refused.valid == () and "PIPELINE_LEADERSHIP_RECIPIENTS contains a line break" in refused.list_error
    assert "the settings" in refused.list_error
    assert parse_recipients(()) == parse_recipients(None)


def test_pack_message_subject_attachment_and_no_header_injection() -> None:
    msg = build_pack_message(
        PackMail(
            sender_name="Northwind\r\nBcc: all@x.io",
            sender_email="reports@northwind.example",
            recipient="ceo@northwind.example",
            period_label="October 2026",
            pdf=b"%PDF-1.7",
            attachment_name=pack_attachment_name("2026-10"),
        ),
        now=datetime(2026, 11, 2, tzinfo=UTC),
    )
    assert msg["Subject"] == "Account health pack, October 2026"
    assert msg["To"] == "ceo@northwind.example" and msg["Bcc"] is None and b"\nBcc:" not in msg.as_bytes()
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "account-health-pack-2026-10.pdf"
    assert attachment.get_content() == b"%PDF-1.7"
    assert "account health pack for October 2026" in msg.get_body(("plain",)).get_content()


def test_a_resend_key_never_collides_with_the_original_and_is_stable_per_request() -> None:
    original = delivery_key("client", "A", "2024-03", "x@y.io", "sha")
    first = delivery_key("client_resend", "A", "2024-03", "x@y.io", "sha", "2024-04-02T10:00:00+00:00")
    again = delivery_key("client_resend", "A", "2024-03", "X@y.io", "sha", "2024-04-02T10:00:00+00:00")
    later = delivery_key("client_resend", "A", "2024-03", "x@y.io", "sha", "2024-04-02T10:05:00+00:00")
    assert first == again and len({original, first, later}) == 3
    # Without a request the key is the one ordinary deliveries always had.
    assert delivery_key("client", "A", "2024-03", "x@y.io", "sha", None) == original


def test_plan_of_a_resend_request_sends_once_per_request() -> None:
    recipients = parse_recipients("a@x.io; b@x.io")
    plans = plan_for_report("client_resend", "A", "2024-03", "sha", recipients, {}, request="r1")
    assert [p.action for p in plans] == ["send", "send"]
    done = {p.key: "sent" for p in plans}
    assert [p.action for p in plan_for_report("client_resend", "A", "2024-03", "sha", recipients, done, "r1")] == [
        "skip",
        "skip",
    ]
    assert [p.action for p in plan_for_report("client_resend", "A", "2024-03", "sha", recipients, done, "r2")] == [
        "send",
        "send",
    ]


def test_missing_reports_lists_failed_and_absent_due_accounts() -> None:
    manifest = pl.DataFrame(
        {
            "account_id": ["A", "B", "C", "X"],
            "status": ["rendered", "unchanged", "failed", "failed"],
            "error": [None, None, "WeasyPrint crashed", "not due anyway"],
        }
    )
    missing = missing_reports(["A", "B", "C", "D"], manifest, OK)
    assert missing.to_dicts() == [
        {"account_id": "C", "status": "failed", "error": "WeasyPrint crashed"},
        {"account_id": "D", "status": "no report", "error": None},
    ]
    assert missing_reports(["A", "B"], manifest, OK).is_empty()
    assert missing_reports(["A"], manifest.clear(), OK)["status"].to_list() == ["no report"]
    assert missing_reports([], manifest.clear(), OK).is_empty()
