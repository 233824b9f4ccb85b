"""The executive summary: a few plain sentences generated from the report's numbers.

Pure: reads the sections of a report context, returns strings. The strings are text
(product names come from the data), escaped by the template like every other value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pipeline.reporting.formatting import hours, long_date, money, number, pct, plural, score
from pipeline.reporting.periods import MONTH_NAMES

STEADY = 0.0005  # a change smaller than 0.05% reads as "held steady"


def _names(names: list[str], limit: int = 2) -> str:
    """``A``, ``A and B``, ``A, B and 2 more``."""
    if len(names) <= limit:
        return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"


def revenue_sentence(ctx: dict[str, Any]) -> str:
    r = ctx["revenue"]
    cur = ctx["currency"]
    noun = ctx["period"]["noun"]
    mrr, start = r["mrr"], r["mrr_start"]
    per_month = f"{money(mrr, cur, compact=True)} a month"
    per_year = f"{money(r['arr'], cur, compact=True)} a year"
    added, ended = r["products_added"], r["products_ended"]
    if start == 0 and mrr > 0:
        what = f" with {_names(added)}" if added else ""
        return f"Your subscriptions started this {noun}{what}: recurring revenue is {per_month} ({per_year})."
    if mrr == 0 and start > 0:
        return f"Your subscriptions ended this {noun}; recurring revenue went from {money(start, cur, compact=True)} a month to zero."
    if mrr == 0:
        return f"No subscriptions were active at the end of the {noun}."
    ratio = r["net_change_ratio"] or 0.0
    if ratio > STEADY:
        if len(added) == 1:
            why = f" after the {added[0]} add-on"
        elif added:
            why = f" after adding {_names(added)}"
        else:
            why = ""
        return f"Recurring revenue rose {pct(ratio)} to {per_month}{why}, or {per_year}."
    if ratio < -STEADY:
        why = f" after {_names(ended)} ended" if ended else ""
        return f"Recurring revenue fell {pct(-ratio)} to {per_month}{why}, or {per_year}."
    return f"Recurring revenue held steady at {per_month}, or {per_year}."


def billing_sentences(ctx: dict[str, Any]) -> list[str]:
    b = ctx["billing"]
    cur = ctx["currency"]
    noun = ctx["period"]["noun"]
    out = []
    if b["invoices_issued"] == 0 and b["collected"] == 0:
        out.append(f"There were no invoices or payments this {noun}.")
    elif b["invoices_issued"] == 0:
        out.append(
            f"We issued no invoices this {noun} and collected {money(b['collected'], cur, compact=True)} in payments."
        )
    else:
        out.append(
            f"We issued {plural(b['invoices_issued'], 'invoice')} for {money(b['invoiced_total'], cur, compact=True)} "
            f"including tax and collected {money(b['collected'], cur, compact=True)} in payments."
        )
    if b["overdue_amount"] > 0:
        where = f" across {plural(b['overdue_count'], 'invoice')}" if b["overdue_count"] else ""
        oldest = (
            f"; the oldest was due on {long_date(b['oldest_overdue_due_on'])}"
            if b["oldest_overdue_due_on"] is not None
            else ""
        )
        out.append(f"{money(b['overdue_amount'], cur, compact=True)} is overdue{where}{oldest}.")
    elif b["open_count"]:
        out.append("Nothing is overdue: every open invoice is within its payment terms.")
    else:
        out.append("Nothing is outstanding: every invoice is paid.")
    return out


def service_sentence(ctx: dict[str, Any]) -> str:
    s = ctx["service"]
    noun = ctx["period"]["noun"]
    if s["opened"] == 0 and s["open_total"] == 0:
        return f"No support tickets were opened this {noun} and none is open."
    text = f"Your team opened {plural(s['opened'], 'support ticket')}"
    response = (
        f", with a median first response of {hours(s['median_first_response_hours'])}"
        if s["median_first_response_hours"] is not None
        else ""
    )
    if s["resolved"]:
        text += f" and we resolved {number(s['resolved'])}{response}."
    else:
        text += f"{response}; none was resolved by the end of the {noun}."
    n, high = s["open_total"], s["open_high_priority"]
    if n == 1:
        text += " One ticket remains open" + (", and it is high priority." if high else ".")
    elif n:
        detail = f", {high} of them high priority" if high else ""
        text += f" {number(n)} tickets remain open{detail}."
    else:
        text += " None is open."
    return text


def voice_sentence(ctx: dict[str, Any]) -> str | None:
    v = ctx["voice"]
    if v["nps"] is None and v["csat"] is None:
        return None
    parts = []
    if v["nps"] is not None:
        nps = f"Your NPS over the last 12 months is {score(v['nps'])} from {plural(v['nps_responses'], 'response')}"
        year = next((r for r in ctx["comparison"]["rows"] if r["label"].startswith("NPS")), None)
        if year and year["year_ago_change"] is not None and abs(year["year_ago_change"]) >= 1:
            direction = "up" if year["year_ago_change"] > 0 else "down"
            nps += f", {direction} from {score(year['year_ago'])} a year ago"
        parts.append(nps)
    if v["csat"] is not None:
        csat = f"{pct(Decimal(str(v['csat'])) / 100)} of support ratings in the last three months were satisfied"
        parts.append(csat if not parts else "and " + csat)
    text = ", ".join(parts)
    return text[0].upper() + text[1:] + "."


def relationship_sentence(ctx: dict[str, Any]) -> str:
    rel = ctx["relationship"]
    noun = ctx["period"]["noun"]
    touches = rel["touches"]
    if touches == 1:
        text = f"We were in touch once this {noun}"
    elif touches:
        text = f"We were in touch {number(touches)} times this {noun}"
    else:
        text = f"We had no recorded meetings or calls this {noun}"
    if rel["renewal_date"] is not None:
        days = rel["days_to_renewal"]
        when = f"in {plural(days, 'day')}" if days else f"the last day of this {noun}"
        text += f"; your renewal is due on {long_date(rel['renewal_date'])}, {when}"
    return text + "."


def _month_words(month: Any) -> str:
    """``March 2027``."""
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def looking_ahead_sentences(
    mrr: Decimal, months: list[dict[str, Any]], changes: list[dict[str, Any]], renewal: Any, currency: str
) -> list[str]:
    """One or two lines: the renewal date, and the committed recurring revenue of the next
    three months where it changes (subscriptions already booked or scheduled to end)."""
    out = []
    if renewal is not None:
        out.append(f"Your next renewal is on {long_date(renewal)}.")
    last = months[-1]["month"] if months else None
    if not changes:
        if mrr > 0 and last is not None:
            out.append(
                f"The subscriptions on file keep your recurring revenue at {money(mrr, currency, compact=True)} "
                f"a month through {_month_words(last)}."
            )
        return out
    steps = []
    for c in changes:
        when = _month_words(c["month"])
        verb = "rises" if c["up"] else "falls"
        steps.append(f"{verb} to {money(c['mrr'], currency, compact=True)} a month in {when}")
    cause = (
        "subscriptions already booked"
        if all(c["up"] for c in changes)
        else "subscriptions scheduled to end"
        if not any(c["up"] for c in changes)
        else "subscriptions booked or scheduled to end"
    )
    out.append(f"With the {cause}, your committed recurring revenue {', then '.join(steps)}.")
    return out


def executive_summary(ctx: dict[str, Any]) -> list[str]:
    sentences = [revenue_sentence(ctx), *billing_sentences(ctx), service_sentence(ctx)]
    voice = voice_sentence(ctx)
    if voice:
        sentences.append(voice)
    sentences.append(relationship_sentence(ctx))
    return sentences
