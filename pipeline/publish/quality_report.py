"""Produce the data-quality report of one month (what the data_quality_report asset
runs): every quarantined value, for the person who fixes the exports.

Read the quarantine and the per-source counts (``pipeline.store.quality``), build the
page's context (pure, ``pipeline.reporting.quality``), render it with the renderer's
Jinja environment (the same templates folder and autoescaping as the PDF reports), and
write the HTML page and a CSV of the same rows under ``reports/YYYY-MM/`` atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from pipeline.files import atomic_write
from pipeline.reporting.quality import build_context, source_summary
from pipeline.resources.renderer.worker import TEMPLATES_DIR, make_environment
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.quality import load_quality_inputs

TEMPLATE = "ops/data_quality.html"
HTML_NAME = "data-quality.html"
CSV_NAME = "quarantine.csv"


@dataclass(frozen=True)
class QualityReport:
    html_path: Path
    csv_path: Path
    summary: pl.DataFrame  # per source: rows_in, rows_staged, rows_quarantined, problems, quarantine_rate
    rows_quarantined: int  # distinct (file, row) pairs with at least one problem
    problems: int  # quarantined values


def produce_quality_report(warehouse: Warehouse, settings: Settings, month: date) -> QualityReport:
    inputs = load_quality_inputs(warehouse)
    page = build_context(
        month=month,
        generated_at=datetime.now(UTC),
        counts=inputs.counts,
        quarantine=inputs.quarantine,
        company_name=settings.branding.company_name,
    )
    html = make_environment(TEMPLATES_DIR).get_template(TEMPLATE).render(**page)
    folder = settings.reports_dir / f"{month:%Y-%m}"
    html_path, csv_path = folder / HTML_NAME, folder / CSV_NAME
    atomic_write([(html_path, html.encode("utf-8")), (csv_path, inputs.quarantine.write_csv().encode("utf-8"))])
    summary = source_summary(inputs.counts, inputs.quarantine)
    return QualityReport(
        html_path=html_path,
        csv_path=csv_path,
        summary=summary,
        rows_quarantined=int(summary["rows_quarantined"].sum()),
        problems=inputs.quarantine.height,
    )
