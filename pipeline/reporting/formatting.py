"""Presentation of numbers, money, dates and durations: the one place rounding happens.

Every function accepts ``None`` and returns ``n/a`` for it, so a template never has to
test for missing values. Money is ``Decimal`` (or anything ``Decimal(str(x))`` takes);
it is rounded half-up once, here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pipeline.reporting.periods import MONTH_NAMES

NA = "n/a"

# Symbol placed before the amount, and the number of minor-unit decimals.
CURRENCIES: dict[str, tuple[str, int]] = {
    "usd": ("$", 2),
    "eur": ("€", 2),
    "gbp": ("£", 2),
    "jpy": ("¥", 0),
    "cny": ("CN¥", 2),
    "inr": ("₹", 2),
    "cad": ("CA$", 2),
    "aud": ("A$", 2),
    "nzd": ("NZ$", 2),
    "chf": ("CHF ", 2),
    "sek": ("SEK ", 2),
    "nok": ("NOK ", 2),
    "dkk": ("DKK ", 2),
    "pln": ("PLN ", 2),
    "brl": ("R$", 2),
    "mxn": ("MX$", 2),
    "sgd": ("SGD ", 2),
    "hkd": ("HK$", 2),
    "krw": ("₩", 0),
    "zar": ("R ", 2),
}


def currency_symbol(currency: str) -> str:
    return CURRENCIES.get(currency.lower(), (currency.upper() + " ", 2))[0]


def currency_decimals(currency: str) -> int:
    return CURRENCIES.get(currency.lower(), ("", 2))[1]


def to_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _group(digits: str) -> str:
    """'1234567' -> '1,234,567'."""
    out = []
    for i, ch in enumerate(reversed(digits)):
        if i and i % 3 == 0:
            out.append(",")
        out.append(ch)
    return "".join(reversed(out))


def _fixed(value: Decimal, decimals: int) -> str:
    q = Decimal(1).scaleb(-decimals)
    rounded = value.quantize(q, rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    text = f"{abs(rounded):.{decimals}f}"
    whole, _, frac = text.partition(".")
    return sign + _group(whole) + (f".{frac}" if decimals else "")


def money(value: Any, currency: str, decimals: int | None = None, compact: bool = False) -> str:
    """``$12,400.00``; ``-$310.50``; with compact=True whole units when there are no cents."""
    d = to_decimal(value)
    if d is None:
        return NA
    places = currency_decimals(currency) if decimals is None else decimals
    if compact and d == d.to_integral_value():
        places = 0
    text = _fixed(abs(d), places)
    sign = "-" if d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP) < 0 else ""
    return f"{sign}{currency_symbol(currency)}{text}"


def money_short(value: Any, currency: str) -> str:
    """Axis labels and tiles: ``$12.4k``, ``$1.2M``, ``$950``."""
    d = to_decimal(value)
    if d is None:
        return NA
    f = float(d)
    sym = currency_symbol(currency)
    sign = "-" if f < 0 else ""
    a = abs(f)
    if a >= 1_000_000:
        return f"{sign}{sym}{a / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 10_000:
        return f"{sign}{sym}{a / 1_000:.0f}k"
    if a >= 1_000:
        return f"{sign}{sym}{a / 1_000:.1f}k".replace(".0k", "k")
    return f"{sign}{sym}{a:.0f}"


def number(value: Any, decimals: int = 0) -> str:
    d = to_decimal(value)
    if d is None:
        return NA
    return _fixed(d, decimals)


def pct(ratio: Any, decimals: int = 1, signed: bool = False) -> str:
    """A ratio as a percentage: 0.0412 -> ``4.1%`` (``+4.1%`` when signed)."""
    d = to_decimal(ratio)
    if d is None:
        return NA
    text = _fixed(d * 100, decimals)
    if signed and not text.startswith("-") and Decimal(text.replace(",", "")) != 0:
        text = "+" + text
    return text + "%"


def score(value: Any, decimals: int = 0, signed: bool = False) -> str:
    """A score already on its own scale (NPS -100..100, CSAT %): ``42`` or ``+5``."""
    d = to_decimal(value)
    if d is None:
        return NA
    text = _fixed(d, decimals)
    if signed and not text.startswith("-") and Decimal(text.replace(",", "")) != 0:
        text = "+" + text
    return text


def long_date(value: date | datetime | None) -> str:
    """``31 March 2024``."""
    if value is None:
        return NA
    return f"{value.day} {MONTH_NAMES[value.month - 1]} {value.year}"


def short_date(value: date | datetime | None) -> str:
    """``31 Mar 2024``."""
    if value is None:
        return NA
    return f"{value.day} {MONTH_NAMES[value.month - 1][:3]} {value.year}"


def month_label(value: date | None, with_year: bool = True) -> str:
    """``Mar 2024`` (or ``Mar``)."""
    if value is None:
        return NA
    return MONTH_NAMES[value.month - 1][:3] + (f" {value.year}" if with_year else "")


def hours(value: Any) -> str:
    """A duration in hours for people: ``45 min``, ``5.5 h``, ``3.2 days``."""
    d = to_decimal(value)
    if d is None:
        return NA
    h = float(d)
    if h < 1:
        return f"{round(h * 60):.0f} min"
    if h < 48:
        return f"{h:.1f} h".replace(".0 h", " h")
    return f"{h / 24:.1f} days"


def plural(n: int | None, one: str, many: str | None = None) -> str:
    """``1 ticket``, ``3 tickets``, ``no tickets``."""
    many = many or one + "s"
    if not n:
        return f"no {many}"
    return f"{number(n)} {one if n == 1 else many}"


# Control characters left after whitespace is collapsed (NUL, BEL, ESC, DEL, C1) are
# invisible and not valid in HTML text or PDF metadata; bidi embeddings, overrides and
# isolates (U+202A-E, U+2066-9) would reorder the report's own text around the value
# ("invoice<U+202E>gpj.exe"). Data shown to a person drops them (RTL scripts need none).
_CONTROL = dict.fromkeys([*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def shown_text(value: Any, limit: int | None = None) -> str:
    """Data shown to a person: a plain string, whitespace collapsed, control and bidi
    override characters dropped, optionally cut."""
    s = " ".join(str(value).split()).translate(_CONTROL) if value is not None else ""
    if limit is not None and len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return s
