"""Jobs: the monthly close (everything for one month), ingestion alone (for the sensor),
the two operator jobs on the client reports: approve a month for delivery (when
``require_approval`` is on) and resend one client's report; and recovery (README,
"Backups and recovery"): restore the warehouse from a snapshot, rebuild it from the
landing folder, and answer the ledger's hold on a month.

The operator jobs are one op each, thin: the work is ``pipeline.store.records``
(approvals) and ``pipeline.publish.deliveries`` (resends) with the mailer resource.
(No ``from __future__ import annotations`` here: Dagster reads the ops' config and
resource types from their annotations at definition time.)
"""

from datetime import date

import dagster as dg

from pipeline.publish.deliveries import ConfirmError, ResendError, confirm_period, resend_report
from pipeline.resources.backups import SnapshotError
from pipeline.resources.config import SettingsResource
from pipeline.resources.ledger import LedgerError
from pipeline.resources.mailer import MailerError, MailerResource
from pipeline.resources.warehouse import RECOVERY_TAG, Warehouse, WarehouseError, WarehouseResource, run_lock
from pipeline.store.records import approve_period, period_text
from pipeline.store.recovery import restore

MONTHLY_CLOSE = "monthly_close"
INGEST = "ingest_landing"
REBUILD = "rebuild_warehouse"
RESTORE = "restore_warehouse"


def build_jobs() -> "list[dg.UnresolvedAssetJobDefinition | dg.JobDefinition]":
    """Every job of the code location. Partitioning of the asset jobs is inferred from
    the selected assets (the monthly marts and reports)."""
    return [
        dg.define_asset_job(
            MONTHLY_CLOSE,
            selection=dg.AssetSelection.all(),
            description="Load new files, rebuild staging, compute the month's marts, render and deliver its reports.",
        ),
        dg.define_asset_job(
            INGEST,
            selection=dg.AssetSelection.groups("ingest", "staging"),
            description="Load new landing files into raw and rebuild staging (no month needed).",
        ),
        build_approval_job(),
        build_resend_job(),
        dg.define_asset_job(
            REBUILD,
            selection=dg.AssetSelection.all(),
            tags={RECOVERY_TAG: "rebuild"},
            description=(
                "Rebuild a lost or damaged warehouse from the landing folder alone: the current file is set aside "
                "(never deleted), every landing file is loaded again (at its first load time, from the ledger) and "
                "every month up to the chosen one recomputed; nothing is sent again (the ledger has every delivery). "
                "Choose the last closed month as the partition. `pipeline rebuild` does the same."
            ),
        ),
        build_restore_job(),
        build_confirm_job(),
    ]


# ---------------------------------------------------------------- approve


class ApproveReportsConfig(dg.Config):
    period: str  # YYYY-MM
    approved_by: str


@dg.op(description="Approve a month's rendered client reports for delivery (require_approval).")
def record_report_approval(
    context: dg.OpExecutionContext, config: ApproveReportsConfig, warehouse: WarehouseResource
) -> None:
    record = approve_period(warehouse.get(), config.period, config.approved_by)
    context.log.info(
        f"{record['approved_by']} approved {record['reports']} client reports for {record['period']}; "
        "run report_deliveries for that month to send them."
    )


@dg.job(
    name="approve_client_reports",
    description="Approve a month's client reports for delivery; then materialize report_deliveries.",
)
def approve_client_reports_job() -> None:
    record_report_approval()


def build_approval_job() -> dg.JobDefinition:
    return approve_client_reports_job


# ---------------------------------------------------------------- resend


class ResendReportConfig(dg.Config):
    account_id: str
    month: str  # YYYY-MM
    requested_by: str


