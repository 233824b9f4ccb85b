"""Raw text rows → typed staging rows plus quarantine rows.

The contract (pipeline.contract) is the only description of what a valid row is: this
module turns each column's kind, codes, bounds and references into vectorised Polars
expressions, so adding a column to the contract validates it without new code. A row
that breaks any rule is kept out of staging and written to quarantine once per broken
value, with the file, row, column, value and a reason a person can act on.

Bookkeeping that always holds: rows_in = rows_staged + rows_quarantined + rows_superseded,
where superseded rows are older versions of a key (an earlier file, or an identical
repeat in the same file) replaced by a later one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from pipeline.contract import Column, Kind, Source
from pipeline.schemas import MONEY, NUMBER, QUARANTINE, TIMESTAMP, staging_schema
from pipeline.transforms.matching import PROBLEM

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

EMAIL_RE = r"^[^@\s;,<>()\[\]\"']+@[^@\s;,<>()\[\]\"']+\.[A-Za-z]{2,}$"
DECIMAL_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"
INTEGER_RE = r"^[+-]?\d+$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
MONTH_RE = r"^\d{4}-\d{2}$"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
LISTED_CODES = 8  # a longer list of codes is named by its description in a reason
MAX_ABS_AMOUNT = 10**13  # DECIMAL(18,4) holds 14 integer digits; keep a margin for sums


@dataclass(frozen=True)
class StagedResult:
    frame: pl.DataFrame
    rejects: pl.DataFrame
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    rows_superseded: int
    # True when staging was left as it was because its inputs had not changed. From
    # ``stage_source`` ``frame`` is the staged rows; from the warehouse's
    # ``pipeline.store.staging.stage``, which writes them to the table, it holds only the
    # key columns of stored rows whose key repeats (none, normally).
    skipped: bool = False


def _humane_list(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _clean_text(col: str) -> pl.Expr:
    """Trim, and treat an empty value as missing."""
    s = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _shown(e: pl.Expr, width: int = 60) -> pl.Expr:
    """A value quoted in a reason, cut short (the whole value is in the quarantine row)."""
    return pl.when(e.str.len_chars() > width).then(e.str.slice(0, width - 3) + "...").otherwise(e)


# The forms a timestamp may take, most common first. No text fits two of them, so the
# order changes nothing but speed; each form is tried only on the values no earlier
# form could read, one parse per value instead of five.
_TIMESTAMP_FORMS = (
    lambda n: n.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC"),
    lambda n: n.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC"),
    lambda n: n.str.to_datetime("%Y-%m-%dT%H:%M%:z", strict=False, time_zone="UTC"),
    lambda n: n.str.to_datetime("%Y-%m-%dT%H:%M", strict=False).dt.replace_time_zone("UTC"),
    lambda n: _date_only(n).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
)


def _date_only(n: pl.Series) -> pl.Series:
    """A bare YYYY-MM-DD (midnight UTC); anything else stays unread."""
    return pl.select(
        pl.when(pl.lit(n).str.contains(DATE_RE)).then(pl.lit(n).str.to_date("%Y-%m-%d", strict=False))
    ).to_series()


def _fill_unread(out: pl.Series, n: pl.Series, read) -> pl.Series:
    """``out`` with ``read`` applied to the texts it has no timestamp for, and only those."""
    todo = (out.is_null() & n.is_not_null()).arg_true()
    if todo.is_empty():
        return out
    return out.scatter(todo, read(n.gather(todo)).cast(TIMESTAMP))


def _read_forms(n: pl.Series) -> pl.Series:
    out = _TIMESTAMP_FORMS[0](n).cast(TIMESTAMP)
    for form in _TIMESTAMP_FORMS[1:]:
        out = _fill_unread(out, n, form)
    return out


def _parse_timestamp_series(text: pl.Series) -> pl.Series:
    """ISO 8601 with or without an offset (none = UTC), with T or space, optional seconds."""
    n = text.str.replace(r"[Zz]$", "+00:00")
    # A space for the T is rare: only the values no form could read are tried with a T.
    return _fill_unread(
        _read_forms(n), n, lambda rest: _read_forms(rest.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T"))
    )


def _parse_timestamp(e: pl.Expr) -> pl.Expr:
    return e.map_batches(_parse_timestamp_series, return_dtype=TIMESTAMP)


def _v(name: str) -> str:
    """The name of a column's typed value while staging (the text keeps the plain name)."""
    return f"__v_{name}"


