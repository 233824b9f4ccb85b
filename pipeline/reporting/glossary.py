"""The short glossary at the end of a client report, in words a client uses (docs/metrics.md)."""

from __future__ import annotations

GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "Monthly recurring revenue (MRR)",
        "The monthly amount of the subscriptions active on the last day of the period, tax excluded.",
    ),
    ("Annual recurring revenue (ARR)", "Twelve times the monthly recurring revenue."),
    (
        "New, expansion, reactivation",
        "Recurring revenue added: a first subscription, a larger one, or a return after a pause.",
    ),
    ("Contraction, churn", "Recurring revenue removed: a smaller subscription, or every subscription ended."),
    ("Invoiced (net of tax)", "The amount of the invoices issued in the period, before tax."),
    ("Payments collected", "The total of the invoices paid in the period, tax included."),
    ("Overdue", "Invoices unpaid after their due date, on the last day of the period, tax included."),
    (
        "NPS (Net Promoter Score)",
        "From the last 12 months of 0–10 answers: the share of 9s and 10s minus the share of 0–6, from −100 to 100.",
    ),
    ("CSAT (satisfaction)", "From the last 3 months of 1–5 ratings: the share of 4s and 5s."),
    (
        "First response time",
        "Time from opening a ticket to our first reply; the median of the tickets opened in the period.",
    ),
    (
        "Resolution time",
        "Time from opening a ticket to resolving it; the median of the tickets resolved in the period.",
    ),
    ("Touches", "Meetings, calls, visits, business reviews and e-mails with your account team."),
)

HEALTH_ENTRY = (
    "Health score",
    "Our 0–100 summary of satisfaction, service, engagement, revenue trend, payments and "
    "support; 70 and above is green, below 40 red.",
)


# Looking ahead (docs/metrics.md): the client report explains the one it shows, committed
# recurring revenue; the leadership pack's notes explain all three.
COMMITTED_ENTRY = (
    "Committed recurring revenue",
    "What the subscriptions already on file will bring in a future month: ones booked to "
    "start count from their start date, ones scheduled to end no longer count after it. "
    "Nothing is assumed about renewals or new sales.",
)
EXPECTED_ENTRY = (
    "Expected recurring revenue",
    "Our estimate for three months ahead: each customer's recurring revenue today times the "
    "share that customers of the same health band kept over three months in the past year, "
    "plus business already booked by accounts that are not yet customers.",
)
FORECAST_ERROR_ENTRY = (
    "Forecast error",
    "How far the estimate made three months ago was from what the same customers pay now, as a "
    "share of what they pay now: +2% means we expected 2% too much, −2% too little.",
)
LOOKING_AHEAD = (COMMITTED_ENTRY, EXPECTED_ENTRY, FORECAST_ERROR_ENTRY)


def glossary_entries(include_health: bool = False, include_committed: bool = False) -> list[dict[str, str]]:
    entries = (
        list(GLOSSARY) + ([COMMITTED_ENTRY] if include_committed else []) + ([HEALTH_ENTRY] if include_health else [])
    )
    return [{"term": t, "definition": d} for t, d in entries]


def looking_ahead_entries() -> list[dict[str, str]]:
    """Committed MRR, expected MRR and forecast error in plain words (the pack's notes)."""
    return [{"term": t, "definition": d} for t, d in LOOKING_AHEAD]
