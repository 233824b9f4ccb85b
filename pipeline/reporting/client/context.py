"""The context of one client's report: pure functions from one account's frames to data.

Every number here comes from the marts (one definition of each metric, docs/metrics.md) or
is a plain count or median over that account's own staging rows for the period (the
lists a client reads: products, invoices, tickets, comments). Templates only format.

Currency: the client sees every amount in the **reporting currency**
(``settings.reporting_currency``), the currency of the marts, so each figure has one
definition and the tables tie out to the headline figures (products to MRR, invoices
to invoiced and overdue). An invoice or subscription billed in another currency is
converted at the rate the metrics use (issue date, start date), and its amount *as
billed* is shown beside it in its own currency, labelled, never added to anything.

The context is plain data (str, int, float, Decimal, date, bool, None, lists, dicts):
it is hashed to decide whether a report must be re-rendered and pickled to the render
workers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import polars as pl

from pipeline.reporting.client.inputs import ReportInputs, by_account
from pipeline.reporting.client.sentences import executive_summary, looking_ahead_sentences
from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.glossary import glossary_entries
from pipeline.reporting.goals import goal_view
from pipeline.reporting.periods import Period, add_months, report_period
from pipeline.settings import Settings

CONTEXT_VERSION = 1
TABLE_ROWS = 12  # longest list shown in a table; the rest is counted ("and 3 more")
OPEN_TICKET_ROWS = 10
COMMENT_ROWS = 3
COMMENT_CHARS = 320
TREND_MONTHS = 12
AHEAD_MONTHS = 3  # committed recurring revenue shown for the next quarter
ZERO = Decimal("0")

PRIORITIES = ("urgent", "high", "normal", "low")
ACTIVITY_LABELS = {
    "meeting": "Meetings",
    "call": "Calls",
    "qbr": "Business reviews",
    "visit": "Visits",
    "email": "E-mails",
    "other": "Other",
}


class ReportContextError(ValueError):
    """The inputs cannot make a report (for example the account is unknown)."""


# --------------------------------------------------------------------------- helpers


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value)


def _sum(frame: pl.DataFrame, column: str) -> Decimal:
    if frame.is_empty() or column not in frame.columns:
        return ZERO
    return _dec(frame[column].sum())


def _ratio_change(current: Decimal | float | None, base: Decimal | float | None) -> float | None:
    """current / base - 1, or None when the base is 0 or unknown."""
    if current is None or base is None or base == 0:
        return None
    return float(Decimal(str(current)) / Decimal(str(base)) - 1)


def _points_change(current: float | None, base: float | None) -> float | None:
    if current is None or base is None:
        return None
    return float(current) - float(base)


def _month_rows(monthly: pl.DataFrame, months: tuple[date, ...]) -> pl.DataFrame:
    return monthly.filter(pl.col("month").is_in(list(months))).sort("month")


def _row(monthly: pl.DataFrame, month: date) -> dict[str, Any] | None:
    rows = monthly.filter(pl.col("month") == month)
    return rows.row(0, named=True) if rows.height else None


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _in_period(frame: pl.DataFrame, column: str, period: Period) -> pl.DataFrame:
    """Rows whose timestamp (UTC) or date in ``column`` falls inside the period."""
    if frame.is_empty():
        return frame
    dtype = frame.schema[column]
    lo: date
    hi: date
    if isinstance(dtype, pl.Datetime):
        lo, hi = _utc(period.start), _utc(period.end_exclusive)
    else:
        lo, hi = period.start, period.end_exclusive
    return frame.filter((pl.col(column) >= lo) & (pl.col(column) < hi))


def trend_months(period: Period) -> tuple[date, ...]:
    """The 12 months ending with the period's last month, oldest first."""
    return tuple(add_months(period.last_month, k) for k in range(-(TREND_MONTHS - 1), 1))


# --------------------------------------------------------------------------- selection


