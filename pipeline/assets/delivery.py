"""The report_deliveries asset (e-mail each new client report to its recipients and the
leadership pack to leadership) and the check that every due client has a report.

Thin: the work is ``pipeline.publish.deliveries`` and the mailer resource. Before
sending, the asset reads the latest evaluations of the marts' and the client reports'
asset checks for the partition from the Dagster instance (``pipeline.check_history``):
a failed ERROR-severity check blocks the period (nothing is sent). If the check results
cannot be read, it blocks too (fail closed) and says why. The operator jobs that approve
a month and resend one report are in ``pipeline.jobs``.
"""

from collections.abc import Iterable

import polars as pl
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
    asset_check,
)

from pipeline import check_history
from pipeline.assets.alerts import ACCOUNT_ALERTS_KEY, CROSS_SELL_IDEAS_KEY
from pipeline.assets.books import MANAGER_BOOKS_KEY
from pipeline.assets.leadership import LEADERSHIP_PACK_KEY
from pipeline.assets.marts import PORTFOLIO_MONTHLY_KEY
from pipeline.assets.operator import alert_operators, guard_ledger_hold
from pipeline.assets.reports import CLIENT_REPORTS_KEY, OWNERS, UPSTREAM, partition_months
from pipeline.metadata import md
from pipeline.publish.deliveries import (
    DeliverySummary,
    ManagerDeliverySummary,
    deliver_alert_emails,
    deliver_leadership_pack,
    deliver_manager_books,
    deliver_reports,
    report_coverage,
)
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.store.records import delivery_log

REPORT_DELIVERIES_KEY = AssetKey("report_deliveries")
DUE_CLIENTS_CHECK = "every_due_client_has_a_report"
# Assets whose failed checks hold back a period's deliveries: the marts, and the client
# reports (a due client without a report).
GATED_BY = (*UPSTREAM, AssetKey(["marts", "portfolio_monthly"]), CLIENT_REPORTS_KEY)
MANAGER_BOOK_DELIVERIES_KEY = AssetKey("manager_book_deliveries")
ALERT_EMAILS_KEY = AssetKey("alert_emails")
# What holds back the managers' e-mails: the marts a book is built from and the books.
BOOKS_GATED_BY = (*UPSTREAM, PORTFOLIO_MONTHLY_KEY, ACCOUNT_ALERTS_KEY, CROSS_SELL_IDEAS_KEY, MANAGER_BOOKS_KEY)
ALERTS_GATED_BY = (*UPSTREAM, ACCOUNT_ALERTS_KEY)


def failed_checks_reason(
    context: AssetExecutionContext, partition_key: str, asset_keys: Iterable[AssetKey] = GATED_BY
) -> str | None:
    """Why the partition's deliveries are blocked (a failed ERROR-severity check on the
    marts or the client reports, or check results that cannot be read), or None: see
    ``pipeline.check_history.failed_checks_reason``."""
    return check_history.failed_checks_reason(context, partition_key, asset_keys)


