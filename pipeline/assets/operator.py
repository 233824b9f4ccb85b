"""What the delivery assets do besides delivering, for recovery and for operators:

- ``guard_ledger_hold``: before a month is delivered, ask the Dagster instance whether it
  was delivered before the ledger existed (a materialization of the delivery asset for the
  month, from before the ledger's creation, that sent or found deliveries). If so and the
  ledger knows nothing of the month, the ledger holds it until an operator confirms
  (``pipeline.store.ledger``): a lost ledger never re-sends silently.
- ``alert_operators``: when a month's deliveries are blocked by a failed check or held by
  the ledger, e-mail ``PIPELINE_OPERATOR_RECIPIENTS`` once for the run.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from dagster import AssetExecutionContext, AssetKey, AssetRecordsFilter

from pipeline.publish.deliveries import DeliverySummary
from pipeline.publish.operator_alerts import send_operator_alert
from pipeline.reporting.operator_alerts import BLOCKED, HELD, OperatorAlert
from pipeline.resources.mailer import MailerResource
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.ledger import hold_if_delivered_before, ledger_for

COUNTED = ("sent", "already_sent", "leadership_sent", "leadership_already_sent")


def _number(value) -> int:
    raw = getattr(value, "value", value)
    return int(raw) if isinstance(raw, (int, float)) else 0


def guard_ledger_hold(context: AssetExecutionContext, warehouse: Warehouse, partition_key: str, key: AssetKey) -> None:
    ledger = ledger_for(warehouse)
    created = ledger.created_at
    period = partition_key[:7]
    if created is None or ledger.hold(period) is not None or ledger.deliveries(period):
        return
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[partition_key], before_timestamp=created.timestamp()),
        limit=20,
    ).records
    for record in records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        count = sum(_number(metadata.get(name)) for name in COUNTED)
        if count:
            when = datetime.fromtimestamp(record.timestamp, UTC)
            evidence = (
                f"run {record.run_id[:8]} recorded {count} deliveries of {period} on {when:%Y-%m-%d %H:%M} UTC "
                "(Dagster instance)"
            )
            if hold_if_delivered_before(warehouse, period, evidence):
                context.log.warning(
                    f"the ledger holds {period}: {evidence}; it was created {created:%Y-%m-%d %H:%M} UTC"
                )
            return


def _trigger(context: AssetExecutionContext) -> str:
    tags = context.run.tags
    for tag, label in (("dagster/schedule_name", "the schedule"), ("dagster/sensor_name", "the sensor")):
        if tags.get(tag):
            return f"{label} {tags[tag]}"
    return "the command line" if tags.get("pipeline/trigger") == "cli" else "an operator"


def alert_operators(
    context: AssetExecutionContext,
    warehouse: Warehouse,
    settings: Settings,
    mailer: MailerResource,
    summaries: Sequence[DeliverySummary],
) -> None:
    """One e-mail to the operators for this run when a month's deliveries were blocked by
    a failed check or held by the ledger (nothing when PIPELINE_OPERATOR_RECIPIENTS is empty)."""
    if not settings.operator_recipients:
        return
    stopped = [x for x in summaries if x.blocked] or [x for x in summaries if x.awaiting_confirmation]
    if not stopped:
        return
    first = stopped[0]
    alert = OperatorAlert(
        run_id=context.run.run_id,
        job=context.run.job_name,
        problem=BLOCKED if first.blocked else HELD,
        month=first.period,
        trigger=_trigger(context),
        reason=first.blocked or first.awaiting_confirmation,
        extra=tuple(
            f"Also {x.period}: {x.blocked or x.awaiting_confirmation}" for x in stopped[1:4] if x.period != first.period
        ),
    )
    outcome = send_operator_alert(warehouse, settings, mailer.get(settings), alert)
    for error in outcome.errors:
        context.log.warning(f"operator alert: {error}")
    if outcome.sent:
        context.log.info(f"told the operators ({', '.join(outcome.sent)}) that {first.period}'s deliveries wait")
