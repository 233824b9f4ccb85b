"""Produce the client reports of one reporting month (what the client_reports asset runs).

Read the month's inputs, decide which accounts are due a report (cadence), build each
context (pure), skip the reports whose inputs and templates are unchanged since the last
run (input hash, files present and intact), render the rest (the warm local pool or the
render cluster), write each report's files as its bytes come back, and replace the
period's manifest in one transaction.

Contexts are built by a generator the renderer consumes: the first reports render while
later contexts are still being built, and only a window of them is in memory at once.
The steps after the context (keep, render, write once, account for every job) are
``pipeline.publish.documents``, shared with the managers' books.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from pipeline.files import remove_stale_parts
from pipeline.publish.documents import DocumentsSummary, PlannedDocument, RendersDocuments, render_documents
from pipeline.reporting.client.context import ReportContextError, build_client_context, report_plan
from pipeline.reporting.naming import client_report_paths
from pipeline.resources.renderer.fingerprint import RENDER_CODE, render_fingerprint
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import read_manifest, replace_manifest, utcnow
from pipeline.store.report_inputs import load_report_inputs

TEMPLATE = "client/report.html"
CHART_BUILDER = "pipeline.reporting.client.charts:client_charts"
KIND = "client"
# What the client template reads: a change elsewhere in report_templates/ (another
# document's template) does not re-render the client reports.
TEMPLATE_FILES = ("client/", "partials/", "css/", "fonts/", "assets/")
# The client report's own context and chart code shape its output too.
CLIENT_CODE = (*RENDER_CODE, "pipeline/reporting/client")


class ClientReportsSummary(DocumentsSummary):
    """What one month's client reports did (a ``DocumentsSummary``)."""


def produce_client_reports(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    renderer: RendersDocuments,
    run_id: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> ClientReportsSummary:
    """Render every client report due for ``month``; returns counts and the manifest rows."""
    period_key = month.strftime("%Y-%m")
    root = Path(settings.reports_dir)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(root / period_key)
    summary = ClientReportsSummary(period=period_key)
    stamp = now or utcnow()
    inputs = load_report_inputs(
        warehouse, month, settings.reporting_currency, with_health=settings.show_health_in_client_reports
    )
    plan = report_plan(inputs.accounts, inputs.monthly, month)
    summary.due = len(plan)

    def planned() -> Iterator[PlannedDocument]:
        """Each due report, its context built when the renderer asks for it."""
        for account_id, cadence, period in plan:
            base = {
                "period": period_key,
                "kind": KIND,
                "account_id": account_id,
                "period_key": period.key,
                "cadence": cadence,
                "recorded_at": stamp,
                "run_id": run_id,
            }
            try:
                ctx = build_client_context(inputs, account_id, period, settings)
                paths = client_report_paths(root, period.reporting_month, account_id, period.key)
            except (ReportContextError, ValueError) as exc:
                yield PlannedDocument(account_id, base, error=str(exc))
                continue
            yield PlannedDocument(account_id, base, ctx, paths)

    render_documents(
        summary,
        planned(),
        renderer,
        root=root,
        template=TEMPLATE,
        chart_builder=CHART_BUILDER,
        fingerprint=render_fingerprint(
            renderer.templates_dir, (*TEMPLATE_FILES, settings.branding.logo_file), CLIENT_CODE
        ),
        previous={r["account_id"]: r for r in read_manifest(warehouse, period_key, KIND).iter_rows(named=True)},
        force=force,
        stamp=stamp,
    )
    replace_manifest(warehouse, period_key, KIND, summary.rows)
    return summary
