"""Number formats a client reads: separators, symbols, one-decimal percentages, n/a."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pipeline.reporting import formatting as f


def test_money_has_symbol_separators_and_cents() -> None:
    assert f.money(Decimal("12400"), "usd") == "$12,400.00"
    assert f.money(Decimal("1234567.891"), "eur") == "€1,234,567.89"
    assert f.money(Decimal("-310.505"), "gbp") == "-£310.51"  # half up, once
    assert f.money(Decimal("-0.001"), "usd") == "$0.00"  # no negative zero
    assert f.money(Decimal("1500"), "jpy") == "¥1,500"
    assert f.money(Decimal("99.5"), "xyz") == "XYZ 99.50"
    assert f.money(None, "usd") == "n/a"


def test_compact_money_drops_only_zero_cents() -> None:
    assert f.money(Decimal("12400.00"), "usd", compact=True) == "$12,400"
    assert f.money(Decimal("12400.50"), "usd", compact=True) == "$12,400.50"


def test_percentages_have_one_decimal() -> None:
    assert f.pct(0.04123) == "4.1%"
    assert f.pct(-0.2) == "-20.0%"
    assert f.pct(0.0412, signed=True) == "+4.1%"
    assert f.pct(0, signed=True) == "0.0%"
    assert f.pct(None) == "n/a"


def test_scores_dates_hours_and_plurals() -> None:
    assert f.score(33.333) == "33" and f.score(5, signed=True) == "+5" and f.score(None) == "n/a"
    assert f.long_date(date(2024, 3, 31)) == "31 March 2024"
    assert f.short_date(date(2024, 3, 1)) == "1 Mar 2024"
    assert f.hours(0.5) == "30 min" and f.hours(3) == "3 h" and f.hours(5.25) == "5.2 h"
    assert f.hours(240) == "10.0 days" and f.hours(None) == "n/a"
    assert f.plural(0, "ticket") == "no tickets" and f.plural(1, "ticket") == "1 ticket"
    assert f.plural(1200, "reply", "replies") == "1,200 replies"
    assert f.money_short(12400, "usd") == "$12k" and f.money_short(1500, "usd") == "$1.5k"
    assert f.money_short(2_000_000, "eur") == "€2M" and f.money_short(950, "usd") == "$950"
