"""The bad-input corpus of tests/reliability/test_bad_input.py, derived from the contract.

Everything here is built from ``pipeline.contract.SOURCES``: valid rows per source (so a
column added to the contract is covered without touching this file), the fixed set of
broken files (``FILE_CASES``) and broken values (``row_cases``), hypothesis strategies
for generated files, and independent checks of the bookkeeping (every raw row is staged,
quarantined or superseded by a later version, never two of them and never none).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
from hypothesis import strategies as st

from pipeline.contract import SOURCES, Column, Kind, Source
from pipeline.landing import LandingFile, file_sha256

N_BASE = 100  # base files hold keys <prefix>0 .. <prefix>99 of every source
PREFIX = {"accounts": "RXA", "account_managers": "RXM", "invoices": "RXI"}
BASE_DAY = date(2024, 1, 1)
LATER_IN_A_RULE = {"end_date", "due_on", "resolved_at", "first_response_at", "due_month"}
# Words that mean a Python error leaked into an operator-facing text.
LEAK_MARKERS = ("Traceback", 'File "', "Error:", "Exception", "polars.", "duckdb.", "pyarrow", "panicked")


def key_prefix(source: Source) -> str:
    return PREFIX.get(source.name, "RX" + source.name[:3].upper())


def ref_prefix(column: Column) -> str:
    return PREFIX[column.references.split(".")[0]]


# ------------------------------------------------------------------ valid rows


def valid_value(source: Source, column: Column, i: int) -> str:
    """A value of ``column`` that satisfies the contract in row ``i`` (keys unique per i).

    Dates grow with the column's position, so every "later" column of a row rule (end
    after start, due after issued, resolved after opened) is later.
    """
    pos = source.column_names.index(column.name)
    is_key = column.name in source.key
    day = BASE_DAY + timedelta(days=10 * pos + (i if is_key else 0))
    k = column.kind
    if column.references:
        return f"{ref_prefix(column)}{i % N_BASE}"
    if k == Kind.TEXT:
        if is_key:
            return f"{key_prefix(source)}{i}"
        return "" if column.name.endswith("_id") else f"{column.name} {i}"
    if k == Kind.CODE:
        return column.codes[i % len(column.codes)] if column.codes else "open"
    if k == Kind.CURRENCY:
        return "usd" if not is_key else ("eur", "gbp", "chf", "jpy")[i % 4]
    if k == Kind.DATE:
        return day.isoformat()
    if k == Kind.MONTH:
        return day.strftime("%Y-%m")
    if k == Kind.TIMESTAMP:
        return f"{day.isoformat()}T10:00:00Z"
    if k == Kind.MONEY:
        return f"{100 + i}.50"
    if k == Kind.NUMBER:
        return "1.25"
    if k == Kind.INTEGER:
        return "4"  # a valid nps and a valid csat
    if k == Kind.BOOLEAN:
        return "true"
    if k == Kind.EMAIL:
        return f"person{i}@example.com"
    if k == Kind.EMAIL_LIST:
        return f"a{i}@example.com;b{i}@example.com"
    raise AssertionError(k)


def valid_row(source: Source, i: int) -> dict[str, str]:
    return {c.name: valid_value(source, c, i) for c in source.columns}


def other_valid_value(column: Column, value: str) -> str:
    """Another valid value of a non-key column (for conflicting duplicates)."""
    if column.kind == Kind.CODE and column.codes:
        return column.codes[(column.codes.index(value) + 1) % len(column.codes)]
    if column.kind in (Kind.MONEY, Kind.NUMBER):
        return "7.75"
    return value + " v2"


def conflict_column(source: Source) -> Column:
    for c in source.columns:
        if (
            c.name not in source.key
            and not c.references
            and c.kind in (Kind.TEXT, Kind.CODE, Kind.MONEY, Kind.NUMBER)
            and not (c.kind == Kind.TEXT and c.name.endswith("_id"))
        ):
            return c
    raise AssertionError(f"no column to make a conflicting duplicate of {source.name}")


def to_csv(header: list[str], rows: list[list[str]], newline: str = "\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def rows_csv(source: Source, rows: list[dict[str, str]], newline: str = "\n") -> bytes:
    names = list(source.column_names)
    return to_csv(names, [[r.get(n, "") for n in names] for r in rows], newline)


REFERENCED = {c.references.split(".")[0] for s in SOURCES for c in s.columns if c.references}


def base_rows(source: Source) -> int:
    return N_BASE if source.name in REFERENCED else 10


def base_file(source: Source) -> bytes:
    """Valid rows: N_BASE of each referenced source (the keys every reference of the corpus
    points at), a few of the others."""
    return rows_csv(source, [valid_row(source, i) for i in range(base_rows(source))])


# ------------------------------------------------------------------ fixed broken files


@dataclass(frozen=True)
class FileCase:
    """A whole file. ``error``: a phrase the file-level message must contain (None: it loads)."""

    name: str
    build: Callable[[Source], bytes]
    error: str | None = None
    rows: int | None = None  # rows it must load when it loads
    extra: tuple[str, ...] = ()  # columns it must report as ignored


def _valid(source: Source, n: int = 3, newline: str = "\n") -> bytes:
    return rows_csv(source, [valid_row(source, i) for i in range(n)], newline)


def _mixed_endings(source: Source) -> bytes:
    lines = _valid(source, 4).decode().splitlines()
    seps = ["\r\n", "\n", "\r", "\r\n"]
    return "".join(line + seps[i % 4] for i, line in enumerate(lines)).encode()


def _drop_column(source: Source, name: str) -> bytes:
    names = [n for n in source.column_names if n != name]
    rows = [valid_row(source, i) for i in range(2)]
    return to_csv(names, [[r[n] for n in names] for r in rows])


def _optional_dropped(source: Source) -> bytes:
    optional = [c.name for c in source.columns if not c.required]
    return _drop_column(source, optional[-1]) if optional else _valid(source, 2)


def _extra_columns(source: Source) -> bytes:
    names = [*source.column_names, "Notes", "internal_score", "_row", "_file"]
    rows = [[*valid_row(source, i).values(), "note, with comma", "99", "7", "x.csv"] for i in range(2)]
    return to_csv(names, rows)


def _reordered_odd_headers(source: Source) -> bytes:
    names = list(reversed(source.column_names))
    shown = [f" {n.upper().replace('_', ' ')} " for n in names]
    rows = [[valid_row(source, i)[n] for n in names] for i in range(2)]
    return to_csv(shown, rows)


def _ragged(source: Source) -> bytes:
    return _valid(source, 2) + (",".join(valid_row(source, 5).values()) + ",surplus,fields\n").encode()


def _short_row(source: Source) -> bytes:
    first = next(iter(valid_row(source, 5).values()))
    return _valid(source, 2) + f"{first}\n".encode()


def _no_header(source: Source) -> bytes:
    return b"\n".join(_valid(source, 3).splitlines()[1:]) + b"\n"


def _wrong_headers(source: Source) -> bytes:
    return to_csv([f"col{i}" for i in range(len(source.columns))], [list(valid_row(source, 0).values())])


def _delimited(sep: str) -> Callable[[Source], bytes]:
    def build(source: Source) -> bytes:
        return _valid(source, 2).decode().replace(",", sep).encode()

    return build


def _duplicate_header(source: Source) -> bytes:
    names = [*source.column_names, source.key[0]]
    rows = [[*valid_row(source, i).values(), "other"] for i in range(2)]
    return to_csv(names, rows)


def _latin1(source: Source) -> bytes:
    values = list(valid_row(source, 3).values())
    text = _valid(source, 2).decode() + ",".join([values[0] + "Jérôme", *values[1:]]) + "\n"
    return text.encode("latin-1")


def _nul_late(source: Source) -> bytes:
    # A NUL after the first 4 KiB: the file loads, the value keeps the byte.
    rows = [valid_row(source, i % N_BASE) for i in range(400)]
    return rows_csv(source, rows) + ",".join(valid_row(source, 1).values()).replace("1", "\x00", 1).encode() + b"\n"


FILE_CASES: tuple[FileCase, ...] = (
    FileCase("empty file (0 bytes)", lambda s: b"", error="is empty"),
    FileCase("header only", lambda s: to_csv(list(s.column_names), []), rows=0),
    FileCase("header only, no line break", lambda s: ",".join(s.column_names).encode(), rows=0),
    FileCase("only a line break", lambda s: b"\r\n", error="missing the required column"),
    FileCase("BOM and CRLF", lambda s: b"\xef\xbb\xbf" + _valid(s, 3, "\r\n"), rows=3),
    FileCase("old Mac line endings (CR only)", lambda s: _valid(s, 3, "\r"), rows=3),
    FileCase("mixed line endings", _mixed_endings, rows=4),
    FileCase("extra columns", _extra_columns, rows=2, extra=("_file", "_row", "internal_score", "notes")),
    FileCase("columns reordered, upper case, spaces", _reordered_odd_headers, rows=2),
    FileCase("optional column missing", _optional_dropped, rows=2),
    FileCase("a row with fewer fields", _short_row, rows=3),
    FileCase("a NUL byte after the first 4 KiB", _nul_late, rows=401),
    FileCase("wrong headers", _wrong_headers, error="missing the required column"),
    FileCase("no header row", _no_header, error="missing the required column"),
    FileCase(
        "required column missing",
        lambda s: _drop_column(s, s.required_columns[-1]),
        error="missing the required column",
    ),
    FileCase("a column twice", _duplicate_header, error="more than once"),
    FileCase("a row with more fields than the header", _ragged, error="data row 3 has"),
    FileCase("semicolon-separated", _delimited(";"), error="export it comma-separated"),
    FileCase("tab-separated", _delimited("\t"), error="export it comma-separated"),
    FileCase(
        "an unclosed quote",
        lambda s: _valid(s, 2) + b'"' + _valid(s, 1).splitlines()[1] + b"\n",
        error="not a readable CSV",
    ),
    FileCase(
        "binary (PNG bytes)", lambda s: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), error="not UTF-8"
    ),
    FileCase("binary with NUL bytes, valid UTF-8", lambda s: b"\x00\x01\x02" * 500, error="looks binary"),
    FileCase("Latin-1", _latin1, error="not UTF-8"),
    FileCase("UTF-16 with BOM", lambda s: _valid(s, 2).decode().encode("utf-16"), error="UTF-16"),
    FileCase("UTF-16 without BOM", lambda s: _valid(s, 2).decode().encode("utf-16-le"), error="UTF-16"),
)


# ------------------------------------------------------------------ fixed broken values


@dataclass(frozen=True)
class RowCase:
    """Data rows of one file. ``bad`` rows (1-based) must be quarantined on ``column`` with a
    reason containing ``reason``; every other row must be staged (``superseded`` of them
    count as older versions). ``staged``: (row, column, exact typed value) to verify."""

    name: str
    rows: tuple[dict[str, str], ...]
    column: str = ""
    reason: str = ""
    bad: tuple[int, ...] = ()
    superseded: int = 0
    staged: tuple[tuple[int, str, object], ...] = field(default=())


LONG = "x" * 100_000
TRICKY_TEXT = "She said \"hi\", then left; 50% off\nsecond line, 'quoted'"


def _typed(column: Column, text: str) -> object:
    if column.kind == Kind.DATE:
        return date.fromisoformat(text)
    if column.kind == Kind.MONTH:
        return date.fromisoformat(text[:7] + "-01")
    if column.kind == Kind.TIMESTAMP:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    if column.kind in (Kind.MONEY, Kind.NUMBER):
        return Decimal(text)
    if column.kind == Kind.BOOLEAN:
        return text.lower() in ("true", "yes", "y", "t", "1")
    if column.kind in (Kind.CODE, Kind.CURRENCY):
        return text.lower()
    return text


def _value_cases(source: Source, column: Column) -> list[tuple[str, str, str | None]]:
    """(case, value, reason phrase or None when the value must be accepted)."""
    k = column.kind
    out: list[tuple[str, str, str | None]] = []
    if column.required:
        out.append(("empty required value", "", "missing required value"))
    if column.references:
        out.append(("unknown reference", "RX-NOBODY", "unknown"))
        return out
    if k == Kind.TEXT:
        out.append(("100,000-character text", LONG, None))
        if column.name not in source.key:
            out.append(("quotes, delimiters and a line break in a field", TRICKY_TEXT, None))
    elif k == Kind.CODE and column.codes:
        out += [("unknown code", "platinum", "unknown"), ("upper-case code", column.codes[-1].upper(), None)]
    elif k == Kind.CURRENCY:
        out += [
            ("currency name", "US Dollar", "ISO 4217"),
            ("currency symbol", "$", "ISO 4217"),
            ("upper-case currency", "EUR", None),
        ]
    elif k == Kind.DATE:
        out += [(f"date {v}", v, "not a valid date") for v in ("24/11/2026", "2026/11/24", "Nov 24 2026", "2024-02-30")]
        out += [(f"date {v}", v, "outside") for v in ("9999-12-31", "0001-01-01")]
        out.append(("100,000-character date", "2" * 100_000, "not a valid date"))
        far_past_ok = column.name not in LATER_IN_A_RULE
        out.append(("date 1900-01-01", "1900-01-01", None if far_past_ok else "before"))
    elif k == Kind.MONTH:
        out += [(f"month {v}", v, "not a valid month") for v in ("11/2026", "2026/11", "Nov 2026", "2026-13")]
        out += [(f"month {v}", v, "outside") for v in ("9999-12", "0001-01")]
        out.append(("100,000-character month", "2" * 100_000, "not a valid month"))
        far_past_ok = column.name not in LATER_IN_A_RULE
        out.append(("month 1900-01", "1900-01", None if far_past_ok else "before"))
    elif k == Kind.TIMESTAMP:
        out += [(f"timestamp {v}", v, "not a valid ISO 8601") for v in ("24/11/2026 10:00", "Nov 24 2026 10:00")]
        out += [(f"timestamp {v}", v, "outside") for v in ("9999-12-31T00:00:00Z", "0001-01-01T00:00:00Z")]
        far_past_ok = column.name not in LATER_IN_A_RULE
        out.append(("timestamp 1900-01-01", "1900-01-01T00:00:00Z", None if far_past_ok else "before"))
    elif k in (Kind.MONEY, Kind.NUMBER):
        out += [(f"number {v}", v, "not a number") for v in ("1,234.50", "$12", "12 €", "12,5O", "1e3")]
        out.append(("100,000-digit number", "9" * 100_000, "too large"))
        must_be_positive = column.min_value is not None and column.min_value >= 0
        out.append(("negative amount", "-50", "at least 0" if must_be_positive else None))
    elif k == Kind.INTEGER:
        out += [(f"integer {v}", v, "not a whole number") for v in ("4.5", "four", "1,000")]
        out.append(
            ("negative integer", "-1", "at least 0" if column.min_value is not None and column.min_value >= 0 else None)
        )
    elif k == Kind.BOOLEAN:
        out += [("boolean maybe", "maybe", "not true or false"), ("boolean YES", "YES", None)]
    elif k == Kind.EMAIL:
        out.append(("not an e-mail", "not-an-email", "not an e-mail"))
    elif k == Kind.EMAIL_LIST:
        out += [
            ("comma-separated e-mails", "a@example.com, b@example.com", "not a list"),
            ("line break in the recipients", "a@example.com\r\nBcc: x@evil.example", "line break"),
        ]
    return out


def _blocks(source: Source) -> Callable[[], Callable[[int], dict[str, str]]]:
    """Each case gets rows of its own keys (4 per case), so cases can share one file."""
    starts = iter(range(0, 10**6, 4))

    def next_block() -> Callable[[int], dict[str, str]]:
        start = next(starts)
        return lambda j: valid_row(source, start + j)

    return next_block


def _rule_cases(source: Source, block) -> list[RowCase]:
    """The cross-column rules of the contract, broken on purpose."""

    def one(name: str, changes: dict[str, str], column: str, reason: str) -> RowCase:
        v = block()
        rows = [v(0), {**v(1), **changes}, v(2)]
        return RowCase(name, tuple(rows), column, reason, bad=(2,))

    cases = []
    rules = set(source.row_rules)
    if "end_after_start" in rules:
        cases += [
            one(
                "subscription ends before it starts",
                {"start_date": "2024-03-01", "end_date": "2024-02-01"},
                "end_date",
                "on or before start_date",
            ),
            one(
                "subscription ends the day it starts",
                {"start_date": "2024-03-01", "end_date": "2024-03-01"},
                "end_date",
                "on or before start_date",
            ),
        ]
    if "due_not_before_issued" in rules:
        cases.append(
            one(
                "invoice due before issued",
                {"issued_on": "2024-03-01", "due_on": "2024-02-01"},
                "due_on",
                "before issued_on",
            )
        )
    if "resolved_after_opened" in rules:
        cases.append(
            one(
                "ticket resolved before opened",
                {"opened_at": "2024-03-01T10:00:00Z", "resolved_at": "2024-02-01T10:00:00Z"},
                "resolved_at",
                "before opened_at",
            )
        )
    if "score_in_survey_range" in rules:
        cases += [
            one("csat 7", {"survey_type": "csat", "score": "7"}, "score", "csat score must be 1 to 5"),
            one("csat 0", {"survey_type": "CSAT", "score": "0"}, "score", "csat score must be 1 to 5"),
            one("nps 11", {"survey_type": "nps", "score": "11"}, "score", "at most 10"),
        ]
    if "rate_positive" in rules:
        cases += [
            one("fx rate 0", {"rate": "0"}, "rate", "greater than 0"),
            one("fx rate negative", {"rate": "-1.10"}, "rate", "at least 0"),
            one("fx rate rounds to 0", {"rate": "0.0000001"}, "rate", "greater than 0"),
        ]
    return cases


def row_cases(source: Source) -> list[RowCase]:
    """Every fixed broken-value case of one source (a valid row before and after each),
    each on keys of its own."""
    block = _blocks(source)
    cases: list[RowCase] = []
    for column in source.columns:
        for name, value, reason in _value_cases(source, column):
            v = block()
            rows = [v(0), {**v(1), column.name: value}, v(2)]
            if reason is None:
                cases.append(
                    RowCase(
                        f"{column.name}: {name}", tuple(rows), staged=((2, column.name, _typed(column, value.strip())),)
                    )
                )
            else:
                cases.append(RowCase(f"{column.name}: {name}", tuple(rows), column.name, reason, bad=(2,)))
    key = ", ".join(source.key)
    c = conflict_column(source)
    v = block()
    first = v(1)
    second = {**first, c.name: other_valid_value(c, first[c.name])}
    cases.append(
        RowCase(
            "duplicate key with conflicting values",
            (v(0), first, second, v(2)),
            key,
            "duplicate key in this file with conflicting values",
            bad=(2, 3),
        )
    )
    v = block()
    cases.append(RowCase("identical repeat of a row", (v(0), v(1), v(1)), superseded=1))
    cases += _rule_cases(source, block)
    return cases


def combined_row_cases(source: Source) -> tuple[bytes, list[tuple[RowCase, int]]]:
    """All row cases of a source in one file: (bytes, [(case, row offset)])."""
    rows: list[dict[str, str]] = []
    placed = []
    for case in row_cases(source):
        placed.append((case, len(rows)))
        rows.extend(case.rows)
    return rows_csv(source, rows), placed


def all_row_cases() -> list[tuple[Source, RowCase]]:
    return [(s, c) for s in SOURCES for c in row_cases(s)]


# ------------------------------------------------------------------ running the pure functions


def known_keys() -> dict[str, pl.Series]:
    """What every reference of the corpus is checked against (the base files' keys)."""
    refs = {c.references for s in SOURCES for c in s.columns if c.references}
    return {r: pl.Series("k", [f"{PREFIX[r.split('.')[0]]}{i}" for i in range(N_BASE)]) for r in refs}


def landing_file(folder: Path, source: Source, name: str, data: bytes) -> LandingFile:
    path = folder / source.folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return LandingFile(source.name, path, file_sha256(path), len(data))


def as_raw(frame: pl.DataFrame, rel: str, loaded_at: datetime | None = None) -> pl.DataFrame:
    """A read landing file as the raw table holds it (with lineage)."""
    return frame.with_columns(
        pl.lit(rel).alias("_file"), pl.lit(loaded_at or datetime(2026, 1, 1, tzinfo=UTC)).alias("_loaded_at")
    )


def plain_reason(reason: str | None) -> bool:
    """A reason a person can act on: words, short, no leaked exception."""
    return bool(reason) and len(reason) < 300 and not any(m in reason for m in LEAK_MARKERS)


def leaks(text: str) -> list[str]:
    return [m for m in LEAK_MARKERS if m in text]


# ------------------------------------------------------------------ hypothesis strategies


def _garbage() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=12),
        st.text(alphabet=st.sampled_from(list(",;\"'\n\r\t \\|$€.-+0123456789eE/:TZ")), max_size=12),
        st.sampled_from(
            [
                "",
                " ",
                "NULL",
                "null",
                "NaN",
                "inf",
                "-0",
                "1,234.50",
                "$12",
                "12 €",
                "24/11/2026",
                "2026/11/24",
                "Nov 24 2026",
                "9999-12-31",
                "0001-01-01",
                "1900-01-01",
                "2024-02-29",
                "2023-02-29",
                "-50",
                "0",
                "1e3",
                "TRUE",
                "yes",
                "RX-NOBODY",
                "a@b",
                "x" * 300,
            ]
        ),
        st.binary(max_size=8).map(lambda b: b.decode("latin-1")),
    )


