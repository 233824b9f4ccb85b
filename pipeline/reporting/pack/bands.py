"""The health page's tables: aggregations of mart rows by health band.

- **distribution**: accounts per band this month and last, from the portfolio mart.
- **band migration**: accounts by their effective band last month (rows) and this
  month (columns), over every account with a health row this month; an account with no
  row last month is "new". Column totals equal the mart's band counts.
- **revenue by band**: Σ mrr of the accounts in each band this month (all bands add up
  to ``mrr_end`` of the whole portfolio).
- **did health predict churn**: over the last 6 months M-5 .. M, every account that was
  a customer at the start of a month (``mrr_previous > 0``), grouped by its band at the
  end of the month before; the share that churned (``mrr_churn > 0``) or contracted
  (``mrr_contraction > 0``) in that month, and the share of their starting MRR lost.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from pipeline.reporting.pack.common import BAND_LABELS, BANDS, ZERO, Fmt, month_label
from pipeline.reporting.pack.common import decimal_or_zero as _dec
from pipeline.reporting.periods import add_months

OUTCOME_MONTHS = 6
BAND_RANK = {"green": 0, "amber": 1, "red": 2}  # a higher rank is worse


def _band_expr(column: str = "band") -> pl.Expr:
    return pl.col(column).fill_null("none")


def band_distribution(now: dict[str, Any], prev: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Accounts per band this month and last month, from the portfolio mart's counts."""
    total_now = sum((now[f"accounts_{b}"] or 0) for b in BANDS)
    total_prev = sum((prev[f"accounts_{b}"] or 0) for b in BANDS) if prev else 0
    out = []
    for b in BANDS:
        n = now[f"accounts_{b}"] or 0
        p = (prev[f"accounts_{b}"] or 0) if prev else None
        out.append(
            {
                "band": b,
                "label": BAND_LABELS[b],
                "now": n,
                "now_share": n / total_now if total_now else None,
                "previous": p,
                "previous_share": (p / total_prev if total_prev else None) if p is not None else None,
                "change": None if p is None else n - p,
            }
        )
    return out


def band_migration(health: pl.DataFrame, month: date) -> dict[str, Any]:
    """Accounts by band last month (rows) and this month (columns); see the module doc."""
    prev_month = add_months(month, -1)
    now = health.filter(pl.col("month") == month).select("account_id", _band_expr().alias("to"))
    prev = health.filter(pl.col("month") == prev_month).select("account_id", _band_expr().alias("from"))
    has_previous = prev.height > 0
    joined = now.join(prev, on="account_id", how="left").with_columns(pl.col("from").fill_null("new"))
    counts = {
        (r["from"], r["to"]): r["n"]
        for r in joined.group_by("from", "to").agg(pl.len().alias("n")).iter_rows(named=True)
    }
    columns = [b for b in BANDS]
    row_keys = [b for b in BANDS] + [k for k in ("none", "new") if any(f == k for f, _ in counts)]
    rows = []
    worse = better = 0
    for f in row_keys:
        cells = []
        for t in columns:
            n = counts.get((f, t), 0)
            if f == t:
                kind = "same"
            elif f in BAND_RANK and t in BAND_RANK:
                kind = "worse" if BAND_RANK[t] > BAND_RANK[f] else "better"
                if kind == "worse":
                    worse += n
                else:
                    better += n
            else:
                kind = "other"
            cells.append({"to": t, "count": n, "kind": kind})
        rows.append({"from": f, "label": BAND_LABELS[f], "cells": cells, "total": sum(c["count"] for c in cells)})
    column_totals = [sum(r["cells"][i]["count"] for r in rows) for i in range(len(columns))]
    return {
        "has_previous": has_previous,
        "previous_label": month_label(prev_month),
        "columns": [{"band": b, "label": BAND_LABELS[b]} for b in columns],
        "rows": rows,
        "column_totals": column_totals,
        "total": sum(column_totals),
        "worse": worse,
        "better": better,
        "unchanged": sum(counts.get((b, b), 0) for b in BANDS),
    }


