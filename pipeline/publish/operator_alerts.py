"""Send an operator alert (``pipeline.reporting.operator_alerts``) to
``PIPELINE_OPERATOR_RECIPIENTS`` through the same mailer as the reports: once per run and
address (claimed in the ledger before it leaves, like a delivery). Nothing is sent when
the setting is empty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.reporting.mail import parse_recipients
from pipeline.reporting.operator_alerts import OperatorAlert, build_operator_message, subject
from pipeline.resources.ledger import LedgerError
from pipeline.resources.mailer import Mailer
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.ledger import ledger_for


@dataclass
class AlertOutcome:
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None


def send_operator_alert(
    warehouse: Warehouse, settings: Settings, mailer: Mailer, alert: OperatorAlert, now: datetime | None = None
) -> AlertOutcome:
    out = AlertOutcome()
    recipients = parse_recipients(settings.operator_recipients, "PIPELINE_OPERATOR_RECIPIENTS", "the settings")
    if recipients.list_error or recipients.invalid:
        out.errors += (
            [recipients.list_error] if recipients.list_error else [f"{a!r} {r}" for a, r in recipients.invalid]
        )
    if not recipients.valid:
        out.skipped = "no operator recipients (PIPELINE_OPERATOR_RECIPIENTS)"
        return out
    stamp = now or datetime.now(UTC)
    title = subject(alert)
    try:
        ledger = ledger_for(warehouse)
    except LedgerError as exc:  # the alert may be about the ledger itself: send it anyway
        ledger = None
        out.errors.append(str(exc))
    folder = f"operator/{alert.month or 'runs'}"
    brand = settings.branding
    try:
        for recipient in recipients.valid:
            if ledger is not None and not ledger.claim_alert(alert.run_id, recipient, title, stamp):
                out.already.append(recipient)
                continue
            message = build_operator_message(alert, brand.company_name, brand.sender_email, recipient, stamp)
            key = hashlib.sha256(f"{alert.run_id}\0{recipient}".encode()).hexdigest()
            outcome = mailer.send(message, recipient, key, folder)
            if ledger is not None:
                ledger.finish_alert(alert.run_id, recipient, "sent" if outcome.ok else "failed", outcome.error, stamp)
            if outcome.ok:
                out.sent.append(recipient)
            else:
                out.errors.append(f"{recipient}: {outcome.error}")
    finally:
        mailer.close()
    return out
