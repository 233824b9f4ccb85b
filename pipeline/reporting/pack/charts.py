"""Charts of the leadership pack: sparklines, the MRR bridge waterfall, 12 months of
movements as stacked bars and the health bands over time.

Drawn the way the client report's charts are (``pipeline.reporting.charts``): matplotlib's
SVG backend, text as paths, ids prefixed per chart, deterministic output, only numbers
and month names drawn. The numbers come from ``context["charts"]``, which the context
builds from the same mart rows as the tables beside the charts.

Imported by the render workers only (matplotlib costs time to import).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

import matplotlib

matplotlib.use("svg", force=False)

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from pipeline.reporting.charts import FONT_SIZE, INK, MUTED, RC, month_labels, nums, style_axes, to_svg
from pipeline.reporting.formatting import money_short

GREEN = "#2f7d4f"
GREEN_LIGHT = "#8cc5a0"
RED = "#a23b2a"
RED_LIGHT = "#e0a195"
AMBER = "#d69a1e"
NOT_SCORED = "#c3cad2"
BAND_COLORS = {"green": GREEN, "amber": AMBER, "red": RED, "insufficient_data": NOT_SCORED}
MOVEMENT_COLORS = {
    "new": GREEN,
    "reactivation": GREEN_LIGHT,
    "expansion": "#4fa673",
    "contraction": RED_LIGHT,
    "churn": RED,
}


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


# --------------------------------------------------------------------------- sparklines


def sparkline(values: Sequence[float | None], key: str, label: str, color: str) -> str | None:
    """A 12-month line with the last value marked; gaps where the mart has no value."""
    ys = nums(values)
    known = _finite(ys)
    if not known:
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(1.25, 0.34))
        ax = fig.add_axes((0.03, 0.12, 0.9, 0.76))
        xs = list(range(len(ys)))
        ax.plot(xs, ys, color=color, linewidth=1.1, solid_capstyle="round")
        last = max(i for i, v in enumerate(ys) if not math.isnan(v))
        ax.plot([last], [ys[last]], marker="o", markersize=2.6, color=color)
        if len(known) == 1:
            ax.plot(xs[last : last + 1], [ys[last]], marker="o", markersize=2.6, color=color)
        lo, hi = min(known), max(known)
        pad = (hi - lo) * 0.12 or (abs(hi) * 0.05 or 1.0)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlim(-0.4, len(ys) - 0.6)
        ax.axis("off")
        return to_svg(fig, f"spark-{key}", f"{label}, last 12 months")


def band_sparkline(bands: dict[str, Sequence[float | None]]) -> str | None:
    """Stacked bars of the share of accounts in each band, month by month."""
    order = ("green", "amber", "red", "insufficient_data")
    n = len(bands["green"])
    totals = [sum((bands[b][i] or 0) for b in order) for i in range(n)]
    if not any(totals):
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(1.25, 0.34))
        ax = fig.add_axes((0.03, 0.08, 0.9, 0.84))
        bottom = [0.0] * n
        for b in order:
            heights = [((bands[b][i] or 0) / totals[i]) if totals[i] else 0.0 for i in range(n)]
            ax.bar(range(n), heights, bottom=bottom, color=BAND_COLORS[b], width=0.8, linewidth=0)
            bottom = [x + h for x, h in zip(bottom, heights, strict=True)]
        ax.set_ylim(0, 1)
        ax.set_xlim(-0.6, n - 0.4)
        ax.axis("off")
        return to_svg(fig, "spark-health", "Share of accounts per health band, last 12 months")


# --------------------------------------------------------------------------- waterfall


SHORT_STEP = {"Reactivation": "Reactiv.", "Contraction": "Contract."}


def waterfall_levels(bridge: dict[str, Any]) -> list[dict[str, Any]]:
    """The bars of the waterfall: label, bottom, top, kind (total, up, down) and amount.

    Pure arithmetic on the bridge handed in (start, movements, end); the last level is
    the end only when the bridge ties out, which the context checks.
    """
    bars = [{"label": "Start", "bottom": 0.0, "top": bridge["start"], "kind": "total", "amount": bridge["start"]}]
    level = bridge["start"]
    for step in bridge["steps"]:
        new_level = level + step["sign"] * step["amount"]
        bars.append(
            {
                "label": step["label"],
                "bottom": min(level, new_level),
                "top": max(level, new_level),
                "kind": "up" if step["sign"] > 0 else "down",
                "amount": step["amount"],
                "name": step["name"],
            }
        )
        level = new_level
    bars.append({"label": "End", "bottom": 0.0, "top": bridge["end"], "kind": "total", "amount": bridge["end"]})
    return bars


def waterfall_chart(bridge: dict[str, Any], currency: str, primary: str) -> str | None:
    """The month's MRR bridge. The value axis starts at ``bridge["axis_floor"]`` (0, or a
    round number below the lowest level so that small movements stay visible; the
    context computes it so the caption can say so)."""
    bars = waterfall_levels(bridge)
    levels = [b["top"] for b in bars] + [b["bottom"] for b in bars[1:-1]]
    if not any(levels):
        return None
    hi = max(levels)
    floor = float(bridge.get("axis_floor") or 0.0)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.5, 2.3))
        ax = fig.add_subplot()
        colors = {"total": primary, "up": GREEN, "down": RED}
        for i, b in enumerate(bars):
            bottom = floor if b["kind"] == "total" else b["bottom"]
            height = b["top"] - bottom
            ax.bar(i, height, bottom=bottom, color=colors[b["kind"]], width=0.62, linewidth=0)
            if b["kind"] == "total":
                text = money_short(b["amount"], currency)
            elif b["amount"] == 0:
                text = "–"
            else:
                text = ("+" if b["kind"] == "up" else "−") + money_short(b["amount"], currency)
            ax.annotate(
                text,
                (i, b["top"]),
                xytext=(0, 2.5),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=FONT_SIZE,
                color=INK,
            )
        for i in range(len(bars) - 1):
            level = bars[i]["top"] if bars[i]["kind"] != "down" else bars[i]["bottom"]
            ax.plot([i + 0.31, i + 0.69], [level, level], color=MUTED, linewidth=0.6, linestyle=(0, (2, 1.5)))
        ax.set_xticks(range(len(bars)), [SHORT_STEP.get(b["label"], b["label"]) for b in bars])
        ax.yaxis.set_major_locator(MaxNLocator(4, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_ylim(floor, hi + (hi - floor) * 0.12)
        style_axes(ax)
        ax.margins(x=0.02)
        fig.subplots_adjust(left=0.12, right=0.995, top=0.95, bottom=0.12)
        return to_svg(
            fig, "bridge", "MRR bridge for the month: start, new, reactivation, expansion, contraction, churn, end"
        )


# --------------------------------------------------------------------------- movements


def movements_chart(months: Sequence[date], movements: dict[str, Sequence[float | None]], currency: str) -> str | None:
    """New, reactivation and expansion above zero; contraction and churn below; net as dots."""
    n = len(months)
    data = {k: [0.0 if v is None else float(v) for v in vals] for k, vals in movements.items()}
    if not any(any(v for v in vals) for vals in data.values()):
        return None
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.2, 2.3))
        ax = fig.add_subplot()
        x = list(range(n))
        up = [0.0] * n
        for name in ("new", "reactivation", "expansion"):
            ax.bar(
                x, data[name], bottom=up, color=MOVEMENT_COLORS[name], width=0.66, linewidth=0, label=name.capitalize()
            )
            up = [a + b for a, b in zip(up, data[name], strict=True)]
        down = [0.0] * n
        for name in ("contraction", "churn"):
            vals = [-v for v in data[name]]
            ax.bar(x, vals, bottom=down, color=MOVEMENT_COLORS[name], width=0.66, linewidth=0, label=name.capitalize())
            down = [a + b for a, b in zip(down, vals, strict=True)]
        have = [i for i in x if any(movements[k][i] is not None for k in movements)]
        net = [up[i] + down[i] for i in have]
        ax.plot(have, net, color=INK, linewidth=0, marker="D", markersize=2.8, label="Net change")
        ax.axhline(0, color=MUTED, linewidth=0.7)
        ax.set_xticks(x, month_labels(list(months)))
        ax.yaxis.set_major_locator(MaxNLocator(5, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_xlim(-0.6, n - 0.4)
        style_axes(ax)
        handles, names = ax.get_legend_handles_labels()
        order = [names.index(n) for n in ("New", "Reactivation", "Expansion", "Contraction", "Churn", "Net change")]
        ax.legend(
            [handles[i] for i in order],
            [names[i] for i in order],
            loc="upper left",
            bbox_to_anchor=(0, 1.17),
            ncols=6,
            frameon=False,
            fontsize=FONT_SIZE,
            handlelength=1.0,
            handleheight=0.8,
            borderaxespad=0,
            columnspacing=1.4,
        )
        fig.subplots_adjust(left=0.08, right=0.995, top=0.87, bottom=0.17)
        return to_svg(fig, "movements", "MRR movements per month, last 12 months")


# --------------------------------------------------------------------------- health bands


def bands_chart(months: Sequence[date], bands: dict[str, Sequence[float | None]]) -> str | None:
    """Accounts per health band, month by month (stacked); sized for half a page."""
    order = ("green", "amber", "red", "insufficient_data")
    n = len(months)
    data = {b: [0.0 if v is None else float(v) for v in bands[b]] for b in order}
    if not any(any(v for v in data[b]) for b in order):
        return None
    labels = {"green": "Green", "amber": "Amber", "red": "Red", "insufficient_data": "Low data"}
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(3.7, 2.2))
        ax = fig.add_subplot()
        bottom = [0.0] * n
        for b in order:
            ax.bar(range(n), data[b], bottom=bottom, color=BAND_COLORS[b], width=0.66, linewidth=0, label=labels[b])
            bottom = [a + v for a, v in zip(bottom, data[b], strict=True)]
        ax.set_xticks(range(n), month_labels(list(months), every=3))
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_ylim(0, max(max(bottom), 1) * 1.05)
        ax.set_xlim(-0.6, n - 0.4)
        style_axes(ax)
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(0, 1.17),
            ncols=4,
            frameon=False,
            fontsize=FONT_SIZE,
            handlelength=1.0,
            handleheight=0.8,
            borderaxespad=0,
            columnspacing=1.0,
        )
        fig.subplots_adjust(left=0.13, right=0.99, top=0.86, bottom=0.17)
        return to_svg(fig, "bands", "Accounts per health band, last 12 months")


# --------------------------------------------------------------------------- looking ahead


def committed_chart(data: dict[str, Any] | None, currency: str, primary: str) -> str | None:
    """Committed MRR at the end of each of the next 12 months, with this month's MRR as the
    first (muted) bar; the axis starts at a round number below the lowest bar, so a change of a
    few percent is visible (the caption says so)."""
    if not data or (not any(data["values"]) and not data["start"]):
        return None
    values = [data["start"], *data["values"]]
    labels = ["Now", *month_labels(list(data["months"]), every=3)]
    lo, hi = min(values), max(values)
    floor = committed_floor(lo, hi)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.6, 2.1))
        ax = fig.add_subplot()
        colors = ["#c9d3de"] + [primary] * len(data["values"])
        ax.bar(range(len(values)), [v - floor for v in values], bottom=floor, color=colors, width=0.66, linewidth=0)
        ax.set_xticks(range(len(values)), labels)
        ax.yaxis.set_major_locator(MaxNLocator(4, min_n_ticks=3))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money_short(v, currency)))
        ax.set_ylim(floor, hi + (hi - floor) * 0.08 + 1)
        ax.set_xlim(-0.6, len(values) - 0.4)
        style_axes(ax)
        fig.subplots_adjust(left=0.13, right=0.99, top=0.96, bottom=0.17)
        return to_svg(fig, "committed", "Committed MRR at the end of each of the next 12 months")


def committed_floor(lo: float, hi: float) -> float:
    """A round value axis start below ``lo`` (0 when the bars differ by more than half)."""
    if lo <= 0 or (hi - lo) > hi * 0.5:
        return 0.0
    step = 10 ** max(math.floor(math.log10(max(hi - lo, hi * 0.05))), 0)
    return max(math.floor((lo - (hi - lo) * 0.6 - hi * 0.02) / step) * step, 0.0)


def accuracy_chart(data: dict[str, Any] | None) -> str | None:
    """The signed 3-month forecast error of each of the last 12 months, as bars (above zero:
    the forecast was too high), labelled in percent."""
    if not data or all(v is None for v in data["errors"]):
        return None
    errors = [None if v is None else v * 100 for v in data["errors"]]
    n = len(errors)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(4.6, 2.1))
        ax = fig.add_subplot()
        for i, v in enumerate(errors):
            if v is None:
                ax.annotate(
                    "n/a",
                    (i, 0),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=FONT_SIZE - 1,
                    color=MUTED,
                )
                continue
            ax.bar(i, v, color=RED_LIGHT if v > 0 else GREEN_LIGHT, width=0.66, linewidth=0)
            ax.annotate(
                f"{v:+.1f}%".replace("-", "−"),
                (i, v),
                xytext=(0, 2 if v >= 0 else -2),
                textcoords="offset points",
                ha="center",
                va="bottom" if v >= 0 else "top",
                fontsize=FONT_SIZE - 1,
                color=INK,
            )
        known = [abs(v) for v in errors if v is not None]
        top = max(max(known), 1.0) * 1.35
        ax.set_ylim(-top, top)
        ax.axhline(0, color=MUTED, linewidth=0.7)
        ax.set_xticks(range(n), month_labels(list(data["months"]), every=3))
        ax.yaxis.set_major_locator(MaxNLocator(4, symmetric=True))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}%".replace("-", "−") if v else "0%"))
        ax.set_xlim(-0.6, n - 0.4)
        style_axes(ax)
        fig.subplots_adjust(left=0.12, right=0.99, top=0.96, bottom=0.17)
        return to_svg(fig, "accuracy", "Error of the 3-month MRR forecast, last 12 months")


# --------------------------------------------------------------------------- builder


SPARK_LABELS = {
    "mrr": "MRR",
    "arr": "ARR",
    "nrr": "NRR, 1 month",
    "grr": "GRR, 1 month",
    "logo": "Logo retention, 1 month",
    "customers": "Customers",
    "arpa": "ARPA",
    "ltv": "LTV",
    "nps": "NPS",
    "csat": "CSAT",
}


def leadership_charts(context: dict[str, Any]) -> dict[str, str | None]:
    """The chart builder of the leadership pack (named by its render job)."""
    data = context["charts"]
    primary = context["provider"]["primary_color"]
    currency = context["currency"]
    out: dict[str, str | None] = {}
    for key, values in data["sparks"].items():
        out[f"spark_{key}"] = sparkline(values, key, SPARK_LABELS.get(key, key), primary)
    out["spark_health"] = band_sparkline(data["bands"])
    out["bridge"] = waterfall_chart(data["bridge"], currency, primary)
    out["movements"] = movements_chart(data["months"], data["movements"], currency)
    out["bands"] = bands_chart(data["months"], data["bands"])
    out["committed"] = committed_chart(data.get("committed"), currency, primary)
    out["accuracy"] = accuracy_chart(data.get("accuracy"))
    return out
