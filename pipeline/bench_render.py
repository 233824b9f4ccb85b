"""`pipeline bench --render-features`: what each CSS feature of the client report costs.

The render floor is WeasyPrint turning one built client report into a PDF. This takes
the month's first few due reports, renders their PDFs as shipped and then with one
feature of the design taken out at a time (each variant is a copy of
``report_templates/`` with one edit, so the renderer, fonts and caches are the real
ones), and prints seconds per report and the change against the shipped design. It
changes nothing: it is how the note on the render floor was measured, and how a
designer can see what a new rule costs before shipping it.

Each variant is rendered in rounds that alternate with the shipped design, and the best
round counts: on a busy machine the minimum is the stable figure.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

Edit = Callable[[str], str]


def _no_margin_boxes(css: str) -> str:
    return re.sub(
        r"@page \{.*?\n\}\n@page :first \{.*?\n\}\n",
        "@page { size: A4; margin: 17mm 16mm 19mm 16mm; }\n",
        css,
        flags=re.S,
    )


def _one_family(css: str) -> str:
    return re.sub(r'font-family: "Report Sans",[^;]*;', 'font-family: "Report Sans";', css)


# name -> edit of css/report.css (None: the charts are left out instead)
VARIANTS: dict[str, Edit | None] = {
    "without the charts": None,
    "without page-margin boxes (running heads, page x of y)": _no_margin_boxes,
    "one font family (no script fallbacks)": _one_family,
    "without letter-spacing": lambda css: re.sub(r"letter-spacing:[^;]*;", "", css),
    "without text-transform": lambda css: re.sub(r"text-transform:[^;]*;", "", css),
    "without border-radius": lambda css: re.sub(r"border-radius:[^;]*;", "", css),
    "without break-inside: avoid": lambda css: css.replace("break-inside: avoid;", ""),
    "tables with separate borders": lambda css: css.replace("border-collapse: collapse;", ""),
}


def _templates_with(edit: Edit, root: Path) -> Path:
    from pipeline.resources.renderer.worker import TEMPLATES_DIR

    copy = root / f"templates-{len(list(root.iterdir()))}"
    shutil.copytree(TEMPLATES_DIR, copy)
    css = copy / "css" / "report.css"
    edited = edit(css.read_text(encoding="utf-8"))
    css.write_text(edited, encoding="utf-8")
    return copy


def _seconds_per_report(renderer, contexts: list[dict[str, Any]], charts: bool) -> float:
    from pipeline.publish.client_reports import CHART_BUILDER, TEMPLATE
    from pipeline.resources.renderer.worker import RenderJob

    total = 0.0
    for ctx in contexts:
        job = RenderJob(TEMPLATE, ctx, "", "", "", chart_builder=CHART_BUILDER)
        drawn = renderer.draw_charts(job)
        if not charts:
            drawn = dict.fromkeys(drawn)
        html = renderer.render_html(TEMPLATE, ctx, "pdf", drawn)
        started = time.perf_counter()
        renderer.render_pdf(html, "en", drawn)
        total += time.perf_counter() - started
    return total / len(contexts)


def render_features(settings, month: date, reports: int = 6, rounds: int = 3) -> dict[str, Any]:
    """Seconds per report for the shipped design and for each variant (best round)."""
    from pipeline.reporting.client.context import build_client_context, report_plan
    from pipeline.resources.renderer.worker import DocumentRenderer
    from pipeline.resources.warehouse import Warehouse
    from pipeline.store.report_inputs import load_report_inputs

    inputs = load_report_inputs(
        Warehouse(settings.warehouse_path),
        month,
        settings.reporting_currency,
        with_health=settings.show_health_in_client_reports,
    )
    plan = report_plan(inputs.accounts, inputs.monthly, month)[:reports]
    if not plan:
        return {"reports": 0, "note": "no client report due this month"}
    contexts = [build_client_context(inputs, account, period, settings) for account, _c, period in plan]
    shipped = DocumentRenderer()
    _seconds_per_report(shipped, contexts[:1], True)  # warm-up: fonts, stylesheets
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pipeline-render-features-") as tmp:
        for name, edit in VARIANTS.items():
            variant = shipped if edit is None else DocumentRenderer(_templates_with(edit, Path(tmp)))
            if edit is not None:
                _seconds_per_report(variant, contexts[:1], True)
            base, other = [], []
            for _ in range(rounds):
                base.append(_seconds_per_report(shipped, contexts, True))
                other.append(_seconds_per_report(variant, contexts, edit is not None))
            rows.append({"variant": name, "shipped": min(base), "seconds": min(other)})
    for row in rows:
        row["saves"] = row["shipped"] - row["seconds"]
        row["saves_share"] = row["saves"] / row["shipped"] if row["shipped"] else None
    return {"reports": len(contexts), "rounds": rounds, "variants": rows}


def format_features(result: dict[str, Any]) -> str:
    if not result.get("variants"):
        return f"Render features: {result.get('note', 'nothing measured')}"
    lines = [
        f"What the client report's design costs (PDF render only, {result['reports']} reports, "
        f"best of {result['rounds']} alternating rounds):",
        f"  {'variant':<56} {'s/report':>8} {'shipped':>8} {'saves':>7}",
    ]
    for row in result["variants"]:
        lines.append(f"  {row['variant']:<56} {row['seconds']:8.3f} {row['shipped']:8.3f} {row['saves_share']:7.0%}")
    return "\n".join(lines)
