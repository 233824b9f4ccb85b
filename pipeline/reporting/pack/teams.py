"""The teams page: this month's portfolio rows by tier, segment and account manager."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from pipeline.reporting.formatting import shown_text as _text
from pipeline.reporting.pack.common import decimal_or_zero as _dec
from pipeline.reporting.pack.common import ratio_change
from pipeline.reporting.pack.common import row_where as _row

GROUPINGS = (
    ("tier", "By tier", ("strategic", "key", "transactional")),
    ("segment", "By segment", ("enterprise", "mid_market", "smb", "unassigned")),
    ("account_manager", "By account manager", ()),
)
GROUP_LABELS = {
    "strategic": "Strategic",
    "key": "Key",
    "transactional": "Transactional",
    "enterprise": "Enterprise",
    "mid_market": "Mid-market",
    "smb": "SMB",
    "unassigned": "No segment",
}


def team_tables(portfolio: pl.DataFrame, managers: pl.DataFrame, month: date) -> list[dict[str, Any]]:
    """One table per grouping (tier, segment, account manager) of this month's portfolio rows."""
    now = portfolio.filter(pl.col("month") == month) if portfolio.height else portfolio
    names = {
        r["manager_id"]: (_text(r["name"], 50) or r["manager_id"], _text(r.get("team"), 40))
        for r in managers.iter_rows(named=True)
    }
    total = _row(now, grouping="all", group_value="all")
    tables = []
    for grouping, title, order in GROUPINGS:
        rows = now.filter(pl.col("grouping") == grouping) if now.height else now
        items = []
        for r in rows.iter_rows(named=True):
            value = r["group_value"]
            if grouping == "account_manager":
                label, team = names.get(value, (_text(value, 50), ""))
            else:
                label, team = GROUP_LABELS.get(value, _text(value, 50)), ""
            items.append(_team_row(r, label, team))
        if grouping == "account_manager":
            items.sort(key=lambda x: (-x["mrr_end"], x["label"]))
        else:
            rank = {v: i for i, v in enumerate(order)}
            items.sort(key=lambda x: (rank.get(x["value"], len(rank)), x["label"]))
        tables.append(
            {
                "grouping": grouping,
                "title": title,
                "rows": items,
                "total": _team_row(total, "All accounts", "") if total and items else None,
            }
        )
    return tables


def _team_row(r: dict[str, Any], label: str, team: str) -> dict[str, Any]:
    accounts = r["accounts"] or 0
    touches = r["touches_3m"]
    return {
        "value": r["group_value"],
        "label": label,
        "team": team,
        "accounts": accounts,
        "customers": r["customers_end"] or 0,
        "mrr_end": _dec(r["mrr_end"]),
        "mrr_change": ratio_change(r["mrr_end"], r["mrr_start"]),
        "new": _dec(r["mrr_new"]) + _dec(r["mrr_reactivation"]),
        "expansion": _dec(r["mrr_expansion"]),
        "contraction": _dec(r["mrr_contraction"]),
        "churn": _dec(r["mrr_churn"]),
        "nrr_1m": r["nrr_1m"],
        "grr_1m": r["grr_1m"],
        "nrr_12m": r["nrr_12m"],
        "green": r["accounts_green"] or 0,
        "amber": r["accounts_amber"] or 0,
        "red": r["accounts_red"] or 0,
        "insufficient": r["accounts_insufficient_data"] or 0,
        # Presentation only: the mart's 3-month touches over its account count.
        "touches_per_account": (touches / accounts) if touches is not None and accounts else None,
    }
