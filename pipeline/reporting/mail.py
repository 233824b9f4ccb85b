"""Delivery logic without I/O: recipients, keys, what to send, the message itself.

- A recipient list is the CRM's ``report_recipients`` (or the leadership list of the
  settings): addresses separated by ``;`` (or ``,``). A list holding a CR or LF is refused whole (header injection); an address that
  is not a plain ``local@domain.tld`` is refused with a reason; duplicates collapse.
- The delivery key is the sha256 of (kind, account, period, recipient, what the report
  says): its input hash (context, templates, fonts, the versions that shape it), not the
  PDF's bytes, so a re-render of the same content on any machine (a rebuilt warehouse, a
  new render worker, other system libraries) is the same delivery, and a report that
  says something new is a new one. A delivery recorded under the PDF's sha256 (before
  the input hash keyed them) still counts (``aliases``). A resend adds its request id
  (kind ``client_resend``), so it never collides with the original delivery and is
  itself sent once per request.
- The message: one e-mail per recipient, the PDF attached, a short plain-text body; no
  header holds a raw value from the data (names are flattened to one line). The
  leadership pack has its own subject and body around the same envelope.
- Which due reports are missing from a manifest (the check that gates deliveries).
- The account managers' e-mails: the monthly one (``build_book_message``: what changed and
  the new alerts, plain text and HTML, the book attached or linked) and one alert on its
  own (``build_alert_message``). Data is flattened to one line and HTML-escaped.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from html import escape

import polars as pl

# Deliberately plain: no quoted local parts, no comments, no IP literals.
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
INVALID_LIST = "(recipient list)"

# Statuses in ops.deliveries that end a delivery: never attempted again.
FINAL_STATUSES = ("sent", "rejected")
# A claim left by a run that stopped between claiming and finishing: the message may or
# may not have left, so it is not sent again automatically (at most once).
UNCERTAIN_STATUS = "sending"


@dataclass(frozen=True)
class Recipients:
    valid: tuple[str, ...]
    invalid: tuple[tuple[str, str], ...]  # (address as written, reason)
    list_error: str | None = None  # the whole list is refused


def address_problem(address: str) -> str | None:
    """Why ``address`` is not usable, or None."""
    if not address:
        return "empty address"
    if any(c in address for c in "\r\n"):
        return "contains a line break"
    if any(c.isspace() for c in address):
        return "contains spaces"
    if any(c in address for c in '<>"(),;:[]\\'):
        return 'contains characters an address cannot hold here (<>"(),;:[]\\)'
    if ".." in address or address.startswith(".") or address.split("@")[0].endswith("."):
        return "has misplaced dots"
    if not _ADDRESS.match(address):
        return "is not of the form name@domain.tld"
    return None


def parse_recipients(
    raw: str | Sequence[str] | None, field: str = "report_recipients", fix_in: str = "the CRM"
) -> Recipients:
    """Split and check a recipient list: a ``report_recipients`` value, or a sequence of
    addresses (the leadership list); ``field`` and ``fix_in`` name it in the refusal."""
    text = ";".join(raw) if isinstance(raw, (list, tuple)) else raw
    if text is None or not str(text).strip():
        return Recipients((), ())
    text = str(text)
    if "\r" in text or "\n" in text:
        return Recipients(
            (),
            (),
            f"{field} contains a line break (CR or LF); nothing is sent to this list until it is fixed in {fix_in}",
        )
    valid: list[str] = []
    invalid: list[tuple[str, str]] = []
    seen: set[str] = set()
    for part in re.split(r"[;,]", text):
        address = part.strip()
        if not address:
            continue
        problem = address_problem(address)
        if problem:
            invalid.append((address[:254], problem))
            continue
        normal = normalize_address(address)
        if normal not in seen:
            seen.add(normal)
            valid.append(normal)
    return Recipients(tuple(valid), tuple(invalid))


def normalize_address(address: str) -> str:
    return address.strip().lower()


def delivery_key(
    kind: str, account_id: str, period: str, recipient: str, content: str, request: str | None = None
) -> str:
    """sha256 of what makes a delivery unique (``content``: the report's input hash);
    ``request`` (a resend's id) is appended only when given, so the keys of ordinary
    deliveries never change."""
    parts = [kind, account_id, period, normalize_address(recipient), content]
    payload = json.dumps(parts if request is None else [*parts, request])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def one_line(text: str | None, limit: int = 120) -> str:
    """A value fit for an e-mail header: control characters removed, one line, cut."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in str(text or "")).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class ReportMail:
    """Everything a report e-mail says (all text; nothing is markup)."""

    sender_name: str
    sender_email: str
    recipient: str
    account_name: str
    period_label: str
    pdf: bytes
    attachment_name: str
    manager_name: str | None = None
    manager_email: str | None = None
    footer: str = ""


@dataclass(frozen=True)
class PackMail:
    """The leadership pack's e-mail (all text)."""

    sender_name: str
    sender_email: str
    recipient: str
    period_label: str  # October 2026
    pdf: bytes
    attachment_name: str


def _message(
    sender_name: str,
    sender_email: str,
    recipient: str,
    subject: str,
    lines: list[str],
    pdf: bytes,
    attachment_name: str,
    now: datetime,
    message_id: str | None,
) -> EmailMessage:
    msg = EmailMessage()
    sender_domain = sender_email.rpartition("@")[2] or "localhost"
    msg["From"] = formataddr((one_line(sender_name, 80), sender_email))
    msg["To"] = recipient
    msg["Subject"] = one_line(subject, 150)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id or make_msgid(domain=sender_domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(lines) + "\n")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=attachment_name)
    return msg


def build_message(mail: ReportMail, now: datetime, message_id: str | None = None) -> EmailMessage:
    """The e-mail for one recipient, with the PDF attached."""
    lines = [
        "Hello,",
        "",
        f"Please find attached the account report of {one_line(mail.account_name, 200)} "
        f"for {mail.period_label}, prepared by {one_line(mail.sender_name, 80)}.",
        "",
        "It covers your recurring services, invoices and payments, support, your feedback "
        "and our meetings, with a comparison with earlier periods.",
    ]
    if mail.manager_name:
        contact = one_line(mail.manager_name, 80)
        if mail.manager_email:
            contact += f" ({one_line(mail.manager_email, 120)})"
        lines += ["", f"Your account manager, {contact}, is happy to go through it with you."]
    if mail.footer:
        lines += ["", one_line(mail.footer, 300)]
    subject = f"{mail.account_name}: your account report for {mail.period_label}"
    return _message(
        mail.sender_name,
        mail.sender_email,
        mail.recipient,
        subject,
        lines,
        mail.pdf,
        mail.attachment_name,
        now,
        message_id,
    )


def build_pack_message(mail: PackMail, now: datetime, message_id: str | None = None) -> EmailMessage:
    """The leadership pack's e-mail for one recipient, with the PDF attached."""
    lines = [
        "Hello,",
        "",
        f"Please find attached the account health pack for {mail.period_label}, prepared by "
        f"{one_line(mail.sender_name, 80)}.",
        "",
        "It covers the portfolio at a glance, the MRR bridge, health bands and their movement, the "
        "accounts that need attention, and an appendix with the month's data-quality checks.",
    ]
    return _message(
        mail.sender_name,
        mail.sender_email,
        mail.recipient,
        f"Account health pack, {mail.period_label}",
        lines,
        mail.pdf,
        mail.attachment_name,
        now,
        message_id,
    )


def pack_attachment_name(period: str) -> str:
    """``account-health-pack-2026-10.pdf``."""
    return f"account-health-pack-{period}.pdf"


@dataclass(frozen=True)
class Planned:
    """What to do for one (report, recipient)."""

    action: str  # send, skip (already sent or rejected), uncertain, reject
    key: str
    account_id: str
    recipient: str
    reason: str | None = None


def plan_for_report(
    kind: str,
    account_id: str,
    period: str,
    content: str,
    recipients: Recipients,
    status_by_key: dict[str, str],
    request: str | None = None,
    *,
    aliases: Sequence[str] = (),
) -> list[Planned]:
    """The deliveries of one report, given what the ledger already holds (``content``: what
    the report says, its input hash; ``aliases``: other hashes of the same report, its
    PDF's sha256, under which a delivery may have been recorded; ``request``: a resend's
    id, part of every key)."""
    out: list[Planned] = []

    def recorded(address: str) -> tuple[str, str | None]:
        """The key of this delivery and its status, looked up under the aliases too."""
        key = delivery_key(kind, account_id, period, address, content, request)
        status = status_by_key.get(key)
        if status in FINAL_STATUSES or status == UNCERTAIN_STATUS:
            return key, status
        for alias in aliases:
            other = delivery_key(kind, account_id, period, address, alias, request)
            if status_by_key.get(other) in FINAL_STATUSES or status_by_key.get(other) == UNCERTAIN_STATUS:
                return other, status_by_key[other]
        return key, status

    if recipients.list_error:
        key, status = recorded(INVALID_LIST)
        if status != "rejected":
            out.append(Planned("reject", key, account_id, INVALID_LIST, recipients.list_error))
        return out
    for address, reason in recipients.invalid:
        key, status = recorded(address)
        if status != "rejected":
            out.append(Planned("reject", key, account_id, address, f"{address!r} {reason}"))
    for address in recipients.valid:
        key, status = recorded(address)
        if status in FINAL_STATUSES:
            out.append(Planned("skip", key, account_id, address, f"already {status}"))
        elif status == UNCERTAIN_STATUS:
            out.append(
                Planned(
                    "uncertain",
                    key,
                    account_id,
                    address,
                    "an earlier run stopped while sending; check the mail log, then settle it with "
                    f"`pipeline ledger settle --key {key[:16]} --sent` (it left) or `--failed` (send it again)",
                )
            )
        else:
            out.append(Planned("send", key, account_id, address))
    return out


def ledger_statuses(rows: Sequence[dict]) -> dict[str, str]:
    """{delivery key: status} of the ledger's rows; besides each row's own key, a final
    (sent or rejected) delivery also answers for the other hash it recorded (the input
    hash or the PDF's sha256), so the same report is never sent again under either."""
    out = {r["delivery_key"]: r["status"] for r in rows}
    for r in rows:
        if r["status"] not in FINAL_STATUSES or r["kind"].endswith("_resend"):  # a resend's key has its request
            continue
        for content in (r.get("content_hash"), r.get("report_sha256")):
            if content:
                out.setdefault(
                    delivery_key(r["kind"], r["account_id"], r["period"], r["recipient"], content), r["status"]
                )
    return out


def missing_reports(due: Sequence[str], manifest: pl.DataFrame, ok_statuses: Sequence[str]) -> pl.DataFrame:
    """The due accounts without a deliverable report in ``manifest``: account_id, status
    (``failed``, or ``no report`` when the manifest has no row) and error."""
    have = (
        manifest.select("account_id", "status", "error")
        if manifest.height
        else pl.DataFrame(schema={"account_id": pl.String(), "status": pl.String(), "error": pl.String()})
    )
    due_frame = pl.DataFrame({"account_id": list(due)}, schema={"account_id": pl.String()})
    return (
        due_frame.join(have, on="account_id", how="left")
        .filter(pl.col("status").is_null() | ~pl.col("status").is_in(list(ok_statuses)))
        .with_columns(pl.col("status").fill_null("no report"))
        .sort("account_id")
    )


# --------------------------------------------------------------------------- managers


@dataclass(frozen=True)
class BookMail:
    """An account manager's monthly e-mail: what changed, the new alerts, and the book
    attached (``pdf``) or linked (``link``). All text; nothing is markup."""

    sender_name: str
    sender_email: str
    recipient: str
    manager_name: str
    period_label: str  # November 2026
    summary: tuple[str, ...]  # what changed, in sentences
    alerts: tuple[tuple[str, str, str], ...]  # (severity, rule label, sentence), worst first
    more_alerts: int  # alerts left out of the body (all are in the book)
    attachment_name: str
    pdf: bytes | None = None
    link: str | None = None
    footer: str = ""


@dataclass(frozen=True)
class AlertMail:
    """One alert, e-mailed to the account's manager when the run that raised it finishes."""

    sender_name: str
    sender_email: str
    recipient: str
    manager_name: str
    account_name: str
    period_label: str
    severity: str  # high, medium, low
    rule_label: str
    message: str
    details: str = ""


_SEVERITY_COLOURS = {"high": ("#a23b2a", "#ffffff"), "medium": ("#fdf3dc", "#8a5a00"), "low": ("#eef1f4", "#4b5563")}


def _text(value: str | None, limit: int = 1000) -> str:
    """Data in a body: one line, control characters removed, cut (then escaped for HTML)."""
    return one_line(value, limit)


def _rich_message(
    sender_name: str,
    sender_email: str,
    recipient: str,
    subject: str,
    text: str,
    html_body: str,
    now: datetime,
    message_id: str | None,
    pdf: bytes | None = None,
    attachment_name: str = "",
) -> EmailMessage:
    """Plain text and HTML alternatives (and the PDF, when given) in one message."""
    msg = EmailMessage()
    sender_domain = sender_email.rpartition("@")[2] or "localhost"
    msg["From"] = formataddr((one_line(sender_name, 80), sender_email))
    msg["To"] = recipient
    msg["Subject"] = one_line(subject, 150)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id or make_msgid(domain=sender_domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text)
    msg.add_alternative(html_body, subtype="html")
    if pdf is not None:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=attachment_name)
    return msg


