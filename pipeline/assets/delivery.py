"""The report_deliveries asset (e-mail each new client report to its recipients and the
leadership pack to leadership), the check that every due client has a report, the
approval job (an operator approves a period when ``require_approval`` is on) and the
resend job (an operator re-delivers one client's report).

Thin: the work is ``pipeline.publish.deliveries`` and the mailer resource. Before
sending, the asset reads the latest evaluations of the marts' and the client reports'
asset checks for the partition from the Dagster instance: a failed ERROR-severity check
blocks the period (nothing is sent). If the check results cannot be read, it blocks
too (fail closed) and says why.
"""


from collections.abc import Iterable
from datetime import date

import polars as pl
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    Failure,
    JobDefinition,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    Output,
    PartitionsDefinition,
    asset,
    asset_check,
    job,
    op,
)

from pipeline.assets.leadership import LEADERSHIP_PACK_KEY
from pipeline.assets.reports import CLIENT_REPORTS_KEY, OWNERS, UPSTREAM, partition_months
from pipeline.metadata import md
from pipeline.partitions import run_covers_partition
from pipeline.publish.deliveries import (
    DeliverySummary, ResendError, deliver_leadership_pack, deliver_reports, report_coverage, resend_report,
)
from pipeline.store.records import approve_period, delivery_log, period_text
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerError, MailerResource
from pipeline.resources.warehouse import WarehouseResource

REPORT_DELIVERIES_KEY = AssetKey("report_deliveries")
DUE_CLIENTS_CHECK = "every_due_client_has_a_report"
# Assets whose failed checks hold back a period's deliveries: the marts, and the client
# reports (a due client without a report).
GATED_BY = (*UPSTREAM, AssetKey(["marts", "portfolio_monthly"]), CLIENT_REPORTS_KEY)

def failed_checks_reason(
    context: AssetExecutionContext, partition_key: str, asset_keys: Iterable[AssetKey] = GATED_BY
) -> str | None:
    """Why the partition is blocked: the latest evaluation, for this partition, of an
    ERROR-severity check on the marts or the client reports failed. None when every such
    check passed (or there are none). Fails closed: if the results cannot be read, that is
    the reason.

    In a code location (the normal case) every check of the marts is known from the
    repository and its latest evaluation for the partition decides. In a run built
    without one (``materialize()``), the evaluations recorded by the run that
    materialized the partition's current marts decide.
    """
    keys = set(asset_keys)
    try:
        try:
            graph = context.repository_def.asset_graph
        except Exception:  # noqa: BLE001 - no code location: materialize() in a script or test
            graph = None
        failures = (
            _failures_from_check_history(context, graph.get_check_keys_for_assets(keys), partition_key)
            if graph is not None
            else _failures_from_materializing_runs(context, keys, partition_key)
        )
    except Exception as exc:  # noqa: BLE001 - fail closed, with the reason
        return f"the asset check results could not be read ({type(exc).__name__}: {exc}); nothing is sent"
    if failures:
        where = " and ".join(sorted({"the marts" if f.startswith("marts/") else "the reports" for f in failures}))
        return f"failed asset checks on {where}: " + ", ".join(sorted(failures))
    return None


def _failed(evaluation) -> bool:
    return not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR


def _label(evaluation) -> str:
    return f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"


def _failures_from_check_history(context: AssetExecutionContext, check_keys, partition_key: str) -> list[str]:
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    instance = context.instance
    storage = instance.event_log_storage
    failures: list[str] = []
    run_tags: dict[str, dict[str, str]] = {}
    for check_key in check_keys:
        for record in storage.get_asset_check_execution_history(check_key, limit=50):
            if record.status == AssetCheckExecutionRecordStatus.PLANNED or record.event is None:
                continue
            evaluation = record.event.dagster_event.asset_check_evaluation_data
            if evaluation.partition is not None:
                if evaluation.partition != partition_key:
                    continue
            else:
                if record.run_id not in run_tags:
                    run = instance.get_run_by_id(record.run_id)
                    run_tags[record.run_id] = dict(run.tags) if run else {}
                if not run_covers_partition(run_tags[record.run_id], partition_key):
                    continue
            if _failed(evaluation):
                failures.append(_label(evaluation))
            break  # the latest evaluation for this partition decides
    return failures


