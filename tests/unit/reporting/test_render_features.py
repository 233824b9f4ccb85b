"""`pipeline bench --render-features`: each variant really takes its feature out of the
shipped design (an edit that no longer matches report.css would time the design as
shipped under another name), and only in a copy of the templates."""

from __future__ import annotations

import filecmp

import pytest

from pipeline.bench_render import VARIANTS, _templates_with
from pipeline.resources.renderer.worker import TEMPLATES_DIR

SHIPPED_CSS = (TEMPLATES_DIR / "css" / "report.css").read_text(encoding="utf-8")
EDITS = {name: edit for name, edit in VARIANTS.items() if edit is not None}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_each_variant_changes_the_shipped_stylesheet(name):
    edited = EDITS[name](SHIPPED_CSS)
    assert edited != SHIPPED_CSS, f"{name!r} no longer matches css/report.css"
    assert len(edited) < len(SHIPPED_CSS)  # every variant takes something out


def test_margin_boxes_variant_keeps_the_page_size_and_margins():
    edited = EDITS["without page-margin boxes (running heads, page x of y)"](SHIPPED_CSS)
    assert "@top-left" not in edited and "@bottom-right" not in edited
    assert "@page { size: A4; margin: 17mm 16mm 19mm 16mm; }" in edited


def test_a_variant_is_a_copy_with_only_report_css_changed(tmp_path):
    copy = _templates_with(EDITS["without letter-spacing"], tmp_path)
    assert (TEMPLATES_DIR / "css" / "report.css").read_text(encoding="utf-8") == SHIPPED_CSS
    assert "letter-spacing" not in (copy / "css" / "report.css").read_text(encoding="utf-8")
    same = filecmp.dircmp(TEMPLATES_DIR / "client", copy / "client")
    assert not same.diff_files and not same.left_only and not same.right_only
    assert filecmp.cmp(TEMPLATES_DIR / "css" / "fonts.css", copy / "css" / "fonts.css", shallow=False)
