"""Recipients, delivery keys, what to send, and the message (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.reporting.mail import (
    INVALID_LIST,
    ReportMail,
    build_message,
    delivery_key,
    parse_recipients,
    plan_for_report,
)


def test_recipients_are_split_checked_and_deduplicated() -> None:
    r = parse_recipients(" CFO@Acme.example; ops@acme.example,cfo@acme.example ;; not-an-address; a b@x.io ")
    assert r.valid == ("cfo@acme.example", "ops@acme.example")
    assert [a for a, _ in r.invalid] == ["not-an-address", "a b@x.io"]
    assert all(reason for _, reason in r.invalid)
    assert parse_recipients(None).valid == () and parse_recipients("  ").valid == ()


@pytest.mark.parametrize("raw", ["a@x.io\r\nBcc: all@x.io", "a@x.io\nb@x.io", "a@x.io\r"])
def test_a_list_with_cr_or_lf_is_refused_whole(raw: str) -> None:
    r = parse_recipients(raw)
    assert r.valid == () and r.list_error and "line break" in r.list_error


@pytest.mark.parametrize(
    "address",
    [
        '"quoted"@x.io',
        "a@[127.0.0.1]",
        "a@localhost",
        "a..b@x.io",
        "<a@x.io>",
        "a@x.io (comment)",
        "a@-x.io",
        "@x.io",
        "a@",
    ],
)
def test_unusual_addresses_are_refused_with_a_reason(address: str) -> None:
    r = parse_recipients(address)
    assert r.valid == () and len(r.invalid) == 1


def test_delivery_key_is_stable_and_specific() -> None:
    k = delivery_key("client", "A", "2024-03", "X@Y.io", "abc")
    assert k == delivery_key("client", "A", "2024-03", "x@y.io", "abc")
    assert (
        len(
            {
                k,
                delivery_key("client", "A", "2024-03", "x@y.io", "abd"),
                delivery_key("client", "B", "2024-03", "x@y.io", "abc"),
                delivery_key("client", "A", "2024-04", "x@y.io", "abc"),
                delivery_key("leadership", "A", "2024-03", "x@y.io", "abc"),
            }
        )
        == 5
    )


def test_plan_sends_only_what_was_not_sent_and_rejects_bad_addresses() -> None:
    recipients = parse_recipients("a@x.io; b@x.io; c@x.io; d@x.io; bad")
    key = lambda r: delivery_key("client", "A", "2024-03", r, "sha")  # noqa: E731
    status = {key("a@x.io"): "sent", key("b@x.io"): "failed", key("c@x.io"): "sending"}
    plan = {p.recipient: p.action for p in plan_for_report("client", "A", "2024-03", "sha", recipients, status)}
    assert plan == {"bad": "reject", "a@x.io": "skip", "b@x.io": "send", "c@x.io": "uncertain", "d@x.io": "send"}
    status[key("bad")] = "rejected"
    plan = [p.recipient for p in plan_for_report("client", "A", "2024-03", "sha", recipients, status)]
    assert "bad" not in plan  # recorded once, not again


def test_a_refused_list_is_recorded_once() -> None:
    bad = parse_recipients("a@x.io\r\nBcc: b@x.io")
    (p,) = plan_for_report("client", "A", "2024-03", "sha", bad, {})
    assert (p.action, p.recipient) == ("reject", INVALID_LIST)
    assert plan_for_report("client", "A", "2024-03", "sha", bad, {p.key: "rejected"}) == []


def test_message_headers_hold_no_line_breaks_from_data() -> None:
    msg = build_message(
        ReportMail(
            sender_name="Northwind",
            sender_email="reports@northwind.example",
            recipient="a@x.io",
            account_name="Evil\r\nBcc: all@x.io\nCorp",
            period_label="March 2024",
            pdf=b"%PDF-1.7",
            attachment_name="evil-account-report-2024-03.pdf",
            manager_name="Dana\nWhitfield",
            manager_email="dana@northwind.example",
        ),
        now=datetime(2024, 4, 2, tzinfo=UTC),
    )
    raw = msg.as_bytes()
    assert b"\nBcc:" not in raw and msg["Bcc"] is None
    assert msg["Subject"] == "Evil Bcc: all@x.io Corp: your account report for March 2024"
    assert msg["To"] == "a@x.io"
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == "evil-account-report-2024-03.pdf"
    assert attachment.get_content() == b"%PDF-1.7"
    assert "Dana Whitfield (dana@northwind.example)" in msg.get_body(("plain",)).get_content()
