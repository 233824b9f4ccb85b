"""The revenue page: the month's MRR bridge, where its waterfall starts, 12 months of it.

The bridge is start + new + reactivation + expansion - contraction - churn = end, from
one portfolio row; ``ties_out`` checks the mart's identity on the exact numbers shown.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.reporting.pack.common import MOVEMENTS, MOVEMENTS_IN, ZERO, trend_months
from pipeline.reporting.pack.common import decimal_or_zero as _dec


def mrr_bridge(row: dict[str, Any]) -> dict[str, Any]:
    """The month's bridge from one portfolio row: start, the five movements, end.

    ``ties_out`` is the mart's own identity (docs/metrics.md), checked here again on the
    exact numbers handed to the chart and the table.
    """
    start, end = _dec(row["mrr_start"]), _dec(row["mrr_end"])
    steps = []
    level = start
    for name, label in MOVEMENTS:
        amount = _dec(row[f"mrr_{name}"])
        sign = 1 if name in MOVEMENTS_IN else -1
        level = level + sign * amount
        steps.append({"name": name, "label": label, "amount": amount, "sign": sign, "level": level})
    return {"start": start, "steps": steps, "end": end, "ties_out": level == end, "computed_end": level}


def waterfall_floor(bridge: dict[str, Any]) -> Decimal:
    """Where the waterfall's value axis starts: 0, or a round number below the lowest
    level when the movements span less than a tenth of MRR (else they would be slivers)."""
    levels = [bridge["start"], bridge["end"], *(s["level"] for s in bridge["steps"])]
    lo, hi = min(levels), max(levels)
    if hi <= 0 or (hi - lo) >= hi / 10:
        return ZERO
    floor = lo - (hi - lo) * Decimal("1.2")
    if floor <= hi / 4:
        return ZERO
    unit = Decimal(10) ** (len(str(int(hi))) - 2)  # two significant digits of the largest level
    return (floor / unit).to_integral_value(rounding="ROUND_FLOOR") * unit


def movement_history(portfolio_all: pl.DataFrame, month: date) -> list[dict[str, Any]]:
    """The last 12 months of the bridge, oldest first (months without a row are left out)."""
    months = trend_months(month)
    rows = portfolio_all.filter(pl.col("month").is_in(months)) if portfolio_all.height else portfolio_all
    out = []
    for r in rows.sort("month").iter_rows(named=True):
        out.append(
            {
                "month": r["month"],
                "start": _dec(r["mrr_start"]),
                **{name: _dec(r[f"mrr_{name}"]) for name, _ in MOVEMENTS},
                "end": _dec(r["mrr_end"]),
                "net": _dec(r["mrr_end"]) - _dec(r["mrr_start"]),
                "nrr_1m": r["nrr_1m"],
                "grr_1m": r["grr_1m"],
            }
        )
    return out
