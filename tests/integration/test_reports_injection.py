"""Hostile data renders as text: nothing is fetched, nothing is attached, no file lands
outside the reports folder. A local HTTP server records any request the renderer would
make (there must be none)."""

from __future__ import annotations

import re
import shutil
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline.publish.client_reports import produce_client_reports
from pipeline.resources.renderer.pool import Renderer
from pipeline.resources.renderer.worker import TEMPLATES_DIR, DocumentRenderer, RenderJob
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.records import read_manifest
from tests.support.report_builders import Book, add_acme, ts

MARCH = date(2024, 3, 1)
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


@pytest.fixture
def spy_server():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body{background:url(http://127.0.0.1/leak.png)}")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every real element (tag, attributes) of a document, as a browser's parser sees it."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

        handle_startendtag = handle_starttag

    Collector().feed(html)
    return found


def hostile(base: str) -> dict[str, str]:
    return {
        "script": "<script>alert('pwned')</script>",
        "img": f"<img src={base}/img.png>",
        "attach": "<link rel=attachment href=file:///etc/passwd>",
        "css": f'<div style="background:url({base}/bg.png)">x</div>',
        "import": f"<style>@import url({base}/import.css);</style>",
        "close": "</td></tr></table><h1>Fake heading</h1>",
    }


def build_hostile_book(base: str) -> Book:
    h = hostile(base)
    book = Book()
    add_acme(book, account_id="../../x", name=f"Evil {h['script']} {h['img']} Corp", recipients="a@x.io")
    add_acme(book, account_id="CON", name="Ж" * 150 + " Ωμέγα " + "مرحبا" * 20 + " " + "x" * 200, recipients="b@x.io")
    # The second call added a duplicate manager row: keep one.
    book.rows["account_managers"] = book.rows["account_managers"][:1]
    for i, (kind, text) in enumerate(h.items()):
        book.add(
            "tickets",
            ticket_id=f"EVIL-T{i}",
            account_id="../../x",
            opened_at=ts(2024, 3, 2 + i),
            first_response_at=None,
            resolved_at=None,
            priority="high",
            status="open",
            subject=text,
        )
        book.add(
            "responses",
            response_id=f"EVIL-R{i}",
            account_id="../../x",
            contact_email=None,
            survey_type="nps",
            score=3,
            responded_at=ts(2024, 3, 10 + i),
            comment=f"{kind}: {text}",
        )
    book.add(
        "subscriptions",
        subscription_id="EVIL-S",
        account_id="../../x",
        product=h["attach"] + h["css"],
        start_date=date(2024, 3, 2),
        end_date=None,
        mrr=10,
        currency="usd",
    )
    book.add(
        "invoices",
        invoice_id="EVIL-I",
        account_id="../../x",
        number=h["import"],
        issued_on=date(2024, 3, 3),
        due_on=date(2024, 3, 10),
        currency="usd",
        subtotal=10,
        tax=2,
        total=12,
        status="open",
        paid_on=None,
    )
    return book


def test_hostile_values_render_as_text_and_nothing_is_fetched(tmp_path: Path, spy_server) -> None:
    base, hits = spy_server
    wh = build_hostile_book(base).write(Warehouse(tmp_path / "warehouse.duckdb"))
    settings = Settings(data_dir=tmp_path)
    renderer = Renderer(2)
    summary = produce_client_reports(wh, settings, MARCH, renderer)
    assert (summary.rendered, summary.failed) == (2, 0), summary.failures
    assert summary.refused_urls == []
    assert hits == [], f"the renderer contacted the network: {hits}"

    # Every file is inside the reports folder (plus the warehouse), with a safe name.
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file()
        and settings.reports_dir.resolve() not in p.resolve().parents
        and not p.name.startswith("warehouse")
    ]
    assert outside == []
    folders = sorted(p.name for p in (settings.reports_dir / "2024-03" / "clients").iterdir())
    assert len(folders) == 2 and all(re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{10}", f) for f in folders)
    assert any(f.startswith("con-x-") for f in folders) and any(f.startswith("x-") for f in folders)

    rows = {r["account_id"]: r for r in read_manifest(wh, "2024-03").iter_rows(named=True)}
    evil = rows["../../x"]
    html = (settings.reports_dir / evil["html_path"]).read_text(encoding="utf-8")
    # No markup from the data: no script, no element pointing anywhere, only escaped text.
    tags = elements(html)
    assert not {"script", "link", "iframe", "object", "embed", "base", "meta-refresh"} & {t for t, _ in tags}
    assert [t for t, _ in tags].count("h1") == 1  # ours; the data's <h1> is text
    urls = [v for _, attrs in tags for k, v in attrs if k in ("src", "href", "data", "action")]
    assert urls and all(u.startswith(("data:", "#")) for u in urls), urls
    assert [t for t, _ in tags].count("style") == 1  # ours, in the head; the data's is text
    assert "&lt;style&gt;@import url(" in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert f"&lt;img src={base}/img.png&gt;" in html
    assert "&lt;link rel=attachment href=file:///etc/passwd&gt;" in html

    reader = PdfReader(settings.reports_dir / evil["pdf_path"])
    text = re.sub(r"\s+", " ", "\n".join(p.extract_text() for p in reader.pages))
    assert "<script>alert('pwned')</script>" in text
    assert "<link rel=attachment href=file:///etc/passwd>" in text
    root = reader.trailer["/Root"]
    assert reader.attachments == {} and "/EmbeddedFiles" not in root.get("/Names", {}) and "/AF" not in root

    # The very long non-Latin name renders (wrapped, not overflowing the page) and is legible.
    long_pdf = PdfReader(settings.reports_dir / rows["CON"]["pdf_path"])
    long_text = "\n".join(p.extract_text() for p in long_pdf.pages)
    assert "ЖЖЖЖЖЖЖЖЖЖ" in long_text and "Ωμέγα" in long_text


def test_a_template_asking_for_outside_urls_gets_nothing(tmp_path: Path, spy_server) -> None:
    """Even a template (not data) cannot reach the network, the disk or attach files."""
    base, hits = spy_server
    root = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, root)
    (tmp_path / "secret.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'><rect width='9' height='9'/></svg>")
    (root / "assets" / "link.svg").symlink_to(tmp_path / "secret.svg")
    (root / "evil.html").write_text(
        f"""<!DOCTYPE html><html lang="en"><head><title>t</title>
<link rel="stylesheet" href="{base}/sheet.css">
<link rel="attachment" href="file:///etc/passwd">
<link rel="attachment" href="fonts/LICENSE-DejaVu.txt">
<style>@import url("{base}/import.css"); @import url("file:///etc/hosts");
body {{ background: url("{base}/bg.png"); }}
@font-face {{ font-family: X; src: url("{base}/font.ttf"); }}</style></head>
<body><p>hello</p>
<img src="{base}/img.png"><img src="file:///etc/passwd"><img src="../secret.svg">
<img src="assets/link.svg"><img src="data:image/svg+xml;base64,PHN2Zy8+">
<object data="{base}/obj.svg"></object><iframe src="{base}/frame.html"></iframe>
<svg xmlns="http://www.w3.org/2000/svg"><image href="{base}/in-svg.png" width="5" height="5"/></svg>
<img src="assets/logo.svg" alt="allowed"></body></html>""",
        encoding="utf-8",
    )
    out = tmp_path / "reports"
    result = DocumentRenderer(root).render(
        RenderJob("evil.html", {}, str(out / "e.html"), str(out / "e.pdf"), str(out), "evil")
    )
    assert result.ok, result.error
    assert hits == [], f"the renderer contacted the network: {hits}"
    root_uri = root.resolve().as_uri() + "/"
    allowed = [u for u in result.requested_urls if u not in result.refused_urls]
    assert allowed and all(u.startswith(root_uri) for u in allowed), allowed
    assert (root / "assets" / "logo.svg").resolve().as_uri() in allowed
    refused = " ".join(result.refused_urls)
    for needle in (
        "/sheet.css",
        "/import.css",
        "file:///etc/hosts",
        "/bg.png",
        "/img.png",
        "file:///etc/passwd",
        "secret.svg",
        "link.svg",
        "data:image",
        "/font.ttf",
    ):
        assert needle in refused, f"{needle} was not refused: {result.refused_urls}"
    reader = PdfReader(result.pdf_path)
    assert reader.attachments == {} and "/EmbeddedFiles" not in reader.trailer["/Root"].get("/Names", {})