def _failures_from_materializing_runs(context: AssetExecutionContext, keys: set[AssetKey], partition_key: str) -> list[str]:
    from dagster import AssetRecordsFilter, DagsterEventType

    instance = context.instance
    failures: list[str] = []
    runs: set[str] = set()
    for key in keys:
        found = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[partition_key]), limit=1
        ).records
        if found:
            runs.add(found[0].run_id)
    for run_id in sorted(runs):
        latest: dict[tuple, object] = {}
        for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.asset_check_evaluation_data
            if evaluation.asset_key in keys:
                latest[(evaluation.asset_key, evaluation.check_name)] = evaluation
        failures.extend(_label(e) for e in latest.values() if _failed(e))
    return failures


def _deliveries_markdown(context_rows, limit: int = 30) -> str:
    if context_rows.is_empty():
        return "_no deliveries recorded_"
    lines = ["| account | recipient | status | attempts | error |", "|---|---|---|---|---|"]
    for r in context_rows.head(limit).iter_rows(named=True):
        cell = lambda v: ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")[:90]  # noqa: E731
        lines.append(f"| {cell(r['account_id'])} | {cell(r['recipient'])} | {cell(r['status'])} "
                     f"| {cell(r['attempts'])} | {cell(r['error'])} |")
    if context_rows.height > limit:
        lines.append(f"\n_{context_rows.height - limit} more in ops.deliveries_")
    return "\n".join(lines)


def build_delivery_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    @asset(
        key=REPORT_DELIVERIES_KEY,
        group_name="reports",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=[CLIENT_REPORTS_KEY, LEADERSHIP_PACK_KEY],
        kinds={"python", "email"},
        owners=OWNERS,
        description=(
            "E-mails each new client report (PDF attached) to the account's report_recipients, and the "
            "leadership pack to PIPELINE_LEADERSHIP_RECIPIENTS: over SMTP when PIPELINE_SMTP_URL is "
            "set, else as .eml files in the outbox. Every delivery is recorded in ops.deliveries and "
            "never repeated; failed sends are retried on the next run. Nothing is sent for a month "
            "whose marts or client reports failed a check; client reports (not the pack) also wait, "
            "with require_approval, until an operator approves the month."
        ),
    )
    def report_deliveries(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: SettingsResource,
        mailer: MailerResource,
    ) -> MaterializeResult:
        s = settings.get()
        wh = warehouse.get()
        summaries: list[DeliverySummary] = []
        packs: list[DeliverySummary] = []
        for month in partition_months(context):
            partition_key = month.strftime("%Y-%m-%d")
            blocked = failed_checks_reason(context, partition_key)
            summary = deliver_reports(wh, s, month, mailer.get(s), blocked_reason=blocked)
            pack = deliver_leadership_pack(wh, s, month, mailer.get(s), blocked_reason=blocked)
            summaries.append(summary)
            packs.append(pack)
            if summary.blocked:
                context.log.warning(f"deliveries for {summary.period} blocked: {summary.blocked}")
            if summary.held:
                context.log.info(f"deliveries for {summary.period} held: {summary.held}")
            if pack.skipped:
                context.log.info(f"leadership pack {pack.period} not sent: {pack.skipped}")
            for error in summary.errors + pack.errors:
                context.log.warning(error)
        last = summaries[-1]
        return MaterializeResult(
            metadata={
                "status": ", ".join(sorted({x.status for x in summaries})),
                "channel": last.channel,
                "reports": sum(x.reports for x in summaries),
                "sent": sum(x.sent for x in summaries),
                "already_sent": sum(x.already_sent for x in summaries),
                "failures": sum(x.failed for x in summaries),
                "rejected_addresses": sum(x.rejected for x in summaries),
                "uncertain": sum(x.uncertain for x in summaries),
                "recipients": len(set().union(*(x.recipients for x in summaries))),
                "blocked_reason": last.blocked or "",
                "held_reason": last.held or "",
                "deliveries": MetadataValue.md(_deliveries_markdown(delivery_log(wh, last.period))),
                "leadership_status": ", ".join(sorted({x.status for x in packs})),
                "leadership_sent": sum(x.sent for x in packs),
                "leadership_already_sent": sum(x.already_sent for x in packs),
                "leadership_failures": sum(x.failed for x in packs),
                "leadership_rejected_addresses": sum(x.rejected for x in packs),
                "leadership_recipients": len(set().union(*(x.recipients for x in packs))),
            }
        )

    return [report_deliveries, every_due_client_has_a_report]


