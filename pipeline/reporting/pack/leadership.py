"""The monthly account health pack for leadership: pure functions from mart rows to data.

Polars in, plain data out (str, int, float, Decimal, date, bool, None, lists, dicts), so
the context pickles to the render workers and hashes. No I/O here: the frames come from
``pipeline.store.pack_inputs``, the check results from the asset.

Every figure is a value of ``marts.portfolio_monthly``, ``marts.account_health`` or
``marts.account_monthly`` (METRICS.md has the one definition of each). What this module
adds is presentation: changes between two mart values (month on month, year on year),
sentences, and a few aggregations of mart rows that are tables rather than metrics:

- **band migration**: accounts by their effective band last month (rows) and this
  month (columns), over every account with a health row this month; an account with no
  row last month is "new". Column totals equal the mart's band counts.
- **revenue by band**: Σ mrr of the accounts in each band this month (all bands add up
  to ``mrr_end`` of the whole portfolio).
- **did health predict churn**: over the last 6 months M-5 .. M, every account that was
  a customer at the start of a month (``mrr_previous > 0``), grouped by its band at the
  end of the month before; the share that churned (``mrr_churn > 0``) or contracted
  (``mrr_contraction > 0``) in that month, and the share of their starting MRR lost.

Who needs attention (customers = MRR > 0 at the end of the month; lists hold the first
``LIST_ROWS`` accounts and count the rest):

- **red**: customers whose band is red; most MRR first.
- **newly amber**: customers amber now that were green, had no band (insufficient data)
  or no row the month before; most MRR first. (Red to amber is an improvement.)
- **biggest score drops**: customers whose score fell by ``DROP_POINTS`` or more since
  last month; largest drop first, with the measures that moved it, in words.
- **renewals**: customers renewing within ``RENEWAL_DAYS`` days of the month end
  (``days_to_renewal`` 0 .. 90) whose band is not green; soonest first.
- **overdue**: any account whose overdue amount at the month end is above
  ``settings.overdue_attention_threshold``; largest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Sequence

import polars as pl

from pipeline.reporting import formatting as fmt
from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.naming import UnsafePathError, ensure_inside
from pipeline.reporting.periods import MONTH_NAMES, add_months, month_end
from pipeline.settings import Settings

PACK_VERSION = 1
TEMPLATE = "leadership/pack.html"
CHART_BUILDER = "pipeline.reporting.pack.charts:leadership_charts"

LIST_ROWS = 15  # accounts shown per attention list; the rest are counted
TREND_MONTHS = 12
OUTCOME_MONTHS = 6
RENEWAL_DAYS = 90
DROP_POINTS = 5.0  # a score drop of at least this many points is listed
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
BAND_RANK = {"green": 0, "amber": 1, "red": 2}  # a higher rank is worse
MOVEMENTS = (
    ("new", "New"),
    ("reactivation", "Reactivation"),
    ("expansion", "Expansion"),
    ("contraction", "Contraction"),
    ("churn", "Churn"),
)
MOVEMENTS_IN = ("new", "reactivation", "expansion")
MOVEMENTS_OUT = ("contraction", "churn")
GROUPINGS = (
    ("tier", "By tier", ("strategic", "key", "transactional")),
    ("segment", "By segment", ("enterprise", "mid_market", "smb", "unassigned")),
    ("account_manager", "By account manager", ()),
)
GROUP_LABELS = {
    "strategic": "Strategic",
    "key": "Key",
    "transactional": "Transactional",
    "enterprise": "Enterprise",
    "mid_market": "Mid-market",
    "smb": "SMB",
    "unassigned": "No segment",
}
TIER_LABELS = {"strategic": "Strategic", "key": "Key", "transactional": "Transactional"}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class LeadershipInputs:
    """The frames one month's leadership pack is built from."""

    month: date
    portfolio: pl.DataFrame  # marts.portfolio_monthly, months M-12 .. M, every grouping
    health: pl.DataFrame  # marts.account_health, months M-6 .. M
    monthly: pl.DataFrame  # marts.account_monthly (a subset of columns), months M-6 .. M
    accounts: pl.DataFrame  # account_id, account_name, renewal_date, account_manager_id, manager_name
    managers: pl.DataFrame  # manager_id, name, team
    table_stats: pl.DataFrame  # source, raw_rows, staging_rows, date_column, newest_date
    loads: pl.DataFrame  # source, files, rows_loaded, last_loaded_at
    quarantine: pl.DataFrame  # source, stage, rows_quarantined
    reasons: pl.DataFrame  # source, reason, rows_quarantined (top reasons per source)
    first_month: date | None  # the first month of marts.portfolio_monthly


TABLE_STATS_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "raw_rows": pl.Int64(),
        "staging_rows": pl.Int64(),
        "date_column": pl.String(),
        "newest_date": pl.Date(),
    }
)


