"""The pack's summary as markdown, for the leadership_pack asset's metadata in Dagster."""

from __future__ import annotations

from typing import Any


def summary_markdown(ctx: dict[str, Any]) -> str:
    """The summary page as markdown, for the asset's metadata preview."""
    lines = [f"**Account health pack, {ctx['period']['label']}** (amounts in {ctx['currency_label']})", ""]
    lines += [f"- {s}" for s in ctx["brief"]]
    lines += ["", "| Measure | Value | vs last month | vs a year ago |", "| --- | --- | --- | --- |"]
    for k in ctx["kpis"]:
        value = k["display"] + (f" ({k['secondary']})" if k["secondary"] else "")
        lines.append(f"| {k['label']} | {value} | {k['mom_display']} | {k['yoy_display']} |")
    lines += ["", ctx["quality"]["trust"]]
    return "\n".join(line.replace("|", "\\|") if not line.startswith("|") else line for line in lines)
