"""Invoiced, collected and overdue, hand-computed from docs/metrics.md.

Invoices here are already in the reporting currency (conversion at issued_on:
test_account_monthly.py).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl
import pytest

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import month_spine
from pipeline.transforms.money import MONEY_COLUMNS, billable_invoices, monthly_money

Q = D("0.0001")


def _invoices(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(*r[:3], D(r[3]), D(r[4]), D(r[5]), *r[6:]) for r in rows],  # type: ignore[arg-type]
        schema={
            "invoice_id": pl.String(),
            "issued_on": pl.Date(),
            "due_on": pl.Date(),
            "subtotal": MONEY,
            "tax": MONEY,
            "total": MONEY,
            "status": pl.String(),
            "paid_on": pl.Date(),
        },
        orient="row",
    ).with_columns(pl.lit("a").alias("account_id"))


INVOICES = _invoices(
    [
        # id, issued, due, subtotal, tax, total, status, paid_on
        ("i1", date(2024, 1, 10), date(2024, 2, 9), "100", "20", "120", "paid", date(2024, 4, 15)),
        ("i2", date(2024, 1, 20), date(2024, 1, 31), "50", "10", "60", "open", None),
        ("i3", date(2024, 2, 5), date(2024, 3, 6), "1000", "0", "1000", "draft", None),
        ("i4", date(2024, 3, 5), date(2024, 3, 6), "500", "0", "500", "void", date(2024, 3, 7)),
        ("i5", date(2024, 3, 1), date(2024, 3, 15), "200", "0", "200", "paid", date(2024, 3, 31)),
        ("i6", date(2025, 1, 5), date(2025, 2, 4), "150", "30", "180", "paid", date(2025, 1, 20)),
        ("i7", date(2024, 6, 1), date(2024, 6, 30), "40", "0", "40", "uncollectible", None),
        ("i8", date(2024, 2, 10), date(2024, 3, 11), "75", "15", "90", "PAID", date(2024, 3, 1)),
    ]
)

SPINE = month_spine(
    pl.DataFrame({"account_id": ["a"], "first_month": [date(2024, 1, 1)]}), date(2025, 1, 1)
)  # Jan 2024 .. Jan 2025: 13 rows


def _money(*values: int) -> list[D]:
    return [D(v).quantize(Q) for v in values]


@pytest.fixture(scope="module")
def out() -> pl.DataFrame:
    return monthly_money(INVOICES, SPINE)


def test_draft_and_void_count_nowhere() -> None:
    assert billable_invoices(INVOICES)["invoice_id"].to_list() == ["i1", "i2", "i5", "i6", "i7", "i8"]


def test_invoiced_by_issued_month(out: pl.DataFrame) -> None:
    # Jan i1+i2 = 150/30, Feb i8 = 75/15 (draft i3 ignored), Mar i5 = 200/0 (void i4
    # ignored), Jun i7 = 40/0, Jan 2025 i6 = 150/30; other months nothing: 0.
    assert out["invoiced_net"].to_list() == _money(150, 75, 200, 0, 0, 40, 0, 0, 0, 0, 0, 0, 150)
    assert out["invoiced_tax"].to_list() == _money(30, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30)


def test_collected_by_paid_month(out: pl.DataFrame) -> None:
    # Mar: i5 200 + i8 90 (void i4's payment ignored); Apr: i1 120; Jan 2025: i6 180
    assert out["collected"].to_list() == _money(0, 0, 290, 120, 0, 0, 0, 0, 0, 0, 0, 0, 180)


def test_overdue_on_each_month_end(out: pl.DataFrame) -> None:
    # end(Jan): i2 is due on 31 Jan, not before it -> 0.
    # end(Feb): i1 (due 9 Feb, paid 15 Apr) 120 + i2 60 = 180; end(Mar): the same 180
    #   (i5 paid on 31 Mar itself is not overdue; i8 paid before it was due).
    # end(Apr): i1 paid 15 Apr -> only i2: 60; May, Jun 60 (i7 due 30 Jun, not before).
    # end(Jul) .. end(Dec): i2 60 + i7 40 = 100; end(Jan 2025): 100 (i6 not due yet).
    assert out["overdue_amount"].to_list() == _money(0, 180, 180, 60, 60, 60, 100, 100, 100, 100, 100, 100, 100)


def test_growth_is_null_on_a_zero_or_missing_base(out: pl.DataFrame) -> None:
    # mom: Jan no base; Feb 75/150-1; Mar 200/75-1; Apr 0/200-1; May, Jun base 0;
    # Jul 0/40-1; Aug .. Jan 2025 base 0.
    assert out["invoiced_net_mom"].to_list() == pytest.approx(
        [None, -0.5, 200 / 75 - 1, -1.0, None, None, -1.0, None, None, None, None, None, None]
    )
    # yoy: only Jan 2025 has M-12 on the spine: 150/150-1 = 0
    assert out["invoiced_net_yoy"].to_list() == [None] * 12 + [0.0]


def test_schema_and_a_month_without_invoices(out: pl.DataFrame) -> None:
    assert out.columns == ["account_id", "month", *MONEY_COLUMNS]
    assert out.schema["invoiced_net"] == MONEY and out.schema["overdue_amount"] == MONEY
    may = out.filter(pl.col("month") == date(2024, 5, 1)).row(0, named=True)
    assert (may["invoiced_net"], may["invoiced_tax"], may["collected"]) == (
        D("0.0000"),
        D("0.0000"),
        D("0.0000"),
    )
    assert may["invoiced_net_mom"] is None


def test_no_invoices_at_all_gives_zeros() -> None:
    out = monthly_money(INVOICES.head(0), SPINE)
    assert out.height == 13
    assert out["invoiced_net"].to_list() == _money(*[0] * 13)
    assert out["overdue_amount"].to_list() == _money(*[0] * 13)
    assert out["invoiced_net_mom"].null_count() == 13
