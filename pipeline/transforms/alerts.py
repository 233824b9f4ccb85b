"""Alerts for account managers.

Pure Polars in, Polars out: no I/O. Seven rules of two kinds. An **event** rule alerts
for every event in M (band_drop, score_drop, detractor). A **state** rule alerts for an
account in M when its condition holds at M and did not hold at M-1 (renewal_risk,
gone_quiet, overdue, goal_behind): a lasting condition alerts once, and again only
after it cleared. Every threshold and severity is a setting (``AlertSettings``); the
tier cadences come from the health settings.

Rules this module settles where the definition of the alerts leaves a choice:

- Alerts exist for the account-months of ``account_monthly`` only (the reporting
  month and every month before it), so an event after the reporting month, or of an
  account without rows, never alerts.
- "Did not hold at M-1" is also true when the account (or the goal) has no row for
  M-1: an account's first month alerts for every state that holds in it.
- A condition whose input is null does not hold (no health row: no band; an unknown
  renewal date: no renewal risk; a null overdue_amount: not overdue), except
  gone_quiet, where a null days_since_last_touch means "never touched" and holds.
- band_drop compares the effective ``band`` (the override's band when one is active) of
  M with that of the calendar month before; no row for M-1, or insufficient_data on
  either side, is no drop. A drop of two steps (green to red) is one alert.
- score_drop fires when score_change <= the threshold (-15 by default, the edge fires);
  a null score_change (no score in M or M-1) never fires.
- detractor: an ``nps`` response scoring at most the threshold (6) whose UTC day is in
  M; one alert per response, keyed by response_id. CSAT responses never count.
- renewal_risk: the window is (end(M), end(M+k)] with k = the threshold in months (3),
  renewal_date from ``accounts`` (the CRM's current value, as days_to_renewal uses),
  and the effective band red, amber or insufficient_data. No MRR is required: a
  renewal of an account without revenue is still worth a call.
- gone_quiet: a customer (mrr > 0 at M) with days_since_last_touch > threshold × the
  tier's cadence (strictly more: twice the cadence itself is fine), or with no touch
  ever. A tier without a cadence setting alerts only for "never touched".
- overdue: overdue_amount >= the threshold, compared exactly as Decimal.
- goal_behind: per goal (goal_id), status ``behind`` or ``missed``. Behind then missed
  is one lasting condition (one alert); on_track, met or no_data clears it.
- Free text shown to people (account names, survey comments, goal descriptions, override
  reasons, e-mail addresses) is cleaned with ``reporting.formatting.shown_text``:
  whitespace collapsed, control and bidi-override characters dropped, nothing else
  changed. No HTML escaping here: templates escape. Numbers in the sentences use the
  same module's money, number, plural and date helpers (the one formatting of each).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl

# The one formatting of money, numbers, dates and shown text: an alert's sentence is stored
# in the mart, so it is worded here with the reports' own helpers (pyproject allows this
# one import of reporting from transforms).
from pipeline.reporting.formatting import long_date, money, month_label, number, plural, shown_text
from pipeline.schemas import ACCOUNT_ALERTS, ACCOUNT_MONTHLY, MONEY
from pipeline.settings import (
    ALERT_EVENT_RULES,
    ALERT_RULES,
    ALERT_SEVERITIES,
    ALERT_STATE_RULES,
    AlertRule,
    AlertSettings,
    HealthSettings,
)
from pipeline.transforms.calendar import ACCOUNT, MONTH, utc_day

__all__ = [
    "ACCOUNT_ALERTS",
    "ALERT_COUNTS",
    "EVENT_RULES",
    "RULES",
    "STATE_CONDITIONS",
    "STATE_MISMATCHES",
    "STATE_RULES",
    "AlertRule",
    "AlertSettings",
    "account_alerts",
    "alert_counts",
    "event_alert_mismatches",
    "expected_event_alerts",
    "expected_state_alerts",
    "gone_quiet_holds",
    "state_alert_mismatches",
    "state_conditions",
    "worst_first",
]

# The rules and the settings are defined with the other settings (pipeline.settings).
EVENT_RULES = ALERT_EVENT_RULES
STATE_RULES = ALERT_STATE_RULES
RULES = ALERT_RULES
SEVERITIES = ALERT_SEVERITIES
DEFAULT_SETTINGS = AlertSettings()

# One row per state rule, account (and goal) and month: does the condition hold?
STATE_CONDITIONS = pl.Schema(
    {
        "rule": pl.String(),
        "account_id": pl.String(),
        "key": pl.String(),  # the goal_id for goal_behind, "" for the other rules
        "month": pl.Date(),
        "holds": pl.Boolean(),
    }
)

STATE_MISMATCHES = pl.Schema(
    {
        "rule": pl.String(),
        "account_id": pl.String(),
        "key": pl.String(),
        "month": pl.Date(),
        "problem": pl.String(),  # "missing alert" or "unexpected alert"
    }
)

ALERT_COUNTS = pl.Schema({"rule": pl.String(), "severity": pl.String(), "alerts": pl.Int64()})

BAND_RANK = {"green": 3, "amber": 2, "red": 1}  # insufficient_data has no rank: never a drop
AT_RISK_BANDS = ("red", "amber", "insufficient_data")
GOAL_BAD = ("behind", "missed")
TOP_DRIVERS = 2  # driver sentences quoted in a message
DESCRIPTION_LIMIT = 80  # characters of a goal description quoted in a message

# Words for account_monthly columns a goal may track (a goal names a column).
METRIC_LABELS = {
    "mrr": "recurring revenue",
    "arr": "annual recurring revenue",
    "nps_12m": "NPS over 12 months",
    "csat_3m": "CSAT over 3 months",
    "touches_3m": "touches over 3 months",
    "overdue_amount": "the overdue amount",
    "open_high_priority_tickets": "open high-priority tickets",
    "open_tickets": "open tickets",
    "invoiced_net": "invoiced (net)",
    "collected": "payments collected",
    "days_since_last_touch": "days since the last touch",
    "open_expansion_pipeline": "open expansion pipeline",
}


# --------------------------------------------------------------------------- inputs


def _require(frame: pl.DataFrame, what: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"alerts: {what} lacks column(s) {', '.join(missing)}")


def _with_optional(frame: pl.DataFrame, columns: Mapping[str, pl.DataType]) -> pl.DataFrame:
    return frame.with_columns(pl.lit(None, dtype).alias(c) for c, dtype in columns.items() if c not in frame.columns)


def _accounts(accounts: pl.DataFrame) -> pl.DataFrame:
    _require(accounts, "accounts", (ACCOUNT,))
    acc = _with_optional(
        accounts,
        {
            "account_name": pl.String(),
            "tier": pl.String(),
            "account_manager_id": pl.String(),
            "renewal_date": pl.Date(),
        },
    )
    return acc.select(
        pl.col(ACCOUNT).cast(pl.String),
        pl.col("account_name").cast(pl.String),
        pl.col("tier").cast(pl.String),
        pl.col("account_manager_id").cast(pl.String),
        pl.col("renewal_date").cast(pl.Date),
    ).unique(ACCOUNT, keep="last", maintain_order=True)


def _health(account_health: pl.DataFrame, health: HealthSettings) -> pl.DataFrame:
    _require(account_health, "account_health", (ACCOUNT, MONTH, "band", "score", "score_change", "drivers"))
    frame = _with_optional(
        account_health,
        {"override_band": pl.String(), "override_reason": pl.String(), "override_set_by": pl.String()},
    )
    if "drivers_detail" in frame.columns:
        top = pl.col("drivers_detail").list.eval(pl.element().struct.field("sentence")).list.head(TOP_DRIVERS)
    else:  # the joined text only: quoted whole
        top = pl.when(pl.col("drivers").fill_null("") != "").then(pl.concat_list(pl.col("drivers")))
    changes = [f"{m.name}_change" for m in health.measures if f"{m.name}_change" in frame.columns]
    return frame.select(
        pl.col(ACCOUNT).cast(pl.String),
        pl.col(MONTH).cast(pl.Date),
        pl.col("band").cast(pl.String),
        pl.col("score").cast(pl.Float64),
        pl.col("score_change").cast(pl.Float64),
        pl.col("drivers").cast(pl.String).fill_null(""),
        top.alias("_top_drivers"),
        pl.col("override_band").cast(pl.String),
        pl.col("override_reason").cast(pl.String),
        pl.col("override_set_by").cast(pl.String),
        *[pl.col(c).cast(pl.Float64) for c in changes],
    )


def _previous(frame: pl.DataFrame, keys: list[str], columns: list[str]) -> pl.DataFrame:
    """``frame`` with ``<column>_prev``: the value on the row of the calendar month before."""
    prev = frame.select(
        *keys,
        pl.col(MONTH).dt.offset_by("1mo"),
        *[pl.col(c).alias(f"{c}_prev") for c in columns],
    )
    return frame.join(prev, on=[*keys, MONTH], how="left", maintain_order="left")


def _base(
    account_monthly: pl.DataFrame, account_health: pl.DataFrame, accounts: pl.DataFrame, health: HealthSettings
) -> pl.DataFrame:
    """One row per account-month of account_monthly with its account and health facts."""
    _require(account_monthly, "account_monthly", (ACCOUNT, MONTH, "mrr", "days_since_last_touch", "overdue_amount"))
    am = _with_optional(account_monthly, {"nps_12m": pl.Float64()}).select(
        pl.col(ACCOUNT).cast(pl.String),
        pl.col(MONTH).cast(pl.Date),
        pl.col("mrr").cast(MONEY),
        pl.col("days_since_last_touch").cast(pl.Int64),
        pl.col("overdue_amount").cast(MONEY),
        pl.col("nps_12m").cast(pl.Float64),
    )
    dupes = am.filter(pl.struct(ACCOUNT, MONTH).is_duplicated())
    if dupes.height:
        first = dupes.row(0, named=True)
        raise ValueError(
            f"alerts: {dupes.height} account_monthly rows share an account and month "
            f"(first: {first[ACCOUNT]} {first[MONTH]}); expected one row per account and month"
        )
    h = _previous(_health(account_health, health), [ACCOUNT], ["band", "score"])
    return am.join(_accounts(accounts), on=ACCOUNT, how="left", maintain_order="left").join(
        h, on=[ACCOUNT, MONTH], how="left", maintain_order="left"
    )


def _cadence(health: HealthSettings) -> pl.Expr:
    mapping = {str(k): float(v) for k, v in health.tier_cadence_days.items()}
    if not mapping:
        return pl.lit(None, dtype=pl.Float64)
    return pl.col("tier").replace_strict(mapping, default=None, return_dtype=pl.Float64)


def gone_quiet_holds(settings: AlertSettings, health: HealthSettings) -> pl.Expr:
    """gone_quiet's condition on rows with ``tier``, ``mrr`` and ``days_since_last_touch``
    (account_monthly's columns): a customer untouched for more than the threshold times
    its tier's cadence, or never touched. The one definition, also used by the books."""
    factor = float(settings.gone_quiet.threshold or 0)
    days = pl.col("days_since_last_touch")
    holds = (pl.col("mrr") > 0) & (
        days.is_null() | (days.cast(pl.Float64) > factor * _cadence(health)).fill_null(False)
    )
    return holds.fill_null(False)


def _goals(goals: pl.DataFrame | None) -> pl.DataFrame:
    optional = {
        "description": pl.String(),
        "metric": pl.String(),
        "target": pl.Float64(),
        "value": pl.Float64(),
        "expected": pl.Float64(),
        "due_month": pl.Date(),
    }
    if goals is None:
        return pl.DataFrame(
            schema={"goal_id": pl.String(), ACCOUNT: pl.String(), MONTH: pl.Date(), "status": pl.String(), **optional}
        )
    _require(goals, "goals", ("goal_id", ACCOUNT, MONTH, "status"))
    g = _with_optional(goals, optional)
    return g.select(
        pl.col("goal_id").cast(pl.String),
        pl.col(ACCOUNT).cast(pl.String),
        pl.col(MONTH).cast(pl.Date),
        pl.col("status").cast(pl.String),
        pl.col("description").cast(pl.String),
        pl.col("metric").cast(pl.String),
        pl.col("target"),  # Decimal or float: formatted, never computed with
        pl.col("value"),
        pl.col("expected"),
        pl.col("due_month").cast(pl.Date),
    )


# --------------------------------------------------------------------------- conditions


def _state_frames(
    base: pl.DataFrame, goals: pl.DataFrame, settings: AlertSettings, health: HealthSettings
) -> dict[str, pl.DataFrame]:
    """Per enabled state rule: the base rows (or goal rows) with ``_holds`` and ``_key``."""
    out: dict[str, pl.DataFrame] = {}
    if settings.renewal_risk.enabled:
        months = int(settings.renewal_risk.threshold or 0)
        window_end = pl.col(MONTH).dt.offset_by(f"{months}mo").dt.month_end()
        holds = (
            (pl.col("renewal_date") > pl.col(MONTH).dt.month_end())
            & (pl.col("renewal_date") <= window_end)
            & pl.col("band").is_in(AT_RISK_BANDS)
        )
        out["renewal_risk"] = base.with_columns(_holds=holds.fill_null(False), _key=pl.lit(""))
    if settings.gone_quiet.enabled:
        out["gone_quiet"] = base.with_columns(_holds=gone_quiet_holds(settings, health), _key=pl.lit(""))
    if settings.overdue.enabled:
        threshold = pl.lit(Decimal(str(settings.overdue.threshold)), dtype=MONEY)
        out["overdue"] = base.with_columns(
            _holds=(pl.col("overdue_amount") >= threshold).fill_null(False), _key=pl.lit("")
        )
    if settings.goal_behind.enabled:
        # only the goal-months of existing account-months (as every other rule)
        out["goal_behind"] = goals.join(base.select(ACCOUNT, MONTH), on=[ACCOUNT, MONTH], how="semi").with_columns(
            _holds=pl.col("status").is_in(GOAL_BAD).fill_null(False), _key=pl.col("goal_id")
        )
    return out


def _conditions_long(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    parts = [
        f.select(
            pl.lit(rule).alias("rule"),
            pl.col(ACCOUNT),
            pl.col("_key").alias("key"),
            pl.col(MONTH),
            pl.col("_holds").alias("holds"),
        )
        for rule, f in frames.items()
    ]
    if not parts:
        return pl.DataFrame(schema=STATE_CONDITIONS)
    return pl.concat(parts).cast(STATE_CONDITIONS).sort("rule", ACCOUNT, "key", MONTH)


def state_conditions(
    *,
    account_monthly: pl.DataFrame,
    account_health: pl.DataFrame,
    accounts: pl.DataFrame,
    goals: pl.DataFrame | None,
    settings: AlertSettings = DEFAULT_SETTINGS,
    health: HealthSettings | None = None,
) -> pl.DataFrame:
    """STATE_CONDITIONS: for each enabled state rule, each account-month (each goal-month
    for goal_behind), whether the rule's condition holds. The input of the asset check."""
    health = health or HealthSettings()
    base = _base(account_monthly, account_health, accounts, health).with_columns(_cadence=_cadence(health))
    return _conditions_long(_state_frames(base, _goals(goals), settings, health))


def _onsets(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows whose condition holds at M and did not at M-1 (no row for M-1: did not hold)."""
    flagged = _previous(frame, [ACCOUNT, "_key"], ["_holds"])
    return flagged.filter(pl.col("_holds") & ~pl.col("_holds_prev").fill_null(False)).drop("_holds_prev")


def expected_state_alerts(conditions: pl.DataFrame) -> pl.DataFrame:
    """The state alerts, recomputed the simple way, to verify ``account_alerts``.

    A second implementation on purpose (row by row in Python, no joins): collect the
    (rule, account, key, month) where the condition holds, and keep those whose
    (rule, account, key, month - 1) is not among them. Output: rule, account_id, key, month.
    """
    holding = {(r["rule"], r[ACCOUNT], r["key"], r[MONTH]) for r in conditions.iter_rows(named=True) if r["holds"]}

    def month_before(m: date) -> date:
        return (m - timedelta(days=1)).replace(day=1)

    rows = sorted(
        (rule, account, key, month)
        for rule, account, key, month in holding
        if (rule, account, key, month_before(month)) not in holding
    )
    return pl.DataFrame(
        rows, schema={"rule": pl.String(), ACCOUNT: pl.String(), "key": pl.String(), MONTH: pl.Date()}, orient="row"
    )


def state_alert_mismatches(alerts: pl.DataFrame, conditions: pl.DataFrame) -> pl.DataFrame:
    """STATE_MISMATCHES: state alerts missing from ``alerts`` or not expected by
    ``expected_state_alerts(conditions)``. Empty when the two implementations agree."""
    keys = ["rule", ACCOUNT, "key", MONTH]
    expected = expected_state_alerts(conditions)
    rules = conditions["rule"].unique().to_list()
    actual = alerts.filter(pl.col("rule").is_in(rules)).select(
        "rule", ACCOUNT, pl.col("goal_id").fill_null("").alias("key"), MONTH
    )
    missing = expected.join(actual, on=keys, how="anti").with_columns(problem=pl.lit("missing alert"))
    extra = actual.join(expected, on=keys, how="anti").with_columns(problem=pl.lit("unexpected alert"))
    return pl.concat([missing, extra]).cast(STATE_MISMATCHES).sort(keys)


def _month_before(m: date) -> date:
    return (m - timedelta(days=1)).replace(day=1)


def _day_in_utc(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).date()
    return value


def expected_event_alerts(
    *,
    account_monthly: pl.DataFrame,
    account_health: pl.DataFrame,
    responses: pl.DataFrame,
    settings: AlertSettings = DEFAULT_SETTINGS,
) -> pl.DataFrame:
    """The event alerts, recomputed the simple way, to verify ``account_alerts``.

    A second implementation on purpose (row by row in Python, no joins): the months an
    account has, the bands and score changes of its health rows, its NPS responses by UTC
    day. Output: rule, account_id, key (the response_id for detractor, else ""), month.
    """
    months = {(r[ACCOUNT], r[MONTH]) for r in account_monthly.select(ACCOUNT, MONTH).iter_rows(named=True)}
    found: set[tuple[str, str, str, date]] = set()
    cols = [c for c in (ACCOUNT, MONTH, "band", "score_change") if c in account_health.columns]
    health = {(r[ACCOUNT], r[MONTH]): r for r in account_health.select(cols).iter_rows(named=True)}
    for (account, month), row in health.items():
        if (account, month) not in months:
            continue
        if settings.band_drop.enabled:
            before = health.get((account, _month_before(month)))
            now_rank, before_rank = (
                BAND_RANK.get(row.get("band") or ""),
                BAND_RANK.get((before or {}).get("band") or ""),
            )
            if now_rank is not None and before_rank is not None and now_rank < before_rank:
                found.add(("band_drop", account, "", month))
        change = row.get("score_change")
        if settings.score_drop.enabled and change is not None and change <= float(settings.score_drop.threshold or 0):
            found.add(("score_drop", account, "", month))
    if settings.detractor.enabled:
        highest = int(settings.detractor.threshold or 0)
        for r in responses.select("response_id", ACCOUNT, "survey_type", "score", "responded_at").iter_rows(named=True):
            day = _day_in_utc(r["responded_at"])
            if day is None or r["score"] is None or str(r["survey_type"] or "").lower() != "nps":
                continue
            if int(r["score"]) <= highest and (r[ACCOUNT], day.replace(day=1)) in months:
                found.add(("detractor", r[ACCOUNT], r["response_id"], day.replace(day=1)))
    return pl.DataFrame(
        sorted(found),
        schema={"rule": pl.String(), ACCOUNT: pl.String(), "key": pl.String(), MONTH: pl.Date()},
        orient="row",
    )


def event_alert_mismatches(
    alerts: pl.DataFrame, expected: pl.DataFrame, settings: AlertSettings = DEFAULT_SETTINGS
) -> pl.DataFrame:
    """STATE_MISMATCHES for the event rules: alerts missing from ``alerts`` or not in
    ``expected`` (``expected_event_alerts``). Empty when the two implementations agree."""
    keys = ["rule", ACCOUNT, "key", MONTH]
    rules = [r for r in EVENT_RULES if settings.rule(r).enabled]
    actual = alerts.filter(pl.col("rule").is_in(rules)).select(
        "rule", ACCOUNT, pl.col("response_id").fill_null("").alias("key"), MONTH
    )
    missing = expected.join(actual, on=keys, how="anti").with_columns(problem=pl.lit("missing alert"))
    extra = actual.join(expected, on=keys, how="anti").with_columns(problem=pl.lit("unexpected alert"))
    return pl.concat([missing, extra]).cast(STATE_MISMATCHES).sort(keys)


# --------------------------------------------------------------------------- words


def _pts(value: Any) -> str:
    """A score or points with one decimal, ".0" dropped: 70, 70.5, -3.2."""
    text = number(value, 1)
    return text[:-2] if text.endswith(".0") else text


def _points(value: Any) -> str:
    text = _pts(value)
    return f"{text} point" if text == "1" else f"{text} points"


def _name(row: Mapping[str, Any]) -> str:
    return shown_text(row.get("account_name")) or row[ACCOUNT]


def _drivers_text(row: Mapping[str, Any]) -> str:
    return "; ".join(row.get("_top_drivers") or [])


def _days(value: int) -> str:
    return plural(value, "day")


def _cadence_text(days: float) -> str:
    return _pts(days)


def _metric_value(value: Any, metric: str | None, currency: str) -> str:
    if value is None:
        return "n/a"
    if metric is not None and ACCOUNT_MONTHLY.get(metric) == MONEY:
        return money(value, currency, compact=True)
    return _pts(value)


def _metric_label(metric: str | None) -> str:
    if not metric:
        return "the value"
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _band_drop_words(row: Mapping[str, Any], currency: str) -> str:
    name = _name(row)
    text = f"{name} moved from {row['band_prev']} to {row['band']}"
    if row.get("override_band") is not None:
        who = shown_text(row.get("override_set_by")) or "an account manager"
        reason = shown_text(row.get("override_reason"))
        return text + f", a band set by {who}" + (f" ({reason})" if reason else "")
    if row["score"] is not None and row["score_prev"] is not None:
        text += f" (score {_pts(row['score'])}, was {_pts(row['score_prev'])})"
    drivers = _drivers_text(row)
    return text + (f": {drivers}" if drivers else "")


def _score_drop_words(labels: Mapping[str, str]) -> Callable[[Mapping[str, Any], str], str]:
    def words(row: Mapping[str, Any], currency: str) -> str:
        score, change = row["score"], row["score_change"]
        before = row["score_prev"] if row.get("score_prev") is not None else score - change
        text = f"The health score of {_name(row)} fell {_points(-change)}, from {_pts(before)} to {_pts(score)}"
        parts = [(row[f"{m}_change"], m) for m in labels if row.get(f"{m}_change") is not None]
        if parts:
            worst, measure = min(parts, key=lambda p: p[0])
            if round(worst, 1) < 0:
                label = labels[measure]
                text += f"; the largest fall is in {label[:1].lower() + label[1:]} ({_points(-worst)})"
        return text

    return words


def _detractor_words(row: Mapping[str, Any], currency: str) -> str:
    who = shown_text(row.get("contact_email"))
    text = f"{_name(row)} got an NPS score of {row['score_given']} out of 10"
    text += (f" from {who}" if who else "") + f" on {long_date(row['_day'])}"
    if row.get("nps_12m") is not None:
        text += f"; NPS over the last 12 months is {number(row['nps_12m'], 0)}"
    return text


_BAND_WORDS = {
    "red": "a red health band",
    "amber": "an amber health band",
    "insufficient_data": "too little data for a health band",
}


def _renewal_words(row: Mapping[str, Any], currency: str) -> str:
    days = (row["renewal_date"] - row["_month_end"]).days
    text = (
        f"{_name(row)} renews on {long_date(row['renewal_date'])}, in {_days(days)}, "
        f"with {_BAND_WORDS.get(row['band'], row['band'])}"
    )
    if row["mrr"] is not None and row["mrr"] > 0:
        text += f" and {money(row['mrr'], currency, compact=True)} a month at stake"
    top = (row.get("_top_drivers") or [])[:1]
    return text + (f": {top[0]}" if top else "")


def _gone_quiet_words(row: Mapping[str, Any], currency: str) -> str:
    cadence = row.get("_cadence")
    expect = f"; {row['tier']} accounts expect one every {_cadence_text(cadence)} days" if cadence else ""
    who = f"{_name(row)}, at {money(row['mrr'], currency, compact=True)} a month,"
    if row["days_since_last_touch"] is None:
        return f"{who} has no recorded contact at all{expect}"
    return f"{who} has had no contact for {_days(row['days_since_last_touch'])}{expect}"


def _overdue_words(row: Mapping[str, Any], currency: str) -> str:
    overdue, mrr = row["overdue_amount"], row["mrr"]
    text = f"{_name(row)} has {money(overdue, currency, compact=True)} overdue at the end of {month_label(row[MONTH])}"
    if mrr is not None and mrr > 0:
        months = number(Decimal(overdue) / Decimal(mrr), 1)
        text += ", 1 month" if months == "1.0" else f", {months} months"
        text += " of recurring revenue"
    return text


def _goal_words(row: Mapping[str, Any], currency: str) -> str:
    metric = row.get("metric")
    label = _metric_label(metric)
    desc = shown_text(row.get("description"), limit=DESCRIPTION_LIMIT)
    goal = f'the goal "{desc}"' if desc else f"the {label} goal"
    value = _metric_value(row.get("value"), metric, currency)
    target = _metric_value(row.get("target"), metric, currency)
    if row["status"] == "missed":
        text = f"{_name(row)} missed {goal}: {label} is {value} against a target of {target}"
        due = row.get("due_month")
        return text + (f", due {month_label(due)}" if due is not None else "")
    text = f"{_name(row)} is behind on {goal}: {label} is {value}"
    if row.get("expected") is not None:
        return text + f", {_metric_value(row['expected'], metric, currency)} expected by now (target {target})"
    return text + f" (target {target})"


def _with_words(
    frame: pl.DataFrame,
    words: Callable[[Mapping[str, Any], str], str],
    currency: str,
    details: Callable[[Mapping[str, Any]], str],
) -> pl.DataFrame:
    """``message`` and ``details`` for each row (alerts are few: row by row is fine)."""
    rows = list(frame.iter_rows(named=True))
    return frame.with_columns(
        message=pl.Series([words(r, currency) for r in rows], dtype=pl.String),
        details=pl.Series([details(r) for r in rows], dtype=pl.String),
    )


def _drivers_details(row: Mapping[str, Any]) -> str:
    return row.get("drivers") or ""


# --------------------------------------------------------------------------- alerts


def _finish(frame: pl.DataFrame, rule: str, settings: AlertSettings) -> pl.DataFrame:
    month_key = pl.col(MONTH).dt.strftime("%Y-%m")
    parts = [pl.lit(rule), pl.col(ACCOUNT), month_key]
    extra = pl.coalesce(pl.col("response_id"), pl.col("goal_id"))
    alert_id = (
        pl.when(extra.is_null())
        .then(pl.concat_str(parts, separator="|"))
        .otherwise(pl.concat_str([*parts, extra], separator="|"))
    )
    frame = _with_optional(frame, {"response_id": pl.String(), "goal_id": pl.String()})
    return (
        frame.with_columns(
            rule=pl.lit(rule),
            severity=pl.lit(settings.rule(rule).severity),
            account_name=pl.col("account_name").map_elements(shown_text, return_dtype=pl.String, skip_nulls=True),
        )
        .with_columns(alert_id=alert_id)
        .select([pl.col(c).cast(t) for c, t in ACCOUNT_ALERTS.items()])
    )


def account_alerts(
    *,
    account_monthly: pl.DataFrame,
    account_health: pl.DataFrame,
    accounts: pl.DataFrame,
    responses: pl.DataFrame,
    goals: pl.DataFrame | None = None,
    settings: AlertSettings = DEFAULT_SETTINGS,
    health: HealthSettings | None = None,
    currency: str = "usd",
) -> pl.DataFrame:
    """ACCOUNT_ALERTS for every account-month of ``account_monthly``.

    Inputs: ``account_monthly`` (ACCOUNT_MONTHLY: account_id, month, mrr,
    days_since_last_touch, overdue_amount, nps_12m), ``account_health``
    (account_health_schema: band is the effective band; score, score_change, drivers,
    drivers_detail, override_* and <measure>_change are used when present),
    ``accounts`` (staging accounts: account_name, tier, account_manager_id,
    renewal_date), ``responses`` (staging responses), ``goals`` (goal_id, account_id,
    month, status; description, metric, target, value, expected, due_month used when
    present; None = no goals). ``health`` gives the tier cadences and measure labels;
    ``currency`` is the reporting currency, for the sentences.
    Sorted by month, account_id, rule (in RULES order), alert_id.
    """
    settings.validate()
    health = health or HealthSettings()
    base = _base(account_monthly, account_health, accounts, health).with_columns(
        _cadence=_cadence(health), _month_end=pl.col(MONTH).dt.month_end()
    )
    out: list[pl.DataFrame] = []

    if settings.band_drop.enabled:
        now = pl.col("band").replace_strict(BAND_RANK, default=None, return_dtype=pl.Int64)
        before = pl.col("band_prev").replace_strict(BAND_RANK, default=None, return_dtype=pl.Int64)
        hits = base.filter((now < before).fill_null(False))
        out.append(_finish(_with_words(hits, _band_drop_words, currency, _drivers_details), "band_drop", settings))

    if settings.score_drop.enabled:
        threshold = float(settings.score_drop.threshold)  # type: ignore[arg-type]
        hits = base.filter((pl.col("score_change") <= threshold).fill_null(False))
        labels = {m.name: (m.label or m.name) for m in health.measures}
        out.append(
            _finish(_with_words(hits, _score_drop_words(labels), currency, _drivers_details), "score_drop", settings)
        )

    if settings.detractor.enabled:
        out.append(_finish(_detractors(base, responses, settings, currency), "detractor", settings))

    frames = _state_frames(base, _goals(goals), settings, health)
    words = {
        "renewal_risk": _renewal_words,
        "gone_quiet": _gone_quiet_words,
        "overdue": _overdue_words,
    }
    for rule, frame in frames.items():
        hits = _onsets(frame)
        if rule == "goal_behind":
            facts = base.select(
                ACCOUNT, MONTH, "account_name", "account_manager_id", "tier", "band", "score", "drivers"
            )
            hits = hits.join(facts, on=[ACCOUNT, MONTH], how="left", maintain_order="left")
            hits = _with_words(hits, _goal_words, currency, lambda r: shown_text(r.get("description")))
        else:
            hits = _with_words(hits, words[rule], currency, _drivers_details)
        out.append(_finish(hits, rule, settings))

    order = {r: i for i, r in enumerate(RULES)}
    if not out:
        return pl.DataFrame(schema=ACCOUNT_ALERTS)
    return (
        pl.concat(out)
        .with_columns(_order=pl.col("rule").replace_strict(order, return_dtype=pl.Int64))
        .sort(MONTH, ACCOUNT, "_order", "alert_id")
        .drop("_order")
    )


def _detractors(base: pl.DataFrame, responses: pl.DataFrame, settings: AlertSettings, currency: str) -> pl.DataFrame:
    _require(responses, "responses", ("response_id", ACCOUNT, "survey_type", "score", "responded_at"))
    resp = _with_optional(responses, {"comment": pl.String(), "contact_email": pl.String()})
    highest = int(settings.detractor.threshold)  # type: ignore[arg-type]
    events = resp.select(
        pl.col("response_id").cast(pl.String),
        pl.col(ACCOUNT).cast(pl.String),
        pl.col("survey_type").cast(pl.String).str.to_lowercase().alias("_kind"),
        pl.col("score").cast(pl.Int64).alias("score_given"),
        utc_day(resp.schema, "responded_at").alias("_day"),
        pl.col("comment").cast(pl.String),
        pl.col("contact_email").cast(pl.String),
    ).filter((pl.col("_kind") == "nps") & (pl.col("score_given") <= highest))
    events = events.with_columns(pl.col("_day").dt.month_start().alias(MONTH))
    # inner: only account-months that exist (known account, not after the reporting month)
    hits = events.join(base, on=[ACCOUNT, MONTH], how="inner").sort(MONTH, ACCOUNT, "_day", "response_id")
    return _with_words(hits, _detractor_words, currency, lambda r: shown_text(r.get("comment")))


def alert_counts(alerts: pl.DataFrame, month: date | None = None) -> pl.DataFrame:
    """ALERT_COUNTS: alerts per rule (every rule listed, 0 when none), in RULES order,
    for ``month`` or for every month when None. ``severity`` is the severity the rule's
    alerts carry (null when there are none; several joined with "," if settings changed)."""
    frame = alerts if month is None else alerts.filter(pl.col(MONTH) == month)
    counts = frame.group_by("rule").agg(
        pl.len().cast(pl.Int64).alias("alerts"),
        pl.col("severity").unique().sort().str.join(",").alias("severity"),
    )
    known = pl.DataFrame({"rule": list(RULES)}, schema={"rule": pl.String()})
    others = counts.filter(~pl.col("rule").is_in(RULES)).select("rule")
    return (
        pl.concat([known, others])
        .join(counts, on="rule", how="left", maintain_order="left")
        .with_columns(pl.col("alerts").fill_null(0))
        .select([pl.col(c).cast(t) for c, t in ALERT_COUNTS.items()])
    )


def worst_first(alerts: pl.DataFrame, mrr: pl.DataFrame | None = None) -> pl.DataFrame:
    """``alerts`` worst first: by severity (high, medium, low), then the account's MRR at
    the alert's month, largest first (``mrr``: account_id, month, mrr; a ``mrr`` column
    is added, null without it), then rule (in RULES order), account name and alert_id.
    How the books, the e-mails and the metadata list alerts."""
    severity = {s: i for i, s in enumerate(SEVERITIES)}
    order = {r: i for i, r in enumerate(RULES)}
    frame = alerts.drop("mrr", strict=False)
    if mrr is not None:
        frame = frame.join(
            mrr.select(pl.col(ACCOUNT).cast(pl.String), pl.col(MONTH).cast(pl.Date), pl.col("mrr").cast(MONEY)),
            on=[ACCOUNT, MONTH],
            how="left",
            maintain_order="left",
        )
    else:
        frame = frame.with_columns(mrr=pl.lit(None, dtype=MONEY))
    return (
        frame.with_columns(
            _sev=pl.col("severity").replace_strict(severity, default=len(severity), return_dtype=pl.Int64),
            _rule=pl.col("rule").replace_strict(order, default=len(order), return_dtype=pl.Int64),
        )
        .sort(
            ["_sev", "mrr", "_rule", "account_name", "alert_id"],
            descending=[False, True, False, False, False],
            nulls_last=True,
        )
        .drop("_sev", "_rule")
    )
