"""Deliver a period's reports: the client reports and the leadership pack (what the
report_deliveries asset runs), and an operator's resend of one client's report.

Order of the gates: a blocked period (its marts or reports failed an asset check) sends
nothing; with ``require_approval`` a period whose current client reports are not
approved sends no client report; otherwise every deliverable report of the manifest
goes to each of its recipients that has not had this very report yet: the same content
(its input hash, not its bytes), so a re-render on another machine or after a rebuild
sends nothing. Each delivery is claimed in the ledger (``pipeline.store.ledger``, which
outlives the warehouse) before the message leaves and finished after, so a re-run
never sends twice, a failed send is retried on the next run and a bad address is
recorded with its reason. A period the ledger holds (it was created after that period
may have been delivered) sends nothing until an operator confirms (``confirm_period``). A claim is taken only for a new or failed delivery, so two
runs delivering at once never both send. A delivery left ``sending`` by a run that
died is settled from the outbox (its file is there: sent; not there: send it); over
SMTP it stays ``sending`` (counted as uncertain) for the operator, never sent twice.

- Client reports (kind ``client``) go to their account's ``report_recipients``.
- The leadership pack (kind ``leadership``, account ``''``) goes to
  ``settings.leadership_recipients``; it is internal, so approval does not hold it.
- A manager's book of business (kind ``manager_book``, account = the manager's id) goes
  to the manager's e-mail once per close (the key names the period, not the file), with
  what changed and the new alerts in the body; a manager without an address is listed.
- With ``alerts_immediate``, each alert (kind ``manager_alert``) goes on its own to the
  account's manager, once per alert and address (the key names the alert).
- A resend (kind ``client_resend``) delivers one client's current report again to the
  account's current recipients, even if it was sent. Its delivery keys add the request
  id (default: the request time), so a resend never collides with the original and one
  request is sent at most once per recipient; asking again is a new request and sends
  again. A failed resend is not retried by the monthly run: request it again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import polars as pl

from pipeline.files import sha256_bytes
from pipeline.publish.manager_books import KIND as MANAGER_BOOK
from pipeline.publish.manager_books import book_contexts, book_fingerprint
from pipeline.reporting.client.context import report_plan
from pipeline.reporting.mail import (
    AlertMail,
    BookMail,
    PackMail,
    Planned,
    ReportMail,
    build_alert_message,
    build_book_message,
    build_message,
    build_pack_message,
    ledger_statuses,
    missing_reports,
    pack_attachment_name,
    parse_recipients,
    plan_for_report,
)
from pipeline.reporting.manager.context import RULE_LABELS, month_name
from pipeline.reporting.naming import attachment_name, book_attachment_name, ensure_inside, safe_name
from pipeline.reporting.periods import add_months, month_period, report_period
from pipeline.resources.mailer import Mailer
from pipeline.resources.renderer.fingerprint import input_hash
from pipeline.resources.renderer.worker import TEMPLATES_DIR
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.book_inputs import load_book_inputs
from pipeline.store.ledger import ledger_for, open_hold, sync_deliveries
from pipeline.store.records import (
    OK_STATUSES,
    approval_covers,
    approval_for,
    claim_delivery,
    content_of,
    finish_delivery,
    period_text,
    read_manifest,
    reject_delivery,
    utcnow,
)

KIND = "client"
LEADERSHIP = "leadership"
RESEND = "client_resend"
MANAGER_ALERT = "manager_alert"  # one alert, e-mailed at once (PIPELINE_ALERTS_IMMEDIATE)
BOOK_MAIL_ALERTS = 15  # alerts listed in a book's e-mail; the rest are counted (all are in the book)

# (recipient, pdf, now) -> the message for that recipient
Compose = Callable[[str, bytes, datetime], EmailMessage]


class ResendError(ValueError):
    """A resend cannot be done; the message says why and what to do."""


@dataclass
class DeliverySummary:
    period: str
    channel: str
    blocked: str | None = None
    held: str | None = None
    awaiting_confirmation: str | None = None  # the ledger holds the period (see confirm_period)
    skipped: str | None = None  # why nothing was attempted (no recipients, no pack)
    reports: int = 0
    sent: int = 0
    already_sent: int = 0
    failed: int = 0
    rejected: int = 0
    uncertain: int = 0
    recipients: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.blocked:
            return "blocked"
        if self.awaiting_confirmation:
            return "held until an operator confirms"
        if self.held:
            return "held for approval"
        if self.failed:
            return "failures"
        return self.skipped or "ok"


@dataclass
class ManagerDeliverySummary(DeliverySummary):
    """A DeliverySummary that also lists the managers who have no e-mail address."""

    without_email: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportCoverage:
    """Which accounts due a report for a month have one (the check gating deliveries)."""

    period: str
    due: int
    with_report: int
    missing: pl.DataFrame  # account_id, status (failed or no report), error


def report_coverage(warehouse: Warehouse, month: date) -> ReportCoverage:
    """Due = the same rule the client reports use (cadence gives a period for the month and
    the account was a client in it); covered = a rendered or unchanged manifest row."""
    period = period_text(month)
    accounts = warehouse.query("reports/accounts")
    monthly = warehouse.query("reports/account_monthly", {"from_month": add_months(month, -2), "to_month": month})
    due = [account_id for account_id, _, _ in report_plan(accounts, monthly, month)]
    missing = missing_reports(due, read_manifest(warehouse, period, KIND), OK_STATUSES)
    return ReportCoverage(period=period, due=len(due), with_report=len(due) - missing.height, missing=missing)


def _accounts(warehouse: Warehouse) -> dict[str, dict]:
    frame = warehouse.query("reports/accounts")
    return {r["account_id"]: r for r in frame.iter_rows(named=True)}


def _deliverable(manifest: pl.DataFrame) -> pl.DataFrame:
    return manifest.filter(pl.col("status").is_in(OK_STATUSES)) if manifest.height else manifest


_CONFIRMING: ContextVar[str | None] = ContextVar("confirming", default=None)


def _awaiting_confirmation(warehouse: Warehouse, period: str) -> str | None:
    """Why the ledger holds the period's deliveries (``confirm_period`` answers it), or None."""
    return None if _CONFIRMING.get() == period else open_hold(warehouse, period)