def _typed(column: Column, parsed: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(typed value, reason-if-unparseable) for one column.

    The value is computed from the cleaned text; the reason reads ``parsed`` (the value
    once computed) so nothing is parsed twice."""
    c = pl.col(column.name)
    k = column.kind
    bad: pl.Expr
    if k in (Kind.TEXT,):
        return c, pl.lit(None, pl.String)
    if k == Kind.CODE:
        v = c.str.to_lowercase()
        if column.codes:
            expected = _humane_list(column.codes)
            if len(column.codes) > LISTED_CODES and column.description:
                expected = f"{column.description}, like {_humane_list(column.codes[:3])}"
            bad = pl.when(c.is_not_null() & ~parsed.is_in(list(column.codes))).then(
                pl.format(
                    "unknown {} '{}' (expected {})",
                    pl.lit(column.name),
                    _shown(c),
                    pl.lit(expected),
                )
            )
        else:
            bad = pl.lit(None, pl.String)
        return v, bad
    if k == Kind.CURRENCY:
        v = c.str.to_lowercase()
        bad = pl.when(c.is_not_null() & ~parsed.str.contains(r"^[a-z]{3}$")).then(
            pl.lit("not a three-letter ISO 4217 currency code (like USD or EUR)")
        )
        return v, bad
    if k == Kind.DATE:
        v = pl.when(c.str.contains(DATE_RE)).then(c.str.to_date("%Y-%m-%d", strict=False))
        bad = (
            pl.when(c.is_not_null() & parsed.is_null())
            .then(pl.lit("not a valid date in YYYY-MM-DD form"))
            .when(parsed.is_not_null() & ((parsed < EARLIEST) | (parsed > LATEST)))
            .then(pl.lit("date is outside 1900-01-01 .. 2199-12-31"))
        )
        return v, bad
    if k == Kind.MONTH:
        v = (
            pl.when(c.str.contains(MONTH_RE))
            .then((c + "-01").str.to_date("%Y-%m-%d", strict=False))
            .when(c.str.contains(DATE_RE))
            .then(c.str.to_date("%Y-%m-%d", strict=False).dt.month_start())
        )
        bad = (
            pl.when(c.is_not_null() & parsed.is_null())
            .then(pl.lit("not a valid month in YYYY-MM form"))
            .when(parsed.is_not_null() & ((parsed < EARLIEST) | (parsed > LATEST)))
            .then(pl.lit("month is outside 1900-01 .. 2199-12"))
        )
        return v, bad
    if k == Kind.TIMESTAMP:
        v = _parse_timestamp(c)
        bad = (
            pl.when(c.is_not_null() & parsed.is_null())
            .then(pl.lit("not a valid ISO 8601 timestamp (like 2024-03-05T14:30:00Z)"))
            .when(parsed.is_not_null() & ((parsed.dt.date() < EARLIEST) | (parsed.dt.date() > LATEST)))
            .then(pl.lit("timestamp is outside 1900-01-01 .. 2199-12-31"))
        )
        return v, bad
    if k in (Kind.MONEY, Kind.NUMBER):
        dtype = MONEY if k == Kind.MONEY else NUMBER
        ok = c.str.contains(DECIMAL_RE)
        f = pl.when(ok).then(c.cast(pl.Float64, strict=False))
        v = pl.when(ok & (f.abs() < MAX_ABS_AMOUNT)).then(c.cast(dtype, strict=False))
        bad = (
            pl.when(c.is_not_null() & ~ok)
            .then(
                pl.lit("not a number (write digits with a dot for decimals, no thousands separators or currency signs)")
            )
            .when(c.is_not_null() & parsed.is_null())
            .then(pl.lit("number is too large"))
        )
        return v, bad
    if k == Kind.INTEGER:
        ok = c.str.contains(INTEGER_RE)
        v = pl.when(ok).then(c.cast(pl.Int64, strict=False))
        bad = pl.when(c.is_not_null() & parsed.is_null()).then(pl.lit("not a whole number"))
        return v, bad
    if k == Kind.BOOLEAN:
        low = c.str.to_lowercase()
        v = pl.when(low.is_in(TRUE_WORDS)).then(True).when(low.is_in(FALSE_WORDS)).then(False)
        bad = pl.when(c.is_not_null() & parsed.is_null()).then(pl.lit("not true or false"))
        return v.cast(pl.Boolean), bad
    if k == Kind.EMAIL:
        bad = pl.when(c.is_not_null() & ~c.str.contains(EMAIL_RE)).then(pl.lit("not an e-mail address"))
        return c, bad
    if k == Kind.EMAIL_LIST:
        parts = (
            c.str.split(";")
            .list.eval(pl.element().str.strip_chars())
            .list.eval(pl.element().filter(pl.element() != ""))
        )
        all_ok = parts.list.eval(pl.element().str.contains(EMAIL_RE)).list.all()
        has_break = c.str.contains(r"[\r\n]")
        v = parts.list.join(";")
        bad = (
            pl.when(c.is_not_null() & has_break)
            .then(pl.lit("line break inside the recipient list (possible header injection)"))
            .when(c.is_not_null() & ~all_ok)
            .then(pl.lit("not a list of e-mail addresses separated by ';'"))
        )
        return v, bad
    raise AssertionError(f"unhandled kind {k}")  # pragma: no cover


def _bounds_reason(column: Column, typed: pl.Expr) -> pl.Expr | None:
    if column.min_value is None and column.max_value is None:
        return None
    f = typed.cast(pl.Float64)
    expr: Then | ChainedThen = pl.when(pl.lit(False)).then(pl.lit(None, pl.String))
    if column.min_value is not None:
        expr = expr.when(f < column.min_value).then(pl.lit(f"must be at least {column.min_value:g}"))
    if column.max_value is not None:
        expr = expr.when(f > column.max_value).then(pl.lit(f"must be at most {column.max_value:g}"))
    return expr


def _row_rules(source: Source, col=pl.col) -> list[tuple[str, pl.Expr]]:
    """Rules across columns, as (column to blame, reason-or-null) on typed values.

    ``col(name)`` is the expression for a column's typed value."""
    rules: list[tuple[str, pl.Expr]] = []
    for rule in source.row_rules:
        if rule == "end_after_start":
            rules.append(
                (
                    "end_date",
                    pl.when(col("end_date") <= col("start_date")).then(
                        pl.lit("end_date is on or before start_date (it must be the first day no longer active)")
                    ),
                )
            )
        elif rule == "due_not_before_issued":
            rules.append(
                (
                    "due_on",
                    pl.when(col("due_on") < col("issued_on")).then(pl.lit("due_on is before issued_on")),
                )
            )
        elif rule == "resolved_after_opened":
            rules.append(
                (
                    "resolved_at",
                    pl.when(col("resolved_at") < col("opened_at")).then(pl.lit("resolved_at is before opened_at")),
                )
            )
            rules.append(
                (
                    "first_response_at",
                    pl.when(col("first_response_at") < col("opened_at")).then(
                        pl.lit("first_response_at is before opened_at")
                    ),
                )
            )
        elif rule == "due_not_before_start":
            rules.append(
                (
                    "due_month",
                    pl.when(col("due_month") < col("start_month")).then(pl.lit("due_month is before start_month")),
                )
            )
        elif rule == "score_in_survey_range":
            rules.append(
                (
                    "score",
                    pl.when((col("survey_type") == "csat") & ((col("score") < 1) | (col("score") > 5))).then(
                        pl.lit("a csat score must be 1 to 5")
                    ),
                )
            )
        elif rule == "rate_positive":
            rules.append(
                (
                    "rate",
                    pl.when(col("rate").cast(pl.Float64) <= 0).then(pl.lit("an exchange rate must be greater than 0")),
                )
            )
        else:  # pragma: no cover - the contract names only the rules above
            raise AssertionError(f"unknown row rule {rule}")
    return rules


def _key_expr(source: Source) -> pl.Expr:
    return pl.concat_str([pl.col(k).cast(pl.String) for k in source.key], separator="|")


@dataclass(frozen=True)
class Judged:
    """One batch of raw rows judged row by row: what passed, what broke which rule."""

    valid: pl.DataFrame  # _i, _file, _row, _loaded_at, the contract columns typed per the schema, _key
    problems: pl.DataFrame  # _i, column, reason: one row per broken value
    text: pl.DataFrame  # the cleaned text of every row (for the values quoted in quarantine)

    @property
    def rows_flagged(self) -> int:
        return self.problems.select("_i").n_unique()


def clean_rows(source: Source, raw: pl.DataFrame) -> pl.DataFrame:
    """Raw rows as trimmed text (empty = missing, defaults filled), with their lineage.

    ``_i`` identifies a row: the raw frame's own ``_i`` when it has one (the warehouse
    passes each row's rowid, so batches never collide), else its position."""
    origin = pl.col("_origin") if "_origin" in raw.columns else pl.lit(None, pl.String)
    account_problem = pl.col(PROBLEM) if PROBLEM in raw.columns else pl.lit(None, pl.String)
    text = raw.select(
        ([pl.col("_i").cast(pl.UInt64)] if "_i" in raw.columns else [])
        + [
            pl.col("_file"),
            pl.col("_row").cast(pl.Int64),
            pl.col("_loaded_at").cast(TIMESTAMP),
            origin.cast(pl.String).alias("_origin"),
            account_problem.cast(pl.String).alias(PROBLEM),
        ]
        + [
            (_clean_text(c.name).fill_null(c.default) if c.default is not None else _clean_text(c.name)).alias(c.name)
            for c in source.columns
        ]
    )
    return text if "_i" in text.columns else text.with_row_index("_i").with_columns(pl.col("_i").cast(pl.UInt64))


def judge_rows(source: Source, raw: pl.DataFrame, known_keys: Mapping[str, pl.Series] | None = None) -> Judged:
    """Type and validate raw rows one by one: every rule that needs no other row.

    Rows of one batch are judged exactly as they would be among all rows, so the
    warehouse can stage a large source batch by batch and settle the versions of each
    key (which needs every row) afterwards."""
    known_keys = known_keys or {}
    names = list(source.column_names)
    text = clean_rows(source, raw)

    # Each column is parsed once into "__v_<name>"; the reasons read the parsed column
    # instead of parsing again.
    typed_exprs: list[pl.Expr] = []
    reason_exprs: list[tuple[str, pl.Expr]] = []
    for column in source.columns:
        value, bad = _typed(column, pl.col(_v(column.name)))
        typed_exprs.append(value.alias(_v(column.name)))
        required = (
            pl.when(pl.col(column.name).is_null()).then(pl.lit("missing required value"))
            if column.required and column.default is None
            else pl.lit(None, pl.String)
        )
        if column.name == "account_id":
            required = pl.coalesce(pl.col(PROBLEM), required)
        reason_exprs.append((column.name, pl.coalesce(required, bad)))
    both = text.with_columns(typed_exprs)

    # Bounds, row rules and references are judged on typed values.
    later: list[tuple[str, pl.Expr]] = []
    for column in source.columns:
        b = _bounds_reason(column, pl.col(_v(column.name)))
        if b is not None:
            later.append((column.name, b))
        if column.references:
            ref = known_keys.get(column.references)
            if ref is not None:
                ref_source, ref_col = column.references.split(".")
                later.append(
                    (
                        column.name,
                        pl.when(
                            pl.col(_v(column.name)).is_not_null()
                            & ~pl.col(_v(column.name)).is_in(ref.implode())
                            & pl.col(PROBLEM).is_null()
                        ).then(
                            pl.format(
                                "unknown {} '{}' (not in the valid {} rows)",
                                pl.lit(ref_col.replace("_id", "").replace("_", " ")),
                                _shown(pl.col(_v(column.name))),
                                pl.lit(ref_source),
                            )
                        ),
                    )
                )
    later.extend(_row_rules(source, lambda n: pl.col(_v(n))))

    reasons = [expr.alias(f"__why{n}_{name}") for n, (name, expr) in enumerate(reason_exprs + later)]
    judged = both.select(pl.col("_i"), *reasons)
    # Only rows with a problem are unpivoted: a clean file costs one pass, not one row per value.
    flagged = judged.filter(pl.any_horizontal(pl.all().exclude("_i").is_not_null()))
    problems = (
        flagged.unpivot(index="_i", variable_name="_what", value_name="reason")
        .filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("_what").str.replace(r"^__why\d+_", "").alias("column"))
        .select("_i", "column", "reason")
    )
    schema = staging_schema(source)
    valid = (
        both.join(flagged.select("_i"), on="_i", how="anti")
        .select(
            "_i",
            "_file",
            "_row",
            "_loaded_at",
            *[pl.col(_v(name)).cast(schema[name]).alias(name) for name in names],
        )
        .with_columns(_key_expr(source).alias("_key"))
    )
    return Judged(valid, problems, text)