def report_plan(accounts: pl.DataFrame, monthly: pl.DataFrame, month: date) -> list[tuple[str, str, Period]]:
    """(account_id, cadence, period) of every account due a report for ``month``.

    Due = its cadence gives a period for this month and it is a client in that period:
    it had recurring revenue at the end of the period or of the one before it (so the
    month of a churn still gets its last report), or invoices, payments, overdue
    amounts or open tickets in it. Ordered by account id.
    """
    plan: list[tuple[str, str, Period]] = []
    monthly_of = by_account(monthly)
    for acc in accounts.sort("account_id").iter_rows(named=True):
        cadence = (acc.get("report_cadence") or "monthly").lower()
        period = report_period(cadence, month)
        if period is None:
            continue
        rows = _month_rows(monthly_of.get(acc["account_id"], monthly.clear()), period.months)
        if rows.is_empty() or rows["month"].max() != period.last_month:
            continue
        active = (
            _sum(rows, "mrr") > 0
            or _dec(rows.row(0, named=True).get("mrr_previous")) > 0
            or _sum(rows, "invoiced_net") != 0
            or _sum(rows, "collected") != 0
            or _sum(rows, "overdue_amount") > 0
            or (rows["open_tickets"].fill_null(0).sum() if "open_tickets" in rows.columns else 0) > 0
        )
        if active:
            plan.append((acc["account_id"], cadence, period))
    return plan


# --------------------------------------------------------------------------- sections


def period_figures(monthly: pl.DataFrame, activities: pl.DataFrame, period: Period) -> dict[str, Any] | None:
    """The headline figures of one period (None when the account has no data for it)."""
    rows = _month_rows(monthly, period.months)
    last = _row(rows, period.last_month)
    if last is None:
        return None
    return {
        "mrr": _dec(last["mrr"]),
        "arr": _dec(last["arr"]),
        "invoiced_net": _sum(rows, "invoiced_net"),
        "invoiced_tax": _sum(rows, "invoiced_tax"),
        "collected": _sum(rows, "collected"),
        "overdue_amount": _dec(last["overdue_amount"]),
        "tickets_opened": int(rows["tickets_opened"].fill_null(0).sum()),
        "open_tickets": int(last["open_tickets"] or 0),
        "nps_12m": last["nps_12m"],
        "nps_responses_12m": last["nps_responses_12m"],
        "csat_3m": last["csat_3m"],
        "csat_responses_3m": last["csat_responses_3m"],
        "touches": _in_period(activities, "occurred_at", period).height,
    }


def revenue_section(monthly: pl.DataFrame, subscriptions: pl.DataFrame, period: Period) -> dict[str, Any]:
    rows = _month_rows(monthly, period.months)
    last = _row(rows, period.last_month) or {}
    first = rows.row(0, named=True) if rows.height else {}
    # The account's first month of data has no row before it: it started at zero.
    mrr_start = _dec(first.get("mrr_previous")) if first.get("month") == period.start else ZERO
    mrr = _dec(last.get("mrr"))
    movements = {
        name: _sum(rows, f"mrr_{name}") for name in ("new", "expansion", "reactivation", "contraction", "churn")
    }

    def active_on(day: date) -> pl.DataFrame:
        if subscriptions.is_empty():
            return subscriptions
        return subscriptions.filter(
            (pl.col("start_date") <= day) & (pl.col("end_date").is_null() | (pl.col("end_date") > day))
        )

    active = active_on(period.end)
    before = active_on(period.previous().end)
    products = []
    if active.height:
        grouped = (
            active.group_by("product", "currency")
            .agg(
                pl.col("mrr").sum().alias("mrr"),
                pl.col("mrr_original").sum().alias("mrr_original"),
                pl.col("start_date").min().alias("since"),
            )
            .sort(["mrr", "product"], descending=[True, False], nulls_last=True)
        )
        for p in grouped.iter_rows(named=True):
            products.append(
                {
                    "product": _text(p["product"], 80),
                    "mrr": p["mrr"],
                    "since": p["since"],
                    "billed_currency": p["currency"],
                    "billed_mrr": p["mrr_original"],
                }
            )
    names_now = set(active["product"].to_list()) if active.height else set()
    names_before = set(before["product"].to_list()) if before.height else set()
    return {
        "mrr": mrr,
        "arr": _dec(last.get("arr")),
        "mrr_start": mrr_start,
        "movements": movements,
        "net_change": mrr - mrr_start,
        "net_change_ratio": _ratio_change(mrr, mrr_start),
        "products": products,
        "products_total": sum((p["mrr"] or ZERO for p in products), ZERO),
        "products_added": sorted(_text(n, 80) for n in names_now - names_before),
        "products_ended": sorted(_text(n, 80) for n in names_before - names_now),
        "trend": [
            {"month": r["month"], "mrr": _dec(r["mrr"])}
            for r in _month_rows(monthly, trend_months(period)).iter_rows(named=True)
        ],
    }