# --------------------------------------------------------------------------- helpers


def _dec(value: Any) -> Decimal:
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


def _row(frame: pl.DataFrame, **where: Any) -> dict[str, Any] | None:
    if frame.is_empty():
        return None
    cond = pl.lit(True)
    for k, v in where.items():
        cond = cond & (pl.col(k) == v)
    rows = frame.filter(cond)
    return rows.row(0, named=True) if rows.height else None


def _all_rows(portfolio: pl.DataFrame) -> pl.DataFrame:
    if portfolio.is_empty():
        return portfolio
    return portfolio.filter((pl.col("grouping") == "all") & (pl.col("group_value") == "all")).sort("month")


def trend_months(month: date, n: int = TREND_MONTHS) -> list[date]:
    """The ``n`` months ending with ``month``, oldest first."""
    return [add_months(month, k) for k in range(-(n - 1), 1)]


def series(rows: pl.DataFrame, column: str, months: Sequence[date]) -> list[float | None]:
    """One value per month (None where the mart has no row or the value is null)."""
    by_month = {} if rows.is_empty() else dict(zip(rows["month"].to_list(), rows[column].to_list()))
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


# --------------------------------------------------------------------------- sentences


def mrr_sentence(row: dict[str, Any], currency: str, has_previous: bool = True) -> str:
    """What moved MRR this month, from one portfolio row (the movements explain the change).

    "MRR rose 1.2% to $734,967: $7,158 expansion and $1,178 new outweighed $5,167 churn
    and $2,390 contraction."
    """
    f = Fmt(currency)
    start, end = _dec(row["mrr_start"]), _dec(row["mrr_end"])
    amounts = {name: _dec(row[f"mrr_{name}"]) for name, _ in MOVEMENTS}
    label = dict(MOVEMENTS)

    def words(names: Iterable[str]) -> list[str]:
        present = [(amounts[n], n) for n in names if amounts[n] != 0]
        present.sort(key=lambda x: (-x[0], x[1]))
        return [f"{f.money(a)} {label[n].lower()}" for a, n in present]

    ups, downs = words(MOVEMENTS_IN), words(MOVEMENTS_OUT)
    if start == 0 and end == 0:
        return "There is no recurring revenue at the end of the month."
    if start == 0:
        first = "the first month of data" if not has_previous else "a month that started at zero"
        detail = f": {join_words(ups)}" if ups else ""
        return f"MRR is {f.money(end)} in {first}{detail}."
    change = ratio_change(end, start) or 0.0
    if end == 0:
        return f"MRR fell from {f.money(start)} to zero: {join_words(downs)}."
    if not ups and not downs:
        return f"MRR held at {f.money(end)}: no account started, grew, shrank or left."
    if abs(change) < STEADY:
        head = f"MRR held steady at {f.money(end)}"
        if ups and downs:
            return f"{head}: {join_words(ups)} balanced {join_words(downs)}."
        return f"{head}."
    if change > 0:
        head = f"MRR rose {f.pct(abs(change))} to {f.money(end)}"
        if downs:
            return f"{head}: {join_words(ups)} outweighed {join_words(downs)}."
        return f"{head}: {join_words(ups)}, with no churn or contraction."
    head = f"MRR fell {f.pct(abs(change))} to {f.money(end)}"
    if ups:
        return f"{head}: {join_words(downs)} outweighed {join_words(ups)}."
    return f"{head}: {join_words(downs)}, with no new revenue or expansion."


def retention_sentence(row: dict[str, Any], kind: str, cohort_label: str) -> str:
    """NRR or GRR in words: the month, then the 12-month cohort."""
    f = Fmt
    one, twelve = row[f"{kind}_1m"], row[f"{kind}_12m"]
    if kind == "nrr":
        month = (
            "no customers at the start of the month to measure"
            if one is None
            else f"customers at the start of the month kept {f.pct(one)} of their MRR, expansion included"
        )
    else:
        month = (
            "no customers at the start of the month to measure"
            if one is None
            else f"{f.pct(one)} before expansion (churn and contraction only)"
        )
    if twelve is None:
        year = f"the 12-month figure needs a cohort from {cohort_label}, before the data starts"
    else:
        year = f"the {cohort_label} cohort kept {f.pct(twelve)}"
    text = f"{month}; {year}."
    return text[0].upper() + text[1:]


def logo_sentence(row: dict[str, Any], cohort_label: str) -> str:
    churned, start = row["churned_customers"] or 0, row["customers_start"] or 0
    if not start:
        month = "No customers at the start of the month"
    elif churned:
        month = f"{fmt.plural(churned, 'customer')} of {start:,} left this month"
    else:
        month = f"None of the {start:,} customers left this month"
    twelve = row["logo_retention_12m"]
    if twelve is None:
        return f"{month}; the 12-month figure needs a cohort from {cohort_label}."
    return f"{month}; {Fmt.pct(twelve)} of the {cohort_label} customers are still customers."


