"""The summary page: every figure is the portfolio mart's, changes and sentences follow."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.reporting.pack.context import build_leadership_context
from pipeline.reporting.pack.kpis import kpi_rows
from pipeline.reporting.pack.markdown import summary_markdown
from pipeline.reporting.pack.sentences import mrr_sentence
from pipeline.settings import Settings
from tests.support.leadership_builders import MONTH, PREV, YEAR_AGO, D, inputs, portfolio, portfolio_row

# October 2026: 734,188.00 + 1,178 new + 0 reactivation + 7,158 expansion
#               - 2,390 contraction - 5,167 churn = 734,967.00
NOW = dict(
    mrr_start=D("734188.00"),
    mrr_end=D("734967.00"),
    mrr_new=D(1178),
    mrr_expansion=D(7158),
    mrr_contraction=D(2390),
    mrr_churn=D(5167),
    customers_start=157,
    customers_end=156,
    new_customers=2,
    churned_customers=3,
    reactivated_customers=0,
    logo_retention_1m=154 / 157,
    nrr_1m=0.99893,
    grr_1m=0.98971,
    expansion_rate_1m=0.00975,
    logo_retention_12m=0.91,
    nrr_12m=1.079,
    grr_12m=0.965,
    arpa=D("4711.3269"),
    customer_churn_rate_6m=0.01,
    ltv=471132.69,
    nps_12m=8.0,
    nps_responses_12m=364,
    csat_3m=64.5,
    csat_responses_3m=76,
    accounts=200,
    accounts_green=125,
    accounts_amber=34,
    accounts_red=2,
    accounts_insufficient_data=39,
)
BEFORE = dict(
    mrr_start=D("730000"),
    mrr_end=D("734188.00"),
    customers_start=155,
    customers_end=157,
    nrr_1m=1.002,
    grr_1m=0.994,
    logo_retention_1m=0.994,
    arpa=D("4676.3567"),
    ltv=414000.0,
    nps_12m=7.0,
    csat_3m=66.3,
    accounts_green=130,
    accounts_amber=24,
    accounts_red=3,
    accounts_insufficient_data=43,
)
YEAR = dict(
    mrr_start=D(560000),
    mrr_end=D(569000),
    customers_end=134,
    nrr_1m=0.993,
    grr_1m=0.985,
    logo_retention_1m=0.99,
    arpa=D("4246.2687"),
    ltv=221000.0,
    nps_12m=3.0,
    csat_3m=68.1,
    accounts_green=110,
    accounts_amber=29,
    accounts_red=4,
    accounts_insufficient_data=40,
)


def _portfolio():
    return portfolio(
        portfolio_row(YEAR_AGO, **YEAR),
        portfolio_row(PREV, **BEFORE),
        portfolio_row(MONTH, **NOW),
        # Other groupings must not leak into the summary.
        portfolio_row(MONTH, "tier", "key", mrr_end=D(1), customers_end=1),
    )


@pytest.fixture
def ctx():
    return build_leadership_context(inputs(portfolio_frame=_portfolio()), Settings())


def test_summary_figures_are_the_portfolio_row_of_the_month(ctx):
    row = portfolio_row(MONTH, **NOW)
    by_key = {k["key"]: k for k in ctx["kpis"]}
    expected = {
        "mrr": row["mrr_end"],
        "arr": row["arr_end"],
        "nrr": row["nrr_1m"],
        "grr": row["grr_1m"],
        "logo": row["logo_retention_1m"],
        "customers": row["customers_end"],
        "arpa": row["arpa"],
        "ltv": row["ltv"],
        "nps": row["nps_12m"],
        "csat": row["csat_3m"],
    }
    for key, value in expected.items():
        assert by_key[key]["value"] == value, key
    assert by_key["nrr"]["twelve_month"] == row["nrr_12m"]
    assert by_key["grr"]["twelve_month"] == row["grr_12m"]
    assert by_key["logo"]["twelve_month"] == row["logo_retention_12m"]
    assert by_key["health"]["value"] == {"green": 125, "amber": 34, "red": 2, "insufficient_data": 39}
    assert by_key["mrr"]["display"] == "$734,967"
    assert by_key["arr"]["display"] == "$8,819,604"
    assert by_key["nrr"]["secondary"] == "12-month cohort 107.9%"


def test_changes_compare_the_mart_values_of_last_month_and_a_year_ago(ctx):
    by_key = {k["key"]: k for k in ctx["kpis"]}
    mrr = by_key["mrr"]
    assert mrr["mom"] == pytest.approx(float(D("734967") / D("734188") - 1))
    assert mrr["yoy"] == pytest.approx(float(D("734967") / D("569000") - 1))
    assert mrr["mom_display"] == "+0.1%" and mrr["mom_class"] == "good"
    assert mrr["yoy_display"] == "+29.2%"
    assert by_key["nrr"]["mom"] == pytest.approx(0.99893 - 1.002)
    assert by_key["nrr"]["mom_display"] == "−0.3 pts" and by_key["nrr"]["mom_class"] == "bad"
    assert by_key["customers"]["mom_display"] == "−1"
    assert by_key["nps"]["mom_display"] == "+1 pt"
    assert by_key["csat"]["mom_display"] == "−1.8 pts"
    assert by_key["health"]["mom_parts"] == ["amber +10", "red −1"]


def test_bridge_sentence_names_what_moved_mrr():
    row = portfolio_row(MONTH, **NOW)
    assert mrr_sentence(row, "usd") == (
        "MRR rose 0.1% to $734,967: $7,158 expansion and $1,178 new outweighed $5,167 churn and $2,390 contraction."
    )


def test_bridge_sentences_for_quiet_falling_and_first_months():
    no_churn = portfolio_row(MONTH, mrr_start=D(1000), mrr_end=D(1100), mrr_expansion=D(100))
    assert mrr_sentence(no_churn, "usd") == "MRR rose 10.0% to $1,100: $100 expansion, with no churn or contraction."
    falling = portfolio_row(MONTH, mrr_start=D(1000), mrr_end=D(700), mrr_churn=D(300))
    assert mrr_sentence(falling, "usd") == "MRR fell 30.0% to $700: $300 churn, with no new revenue or expansion."
    flat = portfolio_row(MONTH, mrr_start=D(1000), mrr_end=D(1000))
    assert mrr_sentence(flat, "usd") == "MRR held at $1,000: no account started, grew, shrank or left."
    first = portfolio_row(MONTH, mrr_start=D(0), mrr_end=D(500), mrr_new=D(500))
    assert mrr_sentence(first, "eur", has_previous=False) == "MRR is €500 in the first month of data: €500 new."


def test_first_month_shows_na_for_everything_that_needs_history():
    first = portfolio(
        portfolio_row(
            MONTH,
            mrr_start=D(0),
            mrr_end=D(500),
            mrr_new=D(500),
            customers_end=2,
            new_customers=2,
            arpa=D(250),
            accounts_green=2,
            accounts=2,
        )
    )
    ctx = build_leadership_context(inputs(portfolio_frame=first, first_month=MONTH), Settings())
    by_key = {k["key"]: k for k in ctx["kpis"]}
    for key in ("mrr", "arr", "nrr", "grr", "logo", "customers", "arpa", "ltv", "nps", "csat"):
        assert by_key[key]["mom_display"] == "n/a", key
        assert by_key[key]["yoy_display"] == "n/a", key
        assert by_key[key]["mom_class"] == "na"
    assert by_key["nrr"]["display"] == "n/a"
    assert by_key["nrr"]["secondary"] == "12-month cohort n/a"
    assert by_key["ltv"]["display"] == "n/a"
    assert ctx["period"]["has_previous"] is False and ctx["period"]["has_year_ago"] is False
    assert ctx["health"]["migration"]["has_previous"] is False
    assert ctx["charts"]["sparks"]["mrr"] == [None] * 11 + [500.0]


def test_missing_month_is_an_error_that_says_what_to_run():
    with pytest.raises(ValueError, match="materialize the marts"):
        build_leadership_context(inputs(portfolio_frame=portfolio(portfolio_row(PREV))), Settings())


def test_sparklines_are_the_last_12_months_of_the_mart(ctx):
    sparks = ctx["charts"]["sparks"]
    assert len(sparks["mrr"]) == 12
    assert sparks["mrr"][-1] == 734967.0 and sparks["mrr"][-2] == 734188.0
    assert sparks["mrr"][0] is None  # November 2025 has no row in this portfolio
    assert ctx["charts"]["months"][0] == date(2025, 11, 1)


def test_brief_and_preview(ctx):
    assert ctx["brief"][0].startswith("MRR rose 0.1% to $734,967")
    md = summary_markdown(ctx)
    assert "| MRR | $734,967 | +0.1% | +29.2% |" in md
    assert "October 2026" in md


def test_kpi_rows_take_the_reporting_currency():
    row = portfolio_row(MONTH, **NOW)
    rows = kpi_rows(row, None, None, {"has_previous": False, "worse": 0, "better": 0}, "eur", 1.0, MONTH)
    assert rows[0]["display"] == "€734,967"
