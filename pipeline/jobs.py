"""Jobs: the monthly close (everything for one month) and ingestion alone (for the sensor)."""

from __future__ import annotations

import dagster as dg

MONTHLY_CLOSE = "monthly_close"
INGEST = "ingest_landing"


def build_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    """Partitioning is inferred from the selected assets (the monthly marts and reports)."""
    return [
        dg.define_asset_job(
            MONTHLY_CLOSE,
            selection=dg.AssetSelection.all(),
            description="Load new files, rebuild staging, compute the month's marts, render and deliver its reports.",
        ),
        dg.define_asset_job(
            INGEST,
            selection=dg.AssetSelection.groups("ingest", "staging"),
            description="Load new landing files into raw and rebuild staging (no month needed).",
        ),
    ]