def _deliveries_markdown(context_rows, limit: int = 30) -> str:
    if context_rows.is_empty():
        return "_no deliveries recorded_"
    lines = ["| account | recipient | status | attempts | error |", "|---|---|---|---|---|"]
    for r in context_rows.head(limit).iter_rows(named=True):
        cell = lambda v: ("" if v is None else str(v)).replace("|", "\\|").replace("\n", " ")[:90]  # noqa: E731
        lines.append(
            f"| {cell(r['account_id'])} | {cell(r['recipient'])} | {cell(r['status'])} "
            f"| {cell(r['attempts'])} | {cell(r['error'])} |"
        )
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
            guard_ledger_hold(context, wh, partition_key, REPORT_DELIVERIES_KEY)
            summary = deliver_reports(wh, s, month, mailer.get(s), blocked_reason=blocked)
            pack = deliver_leadership_pack(wh, s, month, mailer.get(s), blocked_reason=blocked)
            summaries.append(summary)
            packs.append(pack)
            if summary.blocked:
                context.log.warning(f"deliveries for {summary.period} blocked: {summary.blocked}")
            if summary.held:
                context.log.info(f"deliveries for {summary.period} held: {summary.held}")
            if summary.awaiting_confirmation:
                context.log.warning(f"deliveries for {summary.period} held: {summary.awaiting_confirmation}")
            if pack.skipped:
                context.log.info(f"leadership pack {pack.period} not sent: {pack.skipped}")
            for error in summary.errors + pack.errors:
                context.log.warning(error)
        alert_operators(context, wh, s, mailer, [*summaries, *packs])
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
                "held_reason": last.awaiting_confirmation or last.held or "",
                "deliveries": MetadataValue.md(_deliveries_markdown(delivery_log(wh, last.period))),
                "leadership_status": ", ".join(sorted({x.status for x in packs})),
                "leadership_sent": sum(x.sent for x in packs),
                "leadership_already_sent": sum(x.already_sent for x in packs),
                "leadership_failures": sum(x.failed for x in packs),
                "leadership_rejected_addresses": sum(x.rejected for x in packs),
                "leadership_recipients": len(set().union(*(x.recipients for x in packs))),
            }
        )

    @asset(
        key=MANAGER_BOOK_DELIVERIES_KEY,
        group_name="reports",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=[MANAGER_BOOKS_KEY],
        kinds={"python", "email"},
        owners=OWNERS,
        description=(
            "E-mails each account manager one message per close: what changed in their portfolio and the new "
            "alerts in the body (plain text and HTML), the book of business attached or linked "
            "(PIPELINE_MANAGER_BOOK_DELIVERY). Same exactly-once path as the client reports (ops.deliveries, "
            "kind manager_book); nothing is sent for a month whose marts, alerts, ideas or books failed a "
            "blocking check. Managers without an e-mail address are listed in the metadata."
        ),
    )
    def manager_book_deliveries(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: SettingsResource,
        mailer: MailerResource,
    ) -> MaterializeResult:
        s, wh = settings.get(), warehouse.get()
        summaries: list[ManagerDeliverySummary] = []
        for month in partition_months(context):
            blocked = failed_checks_reason(context, month.strftime("%Y-%m-%d"), BOOKS_GATED_BY)
            summary = deliver_manager_books(wh, s, month, mailer.get(s), blocked_reason=blocked)
            _log(context, "books", summary)
            summaries.append(summary)
        return MaterializeResult(metadata=_manager_metadata(wh, summaries, "manager_book"))

    @asset(
        key=ALERT_EMAILS_KEY,
        group_name="reports",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        deps=[ACCOUNT_ALERTS_KEY],
        kinds={"python", "email"},
        owners=OWNERS,
        description=(
            "With PIPELINE_ALERTS_IMMEDIATE=true, e-mails every alert the run raised to the account's manager "
            "as soon as the alerts are checked, without waiting for the books: one e-mail per alert and "
            "address, ever (ops.deliveries, kind manager_alert). Off by default: the alerts then reach "
            "managers in their monthly book e-mail."
        ),
    )
    def alert_emails(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        settings: SettingsResource,
        mailer: MailerResource,
    ) -> MaterializeResult:
        s, wh = settings.get(), warehouse.get()
        if not s.alerts_immediate:
            return MaterializeResult(
                metadata={
                    "status": "off (PIPELINE_ALERTS_IMMEDIATE is false: alerts go out with the books)",
                    "sent": 0,
                }
            )
        summaries: list[ManagerDeliverySummary] = []
        for month in partition_months(context):
            blocked = failed_checks_reason(context, month.strftime("%Y-%m-%d"), ALERTS_GATED_BY)
            summary = deliver_alert_emails(wh, s, month, mailer.get(s), blocked_reason=blocked)
            _log(context, "alerts", summary)
            summaries.append(summary)
        return MaterializeResult(metadata=_manager_metadata(wh, summaries, "manager_alert"))

    return [report_deliveries, every_due_client_has_a_report, manager_book_deliveries, alert_emails]


def _log(context: AssetExecutionContext, what: str, summary: ManagerDeliverySummary) -> None:
    if summary.blocked:
        context.log.warning(f"{what} e-mails for {summary.period} blocked: {summary.blocked}")
    if summary.skipped:
        context.log.info(f"{what} e-mails for {summary.period}: {summary.skipped}")
    for who in summary.without_email:
        context.log.warning(f"manager {who} has no e-mail address in the CRM: nothing sent to them")
    for error in summary.errors:
        context.log.warning(error)


def _manager_metadata(wh: Warehouse, summaries: list[ManagerDeliverySummary], kind: str) -> dict:
    last = summaries[-1]
    without = sorted(set().union(*(x.without_email for x in summaries)))
    return {
        "status": ", ".join(sorted({x.status for x in summaries})),
        "channel": last.channel,
        "documents": sum(x.reports for x in summaries),
        "sent": sum(x.sent for x in summaries),
        "already_sent": sum(x.already_sent for x in summaries),
        "failures": sum(x.failed for x in summaries),
        "rejected_addresses": sum(x.rejected for x in summaries),
        "uncertain": sum(x.uncertain for x in summaries),
        "recipients": len(set().union(*(x.recipients for x in summaries))),
        "blocked_reason": last.blocked or "",
        "managers_without_email": len(without),
        "managers_without_email_list": MetadataValue.md("\n".join(f"- {w}" for w in without) or "_none_"),
        "deliveries": MetadataValue.md(_deliveries_markdown(delivery_log(wh, last.period, kind))),
    }


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
def every_due_client_has_a_report(
    context: AssetCheckExecutionContext, warehouse: WarehouseResource
) -> AssetCheckResult:
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
