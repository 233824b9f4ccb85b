"""The context of one account manager's book of business: pure, frames in, plain data out.

A book holds that manager's accounts only (``BookInputs.for_manager``: the CRM's current
assignment) and shows, for the reporting month M:

- what changed, in sentences (``summary``), also the body of the manager's e-mail;
- the alerts raised in M, worst first (``pipeline.transforms.alerts.worst_first``);
- the accounts by health band with MRR, its change since M-1, score and drivers;
- renewals in the next ``RENEWAL_DAYS`` days (after end(M));
- goals behind or missed (``marts.account_goals``);
- accounts gone quiet: customers for which the gone_quiet alert's condition holds at M
  (``gone_quiet_holds``, the alert's one definition), whether or not it alerted this
  month (a lasting condition alerts once);
- cross-sell ideas (``marts.cross_sell_ideas``).

Every number is a mart value; this module adds sums over the manager's accounts, the
changes between two mart values and words. The context is plain data (str, int, float,
Decimal, date, bool, None, lists, dicts): it is hashed to decide whether a book must be
rendered again and pickled to the render workers. Free text from the data is cleaned
(``shown_text``) and escaped by the template.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import polars as pl

from pipeline.reporting import formatting as fmt
from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.manager.inputs import BookInputs
from pipeline.reporting.periods import MONTH_NAMES, add_months, month_end
from pipeline.schemas import ACCOUNT_MONTHLY, DRIVER, MONEY
from pipeline.settings import Settings
from pipeline.transforms.alerts import METRIC_LABELS, gone_quiet_holds, worst_first

CONTEXT_VERSION = 1
TEMPLATE = "manager/book.html"
CHART_BUILDER = "pipeline.reporting.manager.charts:book_charts"
RENEWAL_DAYS = 90
TREND_MONTHS = 12
DRIVERS_SHOWN = 2
DETAILS_CHARS = 300
NAMES_IN_SENTENCE = 3
ZERO = Decimal(0)

BAND_ORDER = ("red", "amber", "insufficient_data", "green", "none")
BAND_LABELS = {
    "red": "Red",
    "amber": "Amber",
    "green": "Green",
    "insufficient_data": "Low data",
    "none": "No score",
}
BAND_RANK = {"green": 3, "amber": 2, "red": 1}
SEVERITY_LABELS = {"high": "High", "medium": "Medium", "low": "Low"}
RULE_LABELS = {
    "band_drop": "Band dropped",
    "score_drop": "Score fell",
    "detractor": "Detractor",
    "renewal_risk": "Renewal at risk",
    "gone_quiet": "Gone quiet",
    "overdue": "Overdue",
    "goal_behind": "Goal behind",
}
# How the summary counts each rule's alerts: (one, many).
RULE_NOUNS = {
    "band_drop": ("band drop", "band drops"),
    "renewal_risk": ("renewal at risk", "renewals at risk"),
    "score_drop": ("score drop", "score drops"),
    "detractor": ("detractor", "detractors"),
    "overdue": ("overdue balance", "overdue balances"),
    "gone_quiet": ("account gone quiet", "accounts gone quiet"),
    "goal_behind": ("goal behind", "goals behind"),
}
TIER_LABELS = {"strategic": "Strategic", "key": "Key", "transactional": "Transactional"}
SEGMENT_LABELS = {"enterprise": "enterprise", "mid_market": "mid-market", "smb": "SMB"}
STATUS_LABELS = {"behind": "Behind", "missed": "Missed"}


# Health columns a book uses when the health rows have them (an override, the drivers'
# detail); a warehouse written by hand may not.
HEALTH_OPTIONAL = {"drivers": pl.String(), "drivers_detail": pl.List(DRIVER), "override_band": pl.String()}


class BookContextError(ValueError):
    """The inputs cannot make a book (the manager has no account this month)."""


def _dec(value: Any) -> Decimal:
    return ZERO if value is None else Decimal(value)


def month_name(month: date) -> str:
    return f"{MONTH_NAMES[month.month - 1]} {month.year}"


def _tier(value: Any) -> str:
    return TIER_LABELS.get(value or "", _text(value, 30) or fmt.NA)


def book_plan(inputs: BookInputs) -> list[str]:
    """The managers due a book for M: every manager (by id) with an account that has a row
    in ``marts.account_monthly`` for M, sorted by id."""
    now = inputs.monthly.filter(pl.col("month") == inputs.month).select("account_id")
    owners = inputs.accounts.join(now, on="account_id", how="semi")["account_manager_id"].drop_nulls()
    return sorted(set(owners.to_list()))


# --------------------------------------------------------------------------- parts


def _accounts(mine: BookInputs) -> list[dict[str, Any]]:
    """One row per account with a monthly row at M: names, MRR and its change, health now
    and the month before."""
    month = mine.month
    now = mine.monthly.filter(pl.col("month") == month)
    health = mine.health.with_columns(
        pl.lit(None, dtype).alias(c) for c, dtype in HEALTH_OPTIONAL.items() if c not in mine.health.columns
    )
    health_now = health.filter(pl.col("month") == month).select(
        "account_id", "band", "score", "score_change", *HEALTH_OPTIONAL
    )
    before = health.filter(pl.col("month") == add_months(month, -1)).select(
        "account_id", pl.col("band").alias("band_before")
    )
    names = mine.accounts.select("account_id", "account_name", "segment", "renewal_date")
    frame = (
        now.drop("segment", strict=False)
        .join(names, on="account_id", how="left")
        .join(health_now, on="account_id", how="left")
        .join(before, on="account_id", how="left")
    )
    rows = []
    for r in frame.iter_rows(named=True):
        mrr, previous = _dec(r["mrr"]), _dec(r["mrr_previous"])
        detail = r.get("drivers_detail") or []
        drivers = [d["sentence"] for d in detail] if detail else [d for d in (r.get("drivers") or "").split("; ") if d]
        band = r.get("band") or "none"
        now_rank, before_rank = BAND_RANK.get(band), BAND_RANK.get(r.get("band_before") or "")
        moved = None
        if now_rank is not None and before_rank is not None and now_rank != before_rank:
            moved = "worse" if now_rank < before_rank else "better"
        rows.append(
            {
                "account_id": _text(r["account_id"], 60),
                "name": _text(r.get("account_name"), 80) or _text(r["account_id"], 60),
                "tier": r.get("tier"),
                "tier_label": _tier(r.get("tier")),
                "segment": r.get("segment"),
                "mrr": mrr,
                "mrr_previous": previous,
                "mrr_change": mrr - previous,
                "mrr_change_ratio": float(mrr / previous - 1) if previous > 0 else None,
                "customer": mrr > 0,
                "band": band,
                "band_label": BAND_LABELS.get(band, _text(band, 30)),
                "band_before": r.get("band_before"),
                "moved": moved,
                "overridden": r.get("override_band") is not None,
                "score": r.get("score"),
                "score_change": r.get("score_change"),
                "drivers": [_text(d, 160) for d in drivers[:DRIVERS_SHOWN]],
                "days_since_last_touch": r.get("days_since_last_touch"),
                "renewal_date": r.get("renewal_date"),
                "overdue_amount": _dec(r.get("overdue_amount")),
            }
        )
    rows.sort(key=lambda a: (-cast(Decimal, a["mrr"]), a["name"], a["account_id"]))
    return rows


def _by_band(accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = []
    for band in BAND_ORDER:
        members = [a for a in accounts if a["band"] == band and a["customer"]]
        if members:
            groups.append(
                {
                    "band": band,
                    "label": BAND_LABELS[band],
                    "count": len(members),
                    "mrr": sum((a["mrr"] for a in members), ZERO),
                    "accounts": members,
                }
            )
    return groups


def _details(alert: dict[str, Any]) -> str:
    """What an alert's row quotes under its sentence: a detractor's comment, or a goal's
    description when the sentence had to cut it; the drivers are in the accounts table."""
    details = _text(alert.get("details"), DETAILS_CHARS)
    if alert["rule"] == "detractor" or (alert["rule"] == "goal_behind" and details not in _text(alert["message"])):
        return details
    return ""


def _alerts(mine: BookInputs, names: dict[str, str]) -> list[dict[str, Any]]:
    if mine.alerts.is_empty():
        return []
    ranked = worst_first(mine.alerts, mine.monthly.filter(pl.col("month") == mine.month))
    return [
        {
            "alert_id": r["alert_id"],
            "severity": r["severity"],
            "severity_label": SEVERITY_LABELS.get(r["severity"], _text(r["severity"], 20)),
            "rule": r["rule"],
            "rule_label": RULE_LABELS.get(r["rule"], _text(r["rule"], 40)),
            "account_id": _text(r["account_id"], 60),
            "account": names.get(r["account_id"]) or _text(r.get("account_name"), 80) or _text(r["account_id"], 60),
            "message": _text(r["message"]),
            "details": _details(r),
            "mrr": r.get("mrr"),
        }
        for r in ranked.iter_rows(named=True)
    ]


def _renewals(accounts: list[dict[str, Any]], month: date) -> list[dict[str, Any]]:
    start, end = month_end(month), month_end(month) + timedelta(days=RENEWAL_DAYS)
    rows = [
        {**a, "days_to_renewal": (a["renewal_date"] - start).days, "at_risk": a["band"] != "green"}
        for a in accounts
        if a["renewal_date"] is not None and start < a["renewal_date"] <= end
    ]
    rows.sort(key=lambda a: (a["renewal_date"], -a["mrr"], a["name"]))
    return rows


def _metric_kind(metric: str | None) -> str:
    dtype = ACCOUNT_MONTHLY.get(metric or "")
    if dtype == MONEY:
        return "money"
    if dtype is not None and dtype.is_integer():
        return "count"
    return "number"


def _goals(mine: BookInputs, names: dict[str, str]) -> list[dict[str, Any]]:
    bad = mine.goals.filter(pl.col("status").is_in(list(STATUS_LABELS))) if mine.goals.height else mine.goals
    rows = []
    for r in bad.iter_rows(named=True):
        metric = r.get("metric")
        rows.append(
            {
                "account": names.get(r["account_id"]) or _text(r["account_id"], 60),
                "goal": _text(r.get("description"), 120) or METRIC_LABELS.get(metric or "", _text(metric, 40)),
                "metric": METRIC_LABELS.get(metric or "", _text(metric, 40).replace("_", " ")),
                "kind": _metric_kind(metric),
                "value": r.get("value"),
                "expected": r.get("expected"),
                "target": r.get("target"),
                "direction": "at most" if r.get("direction") == "at_most" else "at least",
                "status": r["status"],
                "status_label": STATUS_LABELS[r["status"]],
                "due_month": r.get("due_month"),
            }
        )
    rows.sort(key=lambda g: (g["status"] != "missed", g["account"], g["goal"]))
    return rows


def _quiet(mine: BookInputs, accounts: list[dict[str, Any]], settings: Settings) -> list[dict[str, Any]]:
    rules, health = settings.alert_rules, settings.health
    now = mine.monthly.filter(pl.col("month") == mine.month)
    if now.is_empty() or not rules.gone_quiet.enabled:
        return []
    quiet = set(now.filter(gone_quiet_holds(rules, health))["account_id"].to_list())
    factor = float(rules.gone_quiet.threshold or 0)
    rows = []
    for a in accounts:
        if a["account_id"] not in quiet:
            continue
        cadence = health.tier_cadence_days.get(a["tier"] or "")
        rows.append({**a, "cadence_days": cadence, "quiet_after_days": factor * cadence if cadence else None})
    rows.sort(key=lambda a: (a["days_since_last_touch"] is not None, -(a["days_since_last_touch"] or 0), -a["mrr"]))
    return rows


def _ideas(mine: BookInputs, names: dict[str, str], accounts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if mine.ideas.is_empty():
        return []
    mrr = {a["account_id"]: a["mrr"] for a in accounts}
    by_account: dict[str, list[dict[str, Any]]] = {}
    for r in mine.ideas.sort("account_id", "rank").iter_rows(named=True):
        by_account.setdefault(r["account_id"], []).append(
            {
                "product": _text(r["product"], 80),
                "peer_share": r["peer_share"],
                "peers": r["peers"],
                "holders": r["peer_holders"],
                "median_mrr": r["peer_median_mrr"],
                "group": f"{_tier(r.get('tier')).lower()} {SEGMENT_LABELS.get(r.get('segment') or '', _text(r.get('segment'), 30))}",
            }
        )
    rows = [
        {"account": names.get(k) or _text(k, 60), "account_id": _text(k, 60), "mrr": mrr.get(k, ZERO), "ideas": v}
        for k, v in by_account.items()
    ]
    rows.sort(key=lambda x: (-x["ideas"][0]["peer_share"], -x["mrr"], x["account"]))
    return rows


def _names_list(names: list[str], limit: int = NAMES_IN_SENTENCE) -> str:
    """``A``, ``A and B``, ``A, B and C``, ``A, B, C and 2 others``."""
    shown = names[:limit]
    more = len(names) - len(shown)
    if more:
        return ", ".join(shown) + f" and {fmt.plural(more, 'other')}"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _summary(ctx: dict[str, Any], currency: str) -> list[str]:
    """What changed in the manager's portfolio, in sentences (also the e-mail's body)."""
    f, p = ctx["figures"], ctx["period"]
    out = []
    alerts = ctx["alerts"]
    if alerts:
        high = sum(1 for a in alerts if a["severity"] == "high")
        text = f"{fmt.plural(len(alerts), 'new alert')} in {p['label']}"
        text += f", {high} of them high severity" if high else ""
        counts = {rule: sum(1 for a in alerts if a["rule"] == rule) for rule in RULE_NOUNS}
        kinds = [fmt.plural(n, *RULE_NOUNS[rule]) for rule, n in counts.items() if n]
        out.append(text + ": " + _names_list(kinds, len(kinds)) + ".")
    else:
        out.append(f"No new alerts in {p['label']}.")
    change = f["mrr_change"]
    if f["customers"]:
        pay = "pays" if f["customers"] == 1 else "pay"
        text = (
            f"Your {fmt.plural(f['customers'], 'customer')} {pay} {fmt.money(f['mrr'], currency, compact=True)} a month"
        )
        if change == 0:
            text += f", the same as in {p['previous_label']}."
        else:
            ratio = f" ({fmt.pct(f['mrr_change_ratio'], 1, signed=True)})" if f["mrr_change_ratio"] is not None else ""
            word = "up" if change > 0 else "down"
            text += f", {word} {fmt.money(abs(change), currency, compact=True)}{ratio} on {p['previous_label']}."
        out.append(text)
    worse = [a["name"] for a in ctx["accounts"] if a["moved"] == "worse"]
    better = [a["name"] for a in ctx["accounts"] if a["moved"] == "better"]
    if worse or better:
        parts = []
        if worse:
            parts.append(f"{_names_list(worse)} moved to a worse health band")
        if better:
            parts.append(f"{_names_list(better)} improved")
        out.append("; ".join(parts) + ".")
    if ctx["renewals"]:
        risky = sum(1 for r in ctx["renewals"] if r["at_risk"])
        renew = "renews" if len(ctx["renewals"]) == 1 else "renew"
        text = (
            f"{fmt.plural(len(ctx['renewals']), 'account')} {renew} in the next {RENEWAL_DAYS} days "
            f"({fmt.money(f['renewals_mrr'], currency, compact=True)} a month)"
        )
        text += f"; {risky} of them {'is' if risky == 1 else 'are'} not green." if risky else ", all green."
        out.append(text)
    if ctx["goals"]:
        missed = sum(1 for g in ctx["goals"] if g["status"] == "missed")
        out.append(f"{fmt.plural(len(ctx['goals']), 'goal')} behind or missed ({missed} missed).")
    if ctx["quiet"]:
        out.append(
            f"{fmt.plural(len(ctx['quiet']), 'customer')} gone quiet: {_names_list([a['name'] for a in ctx['quiet']])}."
        )
    if ctx["ideas"]:
        n = sum(len(x["ideas"]) for x in ctx["ideas"])
        out.append(f"{fmt.plural(n, 'cross-sell idea')} for {fmt.plural(len(ctx['ideas']), 'account')}.")
    return [s[0].upper() + s[1:] for s in out]


def _trend(mine: BookInputs) -> dict[str, Any]:
    months = [add_months(mine.month, -k) for k in range(TREND_MONTHS - 1, -1, -1)]
    sums = mine.monthly.group_by("month").agg(pl.col("mrr").sum()) if mine.monthly.height else None
    values = {r["month"]: r["mrr"] for r in sums.iter_rows(named=True)} if sums is not None else {}
    return {
        "months": months,
        "values": [float(values[m]) if values.get(m) is not None else None for m in months],
        "highlight": [m == mine.month for m in months],
    }


def _data_as_of(mine: BookInputs) -> date | None:
    if not (mine.accounts.height and "_loaded_at" in mine.accounts.columns):
        return None
    latest = mine.accounts["_loaded_at"].max()
    return latest.astimezone(UTC).date() if isinstance(latest, datetime) else None


def _brand_color(value: str, default: str) -> str:
    v = (value or "").strip()
    ok = v.startswith("#") and len(v) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in v[1:])
    return v if ok else default


# --------------------------------------------------------------------------- the book


def build_book_context(inputs: BookInputs, manager_id: str, settings: Settings) -> dict[str, Any]:
    """Everything the book of ``manager_id`` shows for ``inputs.month``, as plain data."""
    mine = inputs.for_manager(manager_id)
    month = inputs.month
    currency = settings.reporting_currency.lower()
    accounts = _accounts(mine)
    if not accounts:
        raise BookContextError(f"manager {manager_id!r} has no account with data in {month:%Y-%m}")
    manager_row = mine.managers.row(0, named=True) if mine.managers.height else {}
    names = {a["account_id"]: a["name"] for a in accounts}
    customers = [a for a in accounts if a["customer"]]
    mrr = sum((a["mrr"] for a in customers), ZERO)
    previous = sum((a["mrr_previous"] for a in accounts), ZERO)
    renewals = _renewals(accounts, month)
    at_risk = [a for a in customers if a["band"] in ("red", "amber", "insufficient_data")]
    brand = settings.branding
    prev_month = add_months(month, -1)
    ctx: dict[str, Any] = {
        "version": CONTEXT_VERSION,
        "provider": {
            "company_name": _text(brand.company_name, 80),
            "primary_color": _brand_color(brand.primary_color, "#1f3a5f"),
            "accent_color": _brand_color(brand.accent_color, "#2e86ab"),
            "logo_file": brand.logo_file,
            "footer_text": _text(brand.footer_text, 300),
        },
        "manager": {
            "id": _text(manager_id, 60),
            "name": _text(manager_row.get("name"), 80) or _text(manager_id, 60),
            "team": _text(manager_row.get("team"), 60),
            "email": _text(manager_row.get("email"), 120),
        },
        "period": {
            "key": month.strftime("%Y-%m"),
            "month": month,
            "label": month_name(month),
            "end": month_end(month),
            "previous_label": month_name(prev_month),
            "renewal_horizon": month_end(month) + timedelta(days=RENEWAL_DAYS),
        },
        "currency": currency,
        "data_as_of": _data_as_of(mine),
        "figures": {
            "accounts": len(accounts),
            "customers": len(customers),
            "mrr": mrr,
            "mrr_previous": previous,
            "mrr_change": mrr - previous,
            "mrr_change_ratio": float(mrr / previous - 1) if previous > 0 else None,
            "at_risk_mrr": sum((a["mrr"] for a in at_risk), ZERO),
            "at_risk": len(at_risk),
            "renewals": len(renewals),
            "renewals_mrr": sum((a["mrr"] for a in renewals), ZERO),
        },
        "accounts": accounts,
        "bands": _by_band(accounts),
        "not_billing": [a for a in accounts if not a["customer"]],
        "alerts": _alerts(mine, names),
        "renewals": renewals,
        "goals": _goals(mine, names),
        "quiet": _quiet(mine, accounts, settings),
        "ideas": _ideas(mine, names, accounts),
        "settings": {
            "renewal_days": RENEWAL_DAYS,
            "quiet_factor": float(settings.alert_rules.gone_quiet.threshold or 0),
            "min_peers": settings.cross_sell.min_peers,
            "min_peer_share": settings.cross_sell.min_peer_share,
        },
        "charts": {"mrr": _trend(mine)},
    }
    ctx["figures"]["alerts"] = len(ctx["alerts"])
    ctx["figures"]["high_alerts"] = sum(1 for a in ctx["alerts"] if a["severity"] == "high")
    ctx["summary"] = _summary(ctx, currency)
    return ctx