def billing_section(monthly: pl.DataFrame, invoices: pl.DataFrame, period: Period, currency: str) -> dict[str, Any]:
    rows = _month_rows(monthly, period.months)
    last = _row(rows, period.last_month) or {}
    end = period.end

    def number_of(inv: dict[str, Any]) -> str:
        return _text(inv.get("number") or inv["invoice_id"], 40)

    def billed(inv: dict[str, Any]) -> dict[str, Any] | None:
        if inv["currency"] == currency:
            return None
        return {"currency": inv["currency"], "total": inv["total_original"]}

    issued = _in_period(invoices, "issued_on", period).sort(["issued_on", "invoice_id"])
    paid = (
        _in_period(invoices.filter(pl.col("paid_on").is_not_null()), "paid_on", period) if invoices.height else invoices
    )
    open_ = (
        invoices.filter((pl.col("issued_on") <= end) & (pl.col("paid_on").is_null() | (pl.col("paid_on") > end))).sort(
            ["due_on", "invoice_id"]
        )
        if invoices.height
        else invoices
    )
    issued_rows = []
    for inv in issued.iter_rows(named=True):
        paid_by_end = inv["paid_on"] is not None and inv["paid_on"] <= end
        state = "paid" if paid_by_end else ("overdue" if inv["due_on"] < end else "open")
        issued_rows.append(
            {
                "number": number_of(inv),
                "issued_on": inv["issued_on"],
                "due_on": inv["due_on"],
                "net": inv["subtotal"],
                "tax": inv["tax"],
                "total": inv["total"],
                "state": state,
                "paid_on": inv["paid_on"] if paid_by_end else None,
                "billed": billed(inv),
            }
        )
    open_rows = []
    for inv in open_.iter_rows(named=True):
        overdue = inv["due_on"] < end
        open_rows.append(
            {
                "number": number_of(inv),
                "issued_on": inv["issued_on"],
                "due_on": inv["due_on"],
                "total": inv["total"],
                "overdue": overdue,
                "days_overdue": (end - inv["due_on"]).days if overdue else 0,
                "billed": billed(inv),
            }
        )
    overdue_rows = [r for r in open_rows if r["overdue"]]
    invoiced_net = _sum(rows, "invoiced_net")
    invoiced_tax = _sum(rows, "invoiced_tax")
    return {
        "invoiced_net": invoiced_net,
        "invoiced_tax": invoiced_tax,
        "invoiced_total": invoiced_net + invoiced_tax,
        "collected": _sum(rows, "collected"),
        "overdue_amount": _dec(last.get("overdue_amount")),
        "invoices_issued": len(issued_rows),
        "invoices_paid": paid.height,
        "issued": issued_rows[:TABLE_ROWS],
        "issued_more": max(0, len(issued_rows) - TABLE_ROWS),
        "open": open_rows[:TABLE_ROWS],
        "open_more": max(0, len(open_rows) - TABLE_ROWS),
        "open_count": len(open_rows),
        "open_total": sum((r["total"] or ZERO for r in open_rows), ZERO),
        "overdue_count": len(overdue_rows),
        "oldest_overdue_due_on": min((r["due_on"] for r in overdue_rows), default=None),
        "foreign_billing": sorted({r["billed"]["currency"] for r in issued_rows + open_rows if r["billed"]}),
        "trend": [
            {
                "month": r["month"],
                "invoiced_net": _dec(r["invoiced_net"]),
                "collected": _dec(r["collected"]),
            }
            for r in _month_rows(monthly, trend_months(period)).iter_rows(named=True)
        ],
    }


def _hours(later: pl.Expr, earlier: pl.Expr) -> pl.Expr:
    return (later - earlier).dt.total_seconds() / 3600.0


def _median(series: pl.Series) -> float | None:
    value = series.drop_nulls().median() if series.len() else None
    return None if value is None else float(cast(float, value))


