"""Conversion into the reporting currency: the right rate, exact rounding, no silent 1.0."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import polars as pl
from polars.testing import assert_frame_equal

from pipeline.schemas import MONEY, NUMBER, QUARANTINE
from pipeline.transforms.fx import convert, convert_or_quarantine, missing_rate_quarantine

LOADED = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)

FX = pl.DataFrame(
    {
        "date": [date(2024, 1, 1), date(2024, 3, 1), date(2024, 6, 1), date(2024, 1, 1)],
        "currency": ["eur", "eur", "eur", "usd"],
        "rate": [D("1.100000"), D("1.234567"), D("1.500000"), D("9.000000")],
    },
    schema={"date": pl.Date(), "currency": pl.String(), "rate": NUMBER},
)


def _subscriptions() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "subscription_id": ["s1", "s2", "s3", "s4", "s5", "s6"],
            "mrr": [D("100"), D("123.4567"), D("50.5"), D("10"), D("5"), D("1.0003")],
            "currency": ["eur", "eur", "usd", "eur", "gbp", "eur"],
            "start_date": [
                date(2024, 2, 29),  # eur 1.1 (dated 2024-01-01), not the later 1.234567
                date(2024, 3, 1),  # the new rate applies on its own date
                date(2023, 1, 1),  # reporting currency: no rate needed, even that early
                date(2023, 12, 31),  # before the first eur rate
                date(2024, 5, 1),  # no gbp rate at all
                date(2024, 6, 30),  # eur 1.5
            ],
            "_file": ["subs.csv"] * 6,
            "_row": [1, 2, 3, 4, 5, 6],
            "_loaded_at": [LOADED] * 6,
        },
        schema_overrides={"mrr": MONEY, "_loaded_at": pl.Datetime("us", "UTC")},
    )


def test_convert_picks_the_latest_rate_on_or_before_the_date_and_rounds_once() -> None:
    subs = _subscriptions()
    before = subs.clone()
    converted, missing = convert(subs, ["mrr"], "currency", "start_date", FX, "USD")
    # s1: 100 × 1.1 = 110.0000
    # s2: 123.4567 × 1.234567 = 152.4155677489 -> 152.4156
    # s3: already USD (the usd row in FX is ignored, never 9.0)
    # s6: 1.0003 × 1.5 = 1.50045 -> 1.5005 (half away from zero; half-even would give 1.5004)
    assert converted["subscription_id"].to_list() == ["s1", "s2", "s3", "s6"]
    assert converted["mrr"].to_list() == [D("110.0000"), D("152.4156"), D("50.5000"), D("1.5005")]
    assert converted.schema == subs.schema
    assert missing["subscription_id"].to_list() == ["s4", "s5"]
    assert_frame_equal(missing, subs.filter(pl.col("subscription_id").is_in(["s4", "s5"])))
    assert_frame_equal(subs, before)  # the input is not changed


def test_convert_with_no_rates_converts_only_the_reporting_currency() -> None:
    converted, missing = convert(_subscriptions(), ["mrr"], "currency", "start_date", FX.head(0), "usd")
    assert converted["subscription_id"].to_list() == ["s3"]
    assert missing["subscription_id"].to_list() == ["s1", "s2", "s4", "s5", "s6"]


def test_convert_several_amount_columns_at_the_same_rate() -> None:
    invoices = pl.DataFrame(
        {
            "invoice_id": ["i1"],
            "currency": ["eur"],
            "issued_on": [date(2024, 3, 15)],
            "subtotal": [D("100.00")],
            "tax": [D("20.00")],
            "total": [D("120.00")],
        },
        schema_overrides={c: MONEY for c in ("subtotal", "tax", "total")},
    )
    converted, missing = convert(invoices, ["subtotal", "tax", "total"], "currency", "issued_on", FX, "usd")
    # rate 1.234567: 123.4567, 24.69134, 148.14804 -> 24.6913, 148.1480
    assert converted.row(0)[3:] == (D("123.4567"), D("24.6913"), D("148.1480"))
    assert missing.is_empty()


def test_missing_rates_become_named_quarantine_rows() -> None:
    converted, rejects = convert_or_quarantine(
        _subscriptions(),
        source="subscriptions",
        key_columns=["subscription_id"],
        amount_columns=["mrr"],
        currency_column="currency",
        date_column="start_date",
        fx_rates=FX,
        reporting_currency="USD",
    )
    expected = pl.DataFrame(
        {
            "source": ["subscriptions", "subscriptions"],
            "stage": ["marts", "marts"],
            "file": ["subs.csv", "subs.csv"],
            "row": [4, 5],
            "column": ["currency", "currency"],
            "value": ["eur", "gbp"],
            "reason": [
                "no eur exchange rate on or before 2023-12-31 (the first eur rate is dated "
                "2024-01-01); add it to billing/fx_rates",
                "no gbp exchange rate on or before 2024-05-01 (billing/fx_rates has no gbp "
                "rate at all); add it to billing/fx_rates",
            ],
            "record_key": ["s4", "s5"],
            "loaded_at": [LOADED, LOADED],
        },
        schema=QUARANTINE,
    )
    assert_frame_equal(rejects, expected)
    assert converted.height == 4


def test_quarantine_without_lineage_columns_still_has_the_quarantine_schema() -> None:
    missing = pl.DataFrame(
        {"id": ["x"], "currency": ["chf"], "on": [date(2024, 1, 2)]},
    )
    rows = missing_rate_quarantine(
        missing,
        source="opportunities",
        key_columns=["id"],
        currency_column="currency",
        date_column="on",
        fx_rates=FX,
    )
    assert rows.schema == QUARANTINE
    assert rows.select("file", "row", "record_key", "value").row(0) == (None, None, "x", "chf")