@dataclass(frozen=True)
class GeneratedFile:
    data: bytes
    columns: list[str]
    rows: int  # data rows written
    mangle: str  # none, bom, latin1, truncate, bytes or utf16


@st.composite
def generated_file(draw: st.DrawFn, source: Source) -> GeneratedFile:
    """A CSV file of ``source``: some columns (in any order, plus strangers), rows mixing
    valid values and garbage per cell, any line ending, sometimes mangled."""
    required = list(source.required_columns)
    optional = [c for c in source.column_names if c not in required]
    keep_required = draw(st.booleans()) or draw(st.integers(0, 9)) > 0  # mostly complete
    names = required[:] if keep_required else draw(st.lists(st.sampled_from(required), unique=True))
    names += draw(st.lists(st.sampled_from(optional), unique=True)) if optional else []
    names += draw(st.lists(st.sampled_from(["extra", "Notes", "_row", "_file", "id2"]), unique=True, max_size=2))
    names = draw(st.permutations(names))
    n = draw(st.integers(0, 12))
    # Few, large draws (a pool of garbage, then one choice per cell) keep generation fast.
    pool = draw(st.lists(_garbage(), min_size=1, max_size=6))
    ids = draw(st.lists(st.integers(0, N_BASE + 2), min_size=n, max_size=n))
    picks = draw(st.lists(st.integers(0, len(pool) + 1), min_size=n * len(names), max_size=n * len(names)))
    rows = []
    for r, i in enumerate(ids):
        row = []
        for c, name in enumerate(names):
            pick = picks[r * len(names) + c]
            if pick >= 2:
                row.append(pool[pick - 2])
            elif name in source.column_names:
                row.append(valid_value(source, source.column(name), i))
            else:
                row.append("x")
        rows.append(row)
    header = [draw(st.sampled_from([h, h.upper(), f" {h} "])) for h in names]
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    data = to_csv(header, rows, newline)
    mangle = draw(st.sampled_from(["none"] * 6 + ["bom", "latin1", "truncate", "bytes", "utf16"]))
    if mangle == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mangle == "latin1":
        data = data.decode().encode("latin-1", errors="replace")
    elif mangle == "truncate" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif mangle == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    elif mangle == "utf16":
        data = data.decode().encode("utf-16")
    return GeneratedFile(data, names, n, mangle)