def customers_sentence(row: dict[str, Any]) -> str:
    new, react, churned = row["new_customers"] or 0, row["reactivated_customers"] or 0, row["churned_customers"] or 0
    end = row["customers_end"] or 0
    parts = []
    if new:
        parts.append(f"{new:,} new")
    if react:
        parts.append(f"{react:,} returned")
    if churned:
        parts.append(f"{churned:,} left")
    if not parts:
        return f"{fmt.plural(end, 'customer')} at the month end; none joined, returned or left."
    net = new + react - churned
    return f"{join_words(parts)}: {fmt.plural(end, 'customer')} at the month end (net {Fmt.count_change(net)})."


def arpa_sentence(row: dict[str, Any], prev: dict[str, Any] | None, currency: str) -> str:
    f = Fmt(currency)
    arpa = row["arpa"]
    if arpa is None:
        return "No customers at the month end, so no average."
    if prev is None or prev["arpa"] is None:
        return f"MRR of {f.money(row['mrr_end'])} over {fmt.plural(row['customers_end'], 'customer')}."
    change = ratio_change(arpa, prev["arpa"]) or 0.0
    mrr_change = ratio_change(row["mrr_end"], prev["mrr_end"])
    cust = (row["customers_end"] or 0) - (prev["customers_end"] or 0)
    direction = "rose" if change > STEADY else ("fell" if change < -STEADY else "held")
    head = f"ARPA {direction}" + (f" {f.pct(abs(change))}" if direction != "held" else "") + f" to {f.money(arpa)}"
    mrr_words = "flat" if mrr_change is None or abs(mrr_change) < STEADY else (
        f"{'up' if mrr_change > 0 else 'down'} {f.pct(abs(mrr_change))}"
    )
    cust_words = "unchanged" if cust == 0 else f"{'up' if cust > 0 else 'down'} {abs(cust):,}"
    return f"{head}: MRR {mrr_words}, customers {cust_words}."


def ltv_sentence(row: dict[str, Any], currency: str, gross_margin: float) -> str:
    f = Fmt(currency)
    rate = row["customer_churn_rate_6m"]
    margin = "" if gross_margin == 1 else f" × {f.pct(gross_margin, 0)} gross margin"
    if row["ltv"] is None:
        if rate is None:
            return "Not available: no customers in the last 6 months to measure churn."
        return "Not available: no customer left in the last 6 months, so the lifetime has no end in sight."
    return f"ARPA {f.money(row['arpa'])}{margin} ÷ a 6-month customer churn rate of {f.pct(rate, 2)} a month."


def voice_sentence(row: dict[str, Any], prev: dict[str, Any] | None, kind: str) -> str:
    if kind == "nps":
        value, n = row["nps_12m"], row["nps_responses_12m"] or 0
        if value is None:
            return "No NPS answers in the last 12 months."
        text = f"{fmt.plural(n, 'answer')} over 12 months, pooled across accounts"
        before = prev["nps_12m"] if prev else None
        if before is not None:
            d = value - before
            text += "; unchanged on last month" if abs(d) < 0.05 else f"; {Fmt.points(d, 1 if abs(d) < 1 else 0)} on last month"
        return text + "."
    value, n = row["csat_3m"], row["csat_responses_3m"] or 0
    if value is None:
        return "No CSAT ratings in the last 3 months."
    text = f"{fmt.score(value, 1)}% of {fmt.plural(n, 'rating')} over 3 months were 4 or 5"
    before = prev["csat_3m"] if prev else None
    if before is not None:
        d = value - before
        text += "; unchanged on last month" if abs(d) < 0.05 else f"; {Fmt.points(d, 1)} on last month"
    return text + "."


def health_sentence(row: dict[str, Any], migration: dict[str, Any]) -> str:
    parts = [f"{(row['accounts_' + b] or 0):,} {BAND_LABELS[b].lower()}" for b in ("green", "amber", "red")]
    text = join_words(parts)
    insufficient = row["accounts_insufficient_data"] or 0
    if insufficient:
        text += f" ({insufficient:,} with too little data to score)"
    if migration["has_previous"]:
        text += (
            f"; {fmt.plural(migration['worse'], 'account')} moved to a worse band, "
            f"{migration['better']:,} to a better one."
        )
    else:
        text += "; no earlier month to compare with."
    return text[0].upper() + text[1:]


