"""How a goal reads: its metric in words, its values formatted, its status in words and its
progress from the baseline to the target (for the client report and the pack).

Pure: a row of ``marts.account_goals`` in, plain data out. The numbers are the mart's;
this module only formats them and works out how far along the straight line from the
baseline to the target the value is (for a progress bar).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipeline.reporting import formatting as fmt

STATUS_WORDS = {
    "met": "Met",
    "on_track": "On track",
    "behind": "Behind",
    "missed": "Missed",
    "no_data": "No data yet",
}
STATUS_ORDER = ("met", "on_track", "behind", "missed", "no_data")

# metric -> (label, kind); kind: money, score (NPS), percent_score (CSAT), ratio, days, count.
METRICS: dict[str, tuple[str, str]] = {
    "mrr": ("Monthly recurring revenue", "money"),
    "arr": ("Annual recurring revenue", "money"),
    "mrr_previous": ("Recurring revenue the month before", "money"),
    "mrr_new": ("New recurring revenue", "money"),
    "mrr_expansion": ("Expansion", "money"),
    "mrr_contraction": ("Contraction", "money"),
    "mrr_churn": ("Churn", "money"),
    "mrr_reactivation": ("Reactivation", "money"),
    "revenue_trend_3m": ("Recurring revenue trend over 3 months", "ratio"),
    "invoiced_net": ("Invoiced in the month (net)", "money"),
    "invoiced_tax": ("Tax invoiced in the month", "money"),
    "collected": ("Payments collected in the month", "money"),
    "overdue_amount": ("Overdue invoices", "money"),
    "invoiced_net_mom": ("Invoicing change on the month before", "ratio"),
    "invoiced_net_yoy": ("Invoicing change on a year before", "ratio"),
    "nps_12m": ("NPS, 12 months", "score"),
    "nps_responses_12m": ("NPS answers, 12 months", "count"),
    "nps_promoters_12m": ("NPS promoters, 12 months", "count"),
    "nps_detractors_12m": ("NPS detractors, 12 months", "count"),
    "csat_3m": ("CSAT, 3 months", "percent_score"),
    "csat_responses_3m": ("CSAT ratings, 3 months", "count"),
    "csat_satisfied_3m": ("Satisfied CSAT ratings, 3 months", "count"),
    "touches_3m": ("Touches, 3 months", "count"),
    "days_since_last_touch": ("Days since the last touch", "days"),
    "tickets_opened": ("Tickets opened in the month", "count"),
    "open_tickets": ("Open tickets", "count"),
    "open_high_priority_tickets": ("Open high-priority tickets", "count"),
    "open_expansion_pipeline": ("Open expansion pipeline", "money"),
    "days_to_renewal": ("Days to renewal", "days"),
}


def metric_label(metric: str) -> str:
    return METRICS.get(metric, (metric.replace("_", " ").capitalize(), "count"))[0]


def format_value(metric: str, value: Any, currency: str) -> str:
    """A goal's value or target as the metric is usually shown."""
    if value is None:
        return fmt.NA
    kind = METRICS.get(metric, ("", "count"))[1]
    if kind == "money":
        return fmt.money(value, currency, decimals=0)
    if kind == "score":
        return fmt.score(value)
    if kind == "percent_score":
        return fmt.score(value, 1) + "%"
    if kind == "ratio":
        return fmt.pct(value, 1, signed=True)
    if kind == "days":
        return fmt.plural(round(value), "day")
    return fmt.number(value, 0 if float(value).is_integer() else 1)


def progress(row: dict[str, Any]) -> float | None:
    """How far the value has come from the baseline to the target, 0..1 (None without a
    value or baseline). 1 when met; a target equal to its baseline is all or nothing."""
    value, baseline, target = row.get("value"), row.get("baseline"), row.get("target")
    if row.get("status") == "met":
        return 1.0
    if value is None or baseline is None or target is None:
        return None
    span = target - baseline
    if span == 0:
        return 1.0 if value == target else 0.0
    return min(max((value - baseline) / span, 0.0), 1.0)


def goal_view(row: dict[str, Any], currency: str) -> dict[str, Any]:
    """One goal as a report shows it: text, formatted values, progress and status."""
    metric = row["metric"]
    share = progress(row)
    due: date | None = row.get("due_month")
    direction = "at most" if row.get("direction") == "at_most" else "at least"
    return {
        "goal_id": fmt.shown_text(row.get("goal_id"), 40),
        "description": fmt.shown_text(row.get("description"), 160)
        or f"{metric_label(metric)}: {direction} {format_value(metric, row.get('target'), currency)}",
        "metric_label": metric_label(metric),
        "direction": direction,
        "target": format_value(metric, row.get("target"), currency),
        "value": format_value(metric, row.get("value"), currency),
        "baseline": format_value(metric, row.get("baseline"), currency),
        "expected": format_value(metric, row.get("expected"), currency),
        "progress": share,
        "progress_pct": None if share is None else round(share * 100),
        "status": row["status"],
        "status_words": STATUS_WORDS.get(row["status"], row["status"]),
        "due_month": due,
        "due_label": fmt.month_label(due) if due else fmt.NA,
        "overdue": bool(due and row.get("month") and row["month"] > due),
    }