def conflicting_repeats(source: Source, valid: pl.DataFrame) -> pl.DataFrame:
    """Same key twice in one file with different values: nobody can tell which is right.

    Returns problem rows (``_i``, ``column``, ``reason``) for every row of such a key in
    that file. (The warehouse finds the same rows in SQL: ``sql/ops/staging_conflicts``.)"""
    names = list(source.column_names)
    repeated = valid.filter(pl.struct("_file", "_key").is_duplicated())
    empty = pl.DataFrame(schema={"_i": pl.UInt64, "column": pl.String, "reason": pl.String})
    if not repeated.height:
        return empty
    repeated = repeated.with_columns(pl.struct(names).hash().alias("_hash"))
    conflicts = (
        repeated.group_by("_file", "_key")
        .agg(pl.col("_hash").n_unique().alias("_versions"), pl.col("_row").sort().alias("_rows"))
        .filter(pl.col("_versions") > 1)
    )
    return (
        repeated.join(conflicts, on=["_file", "_key"])
        .select(
            "_i",
            pl.lit(", ".join(source.key)).alias("column"),
            conflict_reason(pl.col("_rows").cast(pl.List(pl.String)).list.join(", ")).alias("reason"),
        )
        .cast(empty.schema)
    )


def conflict_reason(rows: pl.Expr) -> pl.Expr:
    """The reason of a conflicting repeat, from the text listing its rows ("3, 7")."""
    return pl.format("duplicate key in this file with conflicting values (rows {})", rows)