def drop_reasons(row: dict[str, Any], measures: Sequence[tuple[str, str, float]], limit: int = 2) -> list[str]:
    """Why a score fell, in words: the measures that got worse, largest effect first.

    ``row`` holds this month's ``<measure>_score`` and last month's as
    ``<measure>_score_before``, and this month's ``drivers_detail`` (the sentences).
    ``measures`` is (name, label, weight) in settings order. A measure counts when its
    score fell, when it is newly measured below last month's overall score (it pulls the
    average down), or when it has no data this month. A part that moved only because
    the weights were rescaled is not a reason.
    """
    sentences = {d["measure"]: d["sentence"] for d in (row.get("drivers_detail") or [])}
    overall_before = row.get("score_before")
    found = []
    for order, (name, label, weight) in enumerate(measures):
        now, before = row.get(f"{name}_score"), row.get(f"{name}_score_before")
        if now is not None and before is not None and before - now >= 0.5:
            effect = (before - now) * weight
            text = f"{label} {fmt.score(before)} → {fmt.score(now)}"
        elif now is not None and before is None and overall_before is not None and now < overall_before - 0.5:
            effect = (overall_before - now) * weight
            text = f"{label} newly measured at {fmt.score(now)}"
        elif now is None and before is not None:
            effect = 0.0
            text = f"{label}: no data this month"
        else:
            continue
        if name in sentences and now is not None:
            text += f": {sentences[name]}"
        found.append((-effect, order, text))
    found.sort()
    return [t for _, _, t in found[:limit]]


# --------------------------------------------------------------------------- summary


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
    if yoy_arr is None:
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


# --------------------------------------------------------------------------- revenue