def service_section(monthly: pl.DataFrame, tickets: pl.DataFrame, period: Period) -> dict[str, Any]:
    rows = _month_rows(monthly, period.months)
    last = _row(rows, period.last_month) or {}
    end_ts = _utc(period.end_exclusive)
    opened = _in_period(tickets, "opened_at", period)
    resolved = (
        _in_period(tickets.filter(pl.col("resolved_at").is_not_null()), "resolved_at", period)
        if tickets.height
        else tickets
    )
    still_open = (
        tickets.filter(
            (pl.col("opened_at") < end_ts) & (pl.col("resolved_at").is_null() | (pl.col("resolved_at") >= end_ts))
        )
        if tickets.height
        else tickets
    )
    by_priority = {p: 0 for p in PRIORITIES}
    for p in still_open["priority"].to_list() if still_open.height else []:
        by_priority[p if p in by_priority else "normal"] += 1
    first_response = (
        _median(opened.select(_hours(pl.col("first_response_at"), pl.col("opened_at"))).to_series())
        if opened.height
        else None
    )
    resolution = (
        _median(resolved.select(_hours(pl.col("resolved_at"), pl.col("opened_at"))).to_series())
        if resolved.height
        else None
    )
    rank = {p: i for i, p in enumerate(PRIORITIES)}
    listed = []
    if still_open.height:
        ordered = still_open.with_columns(
            pl.col("priority").replace_strict(rank, default=len(rank), return_dtype=pl.Int64).alias("_rank")
        ).sort(["_rank", "opened_at", "ticket_id"])
        for t in ordered.iter_rows(named=True):
            listed.append(
                {
                    "subject": _text(t["subject"], 90) or "(no subject)",
                    "priority": t["priority"],
                    "opened_on": t["opened_at"].date(),
                    "age_days": (period.end - t["opened_at"].date()).days,
                }
            )
    return {
        "opened": int(rows["tickets_opened"].fill_null(0).sum()) if rows.height else 0,
        "resolved": resolved.height,
        "open_total": int(last.get("open_tickets") or 0) if last else still_open.height,
        "open_high_priority": int(last.get("open_high_priority_tickets") or 0),
        "open_by_priority": [{"priority": p, "count": n} for p, n in by_priority.items()],
        "median_first_response_hours": first_response,
        "median_resolution_hours": resolution,
        "open_list": listed[:OPEN_TICKET_ROWS],
        "open_list_more": max(0, len(listed) - OPEN_TICKET_ROWS),
    }


def voice_section(monthly: pl.DataFrame, responses: pl.DataFrame, period: Period) -> dict[str, Any]:
    last = _row(monthly, period.last_month) or {}
    comments = []
    in_period = _in_period(responses, "responded_at", period)
    if in_period.height:
        with_text = in_period.filter(
            pl.col("comment").is_not_null() & (pl.col("comment").str.strip_chars() != "")
        ).sort(["responded_at", "response_id"], descending=True)
        for r in with_text.head(COMMENT_ROWS).iter_rows(named=True):
            scale = 10 if r["survey_type"] == "nps" else 5
            comments.append(
                {
                    "date": r["responded_at"].date(),
                    "survey": "NPS" if r["survey_type"] == "nps" else "CSAT",
                    "score": int(r["score"]),
                    "scale": scale,
                    "text": _text(r["comment"], COMMENT_CHARS),
                }
            )
    return {
        "nps": last.get("nps_12m"),
        "nps_responses": int(last.get("nps_responses_12m") or 0),
        "csat": last.get("csat_3m"),
        "csat_responses": int(last.get("csat_responses_3m") or 0),
        "responses_in_period": in_period.height,
        "comments": comments,
        "trend": [
            {"month": r["month"], "nps": r["nps_12m"], "csat": r["csat_3m"]}
            for r in _month_rows(monthly, trend_months(period)).iter_rows(named=True)
        ],
    }


def relationship_section(
    account: dict[str, Any], monthly: pl.DataFrame, activities: pl.DataFrame, period: Period
) -> dict[str, Any]:
    last = _row(monthly, period.last_month) or {}
    touches = _in_period(activities, "occurred_at", period)
    counts: dict[str, int] = {}
    for t in touches["type"].to_list() if touches.height else []:
        counts[t] = counts.get(t, 0) + 1
    renewal = account.get("renewal_date")
    days_to_renewal = (renewal - period.end).days if renewal is not None else None
    return {
        "touches": touches.height,
        "touches_by_type": [{"type": ACTIVITY_LABELS[k], "count": counts[k]} for k in ACTIVITY_LABELS if counts.get(k)],
        "days_since_last_touch": last.get("days_since_last_touch"),
        "renewal_date": renewal if days_to_renewal is not None and days_to_renewal >= 0 else None,
        "days_to_renewal": days_to_renewal if days_to_renewal is not None and days_to_renewal >= 0 else None,
        "customer_since": account.get("customer_since"),
        "manager": {
            "name": _text(account.get("manager_name"), 80) or "Your account team",
            "email": _text(account.get("manager_email"), 120),
            "team": _text(account.get("manager_team"), 80),
        },
    }


