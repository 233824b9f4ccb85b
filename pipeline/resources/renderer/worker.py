"""Render any template of report_templates/ + a context to HTML and PDF bytes.

This module runs inside the render workers (``pipeline.resources.renderer.pool`` for the
local pool, ``pipeline.resources.renderer.dask_worker`` on a Dask cluster) and can also
be used in-process. It imports Jinja2, WeasyPrint and matplotlib
lazily, so importing it is cheap; a ``DocumentRenderer`` holds the warm state of one
process (template environment, fonts).

Safety, by construction:

- the Jinja environment autoescapes everything; the only markup inserted is chart SVG
  drawn by matplotlib from numbers (and checked for external references);
- WeasyPrint gets the templates-only URL fetcher (``pipeline.resources.renderer.fetcher``): no
  network, no file outside report_templates/, no attachment from anywhere;
- the saved HTML is self-contained: CSS inlined, logo embedded as a data URI, charts
  inline SVG; it references no URL at all. The PDF gets the same document with the
  logo and fonts by URL and the charts as images the fetcher serves from memory
  (inline SVG costs WeasyPrint a full CSS cascade per path);
- both files are rendered in memory and returned as bytes (``DocumentRenderer.produce``):
  a render worker, local or on another machine, never writes a file. The run process
  writes them with ``write_rendered`` (temporary names next to their targets, then
  renamed): a render or a write that fails leaves the previous files (or none) untouched;
- the bytes depend on nothing but the context, the templates, the code and the locked
  library versions (``pipeline.resources.renderer.environment``): fonts only from
  report_templates/fonts, subsetting only by HarfBuzz.

PDF: PDF/A-3a (archival, tagged) with a PDF/UA-1 identification; title, author and
language come from the template's ``<title>``, ``<meta name=author>`` and ``<html lang>``.
"""

from __future__ import annotations

import base64
import contextlib
import html as html_lib
import importlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.files import atomic_write, sha256_bytes
from pipeline.reporting import formatting as fmt
from pipeline.reporting.naming import ensure_inside
from pipeline.resources.renderer.accessibility import add_header_scopes
from pipeline.resources.renderer.environment import isolated_font_configuration, require_harfbuzz_subset
from pipeline.resources.renderer.fetcher import RefusedURL, generated_url, media_type, resolve_template_url

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "report_templates"
PDF_VARIANT = "pdf/a-3a"
PDF_UA_XMP = (
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/" '
    b'pdfuaid:part="1"/></rdf:RDF>'
)
# A PDF-mode document's stylesheets: `<link rel="stylesheet" href="{{ asset('css/….css') }}">`
# in its head (the saved HTML inlines the same files instead). The renderer parses each
# file once per process and hands it to WeasyPrint ready (``DocumentRenderer._stylesheet``).
STYLESHEET_LINK = re.compile(r'<link rel="stylesheet" href="(file:[^"<>]+\.css)">\n?')
# Chart builders a job may name: functions of (context) -> {name: svg or None}.
CHART_BUILDERS_PACKAGE = "pipeline."


@dataclass(frozen=True)
class RenderJob:
    """One document to render. Paths must lie inside ``root`` (the reports folder)."""

    template: str
    context: dict[str, Any]
    html_path: str
    pdf_path: str
    root: str
    key: str = ""
    chart_builder: str | None = None  # "pipeline.module:function" drawing the charts
    lang: str = "en"


@dataclass(frozen=True)
class RenderResult:
    key: str
    ok: bool
    html_path: str
    pdf_path: str
    html_sha256: str | None = None
    pdf_sha256: str | None = None
    pages: int = 0
    html_bytes: int = 0
    pdf_bytes: int = 0
    seconds: float = 0.0
    requested_urls: tuple[str, ...] = ()
    refused_urls: tuple[str, ...] = ()
    error: str | None = None
    worker_pid: int = field(default_factory=os.getpid)
    # The documents themselves, from a render worker to the run process, which writes
    # them (``write_rendered``) and drops them; None once written (or on failure).
    html: bytes | None = field(default=None, repr=False, compare=False)
    pdf: bytes | None = field(default=None, repr=False, compare=False)


