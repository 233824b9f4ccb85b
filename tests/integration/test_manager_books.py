"""Books of business from the hand-built warehouse (tests/support/book_builders.py): each
book holds exactly its manager's accounts (as for client reports), data is escaped, the
files land in reports/YYYY-MM/managers/<manager>/ with a manifest row, a rerun renders
nothing, and a failed render leaves no file behind."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.publish.manager_books import KIND, book_coverage, produce_manager_books
from pipeline.reporting.manager.context import TEMPLATE, book_plan, build_book_context
from pipeline.reporting.naming import book_paths, safe_name
from pipeline.resources.renderer.worker import TEMPLATES_DIR, RenderResult, make_environment
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.book_inputs import load_book_inputs
from pipeline.store.records import read_manifest
from tests.support.book_builders import MANAGER_OF, MAR, NAMES, write_alert_marts, write_book_of_business

ALL = {"M1": {"P01", "P02", "P03", "P04", "P05"}, "M2": {"P06", "P07", "P08", "P09", "P10"}, "M3": {"P11", "P12"}}


def escaped(name: str) -> str:
    return name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_html(ctx: dict) -> str:
    """The book's HTML as the renderer writes it, without the PDF (Jinja only)."""
    return (
        make_environment(TEMPLATES_DIR)
        .get_template(TEMPLATE)
        .render(ctx=ctx, charts={"mrr": None}, mode="html", asset=lambda name: "")
    )


@pytest.fixture
def warehouse_with_marts(data_dir: Path, warehouse: Warehouse) -> Warehouse:
    return write_alert_marts(write_book_of_business(warehouse))


def test_each_book_holds_exactly_its_managers_accounts(warehouse_with_marts: Warehouse) -> None:
    inputs = load_book_inputs(warehouse_with_marts, MAR)
    assert book_plan(inputs) == ["M1", "M2", "M3"]
    for manager, mine in ALL.items():
        ctx = build_book_context(inputs, manager, Settings())
        html = render_html(ctx)
        for account, name in NAMES.items():
            if account in mine:
                assert escaped(name) in html, (manager, account)
                assert account in html
            else:
                assert escaped(name) not in html and account not in html, (manager, account)
        assert "<b>Rockets</b>" not in html and "<script>" not in html
    dana = render_html(build_book_context(inputs, "M1", Settings()))
    assert "Support is &lt;script&gt;alert(&#39;slow&#39;)&lt;/script&gt;" in dana  # the detractor's comment
    assert "7 of 11 key mid-market customers (64%)" in dana
    for heading in (
        "New alerts",
        "Your accounts by health band",
        "Renewals in the next 90 days",
        "Goals behind or missed",
        "Accounts gone quiet",
        "Cross-sell ideas",
    ):
        assert heading in dana


class FailingRenderer:
    """Renders nothing: every job comes back failed, as a WeasyPrint crash would."""

    templates_dir = TEMPLATES_DIR

    def render_many(self, jobs):
        for job in jobs:
            yield RenderResult(
                key=job.key, ok=False, html_path=job.html_path, pdf_path=job.pdf_path, error="LayoutError: boom"
            )


def test_a_failed_render_leaves_no_file_and_a_failed_row(warehouse_with_marts: Warehouse, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    summary = produce_manager_books(warehouse_with_marts, settings, MAR, FailingRenderer())
    assert (summary.due, summary.rendered, summary.failed) == (3, 0, 3)
    assert not list((data_dir / "reports").rglob("book-*"))
    manifest = read_manifest(warehouse_with_marts, "2024-03", KIND)
    assert manifest["status"].to_list() == ["failed"] * 3 and manifest["error"].to_list() == ["LayoutError: boom"] * 3
    coverage = book_coverage(warehouse_with_marts, settings, MAR)
    assert (coverage.due, coverage.with_book, coverage.missing.height) == (3, 0, 3)


def test_book_paths_stay_inside_the_reports_folder(tmp_path: Path) -> None:
    paths = book_paths(tmp_path, "2024-03", "../../etc/passwd")
    assert paths.pdf.parent.parent == (tmp_path / "2024-03" / "managers").resolve()
    assert paths.pdf.name == "book-2024-03.pdf" and paths.folder.name == safe_name("../../etc/passwd")


@pytest.mark.slow
def test_books_render_to_their_folders_and_a_rerun_renders_nothing(
    warehouse_with_marts: Warehouse, data_dir: Path
) -> None:
    from pypdf import PdfReader

    from pipeline.resources.renderer.pool import Renderer

    settings = Settings(data_dir=data_dir)
    renderer = Renderer(1)
    first = produce_manager_books(warehouse_with_marts, settings, MAR, renderer, run_id="r1")
    assert (first.due, first.rendered, first.unchanged, first.failed) == (3, 3, 0, 0), first.failures
    manifest = read_manifest(warehouse_with_marts, "2024-03", KIND).sort("account_id")
    assert manifest["account_id"].to_list() == ["M1", "M2", "M3"]
    for row in manifest.iter_rows(named=True):
        manager = row["account_id"]
        assert row["pdf_path"] == f"2024-03/managers/{safe_name(manager)}/book-2024-03.pdf"
        pdf = data_dir / "reports" / row["pdf_path"]
        reader = PdfReader(io.BytesIO(pdf.read_bytes()))
        text = " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
        assert row["pages"] == len(reader.pages) >= 2
        assert reader.metadata.title.endswith("book of business, March 2024")
        for account in NAMES:
            mine = MANAGER_OF[account] == manager
            assert (account in text) == mine, (manager, account)
        html = (data_dir / "reports" / row["html_path"]).read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?|file):""", html)  # self-contained
    assert not list((data_dir / "reports").rglob("*.part*"))

    again = produce_manager_books(warehouse_with_marts, settings, MAR, renderer, run_id="r2")
    assert (again.rendered, again.unchanged) == (0, 3)
    assert (
        read_manifest(warehouse_with_marts, "2024-03", KIND)
        .sort("account_id")["pdf_sha256"]
        .equals(manifest["pdf_sha256"])
    )
    # a changed setting that the book shows renders again
    renamed = replace(settings, branding=replace(settings.branding, company_name="Northwind Ltd"))
    changed = produce_manager_books(warehouse_with_marts, renamed, MAR, renderer)
    assert changed.rendered == 3