# ------------------------------------------------------------------ independent bookkeeping


def _key_text(column: Column) -> pl.Expr:
    e = pl.col(column.name).str.strip_chars()
    return e.str.to_lowercase() if column.kind in (Kind.CODE, Kind.CURRENCY) else e


def check_balance(raw: pl.DataFrame, staged: pl.DataFrame, quarantine: pl.DataFrame, source: Source) -> dict:
    """Every raw row is exactly one of: staged, quarantined, or superseded by a staged row
    of the same key loaded later. Works on the warehouse tables, not on the staging code's
    own counts. Returns the counts."""
    ids = ["_file", "_row"]
    raw_ids = raw.select(*ids, "_loaded_at", *[_key_text(source.column(k)).alias(f"_k_{k}") for k in source.key])
    s = staged.select(pl.col("_file"), pl.col("_row").cast(pl.Int64)).with_columns(pl.lit(True).alias("_staged"))
    q = quarantine.select(pl.col("file").alias("_file"), pl.col("row").cast(pl.Int64).alias("_row")).unique()
    q = q.with_columns(pl.lit(True).alias("_quarantined"))
    assert staged.height == staged.select(ids).unique().height, "a raw row staged twice"
    assert s.join(raw_ids, on=ids, how="anti").is_empty(), "a staged row that is not in raw"
    assert q.join(raw_ids, on=ids, how="anti").is_empty(), "a quarantined row that is not in raw"
    both = s.join(q, on=ids)
    assert both.is_empty(), f"rows both staged and quarantined: {both.head(3)}"
    marked = raw_ids.join(s, on=ids, how="left").join(q, on=ids, how="left")
    rest = marked.filter(pl.col("_staged").is_null() & pl.col("_quarantined").is_null())
    winners = marked.filter(pl.col("_staged").is_not_null()).select(
        *[f"_k_{k}" for k in source.key],
        pl.col("_loaded_at").alias("_w_at"),
        pl.col("_row").alias("_w_row"),
        pl.col("_file").alias("_w_file"),
    )
    keys = [f"_k_{k}" for k in source.key]
    matched = rest.join(winners, on=keys, how="inner", nulls_equal=False)
    ok = (
        matched.filter(
            (pl.col("_w_at") > pl.col("_loaded_at"))
            | ((pl.col("_w_file") == pl.col("_file")) & (pl.col("_w_row") > pl.col("_row")))
        )
        .select(ids)
        .unique()
    )
    orphans = rest.join(ok, on=ids, how="anti")
    assert orphans.is_empty(), f"raw rows neither staged, quarantined nor superseded: {orphans.head(5)}"
    counts = {
        "in": raw.height,
        "staged": staged.height,
        "quarantined": q.height,
        "superseded": rest.height,
    }
    assert counts["in"] == counts["staged"] + counts["quarantined"] + counts["superseded"]
    return counts