def revenue_by_band(health: pl.DataFrame, monthly: pl.DataFrame, month: date, currency: str = "usd") -> dict[str, Any]:
    """MRR of the accounts in each band this month (the revenue at risk is amber + red)."""
    now_m = monthly.filter(pl.col("month") == month).select("account_id", "mrr")
    now_h = health.filter(pl.col("month") == month).select("account_id", "band")
    joined = now_m.join(now_h, on="account_id", how="left").with_columns(band=_band_expr())
    agg = joined.group_by("band").agg(
        pl.len().alias("accounts"),
        (pl.col("mrr") > 0).sum().alias("customers"),
        pl.col("mrr").sum().alias("mrr"),
    )
    by = {r["band"]: r for r in agg.iter_rows(named=True)}
    total = sum((_dec(r["mrr"]) for r in by.values()), ZERO)
    rows: list[dict[str, Any]] = []
    for b in (*BANDS, "none"):
        r = by.get(b)
        if r is None and b == "none":
            continue
        mrr = _dec(r["mrr"]) if r else ZERO
        rows.append(
            {
                "band": b,
                "label": BAND_LABELS[b],
                "accounts": int(r["accounts"]) if r else 0,
                "customers": int(r["customers"]) if r else 0,
                "mrr": mrr,
                "share": float(mrr / total) if total else None,
            }
        )
    at_risk = sum((r["mrr"] for r in rows if r["band"] in ("amber", "red")), ZERO)
    return {
        "rows": rows,
        "total": total,
        "at_risk": at_risk,
        "at_risk_display": Fmt(currency).money(at_risk),
        "at_risk_share": float(at_risk / total) if total else None,
        "customers": sum(r["customers"] for r in rows),
    }


def band_outcomes(
    health: pl.DataFrame, monthly: pl.DataFrame, month: date, months: int = OUTCOME_MONTHS
) -> dict[str, Any]:
    """Churn and contraction by the band each customer had the month before (module doc)."""
    window = [add_months(month, -k) for k in range(months - 1, -1, -1)]
    starts = monthly.filter(pl.col("month").is_in(window) & (pl.col("mrr_previous") > 0)).select(
        "account_id", "month", "mrr_previous", "mrr_churn", "mrr_contraction"
    )
    prior = health.select(
        "account_id", pl.col("month").dt.offset_by("1mo").alias("month"), pl.col("band").alias("prior_band")
    )
    joined = starts.join(prior, on=["account_id", "month"], how="left").with_columns(
        prior_band=_band_expr("prior_band")
    )
    covered = sorted(set(joined["month"].to_list())) if joined.height else []

    def summarise(frame: pl.DataFrame) -> dict[str, Any]:
        n = frame.height
        churned = int((frame["mrr_churn"] > 0).sum()) if n else 0
        contracted = int((frame["mrr_contraction"] > 0).sum()) if n else 0
        start = _dec(frame["mrr_previous"].sum()) if n else ZERO
        lost = (_dec(frame["mrr_churn"].sum()) + _dec(frame["mrr_contraction"].sum())) if n else ZERO
        return {
            "account_months": n,
            "churned": churned,
            "churn_rate": churned / n if n else None,
            "contracted": contracted,
            "contraction_rate": contracted / n if n else None,
            "mrr_start": start,
            "mrr_lost": lost,
            "mrr_lost_share": float(lost / start) if start else None,
        }

    rows = []
    for b in (*BANDS, "none"):
        part = joined.filter(pl.col("prior_band") == b)
        if b == "none" and part.is_empty():
            continue
        rows.append({"band": b, "label": BAND_LABELS[b], **summarise(part)})
    return {
        "has_data": joined.height > 0,
        "months": covered,
        "from_label": month_label(covered[0]) if covered else None,
        "to_label": month_label(covered[-1]) if covered else None,
        "rows": rows,
        "total": {"band": "all", "label": "All customers", **summarise(joined)},
    }