def _statuses(warehouse: Warehouse, period: str, kind: str) -> dict[str, str]:
    """{delivery key: status} of the ledger for the period and kind (see ``ledger_statuses``)."""
    return ledger_statuses(ledger_for(warehouse).deliveries(period, kind))


def _aliases(report: dict) -> tuple[str, ...]:
    """The PDF's sha256, under which the report's deliveries were keyed before its content."""
    sha = report.get("pdf_sha256")
    return (sha,) if sha and sha != content_of(report) else ()


def _held_reason(warehouse: Warehouse, settings: Settings, period: str, manifest: pl.DataFrame) -> str | None:
    """Why the period's client reports wait for an operator (``require_approval``), or None."""
    if not settings.require_approval:
        return None
    approval = approval_for(warehouse, period, KIND)
    if approval is None:
        return f"the {period} reports are waiting for an operator's approval"
    if not approval_covers(approval, manifest):
        return (
            f"the {period} reports changed after {approval['approved_by']} approved them "
            f"on {approval['approved_at']:%Y-%m-%d %H:%M} UTC; approve the period again"
        )
    return None


def deliver_reports(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    mailer: Mailer,
    blocked_reason: str | None = None,
    now: datetime | None = None,
) -> DeliverySummary:
    """Send the period's new client reports; returns what happened, for the metadata."""
    period = period_text(month)
    summary = DeliverySummary(period=period, channel=mailer.channel)
    if blocked_reason:
        summary.blocked = blocked_reason
        return summary
    manifest = read_manifest(warehouse, period, KIND)
    deliverable = _deliverable(manifest)
    summary.reports = deliverable.height
    summary.awaiting_confirmation = _awaiting_confirmation(warehouse, period)
    summary.held = _held_reason(warehouse, settings, period, manifest)
    if summary.awaiting_confirmation or summary.held or deliverable.is_empty():
        return summary

    accounts = _accounts(warehouse)
    status_by_key = _statuses(warehouse, period, KIND)
    try:
        with ledger_for(warehouse).session():  # one connection for the claims and finishes of every e-mail
            for report in deliverable.iter_rows(named=True):
                account = accounts.get(report["account_id"], {})
                plans = plan_for_report(
                    KIND,
                    report["account_id"],
                    period,
                    content_of(report),
                    parse_recipients(account.get("report_recipients")),
                    status_by_key,
                    aliases=_aliases(report),
                )
                _deliver(
                    warehouse,
                    mailer,
                    settings,
                    summary,
                    KIND,
                    report,
                    plans,
                    _client_mail(account, report, settings),
                    now,
                )
    finally:
        mailer.close()
        sync_deliveries(warehouse, period, KIND)  # the warehouse's copy of what the ledger now holds
    return summary