def latest_versions(source: Source, valid: pl.DataFrame) -> pl.DataFrame:
    """The latest version of each key (by load time, then file, then row), sorted by key,
    as the staging schema. (The warehouse does the same in SQL: ``sql/ops/staging_latest``.)"""
    if valid["_key"].is_duplicated().any():
        valid = valid.sort("_loaded_at", "_file", "_row").unique(subset="_key", keep="last", maintain_order=True)
    schema = staging_schema(source)
    return valid.sort("_key").select(list(schema.names())).cast(schema)


def reject_rows(source: Source, problems: pl.DataFrame, text: pl.DataFrame) -> pl.DataFrame:
    """Quarantine rows (QUARANTINE) for problems (``_i``, ``column``, ``reason``), quoting
    each broken value from the cleaned text; a vendor export's value is named by the
    export's own header."""
    names = list(source.column_names)
    value_cols = {name: pl.col(name) for name in names}
    return (
        # Renamed first: a source may have columns called "column" or "reason".
        problems.rename({"column": "_column", "reason": "_reason"})
        .join(text, on="_i")
        .with_columns(
            pl.coalesce(
                [pl.when(pl.col("_column") == name).then(expr.cast(pl.String)) for name, expr in value_cols.items()]
            ).alias("value"),
            _key_expr(source).alias("record_key"),
            pl.coalesce(
                [
                    pl.when(pl.col("_column") == name).then(pl.col("_origin").str.json_path_match(f"$.{name}"))
                    for name in names
                ]
            ).alias("_header"),
        )
        .select(
            pl.lit(source.name).alias("source"),
            pl.lit("staging").alias("stage"),
            pl.col("_file").alias("file"),
            pl.col("_row").alias("row"),
            pl.coalesce(pl.col("_header"), pl.col("_column")).alias("column"),
            pl.col("value").str.slice(0, 500),
            pl.col("_reason").alias("reason"),
            pl.col("record_key").str.slice(0, 200),
            pl.col("_loaded_at").alias("loaded_at"),
        )
        .sort("file", "row", "column")
        .cast(QUARANTINE)
    )


