"""The house style of every chart (client report and pack), drawn by matplotlib's SVG backend into inline SVG.

WeasyPrint runs no JavaScript, so charts are static SVG. Text stays SVG text (glyphs as
paths cost WeasyPrint twice the time to draw) in the report's shipped font, "Report
Sans" (DejaVu Sans, the font matplotlib measures with, so labels sit where matplotlib
put them); a browser without it falls back to DejaVu Sans or sans-serif. Only month
names and formatted numbers are drawn, never a client-provided string. Element ids are
prefixed per chart so several charts can live in one HTML document, and the output is
deterministic (fixed hash salt, no date) so the same numbers give the same bytes.

Imported by the render workers only (matplotlib costs time to import). The client
report's charts are in ``pipeline.reporting.client.charts``, the pack's in
``pipeline.reporting.pack.charts``.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("svg", force=False)

from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from pipeline.reporting.periods import MONTH_NAMES

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

INK = "#2b2f36"
MUTED = "#9aa3ad"
GRID = "#e3e7ec"
FONT_SIZE = 7.5

RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "client-report",
    "font.family": "DejaVu Sans",
    "font.size": FONT_SIZE,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0,
    "ytick.major.pad": 4,
}


def month_labels(months: Sequence[date], every: int = 1) -> list[str]:
    """``Apr`` ... with the year under January and under the first month; with every=3
    only every third month (counted back from the last) is labelled."""
    out = []
    last = len(months) - 1
    for i, m in enumerate(months):
        if (last - i) % every:
            out.append("")
            continue
        name = MONTH_NAMES[m.month - 1][:3]
        first = i == 0 or all(not x for x in out)
        out.append(f"{name}\n{m.year}" if first or m.month == 1 else name)
    return out


def nums(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def style_axes(ax) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", length=0, pad=4)
    ax.margins(x=0.01)


def to_svg(fig: Figure, prefix: str, label: str) -> str:
    buf = io.StringIO()
    FigureCanvasSVG(fig)
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, transparent=True)
    return clean_svg(buf.getvalue(), prefix, label)


def clean_svg(svg: str, prefix: str, label: str) -> str:
    """Inline-ready SVG: no prolog or comments, ids prefixed, sized by CSS, labelled."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    # matplotlib's document-wide "*{stroke-linejoin...}" rule would leak into the HTML
    # page around an inline chart: drop it, keep the same look as inherited attributes.
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = svg.replace("font-family: 'DejaVu Sans'", "font-family: 'Report Sans', 'DejaVu Sans', sans-serif")
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for ident in sorted(ids, key=len, reverse=True):
        new = f"{prefix}-{ident}"
        svg = svg.replace(f'id="{ident}"', f'id="{new}"')
        svg = svg.replace(f'href="#{ident}"', f'href="#{new}"')
        svg = svg.replace(f"url(#{ident})", f"url(#{new})")
    if re.search(r"<script|<foreignObject|<style|href=\"(?!#)|url\((?!#)", svg, flags=re.I):
        raise ValueError("chart SVG holds an external reference or a script")
    # Size comes from CSS (width 100%, height from the viewBox); the root gets a role.
    svg = re.sub(r'<svg([^>]*?)\swidth="[^"]*"\sheight="[^"]*"', r"<svg\1", svg, count=1)
    safe_label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    svg = svg.replace(
        "<svg", f'<svg role="img" aria-label="{safe_label}" stroke-linejoin="round" stroke-linecap="butt"', 1
    )
    return svg.strip()
