"""Delivery logic without I/O: recipients, keys, what to send, the message itself.

- A recipient list is the CRM's ``report_recipients`` (or the leadership list of the
  settings): addresses separated by ``;`` (or ``,``). A list holding a CR or LF is refused whole (header injection); an address that
  is not a plain ``local@domain.tld`` is refused with a reason; duplicates collapse.
- The delivery key is the sha256 of (kind, account, period, recipient, report sha256):
  the same report is never sent twice to the same recipient, and a changed report (new
  sha256) is a new delivery. A resend adds its request id (kind ``client_resend``), so
  it never collides with the original delivery and is itself sent once per request.
- The message: one e-mail per recipient, the PDF attached, a short plain-text body; no
  header holds a raw value from the data (names are flattened to one line). The
  leadership pack has its own subject and body around the same envelope.
- Which due reports are missing from a manifest (the check that gates deliveries).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from datetime import datetime

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
    if any(c in address for c in "<>\"(),;:[]\\"):
        return "contains characters an address cannot hold here (<>\"(),;:[]\\)"
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
        return Recipients((), (), f"{field} contains a line break (CR or LF); nothing is sent "
                                  f"to this list until it is fixed in {fix_in}")
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
    kind: str, account_id: str, period: str, recipient: str, report_sha256: str, request: str | None = None
) -> str:
    """sha256 of what makes a delivery unique; ``request`` (a resend's id) is appended only
    when given, so the keys of ordinary deliveries never change."""
    parts = [kind, account_id, period, normalize_address(recipient), report_sha256]
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
    sender_name: str, sender_email: str, recipient: str, subject: str, lines: list[str],
    pdf: bytes, attachment_name: str, now: datetime, message_id: str | None,
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
    return _message(mail.sender_name, mail.sender_email, mail.recipient, subject, lines, mail.pdf,
                    mail.attachment_name, now, message_id)


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
    return _message(mail.sender_name, mail.sender_email, mail.recipient,
                    f"Account health pack, {mail.period_label}", lines, mail.pdf, mail.attachment_name,
                    now, message_id)


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
    report_sha256: str,
    recipients: Recipients,
    status_by_key: dict[str, str],
    request: str | None = None,
) -> list[Planned]:
    """The deliveries of one report, given what ``ops.deliveries`` already holds
    (``request``: a resend's id, part of every key)."""
    out: list[Planned] = []
    if recipients.list_error:
        key = delivery_key(kind, account_id, period, INVALID_LIST, report_sha256, request)
        if status_by_key.get(key) != "rejected":
            out.append(Planned("reject", key, account_id, INVALID_LIST, recipients.list_error))
        return out
    for address, reason in recipients.invalid:
        key = delivery_key(kind, account_id, period, address, report_sha256, request)
        if status_by_key.get(key) != "rejected":
            out.append(Planned("reject", key, account_id, address, f"{address!r} {reason}"))
    for address in recipients.valid:
        key = delivery_key(kind, account_id, period, address, report_sha256, request)
        status = status_by_key.get(key)
        if status in FINAL_STATUSES:
            out.append(Planned("skip", key, account_id, address, f"already {status}"))
        elif status == UNCERTAIN_STATUS:
            out.append(Planned(
                "uncertain", key, account_id, address,
                "an earlier run stopped while sending; check the mail log, then set this delivery's "
                "status to 'failed' in ops.deliveries to send it again",
            ))
        else:
            out.append(Planned("send", key, account_id, address))
    return out


def missing_reports(due: Sequence[str], manifest: pl.DataFrame, ok_statuses: Sequence[str]) -> pl.DataFrame:
    """The due accounts without a deliverable report in ``manifest``: account_id, status
    (``failed``, or ``no report`` when the manifest has no row) and error."""
    have = manifest.select("account_id", "status", "error") if manifest.height else pl.DataFrame(
        schema={"account_id": pl.String(), "status": pl.String(), "error": pl.String()}
    )
    due_frame = pl.DataFrame({"account_id": list(due)}, schema={"account_id": pl.String()})
    return (
        due_frame.join(have, on="account_id", how="left")
        .filter(pl.col("status").is_null() | ~pl.col("status").is_in(list(ok_statuses)))
        .with_columns(pl.col("status").fill_null("no report"))
        .sort("account_id")
    )
