"""Currency conversion into the reporting currency, with missing rates made visible.

docs/metrics.md: "converted" means with the latest rate dated on or before the named date,
and a rate that does not exist is a data-quality error, never a silent 1.0. So
`convert` splits its input in two: the rows it could convert, and the rows it could
not, which the caller reports in `ops.quarantine` (see `missing_rate_quarantine`) and
leaves out of every sum.

Rounding: a converted amount is amount × rate computed exactly (Decimal), then rounded
once to 4 decimal places, half away from zero, and stored as Decimal(18,4). Sums of
converted amounts are exact from there on, so a month total equals the sum of the
converted records to the cent. Amounts already in the reporting currency are not
touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipeline.schemas import MONEY, NUMBER, QUARANTINE

# Wide enough that amount (scale 4) × rate (scale 6) is exact before the one rounding.
_EXACT = pl.Decimal(38, 10)
_IDX = "_fx_idx"
_CUR = "_fx_currency"
_RATE = "_fx_rate"
_RATE_DATE = "_fx_date"


def _rates(fx_rates: pl.DataFrame, reporting: str) -> pl.DataFrame:
    return (
        fx_rates.select(
            pl.col("currency").str.to_lowercase().alias(_CUR),
            pl.col("date").alias(_RATE_DATE),
            pl.col("rate").cast(NUMBER).alias(_RATE),
        )
        .filter(pl.col(_CUR) != reporting, pl.col(_RATE_DATE).is_not_null())
        .sort(_RATE_DATE)
    )


def convert(
    frame: pl.DataFrame,
    amount_columns: Sequence[str],
    currency_column: str,
    date_column: str,
    fx_rates: pl.DataFrame,
    reporting_currency: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Amounts into the reporting currency at the rate in force on `date_column`.

    Returns (converted, missing): `converted` has the same columns and row order as
    `frame` minus the rows without a rate, with `amount_columns` as Decimal(18,4) in
    the reporting currency; `missing` holds the untouched rows that have no rate dated
    on or before their date (or no currency or date at all). Together they are
    exactly the input rows.
    """
    reporting = reporting_currency.lower()
    columns = frame.columns
    work = frame.with_row_index(_IDX).with_columns(pl.col(currency_column).str.to_lowercase().alias(_CUR))
    home = work.filter(pl.col(_CUR) == reporting).with_columns(pl.col(c).cast(MONEY) for c in amount_columns)
    foreign = work.filter((pl.col(_CUR) != reporting) | pl.col(_CUR).is_null())
    undated = foreign.filter(pl.col(date_column).is_null() | pl.col(_CUR).is_null())
    matched = (
        foreign.filter(pl.col(date_column).is_not_null(), pl.col(_CUR).is_not_null())
        .sort(date_column)
        .join_asof(
            _rates(fx_rates, reporting),
            left_on=date_column,
            right_on=_RATE_DATE,
            by=_CUR,
            strategy="backward",
            check_sortedness=False,
        )
    )
    found = matched.filter(pl.col(_RATE).is_not_null()).with_columns(
        (pl.col(c).cast(_EXACT) * pl.col(_RATE)).round(4, mode="half_away_from_zero").cast(MONEY).alias(c)
        for c in amount_columns
    )
    converted = pl.concat([home.select(_IDX, *columns), found.select(_IDX, *columns)]).sort(_IDX).drop(_IDX)
    missing = (
        pl.concat(
            [
                matched.filter(pl.col(_RATE).is_null()).select(_IDX, *columns),
                undated.select(_IDX, *columns),
            ]
        )
        .sort(_IDX)
        .drop(_IDX)
    )
    return converted, missing


def missing_rate_quarantine(
    missing: pl.DataFrame,
    *,
    source: str,
    key_columns: Sequence[str],
    currency_column: str,
    date_column: str,
    fx_rates: pl.DataFrame,
) -> pl.DataFrame:
    """QUARANTINE rows (stage "marts") for records `convert` could not convert.

    The reason names the currency, the date that needed a rate and the first rate on
    file, so the operator knows which row to add to billing/fx_rates.
    """
    first_rates = fx_rates.group_by(pl.col("currency").str.to_lowercase().alias(_CUR)).agg(
        pl.col("date").min().alias("_first_rate")
    )
    lineage = {
        "_file": pl.String(),
        "_row": pl.Int64(),
        "_loaded_at": QUARANTINE["loaded_at"],
    }
    rows = missing.with_columns(
        pl.lit(None, dtype).alias(name) for name, dtype in lineage.items() if name not in missing
    ).with_columns(pl.col(currency_column).str.to_lowercase().alias(_CUR))
    cur, day, first = pl.col(_CUR), pl.col(date_column), pl.col("_first_rate")
    reason = (
        pl.when(cur.is_null())
        .then(pl.lit("the currency is empty, so the amount cannot be converted; fill it in"))
        .when(day.is_null())
        .then(pl.format("the {} amount has no date to pick an exchange rate by", cur))
        .when(first.is_null())
        .then(
            pl.format(
                "no {} exchange rate on or before {} (billing/fx_rates has no {} rate at all); "
                "add it to billing/fx_rates",
                cur,
                day,
                cur,
            )
        )
        .otherwise(
            pl.format(
                "no {} exchange rate on or before {} (the first {} rate is dated {}); add it to billing/fx_rates",
                cur,
                day,
                cur,
                first,
            )
        )
    )
    return (
        rows.join(first_rates, on=_CUR, how="left", maintain_order="left")
        .select(
            pl.lit(source).alias("source"),
            pl.lit("marts").alias("stage"),
            pl.col("_file").alias("file"),
            pl.col("_row").alias("row"),
            pl.lit(currency_column).alias("column"),
            cur.alias("value"),
            reason.alias("reason"),
            pl.concat_str([pl.col(k).cast(pl.String) for k in key_columns], separator="|").alias("record_key"),
            pl.col("_loaded_at").alias("loaded_at"),
        )
        .cast(QUARANTINE)
    )


def convert_or_quarantine(
    frame: pl.DataFrame,
    *,
    source: str,
    key_columns: Sequence[str],
    amount_columns: Sequence[str],
    currency_column: str,
    date_column: str,
    fx_rates: pl.DataFrame,
    reporting_currency: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`convert`, with the unconvertible rows already turned into QUARANTINE rows."""
    converted, missing = convert(frame, amount_columns, currency_column, date_column, fx_rates, reporting_currency)
    rejects = missing_rate_quarantine(
        missing,
        source=source,
        key_columns=key_columns,
        currency_column=currency_column,
        date_column=date_column,
        fx_rates=fx_rates,
    )
    return converted, rejects
