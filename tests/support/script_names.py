"""Names in eight scripts, a warehouse and leadership marts that carry them, and what a
rendered PDF says about the glyphs it drew (for tests/integration/test_scripts_in_pdfs.py).

Reading a PDF: WeasyPrint embeds every font as a CID font whose glyph ids are the font
file's own (HarfBuzz subsetting keeps them), maps each glyph it drew to the text it
stands for (/ToUnicode), and, the moment it has to draw a character no font has, gives
that font a custom /Encoding that sends the character to glyph 0 (.notdef, the empty
box). So: a font with any /Encoding but /Identity-H drew a box; a glyph's outline in the
embedded font program shows it is a real glyph; /ToUnicode says which characters it drew.
"""

from __future__ import annotations

import functools
import html
import io
import itertools
import re
import subprocess
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pikepdf
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont

from tests.support.leadership_builders import (
    MONTH,
    PREV,
    D,
    accounts,
    health,
    health_row,
    inputs,
    managers,
    monthly,
    monthly_row,
    portfolio,
    portfolio_row,
)
from tests.support.report_builders import Book, add_acme


@dataclass(frozen=True)
class Script:
    key: str
    account_id: str
    account: str  # the account's name
    contact: str  # its primary contact
    manager_id: str
    font: str  # the family (PDF font name, spaces as hyphens) that must draw its letters


# One account per script, with a contact named in the same script. Some characters test
# more than coverage: 赟 is outside GB 2312 (the common CJK subsets; usual in given
# names), प्रि is a conjunct with a vowel sign drawn before it, the Arabic letters join.
SCRIPTS = (
    Script("han", "ZH-1", "北京科技有限公司", "陈赟", "M-JA", "Report-Sans-CJK"),
    Script("japanese", "JA-1", "株式会社さくら商事", "佐藤 美咲", "M-JA", "Report-Sans-CJK"),
    Script("hangul", "KO-1", "한국전자 주식회사", "김민준", "M-JA", "Report-Sans-CJK"),
    Script("arabic", "AR-1", "شركة الخليج للتجارة", "أحمد المنصور", "M-AR", "Report-Sans-Arabic"),
    Script("hebrew", "HE-1", 'חברת אור בע"מ', "דוד כהן", "M-AR", "Report-Sans-Hebrew"),
    Script("thai", "TH-1", "บริษัท ไทยเทค จำกัด", "สมชาย ใจดี", "M-HI", "Report-Sans-Thai"),
    Script("devanagari", "HI-1", "भारत टेक्नोलॉजीज़", "प्रिया शर्मा", "M-HI", "Report-Sans-Devanagari"),
    Script("cyrillic", "RU-1", "ООО Северный Ветер", "Ирина Волкова", "M-RU", "Report-Sans"),
)
# Managers (one book each), named in Japanese, Arabic, Devanagari and Cyrillic.
MANAGERS = {
    "M-JA": ("山田 花子", "Asia"),
    "M-AR": ("ليلى حداد", "Middle East"),
    "M-HI": ("राहुल वर्मा", "South Asia"),
    "M-RU": ("Сергей Иванов", "Eastern Europe"),
}
MARCH = date(2024, 3, 1)


# --------------------------------------------------------------------------- warehouse


def scripts_book() -> Book:
    """March 2024 for the eight accounts: each is ``add_acme`` (monthly, USD, hand-checked
    figures) under its own id, name, contact and manager."""
    book = Book()
    for s in SCRIPTS:
        add_acme(book, account_id=s.account_id, name=s.account, recipients=f"{s.key}@clients.example")
    for row in book.rows["accounts"]:
        row["account_manager_id"] = _script(row["account_id"]).manager_id
    for row in book.rows["contacts"]:
        row["name"] = _script(row["account_id"]).contact
    for row in book.rows["activities"]:
        row["manager_id"] = _script(row["account_id"]).manager_id
    for row in book.rows["account_monthly"]:
        row["account_manager_id"] = _script(row["account_id"]).manager_id
    book.rows["account_managers"] = []
    for manager_id, (name, team) in MANAGERS.items():
        book.add(
            "account_managers", manager_id=manager_id, name=name, email=f"{manager_id.lower()}@ours.example", team=team
        )
    return book


def _script(account_id: str) -> Script:
    return next(s for s in SCRIPTS if s.account_id == account_id)


