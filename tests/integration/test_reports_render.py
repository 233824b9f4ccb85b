"""Client reports rendered for real (warm pool, WeasyPrint): each client sees only its own
data, the PDF carries its metadata and tags, unchanged clients are not re-rendered, and
a failed render leaves no half-written file."""

from __future__ import annotations

import os
import re
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline.files import atomic_write, sha256_file
from pipeline.publish.client_reports import produce_client_reports
from pipeline.resources.renderer.pool import Renderer
from pipeline.resources.renderer.worker import DocumentRenderer, RenderJob
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import read_manifest
from tests.support.report_builders import Book, add_acme, add_globex, ts

MARCH = date(2024, 3, 1)
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(2)


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def html_text(path: Path) -> str:
    body = path.read_text(encoding="utf-8")
    body = re.sub(r"<style.*?</style>|<svg.*?</svg>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def build(tmp_path: Path, *adders) -> tuple[Warehouse, Settings]:
    book = Book()
    for add in adders:
        add(book)
    wh = book.write(Warehouse(tmp_path / "warehouse.duckdb"))
    return wh, Settings(data_dir=tmp_path)


def files_of(settings: Settings) -> dict[str, Path]:
    rows = read_manifest(Warehouse(settings.warehouse_path), "2024-03")
    return {r["account_id"]: r for r in rows.iter_rows(named=True)}


def test_two_clients_each_see_their_own_data_only(tmp_path: Path, renderer: Renderer) -> None:
    wh, settings = build(tmp_path, add_acme, add_globex)
    summary = produce_client_reports(wh, settings, MARCH, renderer)
    assert (summary.due, summary.rendered, summary.failed) == (2, 2, 0), summary.failures
    rows = files_of(settings)
    root = settings.reports_dir
    own = {
        "ACME-1": [
            "Acme Rockets Ltd",
            "$1,240.00",
            "$14,880.00",
            "INV-301",
            "INV-201",
            "Analytics",
            "Dashboard shows stale launch data",
            "Dana Whitfield",
            "Jordan Lee",
            "March 2024",
        ],
        "GLOBEX-9": [
            "Globex Énergie SA",
            "$2,200.00",
            "$7,920.00",
            "GX-0001",
            "Grid Insights",
            "Sam Okafor",
            "Q1 2024",
            "€2,400.00",
        ],
    }
    for account_id, words in own.items():
        row = rows[account_id]
        pdf, html = root / row["pdf_path"], root / row["html_path"]
        assert row["status"] == "rendered" and row["pages"] == len(PdfReader(pdf).pages) >= 2
        assert row["pdf_sha256"] == sha256_file(pdf) and row["html_sha256"] == sha256_file(html)
        texts = {"pdf": pdf_text(pdf), "html": html_text(html)}
        others = [w for other, ws in own.items() if other != account_id for w in ws if w not in ("March 2024",)]
        for kind, text in texts.items():
            flat = re.sub(r"\s+", " ", text)
            for w in words:
                assert w in flat, f"{w!r} missing from {account_id}'s {kind}"
            for w in [*others, "GLOBEX" if account_id == "ACME-1" else "ACME"]:
                assert w not in flat, f"{w!r} of another client in {account_id}'s {kind}"
            assert "Account health" not in flat and "Health score" not in flat  # off by default


def test_health_section_only_when_the_setting_is_on(tmp_path: Path, renderer: Renderer) -> None:
    def with_health(book: Book) -> None:
        add_acme(book)
        book.add(
            "account_health",
            account_id="ACME-1",
            month=MARCH,
            score=64.5,
            band="amber",
            computed_band="amber",
            drivers="no contact for 45 days; key accounts expect 30",
            score_change=-3.5,
        )

    wh, settings = build(tmp_path, with_health)
    settings = replace(settings, show_health_in_client_reports=True)
    assert produce_client_reports(wh, settings, MARCH, renderer).rendered == 1
    text = re.sub(r"\s+", " ", pdf_text(settings.reports_dir / files_of(settings)["ACME-1"]["pdf_path"]))
    assert "Account health" in text and "Health score 64.5 of 100 Amber" in text
    assert "no contact for 45 days" in text and "-3.5 pts on the month before" in text


def test_pdf_metadata_tags_and_self_contained_html(tmp_path: Path, renderer: Renderer) -> None:
    wh, settings = build(tmp_path, add_acme)
    produce_client_reports(wh, settings, MARCH, renderer)
    row = files_of(settings)["ACME-1"]
    reader = PdfReader(settings.reports_dir / row["pdf_path"])
    meta = reader.metadata
    assert meta.title == "Acme Rockets Ltd – account report, March 2024"
    assert meta.author == "Northwind Account Services"
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root  # tagged
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    xmp = root["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="A"' in xmp  # PDF/A-3a
    assert b'pdfuaid:part="1"' in xmp  # PDF/UA-1 identification
    assert "/EmbeddedFiles" not in root.get("/Names", {}) and "/AF" not in root
    fonts = {
        str(f)
        for page in reader.pages
        for f in page["/Resources"]["/Font"].values()
        for f in [f.get_object()["/BaseFont"]]
    }
    # Only the shipped fonts (report_templates/fonts via @font-face "Report Sans"), embedded.
    assert fonts and all(re.fullmatch(r"/[A-Z]{6}\+Report-Sans(-Bold|-Italic)?", f) for f in fonts), fonts
    # Footer: page numbers and data-as-of on every page.
    first = reader.pages[0].extract_text()
    assert "Page 1 of" in first and "data as of 2 April 2024" in first
    html = (settings.reports_dir / row["html_path"]).read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "<style>" in html
    assert not re.search(r'(?:src|href)="(?!data:|#)', html), "the HTML references an outside URL"
    assert "@font-face" not in html and "file:" not in html


def test_a_rerun_renders_only_clients_whose_inputs_changed(tmp_path: Path, renderer: Renderer) -> None:
    wh, settings = build(tmp_path, add_acme, add_globex)
    first = produce_client_reports(wh, settings, MARCH, renderer)
    assert first.rendered == 2
    rows = files_of(settings)
    mtimes = {a: (settings.reports_dir / r["pdf_path"]).stat().st_mtime_ns for a, r in rows.items()}

    again = produce_client_reports(wh, settings, MARCH, renderer)
    assert (again.rendered, again.unchanged) == (0, 2)
    assert {r["status"] for r in files_of(settings).values()} == {"unchanged"}
    assert all((settings.reports_dir / r["pdf_path"]).stat().st_mtime_ns == mtimes[a] for a, r in rows.items())

    # A new ticket for Acme changes Acme's report only.
    book = Book()
    add_acme(book)
    add_globex(book)
    book.add(
        "tickets",
        ticket_id="ACME-1-T9",
        account_id="ACME-1",
        opened_at=ts(2024, 3, 28),
        first_response_at=None,
        resolved_at=None,
        priority="urgent",
        status="open",
        subject="Launch window alert",
    )
    book.write(wh)
    third = produce_client_reports(wh, settings, MARCH, renderer)
    assert (third.rendered, third.unchanged) == (1, 1)
    rows3 = files_of(settings)
    assert rows3["ACME-1"]["status"] == "rendered" and rows3["GLOBEX-9"]["status"] == "unchanged"
    assert "Launch window alert" in pdf_text(settings.reports_dir / rows3["ACME-1"]["pdf_path"])

    # A report file damaged on disk is rendered again.
    (settings.reports_dir / rows3["GLOBEX-9"]["pdf_path"]).write_bytes(b"not a pdf")
    fourth = produce_client_reports(wh, settings, MARCH, renderer)
    assert (fourth.rendered, fourth.unchanged) == (1, 1)
    assert files_of(settings)["GLOBEX-9"]["status"] == "rendered"


def test_quarterly_client_gets_no_report_outside_quarter_ends(tmp_path: Path, renderer: Renderer) -> None:
    wh, settings = build(tmp_path, add_acme, add_globex)
    summary = produce_client_reports(wh, settings, date(2024, 2, 1), renderer)
    assert [r["account_id"] for r in summary.rows] == ["ACME-1"]
    assert [p.name for p in (settings.reports_dir / "2024-02" / "clients").iterdir()] == [
        Path(summary.rows[0]["pdf_path"]).parent.name
    ]


# --------------------------------------------------------------------------- atomic writes


def _templates_with(tmp_path: Path, name: str, body: str) -> Path:
    import shutil

    from pipeline.resources.renderer.worker import TEMPLATES_DIR

    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    (root / name).write_text(body, encoding="utf-8")
    return root


def test_a_render_that_raises_leaves_no_file(tmp_path: Path) -> None:
    root = _templates_with(
        tmp_path, "boom.html", "<html><body><p>{{ ctx.name }}</p>{{ ctx.missing.deeper }}</body></html>"
    )
    out = tmp_path / "reports"
    renderer = DocumentRenderer(root)
    target = out / "2024-03" / "x"
    job = RenderJob("boom.html", {"name": "A"}, str(target / "r.html"), str(target / "r.pdf"), str(out), "A")
    result = renderer.render(job)
    assert not result.ok and "missing" in result.error
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))

    # An earlier good report stays intact when the re-render fails halfway through writing.
    good = RenderJob(
        "boom.html", {"name": "A", "missing": {"deeper": "ok"}}, job.html_path, job.pdf_path, str(out), "A"
    )
    assert renderer.render(good).ok
    before = {p: p.read_bytes() for p in target.iterdir()}
    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the PDF is staged, the HTML's write fails
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    os.fsync = failing_fsync
    try:
        bad = RenderJob(
            "boom.html", {"name": "B", "missing": {"deeper": "changed"}}, job.html_path, job.pdf_path, str(out), "A"
        )
        result = renderer.render(bad)
    finally:
        os.fsync = real_fsync
    assert not result.ok and "No space left" in result.error
    assert {p: p.read_bytes() for p in target.iterdir()} == before  # old files, no .part left over


