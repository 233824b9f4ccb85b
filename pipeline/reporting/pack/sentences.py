"""The pack's sentences: what each summary figure means this month, and "In brief".

One sentence per measure of the summary table (MRR, retention, customers, ARPA, LTV,
NPS and CSAT, health bands), each from one portfolio row (and last month's where a
change is described), and the "In brief" box that sums up the month.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from pipeline.reporting import formatting as fmt
from pipeline.reporting.pack.attention import RENEWAL_DAYS
from pipeline.reporting.pack.common import (
    BAND_LABELS,
    MOVEMENTS,
    MOVEMENTS_IN,
    MOVEMENTS_OUT,
    STEADY,
    Fmt,
    join_words,
    month_label,
    ratio_change,
)
from pipeline.reporting.pack.common import decimal_or_zero as _dec
from pipeline.reporting.periods import add_months


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
    mrr_words = (
        "flat"
        if mrr_change is None or abs(mrr_change) < STEADY
        else (f"{'up' if mrr_change > 0 else 'down'} {f.pct(abs(mrr_change))}")
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
            text += (
                "; unchanged on last month"
                if abs(d) < 0.05
                else f"; {Fmt.points(d, 1 if abs(d) < 1 else 0)} on last month"
            )
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
    lists = {lst["key"]: lst for lst in attention["lists"]}
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