def deliver_leadership_pack(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    mailer: Mailer,
    blocked_reason: str | None = None,
    now: datetime | None = None,
) -> DeliverySummary:
    """Send the period's leadership pack to ``settings.leadership_recipients``, once per
    recipient and pack (its sha256)."""
    period = period_text(month)
    summary = DeliverySummary(period=period, channel=mailer.channel)
    if blocked_reason:
        summary.blocked = blocked_reason
        return summary
    recipients = parse_recipients(settings.leadership_recipients, "PIPELINE_LEADERSHIP_RECIPIENTS", "the settings")
    if not (recipients.valid or recipients.invalid or recipients.list_error):
        summary.skipped = "no recipients configured (PIPELINE_LEADERSHIP_RECIPIENTS)"
        return summary
    pack = _deliverable(read_manifest(warehouse, period, LEADERSHIP))
    if pack.is_empty():
        summary.skipped = f"no leadership pack rendered for {period}"
        return summary
    summary.reports = 1
    summary.awaiting_confirmation = _awaiting_confirmation(warehouse, period)
    if summary.awaiting_confirmation:
        return summary
    report = pack.row(0, named=True)
    plans = plan_for_report(
        LEADERSHIP,
        report["account_id"],
        period,
        content_of(report),
        recipients,
        _statuses(warehouse, period, LEADERSHIP),
        aliases=_aliases(report),
    )
    try:
        _deliver(warehouse, mailer, settings, summary, LEADERSHIP, report, plans, _pack_mail(report, settings), now)
    finally:
        mailer.close()
        sync_deliveries(warehouse, period, LEADERSHIP)
    return summary


def _managers(warehouse: Warehouse) -> dict[str, dict]:
    frame = warehouse.query("managers/account_managers")
    return {r["manager_id"]: r for r in frame.iter_rows(named=True)}


def _manager_label(manager_id: str, manager: dict) -> str:
    name = " ".join(str(manager.get("name") or "").split())[:80]
    return f"{manager_id} ({name})" if name and name != manager_id else manager_id


def _manager_recipients(manager: dict):
    return parse_recipients(manager.get("email"), "email", "the CRM's account_managers export")