def test_atomic_write_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "a" / "file.pdf"

    with pytest.raises(TypeError):
        atomic_write([(target, b"first"), (tmp_path / "a" / "other.html", None)])  # type: ignore[list-item]
    assert list((tmp_path / "a").iterdir()) == []
    atomic_write([(target, b"ok")])
    assert target.read_bytes() == b"ok" and oct(target.stat().st_mode & 0o777) == "0o644"


# --------------------------------------------------------------------------- speed


@pytest.mark.skipif(not os.environ.get("PIPELINE_BENCHMARK"), reason="a measurement: set PIPELINE_BENCHMARK=1")
def test_twenty_reports_in_the_warm_pool(tmp_path: Path, renderer: Renderer) -> None:
    """About 20 hand-built clients; prints the measured seconds per report
    (``PIPELINE_BENCHMARK=1 uv run pytest -s -k twenty``)."""
    book = Book()
    for i in range(20):
        add_acme(book, account_id=f"ACC-{i:02d}", name=f"Client number {i:02d} Ltd")
    # one manager row per call was added; keep the first
    book.rows["account_managers"] = book.rows["account_managers"][:1]
    wh = book.write(Warehouse(tmp_path / "warehouse.duckdb"))
    settings = Settings(data_dir=tmp_path)
    renderer.pool.warm()
    started = time.perf_counter()
    summary = produce_client_reports(wh, settings, MARCH, renderer)
    total = time.perf_counter() - started
    assert (summary.rendered, summary.failed) == (20, 0)
    print(
        f"\n20 reports, {renderer.workers} warm workers: {total:.2f} s in all, "
        f"{summary.wall_seconds / 20:.3f} s wall per report, "
        f"{summary.seconds_per_report:.3f} s median per report inside a worker, {summary.pages} pages"
    )
    assert summary.wall_seconds / 20 < 3.0
