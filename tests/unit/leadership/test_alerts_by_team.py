"""The attention page's alert counts by team, on hand-built frames."""

from __future__ import annotations

from datetime import date

import polars as pl

from pipeline.reporting.pack.attention import alert_counts_by_team

MAR = date(2024, 3, 1)
ACCOUNTS = pl.DataFrame({"account_id": ["A1", "A2", "A3", "A4"], "account_manager_id": ["M1", "M2", "M3", None]})
MANAGERS = pl.DataFrame(
    {"manager_id": ["M1", "M2", "M3"], "name": ["Dana", "Sam", "Lee"], "team": ["Key", "Key", "Enterprise"]}
)


def alerts(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        [(a, MAR, rule, sev) for a, rule, sev in rows],
        schema={"account_id": pl.String(), "month": pl.Date(), "rule": pl.String(), "severity": pl.String()},
        orient="row",
    )


def test_counts_by_the_team_of_the_accounts_manager_with_a_total():
    out = alert_counts_by_team(
        alerts(
            ("A1", "band_drop", "high"),
            ("A2", "overdue", "medium"),
            ("A2", "detractor", "medium"),
            ("A3", "renewal_risk", "high"),
            ("A4", "gone_quiet", "medium"),
        ),
        ACCOUNTS,
        MANAGERS,
    )
    assert [c["key"] for c in out["columns"]] == [
        "band_drop",
        "score_drop",
        "detractor",
        "renewal_risk",
        "gone_quiet",
        "overdue",
        "goal_behind",
    ]
    rows = [(r["team"], r["managers"], r["high"], r["total"]) for r in out["rows"]]
    assert rows == [("Key", 2, 1, 3), ("Enterprise", 1, 1, 1), ("No team", 0, 0, 1)]
    assert out["rows"][0]["counts"] == {
        "band_drop": 1,
        "score_drop": 0,
        "detractor": 1,
        "renewal_risk": 0,
        "gone_quiet": 0,
        "overdue": 1,
        "goal_behind": 0,
    }
    assert (out["total"]["team"], out["total"]["managers"], out["total"]["high"], out["total"]["total"]) == (
        "All teams",
        3,
        2,
        5,
    )


def test_no_alerts_no_rows():
    out = alert_counts_by_team(pl.DataFrame(), ACCOUNTS, MANAGERS)
    assert out["rows"] == [] and out["total"] is None