def mrr_bridge(row: dict[str, Any]) -> dict[str, Any]:
    """The month's bridge from one portfolio row: start, the five movements, end.

    ``ties_out`` is the mart's own identity (METRICS.md), checked here again on the
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


# --------------------------------------------------------------------------- health


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
    rows = []
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


def band_outcomes(health: pl.DataFrame, monthly: pl.DataFrame, month: date, months: int = OUTCOME_MONTHS) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- attention


def _measures_from(health: pl.DataFrame, measures: dict[str, tuple[str, float]]) -> list[tuple[str, str, float]]:
    """(name, label, weight) of the measures the health rows carry, in column order."""
    names = [c[: -len("_score")] for c in health.columns if c.endswith("_score")]
    return [
        (n, *(measures.get(n) or (n.replace("_", " ").capitalize(), 1.0)))
        for n in names
    ]


def attention_base(
    health: pl.DataFrame, monthly: pl.DataFrame, accounts: pl.DataFrame, month: date
) -> pl.DataFrame:
    """One row per account with a row this month: its KPIs, health now and last month, names."""
    prev_month = add_months(month, -1)
    now_m = monthly.filter(pl.col("month") == month).select(
        "account_id", "tier", "account_manager_id", "mrr", "overdue_amount", "days_to_renewal"
    )
    change_cols = [c for c in health.columns if c.endswith("_change")]
    now_h = health.filter(pl.col("month") == month).select(
        "account_id", "band", "score", "drivers_detail", "missing_measures", "override_band", "override_reason",
        *[c for c in health.columns if c.endswith("_score")], *change_cols,
    )
    score_cols = [c for c in health.columns if c.endswith("_score")]
    prev_h = health.filter(pl.col("month") == prev_month).select(
        "account_id",
        pl.col("band").alias("band_before"),
        pl.col("score").alias("score_before"),
        *[pl.col(c).alias(f"{c}_before") for c in score_cols],
    )
    names = accounts.select("account_id", "account_name", "manager_name")
    return (
        now_m.join(now_h, on="account_id", how="left")
        .join(prev_h, on="account_id", how="left")
        .join(names, on="account_id", how="left")
    )


def attention_rules(base: pl.DataFrame, overdue_threshold: float) -> dict[str, pl.DataFrame]:
    """The accounts each rule selects, in list order (see the module doc)."""
    customers = base.filter(pl.col("mrr") > 0)
    threshold = pl.lit(Decimal(str(overdue_threshold))).cast(pl.Decimal(18, 4))
    by_mrr = {"by": ["mrr", "account_id"], "descending": [True, False]}
    return {
        "red": customers.filter(pl.col("band") == "red").sort(**by_mrr),
        "newly_amber": customers.filter(
            (pl.col("band") == "amber")
            & (pl.col("band_before").is_null() | pl.col("band_before").is_in(["green", "insufficient_data"]))
        ).sort(**by_mrr),
        "drops": customers.filter(pl.col("score_change") <= -DROP_POINTS).sort(
            ["score_change", "mrr", "account_id"], descending=[False, True, False]
        ),
        "renewals": customers.filter(
            pl.col("days_to_renewal").is_between(0, RENEWAL_DAYS)
            & (pl.col("band").is_null() | (pl.col("band") != "green"))
        ).sort(["days_to_renewal", "mrr", "account_id"], descending=[False, True, False]),
        "overdue": base.filter(pl.col("overdue_amount") > threshold).sort(
            ["overdue_amount", "account_id"], descending=[True, False]
        ),
    }


ATTENTION_LISTS = (
    ("red", "Red accounts", "Customers whose health band is red, most recurring revenue first."),
    ("newly_amber", "Newly amber", "Customers amber this month that were green or low data last month, or are new."),
    ("drops", "Biggest score drops", "Customers whose health score fell by {drop} points or more since last month."),
    ("renewals", "Renewals in the next {days} days, not green",
     "Customers renewing by {horizon} whose band is amber, red or low data; soonest first."),
    ("overdue", "Overdue invoices above {threshold}",
     "Accounts with more than {threshold} overdue at the month end, largest first."),
)


def _attention_row(r: dict[str, Any], list_key: str, measures: Sequence[tuple[str, str, float]], month: date, currency: str) -> dict[str, Any]:
    details = r.get("drivers_detail") or []
    drivers = [d["sentence"] for d in details]
    if list_key == "drops":
        why = drop_reasons(r, measures)
    elif list_key == "overdue":
        mrr = _dec(r["mrr"])
        months = r["overdue_amount"] / mrr if mrr > 0 else None
        why = [f"{fmt.number(months, 1)} months of MRR overdue" if months is not None else "no recurring revenue now"]
        why += [d["sentence"] for d in details if d["measure"] != "payments"][:1]
    elif list_key == "newly_amber":
        before = r.get("band_before")
        was = {"green": "was green", "insufficient_data": "had low data"}.get(before or "", "new this month")
        if r.get("score_before") is not None:
            was += f" at {fmt.score(r['score_before'], 1)} last month"
        why = [was] + drivers[:1]
    else:
        why = drivers[:2]
    if r.get("override_band") is not None:
        reason = _text(r.get("override_reason"), 100)
        why = [f"band set to {r['override_band']} by override" + (f": {reason}" if reason else "")] + why[:1]
    renewal_days = r.get("days_to_renewal")
    return {
        "account_id": _text(r["account_id"], 60),
        "name": _text(r.get("account_name"), 70) or _text(r["account_id"], 60),
        "tier": TIER_LABELS.get(r.get("tier") or "", _text(r.get("tier")) or fmt.NA),
        "manager": _text(r.get("manager_name"), 50) or _text(r.get("account_manager_id"), 40) or "Unassigned",
        "mrr": _dec(r["mrr"]),
        "band": r.get("band") or "none",
        "band_label": BAND_LABELS.get(r.get("band") or "none", r.get("band")),
        "overridden": r.get("override_band") is not None,
        "score": r.get("score"),
        "score_change": r.get("score_change"),
        "score_change_display": Fmt.points(r.get("score_change"), 1),
        "overdue_amount": _dec(r.get("overdue_amount")),
        "days_to_renewal": renewal_days,
        "renewal_date": month_end(month) + timedelta(days=renewal_days) if renewal_days is not None else None,
        "why": [_text(w, 160) for w in why if w],
    }


def attention_lists(
    health: pl.DataFrame,
    monthly: pl.DataFrame,
    accounts: pl.DataFrame,
    month: date,
    overdue_threshold: float,
    currency: str,
    measures: dict[str, tuple[str, float]] | None = None,
    limit: int = LIST_ROWS,
) -> dict[str, Any]:
    """The attention lists; ``measures`` maps a measure name to (label, weight)."""
    base = attention_base(health, monthly, accounts, month)
    selected = attention_rules(base, overdue_threshold)
    measure_info = _measures_from(health, measures or {})
    f = Fmt(currency)
    words = {
        "drop": fmt.number(DROP_POINTS),
        "days": RENEWAL_DAYS,
        "horizon": fmt.long_date(month_end(month) + timedelta(days=RENEWAL_DAYS)),
        "threshold": f.money(overdue_threshold),
    }
    lists = []
    flagged: set[str] = set()
    for key, title, rule in ATTENTION_LISTS:
        frame = selected[key]
        flagged.update(frame["account_id"].to_list())
        shown = [_attention_row(r, key, measure_info, month, currency) for r in frame.head(limit).iter_rows(named=True)]
        rest = frame.slice(limit)
        lists.append(
            {
                "key": key,
                "title": title.format(**words),
                "rule": rule.format(**words),
                "count": frame.height,
                "mrr": _dec(frame["mrr"].sum()) if frame.height else ZERO,
                "overdue": _dec(frame["overdue_amount"].sum()) if frame.height else ZERO,
                "rows": shown,
                "more": rest.height,
                "more_mrr": _dec(rest["mrr"].sum()) if rest.height else ZERO,
            }
        )
    return {"lists": lists, "accounts_flagged": len(flagged), "limit": limit}


# --------------------------------------------------------------------------- teams


def team_tables(portfolio: pl.DataFrame, managers: pl.DataFrame, month: date) -> list[dict[str, Any]]:
    """One table per grouping (tier, segment, account manager) of this month's portfolio rows."""
    now = portfolio.filter(pl.col("month") == month) if portfolio.height else portfolio
    names = {
        r["manager_id"]: (_text(r["name"], 50) or r["manager_id"], _text(r.get("team"), 40))
        for r in managers.iter_rows(named=True)
    }
    total = _row(now, grouping="all", group_value="all")
    tables = []
    for grouping, title, order in GROUPINGS:
        rows = now.filter(pl.col("grouping") == grouping) if now.height else now
        items = []
        for r in rows.iter_rows(named=True):
            value = r["group_value"]
            if grouping == "account_manager":
                label, team = names.get(value, (_text(value, 50), ""))
            else:
                label, team = GROUP_LABELS.get(value, _text(value, 50)), ""
            items.append(_team_row(r, label, team))
        if grouping == "account_manager":
            items.sort(key=lambda x: (-x["mrr_end"], x["label"]))
        else:
            rank = {v: i for i, v in enumerate(order)}
            items.sort(key=lambda x: (rank.get(x["value"], len(rank)), x["label"]))
        tables.append(
            {
                "grouping": grouping,
                "title": title,
                "rows": items,
                "total": _team_row(total, "All accounts", "") if total and items else None,
            }
        )
    return tables


