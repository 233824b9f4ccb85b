"""The summary table: one row per measure with its value, changes and sentence.

Every value is a column of ``marts.portfolio_monthly`` (``KPI_SPECS`` names it); the
changes are against last month and the same month a year ago, read as good, bad or
flat for leadership.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline.reporting import formatting as fmt
from pipeline.reporting.pack.common import BANDS, STEADY, Fmt, change_class, diff, month_label, ratio_change
from pipeline.reporting.pack.sentences import (
    arpa_sentence,
    customers_sentence,
    health_sentence,
    logo_sentence,
    ltv_sentence,
    mrr_sentence,
    retention_sentence,
    voice_sentence,
)
from pipeline.reporting.periods import add_months

KPI_SPECS = (
    # key, label, note, column, kind (money, rate, count, score, percent), better, change kind
    ("mrr", "MRR", "Monthly recurring revenue", "mrr_end", "money", "up", "ratio"),
    ("arr", "ARR", "12 × MRR", "arr_end", "money", "up", "ratio"),
    ("nrr", "NRR", "Net revenue retention", "nrr_1m", "rate", "up", "points"),
    ("grr", "GRR", "Gross revenue retention", "grr_1m", "rate", "up", "points"),
    ("logo", "Logo retention", "Customers kept", "logo_retention_1m", "rate", "up", "points"),
    ("customers", "Customers", "Accounts with MRR", "customers_end", "count", "up", "count"),
    ("arpa", "ARPA", "MRR per customer", "arpa", "money", "up", "ratio"),
    ("ltv", "LTV", "Lifetime value", "ltv", "money", "up", "ratio"),
    ("nps", "NPS", "Net Promoter Score, 12 months", "nps_12m", "score", "up", "score"),
    ("csat", "CSAT", "Satisfied ratings, 3 months", "csat_3m", "percent", "up", "percent"),
)
TWELVE_MONTH = {"nrr": "nrr_12m", "grr": "grr_12m", "logo": "logo_retention_12m"}


def _display(value: Any, kind: str, currency: str) -> str:
    f = Fmt(currency)
    if kind == "money":
        return f.money(value)
    if kind == "rate":
        return f.pct(value)
    if kind == "count":
        return fmt.number(value)
    if kind == "score":
        return fmt.score(value)
    if kind == "percent":
        return fmt.NA if value is None else fmt.score(value, 1) + "%"
    return str(value)


def _change(current: Any, base: Any, change_kind: str) -> tuple[float | None, str, float]:
    """(value, display, flat threshold) of a change between two mart values."""
    if change_kind == "ratio":
        v = ratio_change(current, base)
        return v, Fmt.pct_change(v), STEADY
    if change_kind == "points":
        v = diff(current, base)
        return v, Fmt.rate_points(v), 0.0005
    if change_kind == "count":
        v = diff(current, base)
        return v, Fmt.count_change(v), 0.5
    v = diff(current, base)
    return v, Fmt.points(v, 1 if change_kind == "percent" or abs(v or 0) < 1 else 0), 0.05


def kpi_rows(
    now: dict[str, Any],
    prev: dict[str, Any] | None,
    year_ago: dict[str, Any] | None,
    migration: dict[str, Any],
    currency: str,
    gross_margin: float,
    month: date,
) -> list[dict[str, Any]]:
    """The summary table: one row per measure with its value, changes and sentence."""
    cohort = month_label(add_months(month, -12))
    sentences = {
        "mrr": mrr_sentence(now, currency, has_previous=prev is not None),
        "arr": None,
        "nrr": retention_sentence(now, "nrr", cohort),
        "grr": retention_sentence(now, "grr", cohort),
        "logo": logo_sentence(now, cohort),
        "customers": customers_sentence(now),
        "arpa": arpa_sentence(now, prev, currency),
        "ltv": ltv_sentence(now, currency, gross_margin),
        "nps": voice_sentence(now, prev, "nps"),
        "csat": voice_sentence(now, prev, "csat"),
    }
    yoy_arr = ratio_change(now["arr_end"], year_ago["arr_end"]) if year_ago else None
    if yoy_arr is None or year_ago is None:
        sentences["arr"] = f"Twelve times MRR; no figure for {cohort} to compare with yet."
    else:
        direction = "up" if yoy_arr > 0 else "down"
        sentences["arr"] = (
            f"Twelve times MRR; {direction} {Fmt.pct(abs(yoy_arr))} from "
            f"{Fmt(currency).money(year_ago['arr_end'])} in {cohort}."
        )
    rows = []
    for key, label, note, column, kind, better, change_kind in KPI_SPECS:
        value = now[column]
        mom, mom_text, flat = _change(value, prev[column] if prev else None, change_kind)
        yoy, yoy_text, _ = _change(value, year_ago[column] if year_ago else None, change_kind)
        secondary = None
        if key in TWELVE_MONTH:
            secondary = f"12-month cohort {Fmt.pct(now[TWELVE_MONTH[key]])}"
        rows.append(
            {
                "key": key,
                "label": label,
                "note": note,
                "column": column,
                "kind": kind,
                "value": value,
                "display": _display(value, kind, currency),
                "secondary": secondary,
                "twelve_month": now[TWELVE_MONTH[key]] if key in TWELVE_MONTH else None,
                "mom": mom,
                "mom_display": mom_text,
                "mom_class": change_class(mom, better, flat),
                "yoy": yoy,
                "yoy_display": yoy_text,
                "yoy_class": change_class(yoy, better, flat),
                "sentence": sentences[key],
            }
        )
    bands = {b: now[f"accounts_{b}"] for b in BANDS}

    def band_change(base: dict[str, Any] | None) -> tuple[list[str], str]:
        if base is None:
            return [fmt.NA], "na"
        d_amber = (bands["amber"] or 0) - (base["accounts_amber"] or 0)
        d_red = (bands["red"] or 0) - (base["accounts_red"] or 0)
        worse = d_amber + d_red
        parts = [f"amber {Fmt.count_change(d_amber)}", f"red {Fmt.count_change(d_red)}"]
        return parts, "flat" if worse == 0 else ("bad" if worse > 0 else "good")

    mom_parts, mom_class = band_change(prev)
    yoy_parts, yoy_class = band_change(year_ago)
    mom_text, yoy_text = ", ".join(mom_parts), ", ".join(yoy_parts)
    rows.append(
        {
            "key": "health",
            "label": "Health bands",
            "note": "Accounts per band",
            "column": "accounts_green",
            "kind": "bands",
            "value": bands,
            "display": " · ".join(f"{(bands[b] or 0):,}" for b in ("green", "amber", "red")),
            "secondary": f"{(bands['insufficient_data'] or 0):,} with low data",
            "twelve_month": None,
            "mom": None,
            "mom_display": mom_text,
            "mom_parts": mom_parts,
            "mom_class": mom_class,
            "yoy": None,
            "yoy_display": yoy_text,
            "yoy_parts": yoy_parts,
            "yoy_class": yoy_class,
            "sentence": health_sentence(now, migration),
        }
    )
    return rows
