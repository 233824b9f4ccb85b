"""Produce the books of business of one reporting month (what the manager_books asset runs).

The same path as the client reports (``pipeline.publish.client_reports``): read the
month's inputs once (``load_book_inputs``), plan who is due a book (every manager with
an account in the month's marts), build each context (pure,
``pipeline.reporting.manager.context``), skip the books whose inputs, templates and code
are unchanged since the last run and whose files are intact (input hash), render the
rest through the renderer resource (the warm local pool or the render cluster), write
each book's two files atomically as its bytes come back (``pipeline.publish.documents``,
shared with the client reports), and replace the period's manifest rows of kind ``manager_book`` (account_id = the manager's id) in one
transaction. A failed render leaves the previous files (or none) and a failed row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.files import remove_stale_parts
from pipeline.publish.documents import DocumentsSummary, PlannedDocument, RendersDocuments, render_documents
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
from pipeline.resources.renderer.fingerprint import RENDER_CODE, render_fingerprint
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.book_inputs import load_book_inputs
from pipeline.store.records import OK_STATUSES, read_manifest, replace_manifest, utcnow

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


class BooksSummary(DocumentsSummary):
    """What one month's books did (a ``DocumentsSummary``)."""


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

    def planned() -> Iterator[PlannedDocument]:
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
            if isinstance(ctx, Exception):
                yield PlannedDocument(manager_id, base, error=str(ctx))
                continue
            try:
                paths = book_paths(root, period, manager_id)
            except ValueError as exc:
                yield PlannedDocument(manager_id, base, error=str(exc))
                continue
            yield PlannedDocument(manager_id, base, ctx, paths)

    render_documents(
        summary,
        planned(),
        renderer,
        root=root,
        template=TEMPLATE,
        chart_builder=CHART_BUILDER,
        fingerprint=book_fingerprint(renderer.templates_dir, settings),
        previous={r["account_id"]: r for r in read_manifest(warehouse, period, KIND).iter_rows(named=True)},
        force=force,
        stamp=stamp,
    )
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