def _team_row(r: dict[str, Any], label: str, team: str) -> dict[str, Any]:
    accounts = r["accounts"] or 0
    touches = r["touches_3m"]
    return {
        "value": r["group_value"],
        "label": label,
        "team": team,
        "accounts": accounts,
        "customers": r["customers_end"] or 0,
        "mrr_end": _dec(r["mrr_end"]),
        "mrr_change": ratio_change(r["mrr_end"], r["mrr_start"]),
        "new": _dec(r["mrr_new"]) + _dec(r["mrr_reactivation"]),
        "expansion": _dec(r["mrr_expansion"]),
        "contraction": _dec(r["mrr_contraction"]),
        "churn": _dec(r["mrr_churn"]),
        "nrr_1m": r["nrr_1m"],
        "grr_1m": r["grr_1m"],
        "nrr_12m": r["nrr_12m"],
        "green": r["accounts_green"] or 0,
        "amber": r["accounts_amber"] or 0,
        "red": r["accounts_red"] or 0,
        "insufficient": r["accounts_insufficient_data"] or 0,
        # Presentation only: the mart's 3-month touches over its account count.
        "touches_per_account": (touches / accounts) if touches is not None and accounts else None,
    }


# --------------------------------------------------------------------------- data quality


def _small_pct(share: float) -> str:
    """A small share readably: ``0.30%``, ``<0.01%`` (never a misleading ``0.00%``)."""
    return "<0.01%" if share < 0.00005 else Fmt.pct(share, 2)


def _check_label(name: str) -> str:
    text = name.replace("_", " ").capitalize()
    return re.sub(r"\b(mrr|nrr|grr)\b", lambda m: m.group(1).upper(), text, flags=re.I)


def source_quality(
    table_stats: pl.DataFrame,
    loads: pl.DataFrame,
    quarantine: pl.DataFrame,
    reasons: pl.DataFrame,
    month: date,
    freshness_days: int,
) -> list[dict[str, Any]]:
    """Per source: files and rows loaded, rows in raw and staging, quarantined rows with
    the top reasons, and how recent its data is (stale when its newest date is more than
    ``freshness_days`` before the month end)."""
    end = month_end(month)
    loads_by = {r["source"]: r for r in loads.iter_rows(named=True)}
    q_by: dict[str, dict[str, int]] = {}
    for r in quarantine.iter_rows(named=True):
        q_by.setdefault(r["source"], {})[r["stage"]] = int(r["rows_quarantined"])
    reasons_by: dict[str, list[dict[str, Any]]] = {}
    for r in reasons.iter_rows(named=True):
        reasons_by.setdefault(r["source"], []).append(
            {"reason": _text(r["reason"], 110), "rows": int(r["rows_quarantined"])}
        )
    out = []
    for r in table_stats.iter_rows(named=True):
        source = r["source"]
        load = loads_by.get(source, {})
        q = q_by.get(source, {})
        raw_rows = r["raw_rows"]
        q_staging = q.get("staging", 0)
        newest = r["newest_date"]
        stale = newest is not None and (end - newest).days > freshness_days
        last_loaded = load.get("last_loaded_at")
        out.append(
            {
                "source": source,
                "label": source.replace("_", " ").capitalize(),
                "files": int(load.get("files") or 0),
                "rows_loaded": int(load.get("rows_loaded") or 0),
                "raw_rows": raw_rows,
                "staging_rows": r["staging_rows"],
                "quarantined": q_staging,
                "quarantined_marts": q.get("marts", 0),
                "quarantine_rate": (q_staging / raw_rows) if raw_rows else None,
                "quarantine_rate_display": _small_pct(q_staging / raw_rows) if raw_rows and q_staging else None,
                "reasons": reasons_by.get(source, []),
                "date_column": r["date_column"],
                "newest_date": newest,
                "last_loaded_at": last_loaded,
                "last_loaded_on": last_loaded.astimezone(timezone.utc).date() if last_loaded else None,
                "last_loaded_time": last_loaded.astimezone(timezone.utc).strftime("%H:%M UTC") if last_loaded else None,
                "stale": stale,
                "missing": r["staging_rows"] is None,
            }
        )
    return out