def leadership_inputs():
    """The leadership pack's inputs for October 2026 with the eight accounts, every one red
    (so each is listed, with its manager, under "Red accounts")."""
    n = len(SCRIPTS)
    total = D(1000 * n)
    return inputs(
        portfolio_frame=portfolio(
            portfolio_row(PREV, mrr_start=total, mrr_end=total, customers_start=n, customers_end=n, accounts=n),
            portfolio_row(
                MONTH, mrr_start=total, mrr_end=total, customers_start=n, customers_end=n, accounts=n, accounts_red=n
            ),
            *[
                portfolio_row(MONTH, "account_manager", m, mrr_end=D(1000), customers_end=1, accounts=1, accounts_red=1)
                for m in MANAGERS
            ],
        ),
        health_frame=health(
            *[health_row(s.account_id, PREV, "green", 80.0) for s in SCRIPTS],
            *[health_row(s.account_id, MONTH, "red", 30.0, score_change=-50.0) for s in SCRIPTS],
        ),
        monthly_frame=monthly(
            *[
                monthly_row(s.account_id, month, mrr=1000, mrr_previous=1000, account_manager_id=s.manager_id)
                for s in SCRIPTS
                for month in (PREV, MONTH)
            ]
        ),
        accounts_frame=accounts(*[(s.account_id, s.account, s.manager_id, MANAGERS[s.manager_id][0]) for s in SCRIPTS]),
        managers_frame=managers(*[(m, name, team) for m, (name, team) in MANAGERS.items()]),
    )


# --------------------------------------------------------------------------- reading PDFs


def pdftotext(path: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(path), "-"], check=True, capture_output=True, text=True).stdout


def pdffonts(path: Path) -> list[dict[str, str]]:
    """poppler's ``pdffonts``: one dict per font (name, type, encoding, emb, sub, uni)."""
    lines = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()
    header, rule, *rows = lines
    # Columns are fixed-width, separated by spaces under the dashes of the second line.
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    keys = [header[a:b].strip() or header[a:].split()[0] for a, b in spans]
    return [{k: row[a:b].strip() for k, (a, b) in zip(keys, spans, strict=True)} for row in rows]


def words(path: Path) -> list[tuple[str, float, float, int]]:
    """(word, xMin, yMin, page) of every word, from ``pdftotext -bbox``."""
    out, page = [], 0
    for line in pdftotext(path, "-bbox").splitlines():
        if "<page " in line:
            page += 1
        m = re.search(r'<word xMin="([\d.]+)" yMin="([\d.]+)" [^>]*>(.*)</word>', line)
        if m:
            out.append((html.unescape(m.group(3)), float(m.group(1)), float(m.group(2)), page))
    return out


@dataclass
class DrawnFont:
    """One font of a PDF: its name (subset tag dropped), encoding, and per glyph id the
    text it was drawn for and whether the embedded program has an outline for it."""

    name: str
    encoding: str
    embedded: bool
    glyphs: dict[int, str] = field(default_factory=dict)
    inked: dict[int, bool] = field(default_factory=dict)


def _to_unicode(stream: bytes) -> dict[int, str]:
    """glyph id -> text from a /ToUnicode CMap (bfchar and bfrange entries)."""
    text = stream.decode("latin-1")
    found: dict[int, str] = {}

    def utf16(hexes: str) -> str:
        return bytes.fromhex(hexes).decode("utf-16-be")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", text, re.S):
        for gid, uni in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>", block):
            found[int(gid, 16)] = utf16(uni)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", text, re.S):
        for lo, hi, uni in re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>", block):
            for i, gid in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                found[gid] = chr(int(uni, 16) + i)
    return found


@functools.cache
def drawn_fonts(path: Path) -> list[DrawnFont]:
    """Every font the PDF's pages use (page resources and their form XObjects); read
    once per file."""
    fonts: dict[tuple[int, int], DrawnFont] = {}
    with pikepdf.open(path) as pdf:
        resources = [page.Resources for page in pdf.pages]
        seen_resources = set()
        while resources:
            res = resources.pop()
            if res.objgen in seen_resources and res.objgen != (0, 0):
                continue
            seen_resources.add(res.objgen)
            for xobject in (res.get("/XObject") or {}).values():
                if xobject.get("/Subtype") == "/Form" and "/Resources" in xobject:
                    resources.append(xobject.Resources)
            for font in (res.get("/Font") or {}).values():
                if font.objgen in fonts:
                    continue
                fonts[font.objgen] = _read_font(font)
    return list(fonts.values())


