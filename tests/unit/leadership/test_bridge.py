"""The MRR bridge ties out: start + movements = end, and the chart draws the mart's numbers."""

from __future__ import annotations

from decimal import Decimal

from pipeline.reporting.pack.charts import movements_chart, waterfall_chart, waterfall_levels
from pipeline.reporting.pack.context import build_leadership_context
from pipeline.reporting.pack.revenue import movement_history, mrr_bridge, waterfall_floor
from pipeline.settings import Settings
from tests.support.leadership_builders import MONTH, PREV, D, inputs, portfolio, portfolio_row

ROW = dict(
    mrr_start=D("1000.10"),
    mrr_new=D("200.25"),
    mrr_reactivation=D("50"),
    mrr_expansion=D("100.05"),
    mrr_contraction=D("30.20"),
    mrr_churn=D("120.10"),
    mrr_end=D("1200.10"),
)


def test_bridge_is_the_marts_row_and_ties_out_to_the_cent():
    bridge = mrr_bridge(portfolio_row(MONTH, **ROW))
    assert bridge["start"] == D("1000.10") and bridge["end"] == D("1200.10")
    amounts = {s["name"]: s["amount"] for s in bridge["steps"]}
    assert amounts == {
        "new": D("200.25"),
        "reactivation": D(50),
        "expansion": D("100.05"),
        "contraction": D("30.20"),
        "churn": D("120.10"),
    }
    assert [s["name"] for s in bridge["steps"]] == ["new", "reactivation", "expansion", "contraction", "churn"]
    total = bridge["start"] + sum(s["sign"] * s["amount"] for s in bridge["steps"])
    assert total == bridge["end"] and bridge["ties_out"] is True


def test_a_bridge_that_does_not_add_up_is_flagged():
    assert mrr_bridge(portfolio_row(MONTH, **{**ROW, "mrr_end": D("1200.11")}))["ties_out"] is False


def test_chart_gets_the_same_numbers_and_its_bars_end_at_the_end():
    ctx = build_leadership_context(inputs(portfolio_frame=portfolio(portfolio_row(MONTH, **ROW))), Settings())
    data = ctx["charts"]["bridge"]
    assert data["start"] == 1000.10 and data["end"] == 1200.10
    assert {s["name"]: s["amount"] for s in data["steps"]} == {
        "new": 200.25,
        "reactivation": 50.0,
        "expansion": 100.05,
        "contraction": 30.20,
        "churn": 120.10,
    }
    bars = waterfall_levels(data)
    assert [b["label"] for b in bars] == ["Start", "New", "Reactivation", "Expansion", "Contraction", "Churn", "End"]
    churn = bars[-2]
    assert abs(churn["bottom"] - data["end"]) < 1e-9  # the last movement lands on the end
    assert bars[-1]["top"] == data["end"]
    svg = waterfall_chart(data, "usd", "#1f3a5f")
    assert svg.startswith("<svg") and 'aria-label="MRR bridge' in svg


def test_axis_starts_at_zero_unless_the_movements_would_be_invisible():
    assert waterfall_floor(mrr_bridge(portfolio_row(MONTH, **ROW))) == 0
    big = dict(
        mrr_start=D("734188"),
        mrr_new=D(1178),
        mrr_expansion=D(7158),
        mrr_contraction=D(2390),
        mrr_churn=D(5167),
        mrr_end=D("734967"),
    )
    floor = waterfall_floor(mrr_bridge(portfolio_row(MONTH, **big)))
    assert floor == Decimal(720000)
    assert floor < min(D("734188"), D("734967"))


def test_movement_history_is_twelve_months_of_mart_rows_and_each_ties_out():
    rows = [
        portfolio_row(
            PREV,
            **{
                **ROW,
                "mrr_end": D("1000.10"),
                "mrr_start": D("900.10"),
                "mrr_new": D(100),
                "mrr_reactivation": D(0),
                "mrr_expansion": D(0),
                "mrr_contraction": D(0),
                "mrr_churn": D(0),
            },
        ),
        portfolio_row(MONTH, **ROW),
    ]
    frame = portfolio(*rows)
    history = movement_history(frame, MONTH)
    assert [h["month"] for h in history] == [PREV, MONTH]
    for h in history:
        assert h["start"] + h["new"] + h["reactivation"] + h["expansion"] - h["contraction"] - h["churn"] == h["end"]
    ctx = build_leadership_context(inputs(portfolio_frame=frame), Settings())
    mov = ctx["charts"]["movements"]
    assert mov["churn"][-1] == 120.10 and mov["new"][-2] == 100.0 and mov["new"][0] is None
    assert movements_chart(ctx["charts"]["months"], mov, "usd").startswith("<svg")


def test_no_movement_at_all_draws_no_movement_chart():
    months = [MONTH]
    assert (
        movements_chart(months, {k: [0.0] for k in ("new", "reactivation", "expansion", "contraction", "churn")}, "usd")
        is None
    )
