"""What one month's leadership pack is built from: the frames the store reads.

``pipeline.store.pack_inputs`` fills a ``LeadershipInputs`` from the marts and the ops
tables; ``context.build_leadership_context`` turns it into the pack's plain data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl


@dataclass(frozen=True)
class LeadershipInputs:
    """The frames one month's leadership pack is built from."""

    month: date
    portfolio: pl.DataFrame  # marts.portfolio_monthly, months M-12 .. M, every grouping
    health: pl.DataFrame  # marts.account_health, months M-6 .. M
    monthly: pl.DataFrame  # marts.account_monthly (a subset of columns), months M-6 .. M
    accounts: pl.DataFrame  # account_id, account_name, renewal_date, account_manager_id, manager_name
    managers: pl.DataFrame  # manager_id, name, team
    table_stats: pl.DataFrame  # source, raw_rows, staging_rows, date_column, newest_date
    loads: pl.DataFrame  # source, files, rows_loaded, last_loaded_at
    quarantine: pl.DataFrame  # source, stage, rows_quarantined
    reasons: pl.DataFrame  # source, reason, rows_quarantined (top reasons per source)
    first_month: date | None  # the first month of marts.portfolio_monthly
    alerts: pl.DataFrame = field(default_factory=pl.DataFrame)  # marts.account_alerts of month M (rule, severity)
    # Looking ahead, month M only (empty before the forecast marts' first run):
    forecast: pl.DataFrame = field(default_factory=pl.DataFrame)  # marts.account_forecast
    retention: pl.DataFrame = field(default_factory=pl.DataFrame)  # marts.band_retention
    goals: pl.DataFrame = field(default_factory=pl.DataFrame)  # marts.account_goals + manager, team
    pipeline: pl.DataFrame = field(default_factory=pl.DataFrame)  # account_id, open_expansion_pipeline


TABLE_STATS_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "raw_rows": pl.Int64(),
        "staging_rows": pl.Int64(),
        "date_column": pl.String(),
        "newest_date": pl.Date(),
    }
)
