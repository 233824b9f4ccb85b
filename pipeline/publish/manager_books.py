"""Produce the books of business of one reporting month (what the manager_books asset runs).

The same path as the client reports (``pipeline.publish.client_reports``): read the
month's inputs once (``load_book_inputs``), plan who is due a book (every manager with
an account in the month's marts), build each context (pure,
``pipeline.reporting.manager.context``), skip the books whose inputs, templates and code
are unchanged since the last run and whose files are intact (input hash), render the
rest through the renderer resource (the warm local pool or the render cluster), write
each book's two files atomically as its bytes come back, and replace the period's
manifest rows of kind ``manager_book`` (account_id = the manager's id) in one
transaction. A failed render leaves the previous files (or none) and a failed row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.files import intact, remove_stale_parts
from pipeline.publish.client_reports import RendersDocuments
from pipeline.reporting.mail import missing_reports
from pipeline.reporting.manager.context import (
    CHART_BUILDER,
    TEMPLATE,
    BookContextError,
    book_plan,
    build_book_context,
)
from pipeline.reporting.manager.inputs import BookInputs
from pipeline.reporting.naming import book_paths
from pipeline.resources.renderer.fingerprint import RENDER_CODE, input_hash, render_fingerprint
from pipeline.resources.renderer.worker import RenderJob, write_rendered
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.book_inputs import load_book_inputs
from pipeline.store.records import OK_STATUSES, read_manifest, recorded_files, replace_manifest, utcnow

KIND = "manager_book"
# What the book's template reads (it reuses the client report's CSS, partials and fonts).
TEMPLATE_FILES = ("manager/", "partials/", "css/", "fonts/", "assets/")
# The book's own context and chart code, and the client chart it draws with.
BOOK_CODE = (
    *RENDER_CODE,
    "pipeline/reporting/manager",
    "pipeline/reporting/client/charts.py",
    "pipeline/transforms/alerts.py",
)


@dataclass
class BooksSummary:
    period: str
    due: int = 0
    rendered: int = 0
    unchanged: int = 0
    failed: int = 0
    pages: int = 0
    wall_seconds: float = 0.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    refused_urls: list[str] = field(default_factory=list)


def book_fingerprint(templates_dir: Path, settings: Settings) -> str:
    """Everything besides the context that shapes a book's bytes."""
    return render_fingerprint(templates_dir, (*TEMPLATE_FILES, settings.branding.logo_file), BOOK_CODE)


def book_contexts(inputs: BookInputs, settings: Settings) -> Iterator[tuple[str, dict[str, Any] | Exception]]:
    """(manager_id, context or why it cannot be built) for every manager due a book."""
    for manager_id in book_plan(inputs):
        try:
            yield manager_id, build_book_context(inputs, manager_id, settings)
        except (BookContextError, ValueError) as exc:
            yield manager_id, exc


def _relative(path: str | Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def produce_manager_books(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    renderer: RendersDocuments,
    run_id: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> BooksSummary:
    """Render the book of every manager with accounts in ``month``; counts and manifest rows."""
    period = month.strftime("%Y-%m")
    root = Path(settings.reports_dir)
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(root / period)
    summary = BooksSummary(period=period)
    stamp = now or utcnow()
    inputs = load_book_inputs(warehouse, month)
    fingerprint = book_fingerprint(renderer.templates_dir, settings)
    previous = {r["account_id"]: r for r in read_manifest(warehouse, period, KIND).iter_rows(named=True)}
    pending: dict[str, dict[str, Any]] = {}

    def jobs() -> Iterator[RenderJob]:
        for manager_id, ctx in book_contexts(inputs, settings):
            summary.due += 1
            base = {
                "period": period,
                "kind": KIND,
                "account_id": manager_id,
                "period_key": period,
                "cadence": "monthly",
                "recorded_at": stamp,
                "run_id": run_id,
            }
            try:
                if isinstance(ctx, Exception):
                    raise ctx
                paths = book_paths(root, period, manager_id)
            except ValueError as exc:
                summary.failed += 1
                summary.failures.append((manager_id, str(exc)))
                summary.rows.append({**base, "status": "failed", "error": str(exc)})
                continue
            digest = input_hash(ctx, fingerprint)
            base.update(data_as_of=ctx["data_as_of"], input_hash=digest)
            prev = previous.get(manager_id)
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
            pending[manager_id] = base
            yield RenderJob(
                template=TEMPLATE,
                context=ctx,
                html_path=str(paths.html),
                pdf_path=str(paths.pdf),
                root=str(root),
                key=manager_id,
                chart_builder=CHART_BUILDER,
            )

    started = time.perf_counter()
    for rendered in renderer.render_many(jobs()):
        result = write_rendered(rendered, root)  # the only write of this book's files
        base = pending.pop(result.key)
        summary.refused_urls.extend(result.refused_urls)
        if not result.ok:
            summary.failed += 1
            summary.failures.append((result.key, result.error or "unknown error"))
            summary.rows.append({**base, "status": "failed", "error": result.error})
            continue
        summary.rendered += 1
        summary.pages += result.pages
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
    for manager_id, base in sorted(pending.items()):  # a job the renderer never answered
        summary.failed += 1
        summary.failures.append((manager_id, "the renderer returned no result"))
        summary.rows.append({**base, "status": "failed", "error": "the renderer returned no result"})
    summary.rows.sort(key=lambda r: r["account_id"])
    replace_manifest(warehouse, period, KIND, summary.rows)
    return summary


@dataclass(frozen=True)
class BookCoverage:
    """Which managers due a book for a month have one (the check gating their e-mails)."""

    period: str
    due: int
    with_book: int
    missing: pl.DataFrame  # account_id (the manager id), status (failed or no report), error


def book_coverage(warehouse: Warehouse, settings: Settings, month: date) -> BookCoverage:
    """Due = every manager with an account in the month's marts; covered = a rendered or
    unchanged manifest row of kind ``manager_book``."""
    period = month.strftime("%Y-%m")
    due = book_plan(load_book_inputs(warehouse, month))
    missing = missing_reports(due, read_manifest(warehouse, period, KIND), OK_STATUSES)
    return BookCoverage(period=period, due=len(due), with_book=len(due) - missing.height, missing=missing)