def stage_source(
    source: Source,
    raw: pl.DataFrame,
    known_keys: Mapping[str, pl.Series] | None = None,
) -> StagedResult:
    """Validate and type one source's raw rows (all files), keeping the latest version per key.

    ``raw`` has the contract columns as text plus ``_file``, ``_row`` and ``_loaded_at``.
    ``known_keys`` maps a reference like ``"accounts.account_id"`` to the staged values a
    column must be found in. (The warehouse stages a large source batch by batch with the
    same pieces: ``pipeline.store.staging.stage``.)
    """
    schema = staging_schema(source)
    rows_in = raw.height
    if rows_in == 0:
        return StagedResult(pl.DataFrame(schema=schema), pl.DataFrame(schema=QUARANTINE), 0, 0, 0, 0)
    judged = judge_rows(source, raw, known_keys)
    conflicts = conflicting_repeats(source, judged.valid)
    valid = judged.valid.join(conflicts.select("_i"), on="_i", how="anti") if conflicts.height else judged.valid
    frame = latest_versions(source, valid)
    return StagedResult(
        frame=frame,
        rejects=reject_rows(source, pl.concat([judged.problems, conflicts]), judged.text),
        rows_in=rows_in,
        rows_staged=frame.height,
        rows_quarantined=judged.rows_flagged + conflicts.height,
        rows_superseded=valid.height - frame.height,
    )
