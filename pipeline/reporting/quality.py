"""The data-quality report's content: what was loaded, what was rejected, and why.

Written for the person who fixes the exports: per source, rows loaded, staged and
quarantined, the top reasons, and every quarantined value with its file, row and column.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl


def source_summary(counts: pl.DataFrame, quarantine: pl.DataFrame) -> pl.DataFrame:
    """counts (source, rows_in, rows_staged) + quarantine rows → one row per source."""
    per_source = quarantine.group_by("source").agg(
        pl.struct("file", "row").n_unique().alias("rows_quarantined"),
        pl.len().alias("problems"),
    )
    return (
        counts.join(per_source, on="source", how="left")
        .with_columns(pl.col("rows_quarantined", "problems").fill_null(0))
        .with_columns(
            pl.when(pl.col("rows_in") > 0)
            .then(pl.col("rows_quarantined") / pl.col("rows_in"))
            .otherwise(None)
            .alias("quarantine_rate")
        )
        .sort("source")
    )


def top_reasons(quarantine: pl.DataFrame, limit: int = 5) -> pl.DataFrame:
    return (
        quarantine.group_by("source", "column", "reason")
        .len("rows")
        .sort(["source", "rows", "column", "reason"], descending=[False, True, False, False])
        .group_by("source", maintain_order=True)
        .head(limit)
    )


def unmatched_by_system(quarantine: pl.DataFrame, examples: int = 3) -> pl.DataFrame:
    """Vendor records that found no single account, per system (the export's folder) and
    source: how many, a few of the ids they carried, and the column that carried them.

    They are the quarantine rows whose reason sends the reader to crm/account_aliases
    (pipeline.transforms.matching words every such reason that way)."""
    rows = quarantine.filter(pl.col("reason").str.contains("account_aliases", literal=True))
    return (
        rows.with_columns(pl.col("file").str.split("/").list.first().alias("system"))
        .group_by("system", "source", "column")
        .agg(
            pl.struct("file", "row").n_unique().alias("records"),
            pl.col("value").drop_nulls().unique(maintain_order=True).head(examples).alias("examples"),
        )
        .sort("system", "source", "column")
    )


def build_context(
    *,
    month: date,
    generated_at: datetime,
    counts: pl.DataFrame,
    quarantine: pl.DataFrame,
    company_name: str,
) -> dict[str, Any]:
    summary = source_summary(counts, quarantine)
    reasons = top_reasons(quarantine)
    rows = quarantine.sort("source", "file", "row", "column")
    return {
        "month": month,
        "generated_at": generated_at,
        "company_name": company_name,
        "total_rows_in": int(summary["rows_in"].sum()),
        "total_quarantined": int(summary["rows_quarantined"].sum()),
        "unmatched": unmatched_by_system(quarantine).to_dicts(),
        "sources": summary.to_dicts(),
        "reasons": {s: g.drop("source").to_dicts() for (s,), g in reasons.group_by("source", maintain_order=True)},
        "problems": {
            s: g.select("stage", "file", "row", "column", "value", "reason").to_dicts()
            for (s,), g in rows.group_by("source", maintain_order=True)
        },
    }
