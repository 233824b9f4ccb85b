"""Names in every script come out of the PDFs as real glyphs, in the right order.

Eight accounts are named in Chinese, Japanese, Korean, Arabic, Hebrew, Thai, Devanagari
and Cyrillic, each with a contact named in the same script, under four managers named in
Japanese, Arabic, Devanagari and Cyrillic (tests/support/script_names.py). Their client
reports, the managers' books and a leadership pack listing all eight are rendered by the
product's renderer, and each PDF is read back:

- every font is embedded (poppler's ``pdffonts``) and no glyph drawn is .notdef (WeasyPrint
  gives a font a custom /Encoding exactly when it had to draw a character no font has;
  each glyph the text layer names has an outline in the embedded font program);
- every character of every name is drawn by the font of its script (docs/fonts.md) with
  a glyph that has ink, and is in the text layer (``pdftotext``);
- Arabic and Hebrew names read in logical order in the text layer and are laid out right
  to left on the page; Arabic letters are joined (contextual forms, not isolated ones).

What no program judges (does it look right?) was looked at: docs/fonts.md.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from pipeline.publish.client_reports import produce_client_reports
from pipeline.publish.manager_books import produce_manager_books
from pipeline.reporting.naming import pack_paths
from pipeline.reporting.pack.context import CHART_BUILDER, TEMPLATE, build_leadership_context
from pipeline.resources.renderer.pool import Renderer
from pipeline.resources.renderer.worker import TEMPLATES_DIR
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from tests.support.book_builders import write_alert_marts
from tests.support.script_names import (
    MANAGERS,
    MARCH,
    SCRIPTS,
    Script,
    drawn_fonts,
    font_faces,
    glyphs_for,
    joined_letters,
    leadership_inputs,
    pdffonts,
    pdftotext,
    scripts_book,
    shipped_cmap,
    words,
)

FONTS_DIR = TEMPLATES_DIR / "fonts"
FONTS_BUDGET = 20_000_000  # bytes in report_templates/fonts (docs/fonts.md)
SCRIPT_FAMILIES = {
    "Report Sans Arabic",
    "Report Sans Hebrew",
    "Report Sans Thai",
    "Report Sans Devanagari",
    "Report Sans CJK",
}
# The blocks "Report Sans" leaves to the Arabic and Hebrew faces (css/fonts.css).
ARABIC_HEBREW = ((0x0590, 0x06FF), (0x0750, 0x077F), (0x0870, 0x08FF), (0xFB1D, 0xFDFF), (0xFE70, 0xFEFF))
MANAGER_FONT = {
    "M-JA": "Report-Sans-CJK",
    "M-AR": "Report-Sans-Arabic",
    "M-HI": "Report-Sans-Devanagari",
    "M-RU": "Report-Sans",
}


def text_layer_spells(name: str) -> bool:
    """Whether pdftotext gives ``name`` back exactly. Not when one glyph stands for
    letters that poppler or WeasyPrint's one-text-per-glyph /ToUnicode map cannot put back
    in order: the Arabic lam + alef maksura (a required ligature, spelled backwards by
    poppler in right-to-left text) and the Devanagari reph (र् drawn over the next
    consonant). Every character of those names is still checked to be in the text layer."""
    return "\u0644\u0649" not in name and re.search("\u0930\u094d[\u0915-\u0939]", name) is None


def test_each_face_lists_only_characters_its_font_has():
    """WeasyPrint takes unicode-range on trust: a character a face lists but its file lacks
    would come out as .notdef instead of from the next family. "Report Sans" (DejaVu) lists
    all its characters but the Arabic and Hebrew blocks; a script face lists only its own
    script, never a space or Latin (docs/fonts.md)."""
    faces = font_faces(TEMPLATES_DIR)
    assert {f.family for f in faces} == {"Report Sans", *SCRIPT_FAMILIES}
    for face in faces:
        cmap = set(TTFont(FONTS_DIR / face.file, lazy=True).getBestCmap())
        listed = {c for lo, hi in face.ranges for c in range(lo, hi + 1)}
        assert not listed - cmap, f"{face.file} lacks {sorted(hex(c) for c in listed - cmap)[:10]}"
        if face.family == "Report Sans":
            assert listed == {c for c in cmap if not any(lo <= c <= hi for lo, hi in ARABIC_HEBREW)}, face.file
        else:
            assert listed and min(listed) > 0x2FF, f"{face.family} lists Latin"
    shipped = {p.name for p in FONTS_DIR.iterdir() if p.suffix in {".ttf", ".otf"}}
    assert shipped == {f.file for f in faces}, "a font file no @font-face uses, or a face without its file"
    licence = (FONTS_DIR / "LICENSE-Noto-OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE" in licence
    assert all(name in licence for name in shipped if name.startswith("Noto"))
    size = sum(p.stat().st_size for p in FONTS_DIR.iterdir())
    assert size <= FONTS_BUDGET, f"report_templates/fonts holds {size:,} bytes (budget {FONTS_BUDGET:,})"


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[Path, list[tuple[str, str]]]:
    """Each rendered PDF -> the names it must show, with the font family that must draw them."""
    root = tmp_path_factory.mktemp("scripts")
    warehouse = write_alert_marts(scripts_book().write(Warehouse(root / "warehouse.duckdb")), MARCH)
    settings = Settings(data_dir=root)
    renderer = Renderer(2)  # the product's pool of render processes
    clients = produce_client_reports(warehouse, settings, MARCH, renderer)
    assert clients.rendered == len(SCRIPTS), clients.failures
    books = produce_manager_books(warehouse, settings, MARCH, renderer)
    assert books.rendered == len(MANAGERS), books.failures

    def manager(s: Script) -> tuple[str, str]:
        return MANAGERS[s.manager_id][0], MANAGER_FONT[s.manager_id]

    docs: dict[Path, list[tuple[str, str]]] = {}
    for row in clients.rows:
        s = next(s for s in SCRIPTS if s.account_id == row["account_id"])
        docs[root / "reports" / row["pdf_path"]] = [(s.account, s.font), (s.contact, s.font), manager(s)]
    for row in books.rows:
        mine = [s for s in SCRIPTS if s.manager_id == row["account_id"]]
        docs[root / "reports" / row["pdf_path"]] = [manager(mine[0]), *[(s.account, s.font) for s in mine]]

    paths = _render_pack(renderer, root / "pack")
    docs[paths.pdf] = [
        *[(s.account, s.font) for s in SCRIPTS],
        *dict.fromkeys(manager(s) for s in SCRIPTS),
    ]
    return docs


def _render_pack(renderer: Renderer, root: Path):
    paths = pack_paths(root, "2026-10")
    ctx = build_leadership_context(leadership_inputs(), Settings())
    renderer.render(TEMPLATE, ctx, paths.html, paths.pdf, root, chart_builder=CHART_BUILDER)
    return paths


def _name_of(path: Path) -> str:
    return "/".join(path.parts[-3:])


@pytest.mark.slow
def test_every_font_is_embedded_and_nothing_is_drawn_as_notdef(documents):
    assert len(documents) == len(SCRIPTS) + len(MANAGERS) + 1
    for pdf in documents:
        rows = pdffonts(pdf)
        assert rows, _name_of(pdf)
        for row in rows:
            where = f"{_name_of(pdf)}: {row['name']}"
            assert row["emb"] == "yes", f"{where} is not embedded"
            assert row["uni"] == "yes", f"{where} has no ToUnicode map"
            # A custom encoding is how WeasyPrint sends a character no font has to .notdef.
            assert row["encoding"] == "Identity-H", f"{where} drew .notdef (encoding {row['encoding']})"
        for font in drawn_fonts(pdf):
            assert font.embedded, f"{_name_of(pdf)}: {font.name} is not embedded"
            for gid, text in font.glyphs.items():
                if text.strip():
                    assert gid != 0 and font.inked[gid], (
                        f"{_name_of(pdf)}: {font.name} drew {text!r} with an empty glyph {gid}"
                    )
        text = pdftotext(pdf)
        assert "\ufffd" not in text, f"{_name_of(pdf)}: a character pdftotext cannot map"


@pytest.mark.slow
def test_every_name_is_drawn_by_its_scripts_font_and_is_in_the_text_layer(documents):
    for pdf, names in documents.items():
        fonts = drawn_fonts(pdf)
        text, raw = _squash(pdftotext(pdf)), _squash(pdftotext(pdf, "-raw"))
        for name, family in names:
            where = f"{_name_of(pdf)}: {name}"
            for char in name:
                if char.isspace() or char == '"':
                    continue
                drawn = [(f, gid) for f, gid in glyphs_for(fonts, char) if f.inked.get(gid)]
                assert drawn, f"{where}: {char!r} (U+{ord(char):04X}) is drawn by no glyph"
                families = {re.sub(r"-(Bold|Italic)$", "", f.name) for f, _ in drawn}
                assert family in families, f"{where}: {char!r} is drawn by {sorted(families)}, not {family}"
                assert char in text, f"{where}: {char!r} is missing from the text layer"
            if text_layer_spells(name):
                # Logical order, right-to-left names included. Devanagari clusters come back
                # in drawing order (-raw); the default mode splits them at a vowel sign.
                layer = raw if family == "Report-Sans-Devanagari" else text
                assert _squash(name) in layer, f"{where}: not in the text layer as written"


def _squash(text: str) -> str:
    """Text with bidi controls dropped and white space collapsed (poppler wraps a
    right-to-left run in U+202B ... U+202C and breaks lines where the page does)."""
    text = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", "", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def _is_rtl(word: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in word)


@pytest.mark.slow
def test_right_to_left_names_run_right_to_left_and_arabic_letters_join(documents):
    checked = 0
    for pdf, names in documents.items():
        lines: dict[tuple[int, float], dict[str, float]] = {}
        for word, x, y, page in words(pdf):
            # pdftotext -bbox gives a right-to-left word's characters left to right as drawn.
            logical = word[::-1] if _is_rtl(word) else word
            lines.setdefault((page, round(y, 1)), {})[logical.strip(",.،:;()")] = x
        for name, family in names:
            if family not in ("Report-Sans-Arabic", "Report-Sans-Hebrew") or not text_layer_spells(name):
                continue
            parts = name.split()
            placed = [[line[p] for p in parts] for line in lines.values() if all(p in line for p in parts)]
            assert placed, f"{_name_of(pdf)}: {name} is on no line with its letters drawn right to left"
            for xs in placed:  # first word rightmost
                assert xs == sorted(xs, reverse=True) and len(set(xs)) == len(xs), (
                    f"{_name_of(pdf)}: the words of {name} are laid out left to right at {xs}"
                )
            checked += 1

        arabic = [
            (f, shipped_cmap(f.name, TEMPLATES_DIR))
            for f in drawn_fonts(pdf)
            if f.name.startswith("Report-Sans-Arabic")
        ]
        for name, family in names:
            for word in name.split() if family == "Report-Sans-Arabic" else ():
                for i in joined_letters(word):
                    forms = {(f.name, gid) for f, cmap in arabic for gid, t in f.glyphs.items() if word[i] in t}
                    isolated = {(f.name, cmap[ord(word[i])]) for f, cmap in arabic}
                    assert forms - isolated, (
                        f"{_name_of(pdf)}: {word[i]!r} of {word} is drawn only in its isolated form"
                    )
    assert checked == 8, checked  # Arabic and Hebrew accounts and contacts in the reports, the book, the pack


@pytest.mark.slow
def test_a_document_in_every_script_renders_to_the_same_bytes_again(documents, tmp_path):
    """The CJK font is CFF-flavoured (the others TrueType): HarfBuzz subsets both the same
    way every time. The pack, naming all eight accounts, is rendered again and compared."""
    first = next(p for p in documents if p.parent.name == "leadership")
    again = _render_pack(Renderer(2), tmp_path / "pack")
    assert again.pdf.read_bytes() == first.read_bytes()
