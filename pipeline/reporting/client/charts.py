"""The client report's charts: recurring revenue, billing and the voice of the customer.

Drawn in the house style of ``pipeline.reporting.charts``; only month names and
formatted numbers are drawn, never a client-provided string.
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.reporting.charts import FONT_SIZE, INK, MUTED, RC, month_labels, nums, style_axes, to_svg
from pipeline.reporting.formatting import money_short


def mrr_chart(data: dict[str, Any], currency: str, primary: str, muted: str = "#c9d3de") -> str | None:
    """Monthly recurring revenue over 12 months; the report period's months in colour."""
    months, values = data["months"], nums(data["values"])
    if not months or not any(v > 0 for v in values if not math.isnan(v)):
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 2.1))
        ax = fig.add_subplot()
        colors = [primary if h else muted for h in data["highlight"]]
        ax.bar(range(len(months)), values, color=colors, width=0.68)
        ax.set_xticks(range(len(months)), month_labels(months))
        ax.yaxis.set_major_locator(MaxNLocator(4, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_ylim(bottom=0)
        style_axes(ax)
        fig.subplots_adjust(left=0.08, right=0.995, top=0.96, bottom=0.2)
        return to_svg(fig, "mrr", "Monthly recurring revenue, last 12 months")


def billing_chart(data: dict[str, Any], currency: str, primary: str, accent: str) -> str | None:
    """Invoiced (net) and collected per month over 12 months, side by side."""
    months = data["months"]
    invoiced, collected = nums(data["invoiced"]), nums(data["collected"])
    if not months or not any(v != 0 for v in invoiced + collected if not math.isnan(v)):
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 2.0))
        ax = fig.add_subplot()
        x = range(len(months))
        w = 0.36
        ax.bar([i - w / 2 for i in x], invoiced, width=w, color=primary, label="Invoiced (net)")
        ax.bar([i + w / 2 for i in x], collected, width=w, color=accent, label="Collected")
        ax.set_xticks(list(x), month_labels(months))
        ax.yaxis.set_major_locator(MaxNLocator(4, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_ylim(bottom=0)
        style_axes(ax)
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(0, 1.16),
            ncols=2,
            frameon=False,
            fontsize=FONT_SIZE,
            handlelength=1.0,
            handleheight=0.8,
            borderaxespad=0,
        )
        fig.subplots_adjust(left=0.08, right=0.995, top=0.86, bottom=0.21)
        return to_svg(fig, "billing", "Invoiced and collected per month, last 12 months")


def voice_chart(data: dict[str, Any], primary: str, accent: str) -> str | None:
    """NPS (-100..100) and CSAT (0..100%) over 12 months, two small panels."""
    months = data["months"]
    if not months or all(v is None for v in data["nps"] + data["csat"]):
        return None
    with matplotlib.rc_context(RC):
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
            ax.set_xticks(range(len(months)), month_labels(months, every=3))
            ax.yaxis.set_major_formatter(FuncFormatter(fmt))
            ax.set_yticks([lo, (lo + hi) / 2, hi])
            ax.set_title(title, loc="left", fontsize=FONT_SIZE, color=INK, pad=9)
            style_axes(ax)
            if lo < 0:
                ax.axhline(0, color=MUTED, linewidth=0.6)
        fig.subplots_adjust(left=0.06, right=0.995, top=0.84, bottom=0.22, wspace=0.18)
        return to_svg(fig, "voice", "NPS and CSAT, last 12 months")


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
