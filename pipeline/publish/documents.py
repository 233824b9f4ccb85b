"""Render a batch of documents (client reports, managers' books): the steps they share.

Each kind plans its documents and builds their contexts (pure, in ``pipeline.reporting``);
what happens next is the same for every kind and lives here once:

- a document whose context could not be built is a failed manifest row;
- a document whose input hash (context, templates, code) matches its previous rendered row
  and whose files are intact is kept as it is (``unchanged``), not rendered again;
- the rest go to the renderer as a lazy stream of jobs, so the first documents render
  while later contexts are still being built;
- each result is written here, in the run process, once (``write_rendered``: temporary
  names, then renames); render workers only return bytes;
- a job the renderer never answered is a failed row, so no document goes unaccounted.

The caller replaces the period's manifest rows with ``summary.rows`` in one transaction.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipeline.files import intact
from pipeline.reporting.naming import ReportPaths
from pipeline.resources.renderer.fingerprint import input_hash
from pipeline.resources.renderer.worker import RenderJob, RenderResult, write_rendered
from pipeline.store.records import OK_STATUSES, recorded_files

# The columns of a manifest row that describe the files; an unchanged document keeps them.
FILE_FIELDS = (
    "html_path",
    "pdf_path",
    "html_sha256",
    "pdf_sha256",
    "pages",
    "pdf_bytes",
    "render_seconds",
    "rendered_at",
)
NO_RESULT = "the renderer returned no result"


class RendersDocuments(Protocol):
    templates_dir: Path

    def render_many(self, jobs: Iterable[RenderJob]) -> Iterable[RenderResult]:
        """Render ``jobs`` (consumed lazily); results in any order, each with its bytes
        (written by the caller through ``write_rendered``) or already written."""
        ...


@dataclass
class DocumentsSummary:
    """What one batch did: counts, the manifest rows and why documents failed."""

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
        """Median render time of one document inside a worker."""
        return statistics.median(self.render_seconds) if self.render_seconds else None

    @property
    def wall_seconds_per_report(self) -> float | None:
        """Wall-clock seconds of the build-and-render phase (contexts are built while
        earlier documents render) divided by the documents rendered."""
        return self.wall_seconds / self.rendered if self.rendered else None

    def fail(self, key: str, base: Mapping[str, Any], error: str) -> None:
        self.failed += 1
        self.failures.append((key, error))
        self.rows.append({**base, "status": "failed", "error": error})


@dataclass(frozen=True)
class PlannedDocument:
    """One due document: its key (the account or manager id), the manifest row's common
    columns, and either its context and paths or why they could not be made."""

    key: str
    base: dict[str, Any]
    context: dict[str, Any] | None = None
    paths: ReportPaths | None = None
    error: str | None = None


def kept_files(prev: dict[str, Any] | None, digest: str, root: Path, force: bool) -> dict[str, Any] | None:
    """The previous row's file columns when that document can be kept as it is: rendered
    (or kept) before from the same input hash, with its files present and intact."""
    if (
        force
        or prev is None
        or prev["status"] not in OK_STATUSES
        or prev["input_hash"] != digest
        or not intact(root, recorded_files(prev))
    ):
        return None
    return {k: prev[k] for k in FILE_FIELDS}


def relative(path: str | Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def render_documents(
    summary: DocumentsSummary,
    planned: Iterable[PlannedDocument],
    renderer: RendersDocuments,
    *,
    root: Path,
    template: str,
    chart_builder: str,
    fingerprint: str,
    previous: Mapping[str, dict[str, Any]],
    force: bool,
    stamp: datetime,
) -> None:
    """Render, keep or fail every planned document, adding its manifest row to ``summary``
    (rows sorted by key at the end)."""
    pending: dict[str, dict[str, Any]] = {}

    def jobs() -> Iterator[RenderJob]:
        for doc in planned:
            if doc.error is not None or doc.context is None or doc.paths is None:
                summary.fail(doc.key, doc.base, doc.error or "no context was built")
                continue
            digest = input_hash(doc.context, fingerprint)
            base = {**doc.base, "data_as_of": doc.context["data_as_of"], "input_hash": digest}
            kept = kept_files(previous.get(doc.key), digest, root, force)
            if kept is not None:
                summary.unchanged += 1
                summary.pages += int(kept["pages"] or 0)
                summary.rows.append({**base, **kept, "status": "unchanged", "error": None})
                continue
            pending[doc.key] = base
            yield RenderJob(
                template=template,
                context=doc.context,
                html_path=str(doc.paths.html),
                pdf_path=str(doc.paths.pdf),
                root=str(root),
                key=doc.key,
                chart_builder=chart_builder,
            )

    started = time.perf_counter()
    for rendered in renderer.render_many(jobs()):
        result = write_rendered(rendered, root)  # the only write of this document's files
        base = pending.pop(result.key)
        summary.refused_urls.extend(result.refused_urls)
        if not result.ok:
            summary.fail(result.key, base, result.error or "unknown error")
            continue
        summary.rendered += 1
        summary.pages += result.pages
        summary.render_seconds.append(result.seconds)
        summary.rows.append(
            {
                **base,
                "status": "rendered",
                "html_path": relative(result.html_path, root),
                "pdf_path": relative(result.pdf_path, root),
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
    for key, base in sorted(pending.items()):  # a job the renderer never answered
        summary.fail(key, base, NO_RESULT)
    summary.rows.sort(key=lambda r: r["account_id"])
