"""The leadership pack end to end on hand-built marts in a tmp DuckDB: read, build, render
HTML + PDF, and materialize the asset (with an upstream asset check read from Dagster)."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    MaterializeResult,
    MonthlyPartitionsDefinition,
    asset,
    materialize,
)

from pipeline.assets.leadership import build_leadership_assets
from pipeline.contract import source
from pipeline.reporting.naming import pack_paths
from pipeline.reporting.pack.context import CHART_BUILDER, TEMPLATE, build_leadership_context
from pipeline.resources.config import SettingsResource
from pipeline.resources.renderer.pool import RendererResource
from pipeline.resources.renderer.worker import DocumentRenderer, RenderJob, RenderResult
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.schemas import staging_schema
from pipeline.settings import Settings
from pipeline.store.pack_inputs import load_leadership_inputs
from pipeline.store.records import read_manifest
from tests.support.leadership_builders import (
    MONTH,
    PREV,
    D,
    driver,
    health,
    health_row,
    monthly,
    monthly_row,
    portfolio,
    portfolio_row,
)

pypdf = pytest.importorskip("pypdf")
pytestmark = pytest.mark.slow

LOADED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def doc_renderer() -> DocumentRenderer:
    return DocumentRenderer()


class _InProcess:
    """The renderer interface of pipeline.resources.renderer.pool.Renderer, in this process."""

    def __init__(self, renderer: DocumentRenderer):
        self.renderer = renderer
        self.templates_dir = renderer.templates_dir

    def render_many(self, jobs: Sequence[RenderJob]) -> list[RenderResult]:
        return [self.renderer.render(j) for j in jobs]


def _staging(name: str, rows: list[dict]) -> pl.DataFrame:
    schema = staging_schema(source(name))
    full = [
        {**{c: None for c in schema.names()}, "_file": f"{name}.csv", "_row": i + 1, "_loaded_at": LOADED, **r}
        for i, r in enumerate(rows)
    ]
    return pl.DataFrame(full, schema=schema)


def write_warehouse(path: Path, portfolio_rows, health_rows, monthly_rows) -> Warehouse:
    wh = Warehouse(path)
    with wh.connect() as con:
        Warehouse.replace_table(con, "marts.portfolio_monthly", portfolio(*portfolio_rows))
        Warehouse.replace_table(con, "marts.account_health", health(*health_rows))
        Warehouse.replace_table(con, "marts.account_monthly", monthly(*monthly_rows))
        Warehouse.replace_table(
            con,
            "staging.account_managers",
            _staging(
                "account_managers",
                [
                    {"manager_id": "M1", "name": "Ada Lovelace", "email": "ada@example.com", "team": "East"},
                ],
            ),
        )
        Warehouse.replace_table(
            con,
            "staging.accounts",
            _staging(
                "accounts",
                [
                    {
                        "account_id": a,
                        "account_name": f"{a.title()} Ltd",
                        "tier": "key",
                        "account_manager_id": "M1",
                        "currency": "usd",
                    }
                    for a in sorted({r["account_id"] for r in monthly_rows})
                ],
            ),
        )
        con.execute(
            "INSERT INTO ops.loads VALUES ('h1', 'accounts', 'accounts.csv', 'crm/accounts.csv', 2, 100, ?, 'r1')",
            [LOADED],
        )
    return wh


def no_churn_month(path: Path) -> Warehouse:
    """Two customers; October has expansion only (no churn, no contraction); no segment rows."""
    portfolio_rows = [
        portfolio_row(
            PREV,
            mrr_start=D(900),
            mrr_end=D(1000),
            mrr_new=D(100),
            customers_start=1,
            customers_end=2,
            new_customers=1,
            nrr_1m=1.0,
            grr_1m=1.0,
            logo_retention_1m=1.0,
            arpa=D(500),
            accounts=2,
            accounts_green=2,
        ),
        portfolio_row(
            MONTH,
            mrr_start=D(1000),
            mrr_end=D("1050.50"),
            mrr_expansion=D("50.50"),
            customers_start=2,
            customers_end=2,
            nrr_1m=1.0505,
            grr_1m=1.0,
            logo_retention_1m=1.0,
            arpa=D("525.25"),
            nps_12m=40.0,
            nps_responses_12m=10,
            accounts=2,
            accounts_green=1,
            accounts_amber=1,
            touches_3m=6,
        ),
        portfolio_row(
            MONTH,
            "tier",
            "key",
            mrr_start=D(1000),
            mrr_end=D("1050.50"),
            mrr_expansion=D("50.50"),
            customers_end=2,
            accounts=2,
            accounts_green=1,
            accounts_amber=1,
            touches_3m=6,
        ),
        portfolio_row(
            MONTH,
            "account_manager",
            "M1",
            mrr_start=D(1000),
            mrr_end=D("1050.50"),
            mrr_expansion=D("50.50"),
            customers_end=2,
            accounts=2,
            accounts_green=1,
            accounts_amber=1,
        ),
    ]
    health_rows = [
        health_row("acme", PREV, "green", 80.0),
        health_row("acme", MONTH, "green", 82.0, score_change=2.0),
        health_row("bolt", PREV, "green", 75.0, engagement_score=100.0),
        health_row(
            "bolt",
            MONTH,
            "amber",
            62.0,
            score_change=-13.0,
            engagement_score=40.0,
            drivers_detail=[driver("engagement", "no contact for 45 days; key accounts expect one every 30 days")],
        ),
    ]
    monthly_rows = [
        monthly_row("acme", PREV, mrr=600, mrr_previous=600),
        monthly_row("acme", MONTH, mrr="650.50", mrr_previous=600, mrr_expansion="50.50"),
        monthly_row("bolt", PREV, mrr=400, mrr_previous=300, mrr_new=100),
        monthly_row("bolt", MONTH, mrr=400, mrr_previous=400, days_to_renewal=40, overdue_amount=2500),
    ]
    return write_warehouse(path, portfolio_rows, health_rows, monthly_rows)


def first_month(path: Path) -> Warehouse:
    """The first month of data: no earlier month, no year-ago cohort."""
    portfolio_rows = [
        portfolio_row(
            MONTH,
            mrr_start=D(0),
            mrr_end=D(700),
            mrr_new=D(700),
            customers_end=1,
            new_customers=1,
            arpa=D(700),
            accounts=1,
            accounts_insufficient_data=1,
        ),
        portfolio_row(MONTH, "tier", "key", mrr_end=D(700), mrr_new=D(700), customers_end=1, accounts=1),
        portfolio_row(MONTH, "segment", "mid_market", mrr_end=D(700), mrr_new=D(700), customers_end=1, accounts=1),
        portfolio_row(MONTH, "account_manager", "M1", mrr_end=D(700), mrr_new=D(700), customers_end=1, accounts=1),
    ]
    return write_warehouse(
        path,
        portfolio_rows,
        [health_row("acme", MONTH, "insufficient_data", 70.0)],
        [monthly_row("acme", MONTH, mrr=700, mrr_new=700)],
    )


def render(wh: Warehouse, root: Path, renderer: DocumentRenderer) -> tuple[dict, RenderResult]:
    ctx = build_leadership_context(load_leadership_inputs(wh, MONTH), Settings())
    paths = pack_paths(root, "2026-10")
    result = renderer.render(
        RenderJob(
            template=TEMPLATE,
            context=ctx,
            html_path=str(paths.html),
            pdf_path=str(paths.pdf),
            root=str(root),
            chart_builder=CHART_BUILDER,
        )
    )
    assert result.ok, result.error
    assert result.refused_urls == ()
    return ctx, result


def pdf_pages(path: str) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(Path(path).read_bytes()))
    return [" ".join((p.extract_text() or "").split()) for p in reader.pages]


def test_no_churn_month_renders_and_states_month_currency_and_page_on_every_page(tmp_path, doc_renderer):
    wh = no_churn_month(tmp_path / "warehouse.duckdb")
    ctx, result = render(wh, tmp_path / "reports", doc_renderer)
    assert ctx["kpis"][0]["value"] == D("1050.50")
    assert ctx["brief"][0] == "MRR rose 5.1% to $1,051: $51 expansion, with no churn or contraction."
    pages = pdf_pages(result.pdf_path)
    assert len(pages) == result.pages >= 4
    for i, text in enumerate(pages, start=1):
        assert "October 2026 · Amounts in USD" in text, i
        assert f"Page {i} of {len(pages)}" in text, i
    html = Path(result.html_path).read_text(encoding="utf-8")
    # Self-contained: no reference to anything outside the file (SVG namespaces aside).
    assert not re.search(r'(src|href)="(?!data:|#)|url\((?!#|data:)', html)
    assert "file:" not in html
    assert "Bolt Ltd" in html and "Ada Lovelace" in html  # newly amber, renewal and overdue lists
    assert "Engagement 100 → 40: no contact for 45 days" in html  # the drop, in words
    assert "No accounts in this grouping" in html  # segment grouping is empty
    assert "$1,050.50" in html  # the bridge table is exact


def test_first_month_with_no_history_shows_na_not_zero(tmp_path, doc_renderer):
    wh = first_month(tmp_path / "warehouse.duckdb")
    _ctx, result = render(wh, tmp_path / "reports", doc_renderer)
    html = Path(result.html_path).read_text(encoding="utf-8")
    assert "12-month cohort n/a" in html
    assert "MRR is $700 in the first month of data: $700 new." in html
    assert "this is the first month of data" in html
    assert "Not enough history yet" in html
    first_page = pdf_pages(result.pdf_path)[0]
    assert "n/a" in first_page and "12-month cohort 0.0%" not in first_page


def test_empty_grouping_renders(tmp_path, doc_renderer):
    wh = no_churn_month(tmp_path / "warehouse.duckdb")
    with wh.connect() as con:
        con.execute("DELETE FROM marts.portfolio_monthly WHERE grouping <> 'all'")
    ctx, result = render(wh, tmp_path / "reports", doc_renderer)
    assert all(not t["rows"] for t in ctx["teams"])
    html = Path(result.html_path).read_text(encoding="utf-8")
    assert html.count("No accounts in this grouping") == 3
    assert result.pages >= 4


def test_asset_renders_records_reads_checks_and_skips_an_unchanged_rerun(tmp_path, data_dir, doc_renderer):
    db = data_dir / "warehouse.duckdb"
    wh = no_churn_month(db)
    parts = MonthlyPartitionsDefinition(start_date="2026-01-01", end_offset=0)

    @asset(
        key=AssetKey(["marts", "portfolio_monthly"]),
        partitions_def=parts,
        backfill_policy=BackfillPolicy.single_run(),
        check_specs=[AssetCheckSpec("mrr_bridge", asset=AssetKey(["marts", "portfolio_monthly"]))],
    )
    def portfolio_stub():
        yield MaterializeResult()
        yield AssetCheckResult(check_name="mrr_bridge", passed=False, metadata={"rows_off": 2, "threshold": 0.0})

    # Beside the pack, not upstream of it (like client_reports): its check may run after the
    # pack in a close, so the pack must not show it or the next run's pack would differ.
    @asset(
        key=AssetKey("client_reports"),
        deps=[AssetKey(["marts", "portfolio_monthly"])],
        partitions_def=parts,
        backfill_policy=BackfillPolicy.single_run(),
        check_specs=[AssetCheckSpec("every_due_client_has_a_report", asset=AssetKey("client_reports"))],
    )
    def reports_stub():
        yield MaterializeResult()
        yield AssetCheckResult(check_name="every_due_client_has_a_report", passed=False)

    class InProcessRenderer(RendererResource):
        def get(self, render_workers_setting: int = 0, render_cluster_setting: str | None = None):
            return _InProcess(doc_renderer)

    resources = {
        "warehouse": WarehouseResource(database=str(db)),
        "settings": SettingsResource(),
        "renderer": InProcessRenderer(),
    }
    instance = DagsterInstance.ephemeral()
    (pack,) = build_leadership_assets(parts)
    first = materialize(
        [portfolio_stub, pack, reports_stub], partition_key="2026-10-01", resources=resources, instance=instance
    )
    assert first.success
    meta = first.asset_materializations_for_node("leadership_pack")[0].metadata
    assert meta["status"].value == "rendered" and meta["pages"].value >= 4
    pdf = Path(meta["pdf"].value)
    assert pdf.is_file() and pdf.parent == data_dir / "reports" / "2026-10" / "leadership"
    assert pdf.name == "account-health-pack-2026-10.pdf"
    assert "MRR rose 5.1%" in meta["summary"].value
    html = pdf.with_suffix(".html").read_text(encoding="utf-8")
    assert "marts/portfolio_monthly" in html and "Failed" in html and "rows off 2" in html
    assert "1 of 1 data checks failed" in html
    assert "every_due_client_has_a_report" not in html

    manifest = read_manifest(wh, "2026-10", "leadership")
    assert manifest.height == 1 and manifest["status"][0] == "rendered" and manifest["account_id"][0] == ""
    sha = manifest["pdf_sha256"][0]

    # Same marts, same check results: nothing to render, the PDF (and its sha256) stays.
    second = materialize(
        [portfolio_stub, pack, reports_stub], partition_key="2026-10-01", resources=resources, instance=instance
    )
    assert second.success
    meta2 = second.asset_materializations_for_node("leadership_pack")[0].metadata
    assert meta2["status"].value == "unchanged"
    assert read_manifest(wh, "2026-10", "leadership")["pdf_sha256"][0] == sha

    # A single-run backfill of a range renders each month's pack.
    ranged = materialize(
        [pack],
        resources=resources,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2026-09-01",
            "dagster/asset_partition_range_end": "2026-10-01",
        },
    )
    assert ranged.success
    assert ranged.asset_materializations_for_node("leadership_pack")[0].metadata["months"].value == 2
    assert (data_dir / "reports" / "2026-09" / "leadership" / "account-health-pack-2026-09.pdf").is_file()
