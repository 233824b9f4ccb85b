"""The leadership pack's context: everything the pack shows for one month, as plain data.

Polars in, plain data out (str, int, float, Decimal, date, bool, None, lists, dicts), so
the context pickles to the render workers and hashes. No I/O here: the frames come from
``pipeline.store.pack_inputs``, the check results from the asset.

Every figure is a value of ``marts.portfolio_monthly``, ``marts.account_health`` or
``marts.account_monthly`` (docs/metrics.md has the one definition of each). What the pack
adds is presentation: changes between two mart values (month on month, year on year),
sentences, and a few aggregations of mart rows that are tables rather than metrics.
This module puts the parts together; each part has its own module: ``kpis`` and
``sentences`` (the summary), ``revenue`` (the MRR bridge), ``bands`` (health),
``attention`` (who needs attention), ``teams`` and ``quality`` (data quality).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

from pipeline.reporting import formatting as fmt
from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.glossary import looking_ahead_entries
from pipeline.reporting.pack.attention import (
    DROP_POINTS,
    LIST_ROWS,
    RENEWAL_DAYS,
    alert_counts_by_team,
    attention_lists,
)
from pipeline.reporting.pack.bands import band_distribution, band_migration, band_outcomes, revenue_by_band
from pipeline.reporting.pack.common import BANDS, MOVEMENTS, month_label, ratio_change, series, trend_months
from pipeline.reporting.pack.common import row_where as _row
from pipeline.reporting.pack.inputs import LeadershipInputs
from pipeline.reporting.pack.kpis import KPI_SPECS, kpi_rows
from pipeline.reporting.pack.looking_ahead import looking_ahead, outlook_sentence
from pipeline.reporting.pack.quality import check_summary, source_quality, trust_sentence
from pipeline.reporting.pack.revenue import movement_history, mrr_bridge, waterfall_floor
from pipeline.reporting.pack.sentences import brief_sentences
from pipeline.reporting.pack.teams import team_tables
from pipeline.reporting.periods import add_months, month_end
from pipeline.settings import Settings

PACK_VERSION = 1
TEMPLATE = "leadership/pack.html"
CHART_BUILDER = "pipeline.reporting.pack.charts:leadership_charts"


def _all_rows(portfolio: pl.DataFrame) -> pl.DataFrame:
    if portfolio.is_empty():
        return portfolio
    return portfolio.filter((pl.col("grouping") == "all") & (pl.col("group_value") == "all")).sort("month")


def _brand_color(value: str, default: str) -> str:
    v = (value or "").strip()
    ok = v.startswith("#") and len(v) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in v[1:])
    return v if ok else default


class LeadershipContextError(ValueError):
    """The marts have no portfolio row for the month; the message says what to run."""


def build_leadership_context(
    inputs: LeadershipInputs,
    settings: Settings,
    checks: Sequence[dict[str, Any]] | None = None,
    checks_note: str | None = None,
) -> dict[str, Any]:
    """Everything the pack shows for ``inputs.month``, as plain data."""
    month = inputs.month
    currency = settings.reporting_currency.lower()
    all_rows = _all_rows(inputs.portfolio)
    now = _row(all_rows, month=month)
    if now is None:
        raise LeadershipContextError(
            f"marts.portfolio_monthly has no row for {month:%Y-%m}; materialize the marts for that month first."
        )
    prev_month, year_month = add_months(month, -1), add_months(month, -12)
    prev = _row(all_rows, month=prev_month)
    year_ago = _row(all_rows, month=year_month)
    measures = {m.name: (m.label or m.name, m.weight) for m in settings.health.measures}

    migration = band_migration(inputs.health, month)
    kpis = kpi_rows(now, prev, year_ago, migration, currency, settings.gross_margin, month)
    bridge = mrr_bridge(now)
    by_band = revenue_by_band(inputs.health, inputs.monthly, month, currency)
    outcomes = band_outcomes(inputs.health, inputs.monthly, month)
    attention = attention_lists(
        inputs.health,
        inputs.monthly,
        inputs.accounts,
        month,
        settings.overdue_attention_threshold,
        currency,
        measures,
    )
    attention["alerts_by_team"] = alert_counts_by_team(inputs.alerts, inputs.accounts, inputs.managers)
    sources = source_quality(
        inputs.table_stats, inputs.loads, inputs.quarantine, inputs.reasons, month, settings.freshness_days
    )
    check_info = check_summary(checks, month)
    trust, trust_level = trust_sentence(sources, check_info, month, settings.quarantine_rate_threshold)
    months = trend_months(month)
    brand = settings.branding

    ahead = looking_ahead(
        all_rows,
        inputs.forecast,
        inputs.retention,
        inputs.goals,
        inputs.pipeline,
        inputs.health,
        inputs.accounts,
        month,
        currency,
    )
    brief = brief_sentences(
        now, month, kpis, by_band, migration, attention, currency, settings.overdue_attention_threshold
    )
    outlook = outlook_sentence(ahead, currency)
    if outlook:
        brief.append(outlook)

    first_month = inputs.first_month
    ctx: dict[str, Any] = {
        "version": PACK_VERSION,
        "provider": {
            "company_name": _text(brand.company_name, 80),
            "primary_color": _brand_color(brand.primary_color, "#1f3a5f"),
            "accent_color": _brand_color(brand.accent_color, "#2e86ab"),
            "logo_file": brand.logo_file,
        },
        "period": {
            "key": month.strftime("%Y-%m"),
            "month": month,
            "label": month_label(month),
            "end": month_end(month),
            "previous_label": month_label(prev_month),
            "year_ago_label": month_label(year_month),
            "previous_short": fmt.month_label(prev_month),
            "year_ago_short": fmt.month_label(year_month),
            "has_previous": prev is not None,
            "has_year_ago": year_ago is not None,
            "first_month": first_month,
            "first_month_label": month_label(first_month) if first_month else None,
        },
        "currency": currency,
        "currency_label": currency.upper(),
        "data_as_of": max((s["last_loaded_on"] for s in sources if s["last_loaded_on"]), default=None),
        "brief": brief,
        "kpis": kpis,
        "revenue": {
            "bridge": bridge,
            "axis_floor": waterfall_floor(bridge),
            "history": movement_history(all_rows, month),
            "net_change": bridge["end"] - bridge["start"],
            "net_change_ratio": ratio_change(bridge["end"], bridge["start"]),
        },
        "health": {
            "distribution": band_distribution(now, prev),
            "totals": {
                "now": sum((now[f"accounts_{b}"] or 0) for b in BANDS),
                "previous": sum((prev[f"accounts_{b}"] or 0) for b in BANDS) if prev else None,
            },
            "migration": migration,
            "by_band": by_band,
            "outcomes": outcomes,
            "overrides": int(
                inputs.health.filter((pl.col("month") == month) & pl.col("override_band").is_not_null()).height
            )
            if inputs.health.height
            else 0,
        },
        "attention": attention,
        "teams": team_tables(inputs.portfolio, inputs.managers, month),
        "quality": {
            "sources": sources,
            "checks": check_info,
            "checks_note": _text(checks_note, 300) if checks_note else None,
            "trust": trust,
            "trust_level": trust_level,
            "freshness_days": settings.freshness_days,
            "quarantined_total": sum(s["quarantined"] + s["quarantined_marts"] for s in sources),
        },
        "settings": {
            "overdue_threshold": settings.overdue_attention_threshold,
            "gross_margin": settings.gross_margin,
            "green_at": settings.health.green_at,
            "amber_at": settings.health.amber_at,
            "drop_points": DROP_POINTS,
            "renewal_days": RENEWAL_DAYS,
            "list_rows": LIST_ROWS,
        },
        "looking_ahead": ahead,
        "notes_ahead": looking_ahead_entries(),
        "charts": {**chart_data(all_rows, months, bridge, currency), **ahead_chart_data(ahead)},
    }
    return ctx


def ahead_chart_data(ahead: dict[str, Any]) -> dict[str, Any]:
    """Series of the looking-ahead charts (floats, for drawing only)."""
    if not ahead.get("available"):
        return {"committed": None, "accuracy": None}
    c, a = ahead["committed"], ahead["accuracy"]
    return {
        "committed": {
            "months": [m["month"] for m in c["months"]],
            "values": [float(m["value"]) for m in c["months"]],
            "start": float(c["start"]),
        },
        "accuracy": {
            "months": [r["month"] for r in a["rows"]],
            "errors": [None if r["error"] is None else float(r["error"]) for r in a["rows"]],
        },
    }


def chart_data(all_rows: pl.DataFrame, months: list[date], bridge: dict[str, Any], currency: str) -> dict[str, Any]:
    """Plain series for the charts (floats, for drawing only; the tables carry the exact numbers)."""
    spark_columns = {spec[0]: spec[3] for spec in KPI_SPECS}
    sparks = {key: series(all_rows, column, months) for key, column in spark_columns.items()}
    window = all_rows.filter(pl.col("month").is_in(months)) if all_rows.height else all_rows
    return {
        "months": months,
        "sparks": sparks,
        "bands": {b: series(all_rows, f"accounts_{b}", months) for b in BANDS},
        "bridge": {
            "axis_floor": float(waterfall_floor(bridge)),
            "start": float(bridge["start"]),
            "steps": [
                {"name": s["name"], "label": s["label"], "amount": float(s["amount"]), "sign": s["sign"]}
                for s in bridge["steps"]
            ],
            "end": float(bridge["end"]),
        },
        "movements": {name: series(window, f"mrr_{name}", months) for name, _ in MOVEMENTS},
        "currency": currency,
    }
