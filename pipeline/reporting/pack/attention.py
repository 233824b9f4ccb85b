"""Who needs attention: the pack's account lists, the rules that select them and why.

Customers are accounts with MRR > 0 at the end of the month. Each list holds the first
``LIST_ROWS`` accounts and counts the rest:

- **red**: customers whose band is red; most MRR first.
- **newly amber**: customers amber now that were green, had no band (insufficient data)
  or no row the month before; most MRR first. (Red to amber is an improvement.)
- **biggest score drops**: customers whose score fell by ``DROP_POINTS`` or more since
  last month; largest drop first, with the measures that moved it, in words.
- **renewals**: customers renewing within ``RENEWAL_DAYS`` days of the month end
  (``days_to_renewal`` 0 .. 90) whose band is not green; soonest first.
- **overdue**: any account whose overdue amount at the month end is above
  ``settings.overdue_attention_threshold``; largest first.

Each row says why the account is listed, in words (``drop_reasons`` for a score drop).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.reporting import formatting as fmt
from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.pack.common import BAND_LABELS, ZERO, Fmt
from pipeline.reporting.pack.common import decimal_or_zero as _dec
from pipeline.reporting.periods import add_months, month_end

LIST_ROWS = 15  # accounts shown per attention list; the rest are counted
RENEWAL_DAYS = 90
DROP_POINTS = 5.0  # a score drop of at least this many points is listed
TIER_LABELS = {"strategic": "Strategic", "key": "Key", "transactional": "Transactional"}


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


def _measures_from(health: pl.DataFrame, measures: dict[str, tuple[str, float]]) -> list[tuple[str, str, float]]:
    """(name, label, weight) of the measures the health rows carry, in column order."""
    names = [c[: -len("_score")] for c in health.columns if c.endswith("_score")]
    return [(n, *(measures.get(n) or (n.replace("_", " ").capitalize(), 1.0))) for n in names]


def attention_base(health: pl.DataFrame, monthly: pl.DataFrame, accounts: pl.DataFrame, month: date) -> pl.DataFrame:
    """One row per account with a row this month: its KPIs, health now and last month, names."""
    prev_month = add_months(month, -1)
    now_m = monthly.filter(pl.col("month") == month).select(
        "account_id", "tier", "account_manager_id", "mrr", "overdue_amount", "days_to_renewal"
    )
    change_cols = [c for c in health.columns if c.endswith("_change")]
    now_h = health.filter(pl.col("month") == month).select(
        "account_id",
        "band",
        "score",
        "drivers_detail",
        "missing_measures",
        "override_band",
        "override_reason",
        *[c for c in health.columns if c.endswith("_score")],
        *change_cols,
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
    by_mrr: dict[str, Any] = {"by": ["mrr", "account_id"], "descending": [True, False]}
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
    (
        "renewals",
        "Renewals in the next {days} days, not green",
        "Customers renewing by {horizon} whose band is amber, red or low data; soonest first.",
    ),
    (
        "overdue",
        "Overdue invoices above {threshold}",
        "Accounts with more than {threshold} overdue at the month end, largest first.",
    ),
)


def _attention_row(
    r: dict[str, Any], list_key: str, measures: Sequence[tuple[str, str, float]], month: date, currency: str
) -> dict[str, Any]:
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
        why = [was, *drivers[:1]]
    else:
        why = drivers[:2]
    if r.get("override_band") is not None:
        reason = _text(r.get("override_reason"), 100)
        why = [f"band set to {r['override_band']} by override" + (f": {reason}" if reason else ""), *why[:1]]
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


# The alert rules, in the order of docs/metrics.md, with the pack's column headings.
ALERT_COLUMNS = (
    ("band_drop", "Band drop"),
    ("score_drop", "Score drop"),
    ("detractor", "Detractor"),
    ("renewal_risk", "Renewal risk"),
    ("gone_quiet", "Gone quiet"),
    ("overdue", "Overdue"),
    ("goal_behind", "Goal behind"),
)
NO_TEAM = "No team"


def alert_counts_by_team(alerts: pl.DataFrame, accounts: pl.DataFrame, managers: pl.DataFrame) -> dict[str, Any]:
    """The month's alerts (``marts.account_alerts``) counted by the team of the account's
    manager (the CRM's current assignment, as in the managers' books), one row per team,
    most alerts first, with a total row: per rule, high severity and all."""
    columns = [key for key, _ in ALERT_COLUMNS]
    if alerts.is_empty():
        return {"columns": [{"key": k, "label": label} for k, label in ALERT_COLUMNS], "rows": [], "total": None}
    team_of = managers.select(pl.col("manager_id").alias("account_manager_id"), pl.col("team"))
    owned = accounts.select("account_id", "account_manager_id").join(team_of, on="account_manager_id", how="left")
    frame = alerts.join(owned, on="account_id", how="left")
    rows: list[dict[str, Any]] = []
    for (team,), part in frame.group_by(pl.col("team"), maintain_order=True):
        counts = {k: int((part["rule"] == k).sum()) for k in columns}
        rows.append(
            {
                "team": _text(team, 50) or NO_TEAM,
                "managers": part["account_manager_id"].drop_nulls().n_unique(),
                "counts": counts,
                "high": int((part["severity"] == "high").sum()),
                "total": part.height,
            }
        )
    rows.sort(key=lambda r: (-r["total"], r["team"] == NO_TEAM, r["team"]))
    total = {
        "team": "All teams",
        "managers": frame["account_manager_id"].drop_nulls().n_unique(),
        "counts": {k: sum(r["counts"][k] for r in rows) for k in columns},
        "high": sum(r["high"] for r in rows),
        "total": frame.height,
    }
    return {"columns": [{"key": k, "label": label} for k, label in ALERT_COLUMNS], "rows": rows, "total": total}