def make_environment(templates_dir: Path):
    """The Jinja2 environment: autoescape on, undefined names are errors, our filters."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=lambda v, cur, compact=False: fmt.money(v, cur, compact=compact),
        money_short=fmt.money_short,
        number=fmt.number,
        pct=lambda v, decimals=1: fmt.pct(v, decimals),
        pct_signed=lambda v, decimals=1: fmt.pct(v, decimals, signed=True),
        pct_score=lambda v: "n/a" if v is None else fmt.score(v, 1) + "%",
        score=lambda v, decimals=0: fmt.score(v, decimals),
        points=lambda v, decimals=0: "n/a" if v is None else fmt.score(v, decimals, signed=True) + " pts",
        long_date=fmt.long_date,
        short_date=fmt.short_date,
        month_label=fmt.month_label,
        hours=fmt.hours,
        plural=fmt.plural,
        currency_symbol=fmt.currency_symbol,
    )
    env.globals["NA"] = fmt.NA
    return env


def _load_chart_builder(path: str) -> Callable[[dict[str, Any]], dict[str, str | None]]:
    module, _, name = path.partition(":")
    if not module.startswith(CHART_BUILDERS_PACKAGE) or not name:
        raise ValueError(f"chart builder {path!r} must be 'pipeline.<module>:<function>'")
    return getattr(importlib.import_module(module), name)


class DocumentRenderer:
    """The warm state of one render process: templates, fonts, WeasyPrint."""

    def __init__(self, templates_dir: Path | str = TEMPLATES_DIR):
        import weasyprint  # noqa: F401 - the expensive import, done once per process

        require_harfbuzz_subset()  # else fontTools stamps the time into every font
        self.templates_dir = Path(templates_dir).resolve()
        self.env = make_environment(self.templates_dir)
        self.base_url = self.templates_dir.as_uri() + "/"
        self._font_config = None  # one per process: @font-face files are loaded once
        # Parsed stylesheets by URL, one per process: parsing fonts.css and compiling the
        # selectors of report.css cost 5 to 9% of a report's render (measured).
        self._stylesheets: dict[str, Any] = {}

    # -- assets ------------------------------------------------------------------

    def asset_data_uri(self, name: str) -> str:
        """A templates-folder file as a data URI (for the self-contained HTML)."""
        path = resolve_template_url((self.templates_dir / name).as_uri(), self.templates_dir)
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"data:{media_type(path)};base64,{encoded}"

    def asset_url(self, name: str) -> str:
        """A templates-folder file as a URL the PDF renderer resolves through the fetcher."""
        resolve_template_url((self.templates_dir / name).as_uri(), self.templates_dir)
        return (self.templates_dir / name).resolve().as_uri()

    # -- rendering ---------------------------------------------------------------

    def render_html(self, template: str, context: dict[str, Any], mode: str, charts: dict[str, Any]) -> str:
        """The document as HTML. ``mode`` "html": self-contained (data URIs, inline SVG);
        "pdf": assets by URL for the fetcher, charts as images (far faster to lay out)."""
        from markupsafe import Markup, escape

        def asset(name: str) -> str:
            try:
                return self.asset_data_uri(name) if mode == "html" else self.asset_url(name)
            except RefusedURL:
                return ""

        figures: dict[str, Any] = {}
        for name, svg in charts.items():
            if not svg:
                figures[name] = None
            elif mode == "html":
                figures[name] = Markup(svg)
            else:
                label = re.search(r'aria-label="([^"]*)"', svg)
                alt = html_lib.unescape(label.group(1)) if label else name
                url = generated_url(self.templates_dir, f"{name}.svg")
                figures[name] = Markup('<img class="chart-img" src="{}" alt="{}">').format(url, escape(alt))
        return self.env.get_template(template).render(ctx=context, charts=figures, mode=mode, asset=asset)

    def draw_charts(self, job: RenderJob) -> dict[str, str | None]:
        if not job.chart_builder:
            return {}
        return _load_chart_builder(job.chart_builder)(job.context)

    def render_pdf(
        self, html: str, lang: str, charts: dict[str, str | None] | None = None
    ) -> tuple[bytes, int, list[str], list[str]]:
        import weasyprint

        from pipeline.resources.renderer.fetcher import make_url_fetcher

        generated = {
            generated_url(self.templates_dir, f"{name}.svg"): (svg.encode("utf-8"), "image/svg+xml")
            for name, svg in (charts or {}).items()
            if svg
        }
        fetcher = make_url_fetcher(self.templates_dir, generated)
        if self._font_config is None:
            self._font_config = isolated_font_configuration(self.templates_dir)
        font_config = self._font_config
        stylesheets: list[Any] = []
        linked: list[str] = []

        def parsed_once(link: re.Match[str]) -> str:
            sheet = self._stylesheet(link.group(1))
            if sheet is None:  # not a templates-folder file: WeasyPrint's fetcher refuses it
                return link.group(0)
            stylesheets.append(sheet)
            linked.append(link.group(1))
            return ""

        html = STYLESHEET_LINK.sub(parsed_once, html)
        document = weasyprint.HTML(string=html, base_url=self.base_url, url_fetcher=fetcher, media_type="print").render(
            font_config=font_config, pdf_variant=PDF_VARIANT, stylesheets=stylesheets
        )
        document.metadata.xmp_metadata.append(PDF_UA_XMP)
        if not document.metadata.lang:
            document.metadata.lang = lang
        # Nothing may ride along: whatever a <link rel=attachment> asked for is dropped.
        document.metadata.attachments = []
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, attachments=[])
        # PDF/UA: table header cells get the /Scope WeasyPrint leaves out (accessibility.py).
        pdf = add_header_scopes(pdf)
        return pdf, len(document.pages), [*linked, *fetcher.requested], list(fetcher.refused)

    def _stylesheet(self, url: str) -> Any:
        """The parsed stylesheet a PDF-mode document links to (a templates-folder file),
        parsed once per process. Its relative URLs resolve against the templates folder,
        as when the same file is inlined into the saved HTML. WeasyPrint gives stylesheets
        passed this way the user origin: identical computed styles here, since the
        documents' own author CSS only sets the brand's custom properties on ``:root``
        (the PDFs are byte-identical to those rendered from the inlined CSS). None for a URL
        outside the templates folder."""
        import weasyprint

        from pipeline.resources.renderer.fetcher import make_url_fetcher

        sheet = self._stylesheets.get(url)
        if sheet is None:
            try:
                path = resolve_template_url(url, self.templates_dir)
            except RefusedURL:
                return None
            sheet = weasyprint.CSS(
                string=path.read_text(encoding="utf-8"),
                base_url=self.base_url,
                url_fetcher=make_url_fetcher(self.templates_dir, {}),
                font_config=self._font_config,
                media_type="print",
            )
            self._stylesheets[url] = sheet
        return sheet

    def produce(self, job: RenderJob) -> RenderResult:
        """Render ``job`` in memory: a result carrying the HTML and PDF bytes (or the
        error). Writes nothing and reads nothing outside the templates folder."""
        started = time.perf_counter()
        try:
            charts = self.draw_charts(job)
            html_doc = self.render_html(job.template, job.context, "html", charts)
            pdf_html = self.render_html(job.template, job.context, "pdf", charts)
            pdf_bytes, pages, requested, refused = self.render_pdf(pdf_html, job.lang, charts)
            html_bytes = html_doc.encode("utf-8")
            return RenderResult(
                key=job.key,
                ok=True,
                html_path=job.html_path,
                pdf_path=job.pdf_path,
                html_sha256=sha256_bytes(html_bytes),
                pdf_sha256=sha256_bytes(pdf_bytes),
                pages=pages,
                html_bytes=len(html_bytes),
                pdf_bytes=len(pdf_bytes),
                seconds=time.perf_counter() - started,
                requested_urls=tuple(requested),
                refused_urls=tuple(refused),
                html=html_bytes,
                pdf=pdf_bytes,
            )
        except Exception as exc:  # reported per document; the batch goes on
            return failed_result(job, f"{type(exc).__name__}: {exc}", time.perf_counter() - started)

    def render(self, job: RenderJob) -> RenderResult:
        """Render ``job`` in this process and write its two files (``write_rendered``)."""
        return write_rendered(self.produce(job), Path(job.root))


def failed_result(job: RenderJob, error: str, seconds: float = 0.0) -> RenderResult:
    return RenderResult(
        key=job.key, ok=False, html_path=job.html_path, pdf_path=job.pdf_path, seconds=seconds, error=error
    )


def write_rendered(result: RenderResult, root: Path) -> RenderResult:
    """Write a rendered document's bytes to its two paths (both strictly inside ``root``),
    atomically: the PDF and the HTML go to temporary names, then both are renamed; if
    anything fails, no target is touched and no temporary file stays. Returns the result
    without its bytes, with the resolved paths, or a failed result saying why.

    A result without bytes (a failure, or one already written in process) passes through."""
    if not result.ok or result.pdf is None or result.html is None:
        return replace(result, html=None, pdf=None)
    try:
        html_path = ensure_inside(Path(root), Path(result.html_path))
        pdf_path = ensure_inside(Path(root), Path(result.pdf_path))
        atomic_write([(pdf_path, result.pdf), (html_path, result.html)])
    except Exception as exc:
        return replace(
            result,
            ok=False,
            html=None,
            pdf=None,
            html_sha256=None,
            pdf_sha256=None,
            error=f"{type(exc).__name__}: {exc}",
        )
    return replace(result, html=None, pdf=None, html_path=str(html_path), pdf_path=str(pdf_path))


# -- process-pool entry points (module-level so they pickle by reference) -----------

_WORKER: DocumentRenderer | None = None
_WORKER_ERROR: str | None = None  # why this process cannot render (reported with every job)


def init_worker(templates_dir: str) -> None:
    """Pool initializer: import everything and render a tiny warm-up document once.
    A process that cannot render byte-identical reports (no HarfBuzz-Subset, fonts.conf
    missing) keeps the reason and fails every job with it."""
    global _WORKER, _WORKER_ERROR
    try:
        _WORKER = DocumentRenderer(templates_dir)
        _WORKER.render_pdf("<html lang=en><title>warm-up</title><p>warm-up</p></html>", "en")
    except Exception as exc:
        _WORKER, _WORKER_ERROR = None, f"{type(exc).__name__}: {exc}"
        return
    with contextlib.suppress(Exception):
        import pipeline.reporting.client.charts  # noqa: F401 - warm matplotlib too


def run_job(job: RenderJob) -> RenderResult:
    """Render one job in this process: a result with the bytes, written by the caller."""
    global _WORKER
    if _WORKER_ERROR is not None:
        return failed_result(job, _WORKER_ERROR)
    if _WORKER is None:
        try:
            _WORKER = DocumentRenderer(TEMPLATES_DIR)
        except Exception as exc:
            return failed_result(job, f"{type(exc).__name__}: {exc}")
    return _WORKER.produce(job)


def worker_pid(pause: float = 0.0) -> int:
    """The worker's pid (after an optional pause, so a batch of these spreads over workers)."""
    if pause:
        time.sleep(pause)
    return os.getpid()
