"""Band migration, revenue by band and "did health predict churn": aggregations of mart rows."""

from __future__ import annotations

import pytest

from pipeline.reporting.pack.bands import band_migration, band_outcomes, revenue_by_band
from pipeline.reporting.pack.teams import team_tables
from pipeline.reporting.periods import add_months
from tests.support.leadership_builders import (
    MONTH,
    PREV,
    D,
    health,
    health_row,
    managers,
    monthly,
    monthly_row,
    portfolio,
    portfolio_row,
)


def _migration_frame():
    return health(
        health_row("g_g", PREV, "green"),
        health_row("g_g", MONTH, "green"),
        health_row("g_a", PREV, "green"),
        health_row("g_a", MONTH, "amber"),
        health_row("g_r", PREV, "green"),
        health_row("g_r", MONTH, "red"),
        health_row("r_a", PREV, "red"),
        health_row("r_a", MONTH, "amber"),
        health_row("a_i", PREV, "amber"),
        health_row("a_i", MONTH, "insufficient_data"),
        health_row("new", MONTH, "green"),
    )


def test_band_migration_counts_every_account_by_band_last_month_and_now():
    mg = band_migration(_migration_frame(), MONTH)
    cells = {(r["from"], c["to"]): c["count"] for r in mg["rows"] for c in r["cells"]}
    assert cells[("green", "green")] == 1 and cells[("green", "amber")] == 1 and cells[("green", "red")] == 1
    assert cells[("red", "amber")] == 1 and cells[("amber", "insufficient_data")] == 1
    assert cells[("new", "green")] == 1
    assert mg["worse"] == 2 and mg["better"] == 1 and mg["unchanged"] == 1
    assert mg["column_totals"] == [2, 2, 1, 1] and mg["total"] == 6
    kinds = {(r["from"], c["to"]): c["kind"] for r in mg["rows"] for c in r["cells"]}
    assert kinds[("green", "red")] == "worse" and kinds[("red", "amber")] == "better"
    assert kinds[("amber", "insufficient_data")] == "other" and kinds[("green", "green")] == "same"


def test_migration_column_totals_equal_the_portfolio_band_counts():
    mg = band_migration(_migration_frame(), MONTH)
    # The portfolio mart counts the same effective bands (METRICS: band counts).
    row = portfolio_row(MONTH, accounts_green=2, accounts_amber=2, accounts_red=1, accounts_insufficient_data=1)
    assert mg["column_totals"] == [row[f"accounts_{b}"] for b in ("green", "amber", "red", "insufficient_data")]


def test_first_month_has_no_migration():
    mg = band_migration(health(health_row("a", MONTH, "green")), MONTH)
    assert mg["has_previous"] is False and mg["worse"] == 0


def test_revenue_by_band_adds_up_to_the_month_mrr():
    m = monthly(
        monthly_row("g", MONTH, mrr="100.50"),
        monthly_row("a", MONTH, mrr=40),
        monthly_row("r", MONTH, mrr=10),
        monthly_row("r0", MONTH, mrr=0),
        monthly_row("unscored", MONTH, mrr=5),
    )
    h = health(
        health_row("g", MONTH, "green"),
        health_row("a", MONTH, "amber"),
        health_row("r", MONTH, "red"),
        health_row("r0", MONTH, "red"),
    )
    by = revenue_by_band(h, m, MONTH)
    rows = {r["band"]: r for r in by["rows"]}
    assert rows["green"]["mrr"] == D("100.50") and rows["red"]["accounts"] == 2 and rows["red"]["customers"] == 1
    assert rows["none"]["mrr"] == D(5)
    assert by["total"] == D("155.50") == sum(r["mrr"] for r in by["rows"])
    assert by["at_risk"] == D(50)
    assert by["at_risk_share"] == pytest.approx(50 / 155.5)
    assert by["at_risk_display"] == "$50"


def test_band_outcomes_use_the_band_of_the_month_before():
    m1, m2 = add_months(MONTH, -1), MONTH
    m0 = add_months(MONTH, -2)
    h = health(
        health_row("a", m0, "green"),
        health_row("a", m1, "red"),
        health_row("b", m0, "green"),
        health_row("b", m1, "green"),
        health_row("c", m1, "amber"),
    )
    m = monthly(
        # a: green at end of m0, customer at start of m1, contracted in m1; red at end of m1, churned in m2
        monthly_row("a", m1, mrr=80, mrr_previous=100, mrr_contraction=20),
        monthly_row("a", m2, mrr=0, mrr_previous=80, mrr_churn=80),
        # b: green both months, steady
        monthly_row("b", m1, mrr=50, mrr_previous=50),
        monthly_row("b", m2, mrr=50, mrr_previous=50),
        # c: amber at end of m1, not a customer at the start of m2 -> not counted
        monthly_row("c", m2, mrr=30, mrr_previous=0, mrr_new=30),
        # d: no score the month before -> "No score"
        monthly_row("d", m2, mrr=10, mrr_previous=10),
    )
    out = band_outcomes(h, m, MONTH)
    rows = {r["band"]: r for r in out["rows"]}
    assert rows["green"]["account_months"] == 3  # a in m1, b in m1, b in m2
    assert rows["green"]["contracted"] == 1 and rows["green"]["churned"] == 0
    assert rows["green"]["contraction_rate"] == pytest.approx(1 / 3)
    assert rows["red"]["account_months"] == 1 and rows["red"]["churn_rate"] == 1.0
    assert rows["red"]["mrr_lost"] == D(80) and rows["red"]["mrr_lost_share"] == 1.0
    assert rows["amber"]["account_months"] == 0 and rows["amber"]["churn_rate"] is None
    assert rows["none"]["account_months"] == 1
    assert out["total"]["account_months"] == 5 and out["total"]["churned"] == 1
    assert out["months"] == [m1, m2]


def test_team_tables_order_names_and_empty_groupings():
    p = portfolio(
        portfolio_row(MONTH, mrr_end=D(300), accounts=3, touches_3m=9),
        portfolio_row(MONTH, "tier", "transactional", mrr_end=D(100), accounts=1),
        portfolio_row(MONTH, "tier", "strategic", mrr_end=D(200), mrr_start=D(100), accounts=2, touches_3m=6),
        portfolio_row(MONTH, "account_manager", "M2", mrr_end=D(50), accounts=1),
        portfolio_row(MONTH, "account_manager", "M1", mrr_end=D(250), accounts=2),
        portfolio_row(PREV, "segment", "smb", mrr_end=D(10), accounts=1),  # another month: not shown
    )
    tables = {t["grouping"]: t for t in team_tables(p, managers(("M1", "Ada", "East"), ("M2", "Bo", None)), MONTH)}
    assert [r["label"] for r in tables["tier"]["rows"]] == ["Strategic", "Transactional"]
    strategic = tables["tier"]["rows"][0]
    assert strategic["mrr_end"] == D(200) and strategic["mrr_change"] == pytest.approx(1.0)
    assert strategic["touches_per_account"] == 3.0
    assert [r["label"] for r in tables["account_manager"]["rows"]] == ["Ada", "Bo"]
    assert tables["account_manager"]["rows"][0]["team"] == "East"
    assert tables["segment"]["rows"] == [] and tables["segment"]["total"] is None
    assert tables["tier"]["total"]["mrr_end"] == D(300)
