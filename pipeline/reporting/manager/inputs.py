"""What one month's books of business are built from: frames the store fills in.

Pure: ``pipeline.store.book_inputs`` reads the warehouse into a ``BookInputs``;
``for_manager`` keeps only one manager's accounts, so nothing of another manager's
portfolio can reach a book.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date

import polars as pl


@dataclass(frozen=True)
class BookInputs:
    """The frames a month's books are built from (every manager, or one)."""

    month: date
    accounts: pl.DataFrame  # staging accounts with their manager (sql/reports/accounts.sql)
    managers: pl.DataFrame  # manager_id, name, email, team
    monthly: pl.DataFrame  # marts.account_monthly, months M-12 .. M
    health: pl.DataFrame  # marts.account_health, months M-1 .. M
    alerts: pl.DataFrame  # marts.account_alerts, month M
    goals: pl.DataFrame  # marts.account_goals, month M (empty when the table does not exist)
    ideas: pl.DataFrame  # marts.cross_sell_ideas, month M

    def for_manager(self, manager_id: str) -> BookInputs:
        """The same frames holding only the accounts whose manager is ``manager_id`` now
        (the CRM's current assignment, as every mart row carries), and that manager."""
        mine = self.accounts.filter(pl.col("account_manager_id") == manager_id)
        ids = mine["account_id"]
        frames = {
            f.name: getattr(self, f.name).filter(pl.col("account_id").is_in(ids.implode()))
            for f in fields(self)
            if f.name not in ("month", "accounts", "managers")
        }
        return replace(self, accounts=mine, managers=self.managers.filter(pl.col("manager_id") == manager_id), **frames)