CHECK_PROBLEM_ROWS = 15


def check_summary(checks: Sequence[dict[str, Any]] | None, month: date) -> dict[str, Any]:
    """The asset checks handed in by the asset: counts, one line per kind of check (how
    many tables passed it), and the checks that failed or did not run, one by one."""
    if checks is None:
        return {"available": False, "groups": [], "problems": [], "problems_more": 0,
                "passed": 0, "failed": 0, "other": 0, "total": 0}
    order = {"failed": 0, "not run": 1, "passed": 2}
    key = month.strftime("%Y-%m")
    rows = []
    for c in checks:
        status = str(c.get("status") or "not run")
        run_month = c.get("run_month")
        rows.append(
            {
                "asset": _text(c.get("asset"), 60),
                "check": _text(c.get("check"), 60),
                "status": status,
                "severity": _text(c.get("severity") or "", 10).lower(),
                "detail": _text(c.get("detail"), 140),
                "run_month": run_month,
                "other_month": bool(run_month) and run_month != key,
            }
        )
    rows.sort(key=lambda r: (order.get(r["status"], 1), r["asset"], r["check"]))
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        layer = r["asset"].split("/")[0] if "/" in r["asset"] else ""
        g = groups.setdefault((layer, r["check"]), {
            "layer": layer, "check": r["check"], "label": _check_label(r["check"]),
            "assets": 0, "passed": 0, "failed": 0, "not_run": 0,
        })
        g["assets"] += 1
        if r["status"] == "passed":
            g["passed"] += 1
        elif r["status"] == "failed":
            g["failed"] += 1
        else:
            g["not_run"] += 1
    problems = [r for r in rows if r["status"] != "passed"]
    passed = sum(1 for r in rows if r["status"] == "passed")
    failed = sum(1 for r in rows if r["status"] == "failed")
    return {
        "available": True,
        "groups": sorted(groups.values(), key=lambda g: (-g["failed"], -g["not_run"], g["layer"], g["check"])),
        "problems": problems[:CHECK_PROBLEM_ROWS],
        "problems_more": max(0, len(problems) - CHECK_PROBLEM_ROWS),
        "passed": passed,
        "failed": failed,
        "other": len(rows) - passed - failed,
        "total": len(rows),
    }


def trust_sentence(
    sources: list[dict[str, Any]], checks: dict[str, Any], month: date, quarantine_threshold: float = 0.05
) -> tuple[str, str]:
    """One sentence on whether the numbers can be trusted, and its level (ok, warn, bad)."""
    quarantined = sum(s["quarantined"] + s["quarantined_marts"] for s in sources)
    raw = sum(s["raw_rows"] or 0 for s in sources)
    stale = [s["label"].lower() for s in sources if s["stale"]]
    missing = [s["label"].lower() for s in sources if s["missing"]]
    parts = []
    level = "ok"
    if not checks["available"]:
        parts.append("asset check results were not available to this run")
        level = "warn"
    elif checks["failed"]:
        parts.append(f"{checks['failed']} of {checks['total']} data checks failed")
        level = "bad"
    elif checks["total"]:
        parts.append("the data check passed" if checks["total"] == 1 else f"all {checks['total']} data checks passed")
        if checks["other"]:
            parts[-1] = f"{checks['passed']} of {checks['total']} data checks passed ({checks['other']} not run)"
            level = "warn"
    if raw:
        share = quarantined / raw
        parts.append(f"{quarantined:,} of {raw:,} loaded rows quarantined ({_small_pct(share) if quarantined else '0%'})")
        if share > quarantine_threshold:
            level = "bad"
    if missing:
        parts.append(f"no data for {join_words(missing)}")
        level = "bad"
    behind = [s["label"].lower() for s in sources if s["newest_date"] is not None and s["newest_date"] < month]
    if stale:
        parts.append(f"{join_words(stale)} {'is' if len(stale) == 1 else 'are'} out of date")
        level = "bad" if level == "bad" else "warn"
    elif behind:
        parts.append(f"no {month_label(month)} data yet for {join_words(behind)}")
        level = "bad" if level == "bad" else "warn"
    elif any(s["newest_date"] is not None for s in sources):
        parts.append(f"every dated source has {month_label(month)} data")
    text = "Data: " + join_words(parts) + "." if parts else "Data: nothing loaded."
    return text, level