def check_quarantine_rows(quarantine: pl.DataFrame) -> None:
    """Every quarantine row names file, row and column and gives a plain reason."""
    for r in quarantine.iter_rows(named=True):
        assert r["file"] and r["row"] is not None and r["row"] >= 1 and r["column"], r
        assert plain_reason(r["reason"]), r


def check_staged_values(staged: pl.DataFrame, source: Source) -> None:
    """What staging let through satisfies the contract (judged here, independently)."""
    for c in source.columns:
        col = staged[c.name]
        if c.required and c.default is None:
            assert col.null_count() == 0, f"{source.name}.{c.name}: a staged row misses a required value"
        vals = col.drop_nulls()
        if c.kind == Kind.CODE and c.codes:
            assert set(vals.to_list()) <= set(c.codes), (c.name, set(vals.to_list()) - set(c.codes))
        if c.kind == Kind.CURRENCY:
            assert vals.str.contains(r"^[a-z]{3}$").all(), c.name
        if c.kind == Kind.DATE:
            assert vals.is_empty() or (vals.min() >= date(1900, 1, 1) and vals.max() <= date(2199, 12, 31)), c.name
        if c.kind == Kind.MONTH:
            assert vals.is_empty() or (vals.dt.day() == 1).all(), c.name
        if c.kind in (Kind.MONEY, Kind.NUMBER, Kind.INTEGER) and not vals.is_empty():
            f = vals.cast(pl.Float64)
            if c.min_value is not None:
                assert f.min() >= c.min_value, c.name
            if c.max_value is not None:
                assert f.max() <= c.max_value, c.name
        if c.kind == Kind.EMAIL_LIST:
            assert not vals.str.contains(r"[\r\n]").any(), c.name
