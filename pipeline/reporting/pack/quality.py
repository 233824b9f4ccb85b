"""The data-quality page: per-source loads, quarantine and freshness, the asset checks,
and the one sentence on whether the month's numbers can be trusted."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date
from typing import Any

import polars as pl

from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.pack.common import Fmt, join_words, month_label
from pipeline.reporting.periods import month_end


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
                "last_loaded_on": last_loaded.astimezone(UTC).date() if last_loaded else None,
                "last_loaded_time": last_loaded.astimezone(UTC).strftime("%H:%M UTC") if last_loaded else None,
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
        return {
            "available": False,
            "groups": [],
            "problems": [],
            "problems_more": 0,
            "passed": 0,
            "failed": 0,
            "other": 0,
            "total": 0,
        }
    order = {"failed": 0, "not run": 1, "passed": 2}
    key = month.strftime("%Y-%m")
    rows: list[dict[str, Any]] = []
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
        g = groups.setdefault(
            (layer, r["check"]),
            {
                "layer": layer,
                "check": r["check"],
                "label": _check_label(r["check"]),
                "assets": 0,
                "passed": 0,
                "failed": 0,
                "not_run": 0,
            },
        )
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
        parts.append(
            f"{quarantined:,} of {raw:,} loaded rows quarantined ({_small_pct(share) if quarantined else '0%'})"
        )
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