def _read_font(font) -> DrawnFont:
    name = str(font.get("/BaseFont", "/?"))[1:]
    name = name.split("+", 1)[1] if re.match(r"^[A-Z]{6}\+", name) else name
    encoding = font.get("/Encoding")
    encoding_name = str(encoding) if isinstance(encoding, pikepdf.Name) else "custom CMap"
    descendant = font.DescendantFonts[0] if "/DescendantFonts" in font else font
    descriptor = descendant.get("/FontDescriptor")
    program = None
    if descriptor is not None:
        program = next((descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor), None)
    drawn = DrawnFont(name=name, encoding=encoding_name, embedded=program is not None)
    if "/ToUnicode" in font:
        drawn.glyphs = _to_unicode(font.ToUnicode.read_bytes())
    if program is not None:
        ttfont = TTFont(io.BytesIO(program.read_bytes()), lazy=True)
        order = ttfont.getGlyphOrder()
        glyph_set = ttfont.getGlyphSet()
        for gid in drawn.glyphs:
            inked = False
            if 0 < gid < len(order):
                pen = BoundsPen(glyph_set)
                glyph_set[order[gid]].draw(pen)
                inked = pen.bounds is not None
            drawn.inked[gid] = inked
    return drawn


@dataclass(frozen=True)
class FontFace:
    family: str
    weight: int
    italic: bool
    file: str  # inside fonts/
    ranges: tuple[tuple[int, int], ...]  # unicode-range, empty when the rule has none


def font_faces(templates_dir: Path) -> list[FontFace]:
    """The @font-face rules of css/fonts.css."""
    css = (templates_dir / "css" / "fonts.css").read_text(encoding="utf-8")
    faces = []
    for rule in re.findall(r"@font-face\s*{(.*?)}", css, re.S):
        ranges = []
        if m := re.search(r"unicode-range:([^;]*)", rule):
            for item in m.group(1).split(","):
                lo, _, hi = item.strip().removeprefix("U+").partition("-")
                ranges.append((int(lo, 16), int(hi or lo, 16)))
        faces.append(
            FontFace(
                family=re.search(r'font-family:\s*"([^"]+)"', rule).group(1),
                weight=int(re.search(r"font-weight:\s*(\d+)", rule).group(1)),
                italic=re.search(r"font-style:\s*italic", rule) is not None,
                file=re.search(r'url\("fonts/([^"]+)"\)', rule).group(1),
                ranges=tuple(ranges),
            )
        )
    return faces


def shipped_cmap(font_name: str, templates_dir: Path) -> dict[int, int]:
    """code point -> glyph id of the shipped font file a PDF font name (``Report-Sans-
    Arabic-Bold``) comes from: the upright @font-face of that family and weight."""
    bold = font_name.endswith("-Bold")
    family = font_name.removesuffix("-Bold").replace("-", " ")
    face = next(
        f for f in font_faces(templates_dir) if f.family == family and (f.weight == 700) == bold and not f.italic
    )
    ttfont = TTFont(templates_dir / "fonts" / face.file, lazy=True)
    return {cp: ttfont.getGlyphID(g) for cp, g in ttfont.getBestCmap().items()}


def glyphs_for(fonts: list[DrawnFont], char: str) -> list[tuple[DrawnFont, int]]:
    """(font, glyph id) of every glyph drawn for text containing ``char``."""
    return [(f, gid) for f in fonts for gid, text in f.glyphs.items() if char in text]


# Arabic joining (Unicode ArabicShaping.txt), enough for names without vowel marks: most
# letters join both ways, right-joining ones only to the letter before them, hamza to none.
RIGHT_JOINING = set("اأإآدذرزوؤة")
NON_JOINING = set("ء")
ARABIC_LETTER = re.compile(r"[\u0620-\u064A\u066E-\u06D3\u06FA-\u06FC]")


def joined_letters(word: str) -> list[int]:
    """Indices of the letters of an Arabic ``word`` that join a neighbour, and so must be
    drawn with an initial, medial or final form (not the isolated, nominal glyph)."""
    letters = [i for i, c in enumerate(word) if ARABIC_LETTER.match(c)]
    joined = set()
    for a, b in itertools.pairwise(letters):
        if b == a + 1 and word[a] not in RIGHT_JOINING | NON_JOINING and word[b] not in NON_JOINING:
            joined.update((a, b))
    return sorted(joined)