def deliver_manager_books(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    mailer: Mailer,
    blocked_reason: str | None = None,
    now: datetime | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> ManagerDeliverySummary:
    """E-mail each manager's book of the period (kind ``manager_book``): one e-mail per
    manager and close, whatever the book's later versions (the key names the period, not
    the file), with what changed and the new alerts in its body and the book attached or
    linked (``manager_book_delivery``). The body comes from the book's own context, and is
    sent only when that context is the one the book was rendered from (its input hash).
    A manager without an e-mail address is listed in ``without_email``."""
    period = period_text(month)
    summary = ManagerDeliverySummary(period=period, channel=mailer.channel)
    if blocked_reason:
        summary.blocked = blocked_reason
        return summary
    books = _deliverable(read_manifest(warehouse, period, MANAGER_BOOK))
    summary.reports = books.height
    summary.awaiting_confirmation = _awaiting_confirmation(warehouse, period)
    if summary.awaiting_confirmation:
        return summary
    if books.is_empty():
        summary.skipped = f"no book of business rendered for {period}"
        return summary
    managers = _managers(warehouse)
    fingerprint = book_fingerprint(templates_dir, settings)
    contexts = dict(book_contexts(load_book_inputs(warehouse, month), settings))
    status_by_key = _statuses(warehouse, period, MANAGER_BOOK)
    try:
        with ledger_for(warehouse).session():
            for book in books.iter_rows(named=True):
                manager_id = book["account_id"]
                manager = managers.get(manager_id, {})
                recipients = _manager_recipients(manager)
                if not (recipients.valid or recipients.invalid or recipients.list_error):
                    summary.without_email.append(_manager_label(manager_id, manager))
                    continue
                ctx = contexts.get(manager_id)
                if not isinstance(ctx, dict) or input_hash(ctx, fingerprint) != book["input_hash"]:
                    summary.failed += 1
                    summary.errors.append(
                        f"{manager_id}: the book of {period} was rendered from other data than the warehouse holds "
                        "now; materialize manager_books for the month again, then deliver"
                    )
                    continue
                plans = plan_for_report(
                    MANAGER_BOOK,
                    manager_id,
                    period,
                    f"{MANAGER_BOOK}:{period}",
                    recipients,
                    status_by_key,
                )
                report = {**book, "manager_id": manager_id}
                _deliver(
                    warehouse,
                    mailer,
                    settings,
                    summary,
                    MANAGER_BOOK,
                    report,
                    plans,
                    _book_mail(ctx, report, settings),
                    now,
                )
    finally:
        mailer.close()
        sync_deliveries(warehouse, period, MANAGER_BOOK)
    return summary


def deliver_alert_emails(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    mailer: Mailer,
    blocked_reason: str | None = None,
    now: datetime | None = None,
) -> ManagerDeliverySummary:
    """E-mail each alert raised in ``month`` on its own to the account's manager (kind
    ``manager_alert``, with ``PIPELINE_ALERTS_IMMEDIATE``): keyed by the alert, so each
    alert goes once to each address however often the month runs again."""
    period = period_text(month)
    summary = ManagerDeliverySummary(period=period, channel=mailer.channel)
    if blocked_reason:
        summary.blocked = blocked_reason
        return summary
    with warehouse.connect() as con:
        has_alerts = warehouse.has_table(con, "marts", "account_alerts")
    alerts = warehouse.query("managers/account_alerts", {"month": month}) if has_alerts else None
    if alerts is None or alerts.is_empty():
        summary.skipped = f"no alerts raised in {period}"
        return summary
    summary.reports = alerts.height
    summary.awaiting_confirmation = _awaiting_confirmation(warehouse, period)
    if summary.awaiting_confirmation:
        return summary
    accounts, managers = _accounts(warehouse), _managers(warehouse)
    status_by_key = _statuses(warehouse, period, MANAGER_ALERT)
    missing: set[str] = set()
    try:
        with ledger_for(warehouse).session():
            for alert in alerts.iter_rows(named=True):
                manager_id = (accounts.get(alert["account_id"]) or {}).get("account_manager_id") or ""
                manager = managers.get(manager_id, {})
                recipients = _manager_recipients(manager)
                if not (recipients.valid or recipients.invalid or recipients.list_error):
                    missing.add(_manager_label(manager_id or "(no manager)", manager))
                    continue
                token = sha256_bytes(alert["alert_id"].encode("utf-8"))
                report = {
                    "period": period,
                    "period_key": period,
                    "account_id": alert["account_id"],
                    "cadence": None,
                    "pdf_path": None,
                    "pdf_sha256": token,
                    "manager_id": manager_id,
                }
                plans = plan_for_report(MANAGER_ALERT, alert["account_id"], period, token, recipients, status_by_key)
                _deliver(
                    warehouse,
                    mailer,
                    settings,
                    summary,
                    MANAGER_ALERT,
                    report,
                    plans,
                    _alert_mail(alert, manager, settings),
                    now,
                )
    finally:
        mailer.close()
        sync_deliveries(warehouse, period, MANAGER_ALERT)
    summary.without_email = sorted(missing)
    return summary


def resend_report(
    warehouse: Warehouse,
    settings: Settings,
    account_id: str,
    month: date,
    mailer: Mailer,
    requested_by: str,
    now: datetime | None = None,
    request_id: str | None = None,
) -> DeliverySummary:
    """Deliver one client's report of ``month`` again to the account's current recipients,
    recorded as kind ``client_resend`` with who asked. ``request_id`` (default: the request
    time) makes the request idempotent: the same id never sends twice to a recipient.
    Raises ``ResendError`` with what to do when there is nothing to resend."""
    who = " ".join(str(requested_by or "").split())[:200]
    if not who:
        raise ResendError("Name the person asking for the resend (--by NAME, or requested_by in the job's config).")
    period = period_text(month)
    stamp = now or utcnow()
    with warehouse.connect() as con:
        has_accounts = warehouse.has_table(con, "staging", "accounts")
    if not has_accounts:
        raise ResendError(f"The warehouse holds no accounts yet; run the month first (pipeline run --month {period}).")
    accounts = _accounts(warehouse)
    account = accounts.get(account_id)
    if account is None:
        close = sorted(a for a in accounts if a.lower() == str(account_id).strip().lower())
        hint = f" Did you mean {close[0]}?" if close else " Account ids are as in the CRM's accounts export."
        raise ResendError(f"There is no account {account_id!r} in staging.accounts.{hint}")
    manifest = read_manifest(warehouse, period, KIND)
    report = _report_to_resend(manifest, account, period)
    held = _held_reason(warehouse, settings, period, manifest)
    if held:
        raise ResendError(f"Cannot resend: {held} (pipeline approve --month {period} --by NAME).")
    recipients = parse_recipients(account.get("report_recipients"))
    if recipients.list_error or not recipients.valid:
        why = recipients.list_error or (
            "its report_recipients holds no usable address ("
            + "; ".join(f"{a!r} {r}" for a, r in recipients.invalid)
            + ")"
            if recipients.invalid
            else "its report_recipients is empty"
        )
        raise ResendError(
            f"{account_id} has no recipients to resend to: {why}. Fix report_recipients in the CRM's "
            "accounts export, load it (pipeline run), then resend."
        )
    summary = DeliverySummary(period=period, channel=mailer.channel, reports=1)
    plans = plan_for_report(
        RESEND,
        account_id,
        period,
        content_of(report),
        recipients,
        _statuses(warehouse, period, RESEND),
        request=request_id or stamp.isoformat(),
    )
    try:
        _deliver(
            warehouse,
            mailer,
            settings,
            summary,
            RESEND,
            report,
            plans,
            _client_mail(account, report, settings),
            stamp,
            requested_by=who,
        )
    finally:
        mailer.close()
        sync_deliveries(warehouse, period, RESEND)
    return summary


def _report_to_resend(manifest: pl.DataFrame, account: dict, period: str) -> dict:
    """The account's deliverable manifest row for the period, or a ResendError saying why not."""
    account_id = account["account_id"]
    rows = manifest.filter(pl.col("account_id") == account_id) if manifest.height else manifest
    if rows.height:
        row = rows.row(0, named=True)
        if row["status"] in OK_STATUSES:
            return row
        raise ResendError(
            f"The {period} report of {account_id} failed to render ({row['error']}); fix the cause, run the "
            f"month again (pipeline run --month {period}), then resend."
        )
    cadence = (account.get("report_cadence") or "monthly").lower()
    if report_period(cadence, date.fromisoformat(period + "-01")) is None:
        if cadence == "none":
            raise ResendError(
                f"{account_id} has report_cadence 'none': it gets no reports, so there is nothing to resend."
            )
        raise ResendError(
            f"{account_id} is on the {cadence} cadence and {period} does not close a quarter, so it has no "
            "report for that month; its reports are in the quarter-end months (March, June, September, December)."
        )
    if manifest.is_empty():
        raise ResendError(
            f"No client reports have been rendered for {period}; run the month first (pipeline run --month {period})."
        )
    raise ResendError(
        f"{account_id} has no report for {period}: it was not due one (no recurring revenue, invoices, payments, "
        "overdue amounts or open tickets in the period), or it arrived after the month was run "
        f"(pipeline run --month {period} renders it)."
    )


# --------------------------------------------------------------------------- one document


def _deliver(
    warehouse: Warehouse,
    mailer: Mailer,
    settings: Settings,
    summary: DeliverySummary,
    kind: str,
    report: dict,
    plans: list[Planned],
    compose: Compose,
    now: datetime | None,
    requested_by: str | None = None,
) -> None:
    """Carry out the plans of one document (a manifest row) for its recipients."""
    root = Path(settings.reports_dir)
    folder = f"{report['period']}/{safe_name(report['account_id']) if report['account_id'] else kind}"
    if kind in (MANAGER_BOOK, MANAGER_ALERT):
        folder = f"{report['period']}/managers/{safe_name(report['manager_id'], fallback='manager')}"
    pdf: bytes | Exception | None = None
    for plan in plans:
        record = _record(plan, report, kind, mailer.channel, now or utcnow(), requested_by)
        who = plan.account_id or kind
        if plan.action == "skip":
            summary.already_sent += 1
            summary.recipients.add(plan.recipient)
            continue
        resume = False
        if plan.action == "uncertain":
            # A run stopped between claim and finish. The outbox can tell whether the
            # message left (its file exists); SMTP cannot, so it is never sent twice.
            found = getattr(mailer, "find_sent", None)
            try:
                message_id = found(plan.recipient, plan.key, folder) if found else None
            except (OSError, ValueError):  # cannot tell: treat as SMTP does
                found = message_id = None
            if message_id is not None:
                finish_delivery(warehouse, plan.key, "sent", message_id or None, None, now or utcnow())
                summary.already_sent += 1
                summary.recipients.add(plan.recipient)
                continue
            if found is None:
                summary.uncertain += 1
                summary.errors.append(f"{who} → {plan.recipient}: {plan.reason}")
                continue
            resume = True
        if plan.action == "reject":
            reject_delivery(warehouse, {**record, "error": plan.reason})
            summary.rejected += 1
            summary.errors.append(f"{who}: {plan.reason}")
            continue
        if pdf is None:  # a document without a file (an alert) sends its text only
            pdf = _read_report(root, report) if report.get("pdf_path") else b""
        summary.recipients.add(plan.recipient)
        message = pdf if isinstance(pdf, Exception) else compose(plan.recipient, pdf, now or utcnow())
        _send(warehouse, mailer, plan, record, message, folder, summary, now, resume)


def _record(plan: Planned, report: dict, kind: str, channel: str, now: datetime, requested_by: str | None) -> dict:
    return {
        "key": plan.key,
        "account_id": plan.account_id,
        "period": report["period"],
        "recipient": plan.recipient,
        "sha256": report["pdf_sha256"],
        "content_hash": report.get("input_hash") or report.get("pdf_sha256"),
        "kind": kind,
        "channel": channel,
        "now": now,
        "period_key": report["period_key"],
        "report_path": report["pdf_path"],
        "requested_by": requested_by,
    }


def _read_report(root: Path, report: dict) -> bytes | Exception:
    """The PDF the manifest names, checked against its recorded sha256."""
    try:
        path = ensure_inside(root, root / report["pdf_path"])
        data = path.read_bytes()
    except (OSError, ValueError, TypeError) as exc:
        return exc
    if sha256_bytes(data) != report["pdf_sha256"]:
        return ValueError(f"{report['pdf_path']} changed since it was rendered (sha256 differs); re-render the period")
    return data


def _client_mail(account: dict, report: dict, settings: Settings) -> Compose:
    brand = settings.branding
    name = account.get("account_name") or report["account_id"]
    period = report_period(report["cadence"], _last_month(report)) if report["cadence"] else None
    label = period.label if period else report["period_key"]

    def compose(recipient: str, pdf: bytes, now: datetime) -> EmailMessage:
        return build_message(
            ReportMail(
                sender_name=brand.company_name,
                sender_email=brand.sender_email,
                recipient=recipient,
                account_name=name,
                period_label=label,
                pdf=pdf,
                attachment_name=attachment_name(name, report["period_key"]),
                manager_name=account.get("manager_name"),
                manager_email=account.get("manager_email"),
                footer=brand.footer_text,
            ),
            now=now,
        )

    return compose


def _pack_mail(report: dict, settings: Settings) -> Compose:
    brand = settings.branding
    label = month_period(_last_month(report)).label

    def compose(recipient: str, pdf: bytes, now: datetime) -> EmailMessage:
        return build_pack_message(
            PackMail(
                sender_name=brand.company_name,
                sender_email=brand.sender_email,
                recipient=recipient,
                period_label=label,
                pdf=pdf,
                attachment_name=pack_attachment_name(report["period"]),
            ),
            now=now,
        )

    return compose


def _book_mail(ctx: dict, report: dict, settings: Settings) -> Compose:
    brand = settings.branding
    alerts = ctx["alerts"]
    shown = tuple((a["severity"], a["rule_label"], a["message"]) for a in alerts[:BOOK_MAIL_ALERTS])
    link = None
    if settings.manager_book_delivery == "link":
        link = f"{(settings.reports_url or '').rstrip('/')}/{quote(report['pdf_path'])}"

    def compose(recipient: str, pdf: bytes, now: datetime) -> EmailMessage:
        return build_book_message(
            BookMail(
                sender_name=brand.company_name,
                sender_email=brand.sender_email,
                recipient=recipient,
                manager_name=ctx["manager"]["name"],
                period_label=ctx["period"]["label"],
                summary=tuple(ctx["summary"]),
                alerts=shown,
                more_alerts=len(alerts) - len(shown),
                attachment_name=book_attachment_name(ctx["manager"]["name"], report["period"]),
                pdf=None if link else pdf,
                link=link,
            ),
            now=now,
        )

    return compose


def _alert_mail(alert: dict, manager: dict, settings: Settings) -> Compose:
    brand = settings.branding

    def compose(recipient: str, _pdf: bytes, now: datetime) -> EmailMessage:
        return build_alert_message(
            AlertMail(
                sender_name=brand.company_name,
                sender_email=brand.sender_email,
                recipient=recipient,
                manager_name=manager.get("name") or manager.get("manager_id") or "",
                account_name=alert.get("account_name") or alert["account_id"],
                period_label=month_name(alert["month"]),
                severity=alert["severity"],
                rule_label=RULE_LABELS.get(alert["rule"], alert["rule"]),
                message=alert["message"],
                details=(alert.get("details") or "") if alert["rule"] in ("detractor", "goal_behind") else "",
            ),
            now=now,
        )

    return compose


def _send(
    warehouse: Warehouse,
    mailer: Mailer,
    plan: Planned,
    record: dict,
    message: EmailMessage | Exception,
    folder: str,
    summary: DeliverySummary,
    now: datetime | None,
    resume: bool = False,
) -> None:
    """Claim, send and finish one delivery (``message`` is why it cannot be built, if so)."""
    who = f"{plan.account_id or record['kind']} → {plan.recipient}"
    if not claim_delivery(warehouse, record, resume):
        summary.already_sent += 1  # another run claimed or sent it since this plan was read
        return
    if isinstance(message, Exception):
        error = f"cannot attach the report: {message}"
        finish_delivery(warehouse, plan.key, "failed", None, error, now or utcnow())
        summary.failed += 1
        summary.errors.append(f"{who}: {error}")
        return
    outcome = mailer.send(message, plan.recipient, plan.key, folder)
    if outcome.ok:
        finish_delivery(warehouse, plan.key, "sent", message["Message-ID"], None, now or utcnow())
        summary.sent += 1
    else:
        finish_delivery(warehouse, plan.key, "failed", message["Message-ID"], outcome.error, now or utcnow())
        summary.failed += 1
        summary.errors.append(f"{who}: {outcome.error}")


def _last_month(report: dict) -> date:
    return date.fromisoformat(report["period"] + "-01")


# --------------------------------------------------------------------------- the ledger's questions


class ConfirmError(ValueError):
    """A period cannot be confirmed or a delivery settled; the message says why."""


class _RecordOnly:
    """A mailer that sends nothing: ``confirm_period(already_sent=True)`` runs the period's
    deliveries through it, so each is recorded in the ledger as sent (channel
    ``confirmed``) with the same keys, recipients and rules as a real delivery."""

    channel = "confirmed"

    def __init__(self, by: str) -> None:
        self.description = f"recorded as delivered by {by} (nothing sent)"

    def send(self, message: EmailMessage, recipient: str, key: str, folder: str):
        from pipeline.resources.mailer import SendOutcome

        return SendOutcome(True)

    def find_sent(self, recipient: str, key: str, folder: str) -> str:
        return ""  # a delivery left uncertain went out too, the operator says

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class Confirmation:
    period: str
    resolution: str  # already_sent or not_sent
    by: str
    recorded: int  # deliveries recorded as sent (already_sent)


def confirm_period(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    by: str,
    already_sent: bool,
    now: datetime | None = None,
) -> Confirmation:
    """Answer the ledger's hold on a period (it was created after the period may have been
    delivered): ``already_sent`` records every delivery of the period's current reports
    (client reports, the pack, the managers' books) as sent without sending anything;
    otherwise the hold is lifted and the next run delivers as usual."""
    who = " ".join(str(by or "").split())[:200]
    if not who:
        raise ConfirmError("Name the person confirming (--by NAME).")
    period = period_text(month)
    ledger = ledger_for(warehouse)
    hold = ledger.hold(period)
    if hold is None or hold["resolution"] is not None:
        done = f" ({hold['resolution'].replace('_', ' ')}, by {hold['resolved_by']})" if hold else ""
        raise ConfirmError(
            f"The ledger does not hold {period}{done}: there is nothing to confirm (see `pipeline ledger status`)."
        )
    stamp = now or utcnow()
    recorded = 0
    if already_sent:
        if (
            _deliverable(read_manifest(warehouse, period, KIND)).is_empty()
            and _deliverable(read_manifest(warehouse, period, LEADERSHIP)).is_empty()
        ):
            raise ConfirmError(
                f"The warehouse holds no rendered report of {period} to record as delivered; run the month first "
                f"(pipeline run --month {period}: its deliveries wait for this confirmation), then confirm again."
            )
        mailer = _RecordOnly(who)
        token = _CONFIRMING.set(period)
        try:
            summaries = [
                deliver_reports(warehouse, settings, month, mailer, now=stamp),
                deliver_leadership_pack(warehouse, settings, month, mailer, now=stamp),
            ]
            if not _deliverable(read_manifest(warehouse, period, MANAGER_BOOK)).is_empty():
                summaries.append(deliver_manager_books(warehouse, settings, month, mailer, now=stamp))
            if settings.alerts_immediate:
                summaries.append(deliver_alert_emails(warehouse, settings, month, mailer, now=stamp))
        finally:
            _CONFIRMING.reset(token)
        recorded = sum(x.sent for x in summaries)
        sync_deliveries(warehouse, period)
    ledger.resolve_hold(period, "already_sent" if already_sent else "not_sent", who, stamp)
    return Confirmation(period, "already_sent" if already_sent else "not_sent", who, recorded)


def settle_delivery(warehouse: Warehouse, key: str, sent: bool, by: str, now: datetime | None = None) -> dict:
    """Settle a delivery a stopped run left ``sending`` (uncertain): ``sent`` (it left; the
    mail server's log says so) or not (``failed``: the next run sends it). ``key`` may be
    the first characters of its delivery key, as the run's metadata shows them."""
    who = " ".join(str(by or "").split())[:200]
    if not who:
        raise ConfirmError("Name the person settling the delivery (--by NAME).")
    key = "".join(str(key).split()).lower()
    if len(key) < 8:
        raise ConfirmError("Give at least the first 8 characters of the delivery key.")
    status = "sent" if sent else "failed"
    try:
        row = ledger_for(warehouse).settle(key, status, f"settled as {status} by {who}", now or utcnow())
    except ValueError as exc:
        raise ConfirmError(str(exc)) from None
    if row is None:
        raise ConfirmError(f"No delivery whose key starts with {key} is waiting to be settled (status 'sending').")
    sync_deliveries(warehouse, row["period"], row["kind"])
    return row