COMPARISON_ROWS = (
    # key, label, kind (money / count / score / percent_score), change kind, better when
    ("mrr", "Monthly recurring revenue (end of period)", "money", "ratio", "up"),
    ("invoiced_net", "Invoiced (net of tax)", "money", "ratio", None),
    ("collected", "Payments collected", "money", "ratio", None),
    ("overdue_amount", "Overdue at end of period", "money", "ratio", "down"),
    ("tickets_opened", "Support tickets opened", "count", "ratio", None),
    ("touches", "Meetings, calls and other touches", "count", "ratio", None),
    ("nps_12m", "NPS (last 12 months)", "score", "points", "up"),
    ("csat_3m", "CSAT (last 3 months)", "percent_score", "points", "up"),
)


def comparison_section(
    current: dict[str, Any], previous: dict[str, Any] | None, year_ago: dict[str, Any] | None, period: Period
) -> dict[str, Any]:
    rows = []
    for key, label, kind, change, better in COMPARISON_ROWS:
        cur = current.get(key)
        prev = previous.get(key) if previous else None
        year = year_ago.get(key) if year_ago else None
        fn = _ratio_change if change == "ratio" else _points_change
        rows.append(
            {
                "label": label,
                "kind": kind,
                "change_kind": change,
                "better": better,
                "current": cur,
                "previous": prev,
                "previous_change": fn(cur, prev),
                "year_ago": year,
                "year_ago_change": fn(cur, year),
            }
        )
    return {
        "previous_label": period.previous().label,
        "year_ago_label": period.year_ago().label,
        "has_previous": previous is not None,
        "has_year_ago": year_ago is not None,
        "rows": rows,
    }


def health_section(health: pl.DataFrame, period: Period) -> dict[str, Any] | None:
    if health.is_empty():
        return None
    row = _row(health, period.last_month)
    if row is None:
        return None
    drivers = [_text(d, 200) for d in str(row.get("drivers") or "").replace("\n", ";").split(";")]
    return {
        "score": row.get("score"),
        "band": row.get("band"),
        "score_change": row.get("score_change"),
        "drivers": [d for d in drivers if d][:3],
    }


def goals_section(goals: pl.DataFrame, period: Period, currency: str) -> list[dict[str, Any]]:
    """The goals agreed with this client that it may see (visible_to_client), as they stand
    at the end of the period: one row of marts.account_goals each, soonest due first."""
    if goals.is_empty():
        return []
    rows = goals.filter((pl.col("month") == period.last_month) & pl.col("visible_to_client").fill_null(False)).sort(
        ["due_month", "goal_id"]
    )
    return [goal_view(r, currency) for r in rows.iter_rows(named=True)]


def looking_ahead_section(
    forecast: pl.DataFrame, account: dict[str, Any], period: Period, currency: str
) -> dict[str, Any] | None:
    """The renewal date and the committed recurring revenue of the next three months (the
    subscriptions on file, booked starts and scheduled ends included), from this account's
    row of marts.account_forecast for the period's last month; None without one."""
    row = _row(forecast, period.last_month) if not forecast.is_empty() else None
    if row is None:
        return None
    now = _dec(row["mrr"])
    months: list[dict[str, Any]] = [
        {"month": add_months(period.last_month, k), "mrr": _dec(row[f"cmrr_{k}m"])} for k in range(1, AHEAD_MONTHS + 1)
    ]
    changes, before = [], now
    for m in months:
        if m["mrr"] != before:
            changes.append({**m, "from": before, "up": m["mrr"] > before})
        before = m["mrr"]
    renewal = account.get("renewal_date")
    return {
        "mrr": now,
        "months": months,
        "changes": changes,
        "renewal_date": renewal if renewal is not None and renewal > period.end else None,
        "sentences": looking_ahead_sentences(
            now, months, changes, renewal if renewal and renewal > period.end else None, currency
        ),
    }


def chart_data(
    revenue: dict[str, Any], billing: dict[str, Any], voice: dict[str, Any], period: Period
) -> dict[str, Any]:
    """Plain series for the charts (drawn by the render workers): always the 12 months to
    the period's end, None where the account has no data yet; floats, for drawing only."""
    months = list(trend_months(period))
    in_period = set(period.months)

    def series(trend: list[dict[str, Any]], key: str) -> list[float | None]:
        by_month = {t["month"]: t[key] for t in trend}
        return [None if by_month.get(m) is None else float(by_month[m]) for m in months]

    return {
        "mrr": {
            "months": months,
            "values": series(revenue["trend"], "mrr"),
            "highlight": [m in in_period for m in months],
        },
        "billing": {
            "months": months,
            "invoiced": series(billing["trend"], "invoiced_net"),
            "collected": series(billing["trend"], "collected"),
        },
        "voice": {
            "months": months,
            "nps": series(voice["trend"], "nps"),
            "csat": series(voice["trend"], "csat"),
        },
    }