def _html_page(title: str, parts: list[str]) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: Arial, Helvetica, sans-serif; font-size: 14px; color: #1f2430; line-height: 1.45;">'
        + "".join(parts)
        + "</body></html>\n"
    )


def _severity_badge(severity: str) -> str:
    bg, fg = _SEVERITY_COLOURS.get(severity, _SEVERITY_COLOURS["low"])
    return (
        f'<span style="background: {bg}; color: {fg}; font-size: 11px; font-weight: bold; '
        f'padding: 1px 6px; border-radius: 8px; text-transform: uppercase;">{escape(severity)}</span>'
    )


def book_subject(period_label: str, alerts: int) -> str:
    count = "no new alerts" if not alerts else f"{alerts} new alert{'s' if alerts != 1 else ''}"
    return f"Your book of business for {period_label}: {count}"


def build_book_message(mail: BookMail, now: datetime, message_id: str | None = None) -> EmailMessage:
    """The manager's monthly e-mail: plain text and HTML, the book attached or linked."""
    name, period = _text(mail.manager_name, 80), _text(mail.period_label, 40)
    total = len(mail.alerts) + mail.more_alerts
    where = (
        "Your book of business is attached (PDF)."
        if mail.pdf is not None
        else f"Your book of business: {_text(mail.link, 500)}"
    )
    lines = [f"Hello {name},", "", f"What changed in your portfolio in {period}:"]
    lines += [f"- {_text(s)}" for s in mail.summary]
    lines += ["", f"New alerts ({total}), worst first:" if total else "No new alerts this month."]
    lines += [f"- [{severity.upper()}] {_text(rule, 40)}: {_text(message)}" for severity, rule, message in mail.alerts]
    if mail.more_alerts:
        lines.append(f"- and {mail.more_alerts} more in the book")
    lines += [
        "",
        where,
        "It lists your accounts by health band, renewals in the next 90 days, goals behind or "
        "missed, accounts gone quiet and cross-sell ideas.",
    ]
    if mail.footer:
        lines += ["", _text(mail.footer, 300)]

    parts = [
        f"<p>Hello {escape(name)},</p>",
        f"<p><strong>What changed in your portfolio in {escape(period)}</strong></p>",
        "<ul>" + "".join(f"<li>{escape(_text(s))}</li>" for s in mail.summary) + "</ul>",
    ]
    if total:
        rows = "".join(
            f'<tr><td style="padding: 4px 8px 4px 0; vertical-align: top;">{_severity_badge(severity)}</td>'
            f'<td style="padding: 4px 8px 4px 0; vertical-align: top; color: #4b5563;">{escape(_text(rule, 40))}</td>'
            f'<td style="padding: 4px 0; vertical-align: top;">{escape(_text(message))}</td></tr>'
            for severity, rule, message in mail.alerts
        )
        more = f'<p style="color: #6b7480;">and {mail.more_alerts} more in the book</p>' if mail.more_alerts else ""
        parts += [
            f"<p><strong>New alerts ({total}), worst first</strong></p>",
            f'<table style="border-collapse: collapse;">{rows}</table>{more}',
        ]
    else:
        parts.append("<p>No new alerts this month.</p>")
    if mail.pdf is not None:
        parts.append(f"<p>{escape(where)}</p>")
    else:
        url = _text(mail.link, 500)
        parts.append(f'<p>Your book of business: <a href="{escape(url, quote=True)}">{escape(url)}</a></p>')
    if mail.footer:
        parts.append(f'<p style="color: #6b7480;">{escape(_text(mail.footer, 300))}</p>')
    subject = book_subject(period, total)
    return _rich_message(
        mail.sender_name,
        mail.sender_email,
        mail.recipient,
        subject,
        "\n".join(lines) + "\n",
        _html_page(subject, parts),
        now,
        message_id,
        mail.pdf,
        mail.attachment_name,
    )