# --------------------------------------------------------------------------- the context


def _brand_color(value: str, default: str) -> str:
    v = (value or "").strip()
    ok = v.startswith("#") and len(v) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in v[1:])
    return v if ok else default


class LeadershipContextError(ValueError):
    """The marts have no portfolio row for the month; the message says what to run."""


def brief_sentences(
    now: dict[str, Any],
    month: date,
    kpis: list[dict[str, Any]],
    by_band: dict[str, Any],
    migration: dict[str, Any],
    attention: dict[str, Any],
    currency: str,
    overdue_threshold: float,
) -> list[str]:
    """The "In brief" box: what moved MRR, retention, health and who needs attention."""
    f = Fmt(currency)
    prev_month, year_month = add_months(month, -1), add_months(month, -12)
    lists = {l["key"]: l for l in attention["lists"]}
    brief = [kpis[0]["sentence"]]
    nrr, grr = now["nrr_1m"], now["grr_1m"]
    if nrr is not None:
        retention = f"NRR {f.pct(nrr)} and GRR {f.pct(grr)} for the month"
        if now["nrr_12m"] is not None:
            retention += (
                f"; the {month_label(year_month)} cohort kept {f.pct(now['nrr_12m'])} of its revenue "
                f"({f.pct(now['grr_12m'])} before expansion)"
            )
        else:
            retention += "; 12-month retention needs a year of history"
        brief.append(retention + ".")
    at_risk = by_band["at_risk"]
    amber, red = now["accounts_amber"] or 0, now["accounts_red"] or 0
    health_text = (
        f"{amber:,} {'account is' if amber == 1 else 'accounts are'} amber and {red:,} red, "
        f"holding {f.money(at_risk)} of MRR"
        + (f" ({f.pct(by_band['at_risk_share'])})" if by_band["at_risk_share"] is not None else "")
    )
    if migration["has_previous"]:
        health_text += f"; {migration['worse']:,} moved to a worse band since {month_label(prev_month)}, {migration['better']:,} to a better one"
    brief.append(health_text + ".")
    attention_parts = [
        f"{lists['red']['count']:,} red {'customer' if lists['red']['count'] == 1 else 'customers'}",
        f"{lists['newly_amber']['count']:,} newly amber",
        f"{lists['renewals']['count']:,} renewing within {RENEWAL_DAYS} days and not green "
        f"({f.money(lists['renewals']['mrr'])} MRR)",
        f"{lists['overdue']['count']:,} with more than {f.money(overdue_threshold)} overdue",
    ]
    brief.append(
        f"{fmt.plural(attention['accounts_flagged'], 'account')} "
        f"{'meets' if attention['accounts_flagged'] == 1 else 'meet'} an attention rule: {join_words(attention_parts)}."
        if attention["accounts_flagged"]
        else "No account meets an attention rule this month."
    )
    return brief


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
        inputs.health, inputs.monthly, inputs.accounts, month,
        settings.overdue_attention_threshold, currency, measures,
    )
    sources = source_quality(
        inputs.table_stats, inputs.loads, inputs.quarantine, inputs.reasons, month, settings.freshness_days
    )
    check_info = check_summary(checks, month)
    trust, trust_level = trust_sentence(sources, check_info, month, settings.quarantine_rate_threshold)
    months = trend_months(month)
    brand = settings.branding

    brief = brief_sentences(now, month, kpis, by_band, migration, attention, currency,
                            settings.overdue_attention_threshold)

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
            ) if inputs.health.height else 0,
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
        "charts": chart_data(all_rows, months, bridge, currency),
    }
    return ctx


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
            "steps": [{"name": s["name"], "label": s["label"], "amount": float(s["amount"]), "sign": s["sign"]}
                      for s in bridge["steps"]],
            "end": float(bridge["end"]),
        },
        "movements": {name: series(window, f"mrr_{name}", months) for name, _ in MOVEMENTS},
        "currency": currency,
    }


# --------------------------------------------------------------------------- files and metadata


@dataclass(frozen=True)
class PackPaths:
    folder: Path
    html: Path
    pdf: Path


def pack_paths(reports_dir: Path, month_key: str) -> PackPaths:
    """``reports/2026-10/leadership/account-health-pack-2026-10.{html,pdf}``."""
    if not re.fullmatch(r"\d{4}-\d{2}", month_key):
        raise UnsafePathError(f"reporting month {month_key!r} is not YYYY-MM")
    root = Path(reports_dir)
    folder = root / month_key / "leadership"
    html = ensure_inside(root, folder / f"account-health-pack-{month_key}.html")
    pdf = ensure_inside(root, folder / f"account-health-pack-{month_key}.pdf")
    return PackPaths(folder=html.parent, html=html, pdf=pdf)


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
