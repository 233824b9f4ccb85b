"""The pack's "Looking ahead" page: committed MRR, expected MRR with the band retention
that produced it, how accurate that forecast has been, renewals due, the weighted
expansion pipeline and the goals agreed with clients, by team.

Every figure is a value of ``marts.portfolio_monthly`` (the group "all"),
``marts.account_forecast``, ``marts.band_retention`` or ``marts.account_goals``
(docs/metrics.md, "Looking ahead" and "Account goals"), or a sum of account rows of one
of them: the committed MRR of each month ahead, the split of expected MRR by band, the
renewals and goals tables. The sums that the portfolio also holds (committed MRR at M+3
and M+12, expected MRR) are the portfolio's own values, which an asset check holds
equal to the account sums.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.reporting import formatting as fmt
from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.goals import STATUS_ORDER, STATUS_WORDS
from pipeline.reporting.pack.common import BAND_LABELS, BANDS, ZERO, Fmt, month_label, trend_months
from pipeline.reporting.pack.common import decimal_or_zero as _dec
from pipeline.reporting.pack.common import row_where as _row
from pipeline.reporting.periods import add_months

HORIZON = 12
AHEAD = 3
RENEWAL_ROWS = 10  # renewals listed; the rest are counted
RISK_BANDS = ("red", "amber", "insufficient_data")
NO_TEAM = "No team"


def _sum(frame: pl.DataFrame, column: str) -> Decimal:
    if frame.is_empty() or column not in frame.columns:
        return ZERO
    return _dec(frame[column].sum())


def committed_section(forecast: pl.DataFrame, now: dict[str, Any], month: date) -> dict[str, Any]:
    """Committed MRR at M+1 .. M+12 (sums of the accounts' rows), starting from MRR(M)."""
    months = []
    for k in range(1, HORIZON + 1):
        months.append({"month": add_months(month, k), "value": _sum(forecast, f"cmrr_{k}m")})
    start = _dec(now["mrr_end"])
    m3, m12 = now.get("cmrr_3m"), now.get("cmrr_12m")
    return {
        "start": start,
        "months": months,
        "m3": m3,
        "m12": m12,
        "m3_label": month_label(add_months(month, AHEAD)),
        "m12_label": month_label(add_months(month, HORIZON)),
        "change_12m": None if m12 is None else _dec(m12) - start,
        "change_ratio_12m": None if m12 is None or start == 0 else float(_dec(m12) / start - 1),
    }


def expected_section(forecast: pl.DataFrame, retention: pl.DataFrame, now: dict[str, Any]) -> dict[str, Any]:
    """Expected MRR at M+3 and the band retention table that produced it: per band its pairs,
    its own rate, the rate used (pooled when it had fewer than 20 pairs), the customers in it
    at M and their MRR and expected MRR; plus booked new business of non-customers."""
    rates = {r["band"]: r for r in retention.iter_rows(named=True)} if not retention.is_empty() else {}
    customers = forecast.filter(pl.col("mrr") > 0) if not forecast.is_empty() else forecast
    rows = []
    for band in (*BANDS, None):
        mine = (
            customers.filter(pl.col("band").is_null() if band is None else pl.col("band") == band)
            if customers.height
            else customers
        )
        if band is None and mine.is_empty():
            continue
        rate = rates.get(band or "", {})
        rows.append(
            {
                "band": band or "none",
                "label": BAND_LABELS[band or "none"],
                "pairs": rate.get("pairs"),
                "band_rate": rate.get("band_rate"),
                "rate": rate.get("rate") if band else (rate.get("pooled_rate") or _pooled(retention)),
                "pooled": bool(rate.get("pooled")) if band else True,
                "customers": mine.height,
                "mrr": _sum(mine, "mrr"),
                "expected": _sum(mine, "expected_mrr_3m"),
            }
        )
    booked = forecast.filter(pl.col("mrr") <= 0) if not forecast.is_empty() else forecast
    booked_new = _sum(booked, "expected_mrr_3m")
    return {
        "value": now.get("expected_mrr_3m"),
        "mrr_now": _dec(now["mrr_end"]),
        "rows": rows,
        "booked_new": booked_new,
        "booked_accounts": int((booked["expected_mrr_3m"] > 0).sum()) if booked.height else 0,
        "pooled_rate": _pooled(retention),
        "pairs": int(retention["pairs"].sum()) if not retention.is_empty() else 0,
    }


def _pooled(retention: pl.DataFrame) -> float | None:
    if retention.is_empty():
        return None
    return retention["pooled_rate"][0]


def accuracy_section(all_rows: pl.DataFrame, month: date, currency: str) -> dict[str, Any]:
    """The error of the forecast made three months before each of the last 12 months."""
    f = Fmt(currency)
    months = trend_months(month)
    rows: list[dict[str, Any]] = []
    for m in months:
        r = _row(all_rows, month=m) or {}
        rows.append(
            {
                "month": m,
                "made_in": add_months(m, -AHEAD),
                "expected": r.get("forecast_expected_3m"),
                "actual": r.get("forecast_actual_3m"),
                "error": r.get("forecast_error_3m"),
            }
        )
    known = [r for r in rows if r["error"] is not None]
    mean_abs = sum(abs(r["error"]) for r in known) / len(known) if known else None
    worst = max(known, key=lambda r: abs(r["error"])) if known else None
    last = next((r for r in reversed(rows) if r["error"] is not None), None)
    if last is None:
        sentence = "No forecast made three months ago can be checked yet: it needs 15 months of history."
    else:
        err = last["error"]
        side = "below" if err > 0 else "above"
        when = "Three months ago" if last["month"] == month else f"In {month_label(last['made_in'])}"
        sentence = (
            f"{when} we expected {f.short(last['expected'])} from these customers for "
            f"{month_label(last['month'])}; they {'now pay' if last['month'] == month else 'paid'} "
            f"{f.short(last['actual'])}, {f.pct(abs(err))} {side}" + ("." if abs(err) >= 0.0005 else " (on target).")
        )
    summary = None
    if known and worst is not None:
        summary = (
            f"Over the {fmt.plural(len(known), 'month')} that can be checked, the forecast was off by "
            f"{f.pct(mean_abs)} on average; the largest miss was {Fmt.pct_change(worst['error'])} in "
            f"{month_label(worst['month'])}."
        )
    return {
        "rows": rows,
        "checked": len(known),
        "mean_abs_error": mean_abs,
        "worst": worst,
        "last": last,
        "sentence": sentence,
        "summary": summary,
    }


def renewals_section(
    forecast: pl.DataFrame, health: pl.DataFrame, accounts: pl.DataFrame, now: dict[str, Any], month: date
) -> dict[str, Any]:
    """Renewals due in (end(M), end(M+3)]: by band, and the top list (at risk first, most
    MRR first) with the health drivers of the accounts at risk."""
    due = forecast.filter(pl.col("renewal_due_3m").fill_null(False)) if not forecast.is_empty() else forecast
    by_band = []
    for band in (*BANDS, None):
        mine = due.filter(pl.col("band").is_null() if band is None else pl.col("band") == band) if due.height else due
        if band is None and mine.is_empty():
            continue
        by_band.append(
            {
                "band": band or "none",
                "label": BAND_LABELS[band or "none"],
                "accounts": mine.height,
                "mrr": _sum(mine, "mrr"),
                "at_risk": band in RISK_BANDS,
            }
        )
    drivers: dict[str, list[str]] = {}
    if not health.is_empty() and "drivers_detail" in health.columns:
        for r in health.filter(pl.col("month") == month).select("account_id", "drivers_detail").iter_rows(named=True):
            drivers[r["account_id"]] = [_text(d["sentence"], 160) for d in (r["drivers_detail"] or [])][:2]
    names = {r["account_id"]: r for r in accounts.iter_rows(named=True)} if not accounts.is_empty() else {}
    rows = []
    if due.height:
        ranked = due.with_columns(_risk=pl.col("band").is_in(RISK_BANDS).fill_null(False)).sort(
            ["_risk", "mrr", "account_id"], descending=[True, True, False]
        )
        for r in ranked.iter_rows(named=True):
            acc = names.get(r["account_id"], {})
            risk = bool(r["_risk"])
            rows.append(
                {
                    "account_id": _text(r["account_id"], 40),
                    "name": _text(acc.get("account_name"), 60) or _text(r["account_id"], 40),
                    "manager": _text(acc.get("manager_name"), 40) or "–",
                    "band": r["band"] or "none",
                    "band_label": BAND_LABELS[r["band"] or "none"],
                    "renewal_date": r["renewal_date"],
                    "mrr": _dec(r["mrr"]),
                    "at_risk": risk,
                    "why": drivers.get(r["account_id"], []) if risk else [],
                }
            )
    return {
        "count": due.height,
        "mrr_due": now.get("renewal_mrr_due_3m"),
        "mrr_at_risk": now.get("renewal_mrr_at_risk_3m"),
        "at_risk_count": sum(1 for r in rows if r["at_risk"]),
        "by_band": by_band,
        "rows": rows[:RENEWAL_ROWS],
        "more": max(0, len(rows) - RENEWAL_ROWS),
        "window_end": add_months(month, AHEAD),
    }


def pipeline_section(pipeline: pl.DataFrame, now: dict[str, Any]) -> dict[str, Any]:
    return {
        "open": _sum(pipeline, "open_expansion_pipeline"),
        "win_rate": now.get("expansion_win_rate_12m"),
        "weighted": now.get("weighted_expansion_pipeline"),
    }


def goals_by_team(goals: pl.DataFrame) -> dict[str, Any]:
    """Goals by the team of the account's manager, counted by status at M."""
    if goals.is_empty():
        return {"rows": [], "total": None, "statuses": [], "hidden": 0}
    teams = goals.with_columns(team=pl.col("team").fill_null(NO_TEAM))
    rows: list[dict[str, Any]] = []
    for team in sorted(teams["team"].unique().to_list(), key=lambda t: (t == NO_TEAM, t)):
        mine = teams.filter(pl.col("team") == team)
        counts = {s: int((mine["status"] == s).sum()) for s in STATUS_ORDER}
        rows.append({"team": _text(team, 60), **counts, "total": mine.height})
    total = {s: sum(r[s] for r in rows) for s in STATUS_ORDER}
    return {
        "rows": rows,
        "total": {"team": "All teams", **total, "total": teams.height},
        "statuses": [{"key": s, "label": STATUS_WORDS[s]} for s in STATUS_ORDER],
        "hidden": int((~teams["visible_to_client"].fill_null(True)).sum()),
    }


def looking_ahead(
    all_rows: pl.DataFrame,
    forecast: pl.DataFrame,
    retention: pl.DataFrame,
    goals: pl.DataFrame,
    pipeline: pl.DataFrame,
    health: pl.DataFrame,
    accounts: pl.DataFrame,
    month: date,
    currency: str,
) -> dict[str, Any]:
    """The whole page; ``available`` is false before the forecast marts have run."""
    now = _row(all_rows, month=month) or {}
    available = bool(now) and not forecast.is_empty() and now.get("cmrr_3m") is not None
    if not available:
        return {"available": False}
    f = Fmt(currency)
    committed = committed_section(forecast, now, month)
    expected = expected_section(forecast, retention, now)
    expansion = pipeline_section(pipeline, now)
    return {
        "available": True,
        "committed": committed,
        "expected": expected,
        "accuracy": accuracy_section(all_rows, month, currency),
        "renewals": renewals_section(forecast, health, accounts, now, month),
        "pipeline": expansion,
        "goals": goals_by_team(goals),
        "m3_label": month_label(add_months(month, AHEAD)),
        # Headline figures in whole units (the tables and the marts keep the cents).
        "display": {
            "m3": f.money(committed["m3"]),
            "m12": f.money(committed["m12"]),
            "expected": f.money(expected["value"]),
            "open_pipeline": f.money(expansion["open"]),
            "weighted_pipeline": f.money(expansion["weighted"]),
        },
    }


def outlook_sentence(ahead: dict[str, Any], currency: str) -> str | None:
    """The "In brief" line on the outlook."""
    if not ahead.get("available"):
        return None
    f = Fmt(currency)
    c, e, a = ahead["committed"], ahead["expected"], ahead["accuracy"]
    text = f"Looking ahead: {f.money(c['m3'])} of MRR is committed for {c['m3_label']}"
    if e["value"] is not None:
        text += f" and we expect {f.money(e['value'])} at each health band's retention"
    last = a["last"]
    if last is not None:
        side = "too high" if last["error"] > 0 else "too low"
        text += f"; the forecast made three months earlier was {f.pct(abs(last['error']))} {side}"
    r = ahead["renewals"]
    if r["count"]:
        text += (
            f"; {fmt.plural(r['count'], 'renewal')} ({f.money(r['mrr_due'])} MRR) "
            f"{'falls' if r['count'] == 1 else 'fall'} due by {month_label(r['window_end'])}, "
            f"{f.money(r['mrr_at_risk'])} of it not green"
        )
    return text + "."