def data_as_of(inputs: ReportInputs) -> date | None:
    """The latest load time (UTC date) of any staging row this report uses."""
    latest: datetime | None = None
    for frame in (
        inputs.accounts,
        inputs.contacts,
        inputs.subscriptions,
        inputs.invoices,
        inputs.tickets,
        inputs.responses,
        inputs.activities,
    ):
        if frame.height and "_loaded_at" in frame.columns:
            value = cast("datetime | None", frame["_loaded_at"].max())
            if value is not None and (latest is None or value > latest):
                latest = value
    return latest.astimezone(UTC).date() if latest is not None else None


def _brand_color(value: str, default: str) -> str:
    v = (value or "").strip()
    ok = v.startswith("#") and len(v) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in v[1:])
    return v if ok else default


# --------------------------------------------------------------------------- the context


def build_client_context(inputs: ReportInputs, account_id: str, period: Period, settings: Settings) -> dict[str, Any]:
    """Everything one client's report shows, from that client's rows only.

    ``inputs`` may hold every account; it is narrowed to ``account_id`` first, so no
    other client's row can reach the context.
    """
    mine = inputs.for_account(account_id)
    if mine.accounts.is_empty():
        raise ReportContextError(f"account {account_id!r} is not in staging.accounts")
    account = mine.accounts.row(0, named=True)
    currency = settings.reporting_currency.lower()
    monthly = mine.monthly.sort("month")

    current = period_figures(monthly, mine.activities, period)
    if current is None:
        raise ReportContextError(
            f"account {account_id!r} has no row in marts.account_monthly for {period.reporting_month}"
        )
    previous = period_figures(monthly, mine.activities, period.previous())
    year_ago = period_figures(monthly, mine.activities, period.year_ago())

    revenue = revenue_section(monthly, mine.subscriptions, period)
    billing = billing_section(monthly, mine.invoices, period, currency)
    service = service_section(monthly, mine.tickets, period)
    voice = voice_section(monthly, mine.responses, period)
    relationship = relationship_section(account, monthly, mine.activities, period)
    comparison = comparison_section(current, previous, year_ago, period)
    show_health = settings.show_health_in_client_reports
    health = health_section(mine.health, period) if show_health else None
    contact = mine.contacts.row(0, named=True) if mine.contacts.height else None
    brand = settings.branding

    ctx: dict[str, Any] = {
        "version": CONTEXT_VERSION,
        "provider": {
            "company_name": brand.company_name,
            "primary_color": _brand_color(brand.primary_color, "#1f3a5f"),
            "accent_color": _brand_color(brand.accent_color, "#2e86ab"),
            "logo_file": brand.logo_file,
            "footer_text": brand.footer_text,
            "sender_email": brand.sender_email,
        },
        "account": {
            "id": _text(account["account_id"], 80),
            "name": _text(account["account_name"], 200) or _text(account["account_id"], 80),
            "short_name": _text(account["account_name"], 60) or _text(account["account_id"], 60),
            "billing_currency": account.get("currency"),
        },
        "prepared_for": (
            {"name": _text(contact.get("name"), 80), "role": _text(contact.get("role"), 80)}
            if contact and contact.get("name")
            else None
        ),
        "period": {
            "kind": period.kind,
            "noun": period.noun,
            "key": period.key,
            "label": period.label,
            "span_label": period.span_label,
            "start": period.start,
            "end": period.end,
            "reporting_month": period.reporting_month,
        },
        "currency": currency,
        "data_as_of": data_as_of(mine),
        "figures": current,
        "revenue": revenue,
        "billing": billing,
        "service": service,
        "voice": voice,
        "relationship": relationship,
        "comparison": comparison,
        "health": health,
        "show_health": bool(show_health and health is not None),
    }
    ctx["goals"] = goals_section(mine.goals, period, currency)
    ctx["looking_ahead"] = looking_ahead_section(mine.forecast, account, period, currency)
    ctx["summary"] = executive_summary(ctx)
    ctx["glossary"] = glossary_entries(
        include_health=ctx["show_health"], include_committed=ctx["looking_ahead"] is not None
    )
    ctx["charts"] = chart_data(revenue, billing, voice, period)
    return ctx
