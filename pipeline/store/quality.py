"""Read what the data-quality report needs (I/O, through the Warehouse): every
quarantined value, and the rows loaded and staged per source.

The quarantine query is ``sql/ops/quarantine_all.sql``; the per-source counts are the
pack's table statistics (``pipeline.store.pack_inputs.table_stats``). Everything after
this module is pure (``pipeline.reporting.quality``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.sql import load_sql
from pipeline.store.pack_inputs import table_stats


@dataclass(frozen=True)
class QualityInputs:
    quarantine: pl.DataFrame  # source, stage, file, row, column, value, reason
    counts: pl.DataFrame  # source, rows_in, rows_staged


def source_counts(con) -> pl.DataFrame:
    """Rows loaded (raw) and staged per source, 0 for a source never loaded."""
    return table_stats(con).select(
        "source",
        pl.col("raw_rows").fill_null(0).cast(pl.Int64).alias("rows_in"),
        pl.col("staging_rows").fill_null(0).cast(pl.Int64).alias("rows_staged"),
    )


def load_quality_inputs(warehouse: Warehouse) -> QualityInputs:
    """Every quarantined value and the per-source counts (one connection)."""
    with warehouse.connect() as con:
        return QualityInputs(quarantine=fetch(con, load_sql("ops/quarantine_all")), counts=source_counts(con))