def build_alert_message(mail: AlertMail, now: datetime, message_id: str | None = None) -> EmailMessage:
    """One alert for the account's manager (no attachment), plain text and HTML."""
    name, account = _text(mail.manager_name, 80), _text(mail.account_name, 120)
    rule, message, details = _text(mail.rule_label, 40), _text(mail.message), _text(mail.details, 400)
    lines = [f"Hello {name},", "", f"[{mail.severity.upper()}] {rule}: {message}"]
    if details:
        lines += ["", f'"{details}"']
    lines += ["", f"It will also be in your book of business for {_text(mail.period_label, 40)}."]
    parts = [
        f"<p>Hello {escape(name)},</p>",
        f"<p>{_severity_badge(mail.severity)} <strong>{escape(rule)}</strong></p>",
        f"<p>{escape(message)}</p>",
    ]
    if details:
        parts.append(f'<blockquote style="color: #4b5563; font-style: italic;">{escape(details)}</blockquote>')
    parts.append(f"<p>It will also be in your book of business for {escape(_text(mail.period_label, 40))}.</p>")
    subject = f"Alert ({mail.severity}): {rule}, {account}"
    return _rich_message(
        mail.sender_name,
        mail.sender_email,
        mail.recipient,
        subject,
        "\n".join(lines) + "\n",
        _html_page(subject, parts),
        now,
        message_id,
    )
