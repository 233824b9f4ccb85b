"""The e-mail operators get when a scheduled or sensor-started run fails, or a month's
deliveries are held back (no I/O: the sensor and the delivery asset gather the facts,
``pipeline.publish.operator_alerts`` sends).

One message per run and address: which run, which month, which step failed and what it
said, and what to do, in plain words (the advice is chosen from what failed: a damaged
warehouse, a busy one, the ledger, a landing file, a blocking check, a hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from pipeline.reporting.mail import one_line

FAILED = "failed"
BLOCKED = "deliveries blocked"
HELD = "deliveries held"


@dataclass(frozen=True)
class OperatorAlert:
    run_id: str
    job: str
    problem: str  # FAILED, BLOCKED or HELD
    month: str | None = None  # YYYY-MM
    trigger: str = ""  # "the schedule monthly_close_schedule", "the sensor landing_folder_sensor"
    failed_steps: tuple[tuple[str, str], ...] = ()  # (step, what it said)
    reason: str | None = None  # the run's error when no step failed, or why deliveries wait
    extra: tuple[str, ...] = field(default_factory=tuple)


def _month_arg(alert: OperatorAlert) -> str:
    return f" --month {alert.month}" if alert.month else ""


def advice(alert: OperatorAlert) -> list[str]:
    """What the operator should do, from what went wrong."""
    text = " ".join([alert.reason or "", *(m for _, m in alert.failed_steps)]).lower()
    run_again = f"`pipeline run{_month_arg(alert)}`"
    if alert.problem == HELD:
        return [
            "The ledger of deliveries is newer than this month's deliveries may be, so nothing of the month is sent "
            "until you say whether it went out:",
            f"`pipeline ledger confirm{_month_arg(alert)} --by NAME --already-sent` (record it as delivered, send nothing), or",
            f"`pipeline ledger confirm{_month_arg(alert)} --by NAME --not-sent` (the next run sends it).",
        ]
    if alert.problem == BLOCKED:
        return [
            "A blocking check failed, so nothing of the month was sent (the reports are kept).",
            "Open the run in the Dagster UI (Assets -> the asset named above -> Checks), fix the cause (usually an "
            f"export in the landing folder), then run the month again: {run_again}. Deliveries then go out once.",
        ]
    if "is damaged" in text or "corrupt database" in text:
        return [
            "The warehouse file is damaged; no step ran against it.",
            "Restore the last snapshot with `pipeline restore`, or rebuild the warehouse from the landing folder with "
            "`pipeline rebuild`. Either keeps the damaged file aside and sends nothing again.",
            f"Then run the month: {run_again}.",
        ]
    if "another pipeline run" in text or "cannot open the warehouse" in text or "holds it" in text:
        return [f"Another run or a DuckDB session held the warehouse. Let it finish, then run again: {run_again}."]
    if "ledger" in text:
        return [
            "The ledger of deliveries could not be reached, so nothing was sent. Make it reachable "
            f"(PIPELINE_LEDGER_URL, the database server), then run again: {run_again}."
        ]
    if any(step.startswith(("raw", "staging")) for step, _ in alert.failed_steps):
        return [
            "A landing file could not be loaded (the message names it). Fix the export, drop the corrected file in "
            f"the landing folder, and run again: {run_again}. Nothing was sent."
        ]
    return [
        f"Open run {alert.run_id} in the Dagster UI, fix what the failed step says, and run the month again: "
        f"{run_again}. Deliveries of the month go out once, whenever the run completes."
    ]


def subject(alert: OperatorAlert) -> str:
    month = f" for {alert.month}" if alert.month else ""
    if alert.problem == FAILED:
        first = f": {alert.failed_steps[0][0]}" if alert.failed_steps else ""
        return f"Pipeline run failed{month} ({alert.job}{first})"
    if alert.problem == BLOCKED:
        return f"Deliveries{month} held back by a failed check"
    return f"Deliveries{month} wait for your confirmation"


def body_lines(alert: OperatorAlert) -> list[str]:
    lines = [
        "Hello,",
        "",
        f"The run {alert.run_id} of {alert.job}"
        + (f" for {alert.month}" if alert.month else "")
        + (f", started by {alert.trigger}," if alert.trigger else "")
        + {FAILED: " failed.", BLOCKED: " held its deliveries back.", HELD: " held its deliveries back."}[
            alert.problem
        ],
        "",
    ]
    if alert.failed_steps:
        lines.append("Failed step(s):")
        for step, message in alert.failed_steps[:10]:
            lines.append(f"- {one_line(step, 120)}: {one_line(message, 600)}")
        if len(alert.failed_steps) > 10:
            lines.append(f"- and {len(alert.failed_steps) - 10} more (see the run in the Dagster UI)")
        lines.append("")
    if alert.reason:
        label = "What happened" if alert.problem == FAILED else "Why"
        lines += [f"{label}: {one_line(alert.reason, 1200)}", ""]
    lines += ["What to do:", *(f"  {line}" for line in advice(alert)), ""]
    lines += [one_line(x, 600) for x in alert.extra]
    lines += ["This message was sent to PIPELINE_OPERATOR_RECIPIENTS, once for this run."]
    return lines


def build_operator_message(
    alert: OperatorAlert, sender_name: str, sender_email: str, recipient: str, now: datetime
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((one_line(sender_name, 80), sender_email))
    msg["To"] = recipient
    msg["Subject"] = one_line(subject(alert), 150)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=sender_email.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("\n".join(body_lines(alert)) + "\n")
    return msg
