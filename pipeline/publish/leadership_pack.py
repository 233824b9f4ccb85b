"""Produce the leadership pack of one month (what the leadership_pack asset runs).

Read the month's mart rows (``leadership_data``), build the context (pure,
``leadership``), skip the render when the inputs, templates and code are unchanged since
the last run and the files are intact (so the PDF's bytes, and the deliveries keyed by
its sha256, stay the same), else render HTML + PDF through the same renderer as the
client reports, and record the pack in ``ops.report_manifest`` (kind ``leadership``,
account ``''``), which is what a delivery step reads.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipeline.publish.documents import RendersDocuments, kept_files
from pipeline.reporting.naming import pack_paths
from pipeline.reporting.pack.context import CHART_BUILDER, TEMPLATE, build_leadership_context
from pipeline.reporting.pack.markdown import summary_markdown
from pipeline.resources.renderer.fingerprint import RENDER_CODE, input_hash, render_fingerprint
from pipeline.resources.renderer.worker import RenderJob, write_rendered
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.pack_inputs import load_leadership_inputs
from pipeline.store.records import read_manifest, replace_manifest, utcnow

KIND = "leadership"
ACCOUNT = ""  # the pack is not per account
# The pack's own context and charts shape its output too.
PACK_CODE = (*RENDER_CODE, "pipeline/reporting/pack")


@dataclass
class PackResult:
    period: str
    status: str  # rendered, unchanged, failed
    html_path: Path | None = None
    pdf_path: Path | None = None
    pdf_sha256: str | None = None
    pages: int = 0
    seconds: float = 0.0  # render time inside the renderer (0 when unchanged)
    wall_seconds: float = 0.0  # everything: read, context, render, manifest
    preview: str = ""
    error: str | None = None
    refused_urls: list[str] = field(default_factory=list)
    context: dict[str, Any] | None = None


def produce_leadership_pack(
    warehouse: Warehouse,
    settings: Settings,
    month: date,
    renderer: RendersDocuments,
    checks: Sequence[dict[str, Any]] | None,
    checks_note: str | None = None,
    run_id: str | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> PackResult:
    started = time.perf_counter()
    period = month.strftime("%Y-%m")
    root = Path(settings.reports_dir)
    root.mkdir(parents=True, exist_ok=True)
    stamp = now or utcnow()
    inputs = load_leadership_inputs(warehouse, month)
    ctx = build_leadership_context(inputs, settings, checks, checks_note)
    paths = pack_paths(root, period)
    digest = input_hash(ctx, render_fingerprint(renderer.templates_dir, code=PACK_CODE))
    base = {
        "period": period,
        "kind": KIND,
        "account_id": ACCOUNT,
        "period_key": period,
        "cadence": "monthly",
        "data_as_of": ctx["data_as_of"],
        "input_hash": digest,
        "recorded_at": stamp,
        "run_id": run_id,
    }
    result = PackResult(period=period, status="failed", preview=summary_markdown(ctx), context=ctx)
    previous = read_manifest(warehouse, period, KIND)
    prev = previous.row(0, named=True) if previous.height else None
    keep = kept_files(prev, digest, root, force)
    if prev is not None and keep is not None:
        replace_manifest(warehouse, period, KIND, [{**base, **keep, "status": "unchanged", "error": None}])
        result.status = "unchanged"
        result.html_path, result.pdf_path = root / prev["html_path"], root / prev["pdf_path"]
        result.pdf_sha256, result.pages = prev["pdf_sha256"], int(prev["pages"] or 0)
        result.wall_seconds = time.perf_counter() - started
        return result

    job = RenderJob(
        template=TEMPLATE,
        context=ctx,
        html_path=str(paths.html),
        pdf_path=str(paths.pdf),
        root=str(root),
        key=f"leadership-{period}",
        chart_builder=CHART_BUILDER,
    )
    # Rendered by the local pool or the render cluster; written here, in the run process.
    rendered = write_rendered(next(iter(renderer.render_many([job]))), root)
    result.refused_urls = list(rendered.refused_urls)
    if not rendered.ok:
        result.error = rendered.error or "unknown error"
        replace_manifest(warehouse, period, KIND, [{**base, "status": "failed", "error": result.error}])
        result.wall_seconds = time.perf_counter() - started
        return result
    html_rel = Path(rendered.html_path).resolve().relative_to(root.resolve()).as_posix()
    pdf_rel = Path(rendered.pdf_path).resolve().relative_to(root.resolve()).as_posix()
    replace_manifest(
        warehouse,
        period,
        KIND,
        [
            {
                **base,
                "status": "rendered",
                "html_path": html_rel,
                "pdf_path": pdf_rel,
                "html_sha256": rendered.html_sha256,
                "pdf_sha256": rendered.pdf_sha256,
                "pages": rendered.pages,
                "pdf_bytes": rendered.pdf_bytes,
                "render_seconds": round(rendered.seconds, 4),
                "rendered_at": stamp,
                "error": None,
            }
        ],
    )
    result.status = "rendered"
    result.html_path, result.pdf_path = Path(rendered.html_path), Path(rendered.pdf_path)
    result.pdf_sha256, result.pages, result.seconds = rendered.pdf_sha256, rendered.pages, rendered.seconds
    result.wall_seconds = time.perf_counter() - started
    return result