@dg.op(description="Deliver one client's report for a month again to the account's current recipients.")
def resend_report_op(
    context: dg.OpExecutionContext,
    config: ResendReportConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
    mailer: MailerResource,
) -> dg.Output:
    s = settings.get()
    try:
        month = date.fromisoformat(period_text(config.month) + "-01")
        # The run id is the request: a retry inside this run never sends twice.
        summary = resend_report(
            warehouse.get(),
            s,
            config.account_id.strip(),
            month,
            mailer.get(s),
            config.requested_by,
            request_id=context.run_id,
        )
    except (ResendError, MailerError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from None
    for error in summary.errors:
        context.log.warning(error)
    if summary.failed:
        raise dg.Failure(description=f"{summary.failed} resend(s) failed: " + "; ".join(summary.errors))
    context.log.info(
        f"{config.requested_by} resent the {summary.period} report of {config.account_id} "
        f"to {summary.sent} recipient(s) via {summary.channel}."
    )
    return dg.Output(
        None,
        metadata={
            "account_id": config.account_id,
            "period": summary.period,
            "sent": summary.sent,
            "recipients": dg.MetadataValue.md("\n".join(f"- {r}" for r in sorted(summary.recipients)) or "_none_"),
            "rejected_addresses": summary.rejected,
            "channel": summary.channel,
            "requested_by": config.requested_by,
        },
    )


@dg.job(
    name="resend_client_report", description="Deliver one client's report for a month again (recorded as a resend)."
)
def resend_client_report_job() -> None:
    resend_report_op()


def build_resend_job() -> dg.JobDefinition:
    return resend_client_report_job


# ---------------------------------------------------------------- restore


class RestoreWarehouseConfig(dg.Config):
    snapshot: str = ""  # a snapshot's file name, or a month YYYY-MM (its newest); empty: the newest


@dg.op(description="Put the newest (or the named) snapshot back as the warehouse; the current file is set aside.")
def restore_warehouse_op(
    context: dg.OpExecutionContext, config: RestoreWarehouseConfig, settings: SettingsResource
) -> dg.Output:
    s = settings.get()
    wh = Warehouse.from_settings(s)
    try:
        with run_lock(wh.path):
            restored = restore(wh, s, config.snapshot.strip() or None)
    except (SnapshotError, WarehouseError, LedgerError) as exc:
        raise dg.Failure(description=str(exc)) from None
    snap = restored.snapshot
    aside = f"; the file it replaces is kept at {restored.set_aside}" if restored.set_aside else ""
    context.log.info(f"Restored the warehouse from {snap.describe()}{aside}. Nothing was sent.")
    return dg.Output(
        None,
        metadata={
            "snapshot": snap.name,
            "month": snap.month,
            "taken_at": snap.taken_at,
            "sha256": snap.sha256,
            "set_aside": str(restored.set_aside or ""),
            "deliveries_in_ledger": restored.copies.get("deliveries", 0),
        },
    )


@dg.job(
    name=RESTORE,
    description=(
        "Put the newest snapshot of the warehouse (or the one named in the config) back after moving the current, "
        "damaged file aside; says which close it came from. Nothing is sent again. `pipeline restore` does the same."
    ),
)
def restore_warehouse_job() -> None:
    restore_warehouse_op()


def build_restore_job() -> dg.JobDefinition:
    return restore_warehouse_job


# ---------------------------------------------------------------- the ledger's hold


class ConfirmPeriodConfig(dg.Config):
    month: str  # YYYY-MM
    confirmed_by: str
    already_sent: bool  # true: record the month's deliveries as sent, send nothing; false: send them next run


@dg.op(description="Answer the ledger's hold on a month: were its reports already delivered?")
def confirm_period_op(
    context: dg.OpExecutionContext,
    config: ConfirmPeriodConfig,
    warehouse: WarehouseResource,
    settings: SettingsResource,
) -> None:
    try:
        month = date.fromisoformat(period_text(config.month) + "-01")
        done = confirm_period(warehouse.get(), settings.get(), month, config.confirmed_by, config.already_sent)
    except (ConfirmError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from None
    context.log.info(
        f"{done.by} confirmed {done.period} as {done.resolution.replace('_', ' ')}"
        + (f"; {done.recorded} deliveries recorded as sent, nothing sent." if config.already_sent else ".")
    )


@dg.job(
    name="confirm_ledger_hold",
    description=(
        "A month the ledger holds (it was created after the month may have been delivered) sends nothing until "
        "confirmed here: already_sent records its deliveries as sent, otherwise the next run sends them."
    ),
)
def confirm_ledger_hold_job() -> None:
    confirm_period_op()


def build_confirm_job() -> dg.JobDefinition:
    return confirm_ledger_hold_job
