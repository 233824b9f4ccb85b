"""Produce the client reports of one reporting month (what the client_reports asset runs).

Read the month's inputs, decide which accounts are due a report (cadence), build each
context (pure), skip the reports whose inputs and templates are unchanged since the last
run (input hash, files present and intact), render the rest (the warm local pool or the
render cluster), write each report's files as its bytes come back, and replace the
period's manifest in one transaction.

Contexts are built by a generator the renderer consumes: the first reports render while
later contexts are still being built, and only a window of them is in memory at once.
Every file is written here, in the run process, once per report; render workers only
return bytes.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.files import intact, remove_stale_parts
from pipeline.reporting.client.context import ReportContextError, build_client_context, report_plan
from pipeline.reporting.naming import client_report_paths
from pipeline.resources.renderer.fingerprint import RENDER_CODE, input_hash, render_fingerprint
from pipeline.resources.renderer.worker import RenderJob, RenderResult, write_rendered
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import OK_STATUSES, read_manifest, recorded_files, replace_manifest, utcnow
from pipeline.store.report_inputs import load_report_inputs

TEMPLATE = "client/report.html"
CHART_BUILDER = "pipeline.reporting.client.charts:client_charts"
KIND = "client"
# What the client template reads: a change elsewhere in report_templates/ (another
# document's template) does not re-render the client reports.
TEMPLATE_FILES = ("client/", "partials/", "css/", "fonts/", "assets/")
# The client report's own context and chart code shape its output too.
CLIENT_CODE = (*RENDER_CODE, "pipeline/reporting/client")


class RendersDocuments(Protocol):
    templates_dir: Path

    def render_many(self, jobs: Iterable[RenderJob]) -> Iterable[RenderResult]:
        """Render ``jobs`` (consumed lazily); results in any order, each with its bytes
        (written by the caller through ``write_rendered``) or already written."""
        ...


@dataclass
class ClientReportsSummary:
    period: str
    due: int = 0
    rendered: int = 0
    unchanged: int = 0
    failed: int = 0
    pages: int = 0
    render_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    refused_urls: list[str] = field(default_factory=list)

    @property
    def seconds_per_report(self) -> float | None:
        """Median render time of one report inside a worker."""
        return statistics.median(self.render_seconds) if self.render_seconds else None

    @property
    def wall_seconds_per_report(self) -> float | None:
        """Wall-clock seconds of the build-and-render phase (contexts are built while
        earlier reports render) divided by the reports rendered."""
        return self.wall_seconds / self.rendered if self.rendered else None


def _relative(path: str | Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


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
    fingerprint = render_fingerprint(
        renderer.templates_dir, TEMPLATE_FILES + (settings.branding.logo_file,), CLIENT_CODE
    )
    previous = {r["account_id"]: r for r in read_manifest(warehouse, period_key, KIND).iter_rows(named=True)}

    pending: dict[str, dict[str, Any]] = {}

    def jobs() -> Iterator[RenderJob]:
        """Each due report's render job, its context built when the renderer asks for it;
        failed and unchanged reports go straight to the summary."""
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
                summary.failed += 1
                summary.failures.append((account_id, str(exc)))
                summary.rows.append({**base, "status": "failed", "error": str(exc)})
                continue
            digest = input_hash(ctx, fingerprint)
            base.update(data_as_of=ctx["data_as_of"], input_hash=digest)
            prev = previous.get(account_id)
            if (
                not force
                and prev is not None
                and prev["status"] in OK_STATUSES
                and prev["input_hash"] == digest
                and intact(root, recorded_files(prev))
            ):
                summary.unchanged += 1
                summary.pages += int(prev["pages"] or 0)
                keep = {
                    k: prev[k]
                    for k in (
                        "html_path",
                        "pdf_path",
                        "html_sha256",
                        "pdf_sha256",
                        "pages",
                        "pdf_bytes",
                        "render_seconds",
                        "rendered_at",
                    )
                }
                summary.rows.append({**base, **keep, "status": "unchanged", "error": None})
                continue
            pending[account_id] = base
            yield RenderJob(
                template=TEMPLATE,
                context=ctx,
                html_path=str(paths.html),
                pdf_path=str(paths.pdf),
                root=str(root),
                key=account_id,
                chart_builder=CHART_BUILDER,
            )

    started = time.perf_counter()
    for rendered in renderer.render_many(jobs()):
        result = write_rendered(rendered, root)  # the only write of this report's files
        base = pending.pop(result.key)
        summary.refused_urls.extend(result.refused_urls)
        if not result.ok:
            summary.failed += 1
            summary.failures.append((result.key, result.error or "unknown error"))
            summary.rows.append({**base, "status": "failed", "error": result.error})
            continue
        summary.rendered += 1
        summary.pages += result.pages
        summary.render_seconds.append(result.seconds)
        summary.rows.append(
            {
                **base,
                "status": "rendered",
                "html_path": _relative(result.html_path, root),
                "pdf_path": _relative(result.pdf_path, root),
                "html_sha256": result.html_sha256,
                "pdf_sha256": result.pdf_sha256,
                "pages": result.pages,
                "pdf_bytes": result.pdf_bytes,
                "render_seconds": round(result.seconds, 4),
                "rendered_at": stamp,
                "error": None,
            }
        )
    summary.wall_seconds = time.perf_counter() - started
    for account_id, base in sorted(pending.items()):  # a job the renderer never answered
        summary.failed += 1
        summary.failures.append((account_id, "the renderer returned no result"))
        summary.rows.append({**base, "status": "failed", "error": "the renderer returned no result"})
    summary.rows.sort(key=lambda r: r["account_id"])
    replace_manifest(warehouse, period_key, KIND, summary.rows)
    return summary
