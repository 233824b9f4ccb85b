"""Charts for the client report, drawn by matplotlib's SVG backend into inline SVG.

WeasyPrint runs no JavaScript, so charts are static SVG. Text stays SVG text (glyphs as
paths cost WeasyPrint twice the time to draw) in the report's shipped font, "Report
Sans" (DejaVu Sans, the font matplotlib measures with, so labels sit where matplotlib
put them); a browser without it falls back to DejaVu Sans or sans-serif. Only month
names and formatted numbers are drawn, never a client-provided string. Element ids are
prefixed per chart so several charts can live in one HTML document, and the output is
deterministic (fixed hash salt, no date) so the same numbers give the same bytes.

Imported by the render workers only (matplotlib costs time to import).
"""

from __future__ import annotations

import io
import math
import re
from datetime import date
from typing import Any, Sequence

import matplotlib

matplotlib.use("svg", force=False)

from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from pipeline.reporting.formatting import money_short  # noqa: E402
from pipeline.reporting.periods import MONTH_NAMES  # noqa: E402

INK = "#2b2f36"
MUTED = "#9aa3ad"
GRID = "#e3e7ec"
FONT_SIZE = 7.5

_RC = {
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


def _labels(months: Sequence[date], every: int = 1) -> list[str]:
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


def _nums(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def _style(ax) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="x", length=0, pad=4)
    ax.margins(x=0.01)


def _to_svg(fig: Figure, prefix: str, label: str) -> str:
    buf = io.StringIO()
    FigureCanvasSVG(fig)
    with matplotlib.rc_context(_RC):
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


def mrr_chart(data: dict[str, Any], currency: str, primary: str, muted: str = "#c9d3de") -> str | None:
    """Monthly recurring revenue over 12 months; the report period's months in colour."""
    months, values = data["months"], _nums(data["values"])
    if not months or not any(v > 0 for v in values if not math.isnan(v)):
        return None
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.2, 2.1))
        ax = fig.add_subplot()
        colors = [primary if h else muted for h in data["highlight"]]
        ax.bar(range(len(months)), values, color=colors, width=0.68)
        ax.set_xticks(range(len(months)), _labels(months))
        ax.yaxis.set_major_locator(MaxNLocator(4, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_ylim(bottom=0)
        _style(ax)
        fig.subplots_adjust(left=0.08, right=0.995, top=0.96, bottom=0.2)
        return _to_svg(fig, "mrr", "Monthly recurring revenue, last 12 months")


def billing_chart(data: dict[str, Any], currency: str, primary: str, accent: str) -> str | None:
    """Invoiced (net) and collected per month over 12 months, side by side."""
    months = data["months"]
    invoiced, collected = _nums(data["invoiced"]), _nums(data["collected"])
    if not months or not any(v != 0 for v in invoiced + collected if not math.isnan(v)):
        return None
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.2, 2.0))
        ax = fig.add_subplot()
        x = range(len(months))
        w = 0.36
        ax.bar([i - w / 2 for i in x], invoiced, width=w, color=primary, label="Invoiced (net)")
        ax.bar([i + w / 2 for i in x], collected, width=w, color=accent, label="Collected")
        ax.set_xticks(list(x), _labels(months))
        ax.yaxis.set_major_locator(MaxNLocator(4, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_ylim(bottom=0)
        _style(ax)
        ax.legend(loc="upper left", bbox_to_anchor=(0, 1.16), ncols=2, frameon=False, fontsize=FONT_SIZE,
                  handlelength=1.0, handleheight=0.8, borderaxespad=0)
        fig.subplots_adjust(left=0.08, right=0.995, top=0.86, bottom=0.21)
        return _to_svg(fig, "billing", "Invoiced and collected per month, last 12 months")


def voice_chart(data: dict[str, Any], primary: str, accent: str) -> str | None:
    """NPS (-100..100) and CSAT (0..100%) over 12 months, two small panels."""
    months = data["months"]
    if not months or all(v is None for v in data["nps"] + data["csat"]):
        return None
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(7.2, 1.9))
        axes = fig.subplots(1, 2)
        panels = (
            (axes[0], data["nps"], primary, (-100, 100), "NPS, last 12 months", lambda v, _: f"{v:.0f}"),
            (axes[1], data["csat"], accent, (0, 100), "CSAT, last 3 months", lambda v, _: f"{v:.0f}%"),
        )
        for ax, values, color, (lo, hi), title, fmt in panels:
            xs = [i for i, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            ax.plot(xs, ys, color=color, linewidth=1.6, marker="o", markersize=2.8)
            ax.set_ylim(lo, hi)
            ax.set_xlim(-0.5, len(months) - 0.5)
            ax.set_xticks(range(len(months)), _labels(months, every=3))
            ax.yaxis.set_major_formatter(FuncFormatter(fmt))
            ax.set_yticks([lo, (lo + hi) / 2, hi])
            ax.set_title(title, loc="left", fontsize=FONT_SIZE, color=INK, pad=9)
            _style(ax)
            if lo < 0:
                ax.axhline(0, color=MUTED, linewidth=0.6)
        fig.subplots_adjust(left=0.06, right=0.995, top=0.84, bottom=0.22, wspace=0.18)
        return _to_svg(fig, "voice", "NPS and CSAT, last 12 months")


def draw_charts(charts: dict[str, Any], currency: str, primary: str, accent: str) -> dict[str, str | None]:
    """Every chart of a client report, as inline SVG strings (None when there is no data)."""
    return {
        "mrr": mrr_chart(charts["mrr"], currency, primary),
        "billing": billing_chart(charts["billing"], currency, primary, accent),
        "voice": voice_chart(charts["voice"], primary, accent),
    }


def client_charts(context: dict[str, Any]) -> dict[str, str | None]:
    """The chart builder of the client report (named by its render jobs)."""
    provider = context["provider"]
    return draw_charts(context["charts"], context["currency"], provider["primary_color"], provider["accent_color"])
