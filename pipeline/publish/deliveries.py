"""Deliver a period's reports: the client reports and the leadership pack (what the
report_deliveries asset runs), and an operator's resend of one client's report.

Order of the gates: a blocked period (its marts or reports failed an asset check) sends
nothing; with ``require_approval`` a period whose current client reports are not
approved sends no client report; otherwise every deliverable report of the manifest
goes to each of its recipients that has not had this very report yet. Each delivery is
claimed in ``ops.deliveries`` before the message leaves and finished after, so a re-run
never sends twice, a failed send is retried on the next run and a bad address is
recorded with its reason. A claim is taken only for a new or failed delivery, so two
runs delivering at once never both send. A delivery left ``sending`` by a run that
died is settled from the outbox (its file is there: sent; not there: send it); over
SMTP it stays ``sending`` (counted as uncertain) for the operator, never sent twice.

- Client reports (kind ``client``) go to their account's ``report_recipients``.
- The leadership pack (kind ``leadership``, account ``''``) goes to
  ``settings.leadership_recipients``; it is internal, so approval does not hold it.
- A resend (kind ``client_resend``) delivers one client's current report again to the
  account's current recipients, even if it was sent. Its delivery keys add the request
  id (default: the request time), so a resend never collides with the original and one
  request is sent at most once per recipient; asking again is a new request and sends
  again. A failed resend is not retried by the monthly run: request it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path

import polars as pl

from pipeline.reporting.client.context import report_plan
from pipeline.reporting.mail import (
    PackMail, Planned, ReportMail, build_message, build_pack_message, missing_reports, pack_attachment_name,
    parse_recipients, plan_for_report,
)
from pipeline.reporting.naming import attachment_name, ensure_inside, safe_name
from pipeline.reporting.periods import add_months, month_period, report_period
from pipeline.files import sha256_bytes
from pipeline.store.records import (
    OK_STATUSES, approval_for, claim_delivery, delivery_log, finish_delivery, manifest_fingerprint,
    period_text, read_manifest, reject_delivery, utcnow,
)
from pipeline.resources.mailer import Mailer
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings

KIND = "client"
LEADERSHIP = "leadership"
RESEND = "client_resend"

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
        if self.held:
            return "held for approval"
        if self.failed:
            return "failures"
        return self.skipped or "ok"


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


def _statuses(warehouse: Warehouse, period: str, kind: str) -> dict[str, str]:
    log = delivery_log(warehouse, period, kind)
    return dict(zip(log["delivery_key"].to_list(), log["status"].to_list())) if log.height else {}


def _held_reason(warehouse: Warehouse, settings: Settings, period: str, manifest: pl.DataFrame) -> str | None:
    """Why the period's client reports wait for an operator (``require_approval``), or None."""
    if not settings.require_approval:
        return None
    approval = approval_for(warehouse, period, KIND)
    if approval is None:
        return f"the {period} reports are waiting for an operator's approval"
    if approval["manifest_sha256"] != manifest_fingerprint(manifest):
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
    summary.held = _held_reason(warehouse, settings, period, manifest)
    if summary.held or deliverable.is_empty():
        return summary

    accounts = _accounts(warehouse)
    status_by_key = _statuses(warehouse, period, KIND)
    try:
        with warehouse.session():  # one connection for the claims and finishes of every e-mail
            for report in deliverable.iter_rows(named=True):
                account = accounts.get(report["account_id"], {})
                plans = plan_for_report(
                    KIND, report["account_id"], period, report["pdf_sha256"],
                    parse_recipients(account.get("report_recipients")), status_by_key,
                )
                _deliver(warehouse, mailer, settings, summary, KIND, report, plans,
                         _client_mail(account, report, settings), now)
    finally:
        mailer.close()
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
    report = pack.row(0, named=True)
    plans = plan_for_report(
        LEADERSHIP, report["account_id"], period, report["pdf_sha256"], recipients,
        _statuses(warehouse, period, LEADERSHIP),
    )
    try:
        _deliver(warehouse, mailer, settings, summary, LEADERSHIP, report, plans, _pack_mail(report, settings), now)
    finally:
        mailer.close()
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
            + "; ".join(f"{a!r} {r}" for a, r in recipients.invalid) + ")"
            if recipients.invalid else "its report_recipients is empty"
        )
        raise ResendError(
            f"{account_id} has no recipients to resend to: {why}. Fix report_recipients in the CRM's "
            "accounts export, load it (pipeline run), then resend."
        )
    summary = DeliverySummary(period=period, channel=mailer.channel, reports=1)
    plans = plan_for_report(
        RESEND, account_id, period, report["pdf_sha256"], recipients, _statuses(warehouse, period, RESEND),
        request=request_id or stamp.isoformat(),
    )
    try:
        _deliver(warehouse, mailer, settings, summary, RESEND, report, plans,
                 _client_mail(account, report, settings), stamp, requested_by=who)
    finally:
        mailer.close()
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
            raise ResendError(f"{account_id} has report_cadence 'none': it gets no reports, so there is nothing to resend.")
        raise ResendError(
            f"{account_id} is on the {cadence} cadence and {period} does not close a quarter, so it has no "
            "report for that month; its reports are in the quarter-end months (March, June, September, December)."
        )
    if manifest.is_empty():
        raise ResendError(f"No client reports have been rendered for {period}; run the month first (pipeline run --month {period}).")
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
        if pdf is None:
            pdf = _read_report(root, report)
        summary.recipients.add(plan.recipient)
        message = pdf if isinstance(pdf, Exception) else compose(plan.recipient, pdf, now or utcnow())
        _send(warehouse, mailer, plan, record, message, folder, summary, now, resume)


def _record(plan: Planned, report: dict, kind: str, channel: str, now: datetime, requested_by: str | None) -> dict:
    return {
        "key": plan.key, "account_id": plan.account_id, "period": report["period"], "recipient": plan.recipient,
        "sha256": report["pdf_sha256"], "kind": kind, "channel": channel, "now": now,
        "period_key": report["period_key"], "report_path": report["pdf_path"], "requested_by": requested_by,
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