@asset_check(
    asset=CLIENT_REPORTS_KEY,
    name=DUE_CLIENTS_CHECK,
    blocking=True,
    description=(
        "Every account due a report this month (its cadence gives a period and it was a client in it) "
        "has one in ops.report_manifest, rendered or unchanged. A failed or missing report blocks the "
        "month's deliveries."
    ),
)
def every_due_client_has_a_report(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    coverage = [report_coverage(warehouse.get(), month) for month in partition_months(context)]
    missing = pl.concat([c.missing.select(pl.lit(c.period).alias("period"), pl.all()) for c in coverage])
    return AssetCheckResult(
        passed=missing.is_empty(),
        metadata={
            "due": sum(c.due for c in coverage),
            "with_report": sum(c.with_report for c in coverage),
            "missing": missing.height,
            "threshold": 0,
            "examples": md(missing),
        },
    )


class ApproveReportsConfig(Config):
    period: str  # YYYY-MM
    approved_by: str


@op(description="Approve a month's rendered client reports for delivery (require_approval).")
def record_report_approval(context: OpExecutionContext, config: ApproveReportsConfig, warehouse: WarehouseResource) -> None:
    record = approve_period(warehouse.get(), config.period, config.approved_by)
    context.log.info(
        f"{record['approved_by']} approved {record['reports']} client reports for {record['period']}; "
        "run report_deliveries for that month to send them."
    )


@job(name="approve_client_reports", description="Approve a month's client reports for delivery; then materialize report_deliveries.")
def approve_client_reports_job() -> None:
    record_report_approval()


def build_approval_job() -> JobDefinition:
    return approve_client_reports_job


class ResendReportConfig(Config):
    account_id: str
    month: str  # YYYY-MM
    requested_by: str


@op(description="Deliver one client's report for a month again to the account's current recipients.")
def resend_report_op(
    context: OpExecutionContext,
    config: ResendReportConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
    mailer: MailerResource,
) -> Output:
    s = settings.get()
    try:
        month = date.fromisoformat(period_text(config.month) + "-01")
        # The run id is the request: a retry inside this run never sends twice.
        summary = resend_report(warehouse.get(), s, config.account_id.strip(), month, mailer.get(s),
                                config.requested_by, request_id=context.run_id)
    except (ResendError, MailerError, ValueError) as exc:
        raise Failure(description=str(exc)) from None
    for error in summary.errors:
        context.log.warning(error)
    if summary.failed:
        raise Failure(description=f"{summary.failed} resend(s) failed: " + "; ".join(summary.errors))
    context.log.info(f"{config.requested_by} resent the {summary.period} report of {config.account_id} "
                     f"to {summary.sent} recipient(s) via {summary.channel}.")
    return Output(None, metadata={
        "account_id": config.account_id, "period": summary.period, "sent": summary.sent,
        "recipients": MetadataValue.md("\n".join(f"- {r}" for r in sorted(summary.recipients)) or "_none_"),
        "rejected_addresses": summary.rejected, "channel": summary.channel, "requested_by": config.requested_by,
    })


@job(name="resend_client_report", description="Deliver one client's report for a month again (recorded as a resend).")
def resend_client_report_job() -> None:
    resend_report_op()


def build_resend_job() -> JobDefinition:
    return resend_client_report_job
