"""What every part of the leadership pack shares: names, changes and display helpers.

The band and movement names with their labels, month labels, the change between two
mart values (ratio or difference), one value per month of a mart column for the
charts, and ``Fmt``, the display helpers bound to the reporting currency. Nothing here
knows about a part of the pack; the other modules of ``pipeline.reporting.pack`` build
on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.reporting import formatting as fmt
from pipeline.reporting.periods import MONTH_NAMES, add_months

TREND_MONTHS = 12
STEADY = 0.0005  # a relative change below 0.05% reads as "held steady"
ZERO = Decimal(0)

BANDS = ("green", "amber", "red", "insufficient_data")
BAND_LABELS = {
    "green": "Green",
    "amber": "Amber",
    "red": "Red",
    "insufficient_data": "Low data",
    "none": "No score",
    "new": "New this month",
}
MOVEMENTS = (
    ("new", "New"),
    ("reactivation", "Reactivation"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
)
MOVEMENTS_IN = ("new", "reactivation", "expansion")
MOVEMENTS_OUT = ("contraction", "churn")


# --------------------------------------------------------------------------- helpers


def decimal_or_zero(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value)


def month_label(month: date) -> str:
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def ratio_change(current: Any, base: Any) -> float | None:
    """current / base - 1; None when either is unknown or the base is 0."""
    if current is None or base is None:
        return None
    c, b = Decimal(str(current)), Decimal(str(base))
    if b == 0:
        return None
    return float(c / b - 1)


def diff(current: Any, base: Any) -> float | None:
    if current is None or base is None:
        return None
    return float(current) - float(base)


def row_where(frame: pl.DataFrame, **where: Any) -> dict[str, Any] | None:
    if frame.is_empty():
        return None
    cond = pl.lit(True)
    for k, v in where.items():
        cond = cond & (pl.col(k) == v)
    rows = frame.filter(cond)
    return rows.row(0, named=True) if rows.height else None


def trend_months(month: date, n: int = TREND_MONTHS) -> list[date]:
    """The ``n`` months ending with ``month``, oldest first."""
    return [add_months(month, k) for k in range(-(n - 1), 1)]


def series(rows: pl.DataFrame, column: str, months: Sequence[date]) -> list[float | None]:
    """One value per month (None where the mart has no row or the value is null)."""
    by_month = {} if rows.is_empty() else dict(zip(rows["month"].to_list(), rows[column].to_list(), strict=True))
    return [None if by_month.get(m) is None else float(by_month[m]) for m in months]


# --------------------------------------------------------------------------- display


@dataclass(frozen=True)
class Fmt:
    """Display helpers bound to the reporting currency (rounding happens in formatting)."""

    currency: str

    def money(self, v: Any) -> str:
        return fmt.money(v, self.currency, decimals=0)

    def money_exact(self, v: Any) -> str:
        return fmt.money(v, self.currency)

    def short(self, v: Any) -> str:
        return fmt.money_short(v, self.currency)

    def signed_money(self, v: Any) -> str:
        if v is None:
            return fmt.NA
        d = Decimal(str(v))
        text = self.money(abs(d))
        if text == self.money(0):
            return text
        return ("+" if d > 0 else "−") + text

    @staticmethod
    def pct(v: Any, decimals: int = 1) -> str:
        return fmt.pct(v, decimals)

    @staticmethod
    def pct_change(v: float | None) -> str:
        text = fmt.pct(v, 1, signed=True)
        return text.replace("-", "−")

    @staticmethod
    def rate_points(v: float | None) -> str:
        """A change of a ratio, in percentage points: 0.004 -> ``+0.4 pts``."""
        if v is None:
            return fmt.NA
        return (fmt.score(v * 100, 1, signed=True) + " pts").replace("-", "−")

    @staticmethod
    def points(v: float | None, decimals: int = 0) -> str:
        if v is None:
            return fmt.NA
        text = fmt.score(v, decimals, signed=True)
        unit = "pt" if text.lstrip("+-") in ("1", "1.0") else "pts"
        return f"{text} {unit}".replace("-", "−")

    @staticmethod
    def count_change(v: float | None) -> str:
        if v is None:
            return fmt.NA
        n = int(v)
        return f"+{n:,}" if n > 0 else (f"−{abs(n):,}" if n < 0 else "0")


def change_class(value: float | None, better: str | None, threshold: float = STEADY) -> str:
    """``good``, ``bad``, ``flat`` or ``na``: how a change reads for leadership."""
    if value is None:
        return "na"
    if abs(value) < threshold or better is None:
        return "flat"
    up = value > 0
    return "good" if (up and better == "up") or (not up and better == "down") else "bad"


def join_words(parts: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
