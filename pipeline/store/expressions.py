"""Profiles' SQL expressions: checked at start, evaluated in a sandbox that can read
nothing but the export's own columns.

A profile may compute a contract column with a DuckDB expression over the export's
headers (``Amount * Quantity``). Such text comes from configuration, so it is treated as
untrusted twice over:

* At start (``check_profiles``) each expression is parsed by DuckDB
  (``json_serialize_sql``) wrapped as ``SELECT (expr) AS v FROM _export`` and must be
  exactly that: one SELECT of one expression from the export, made only of column
  references, constants, casts, CASE, operators and scalar functions (no subquery, table
  function, aggregate, window, star or parameter). A profile that breaks this fails
  naming the profile and the key.
* Evaluation (``evaluate``) runs on a dedicated in-memory connection holding only the
  export's frame, with ``enable_external_access=false`` (no file or network access),
  extension auto-loading off, and the configuration locked, so even an expression that
  slipped past the check cannot read a file, attach a database or change a setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

import duckdb
import polars as pl

from pipeline.profiles import Profile, ProfileError

EXPORT = "_export"
ALLOWED_CLASSES = frozenset(
    {"COLUMN_REF", "CONSTANT", "FUNCTION", "CAST", "CASE", "COMPARISON", "CONJUNCTION", "OPERATOR", "BETWEEN", "TYPE"}
)
# Scalar functions that read the session rather than the row.
DENIED_FUNCTIONS = frozenset({"current_setting", "getvariable", "current_query", "getenv", "txid_current"})


def _locked_connection() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    for setting in (
        "SET TimeZone = 'UTC'",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET python_enable_replacements = false",
        "SET enable_external_access = false",
    ):
        con.execute(setting)
    return con


@contextmanager
def sandbox(frame: pl.DataFrame | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh in-memory connection with only ``frame`` (as ``_export``) to read, locked."""
    con = _locked_connection()
    try:
        if frame is not None:
            con.register(EXPORT, frame.to_arrow())
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


@cache
def _function_types() -> dict[str, set[str]]:
    with sandbox() as con:
        rows = con.execute("SELECT function_name, function_type FROM duckdb_functions()").fetchall()
    out: dict[str, set[str]] = {}
    for name, kind in rows:
        out.setdefault(str(name).lower(), set()).add(str(kind))
    return out


def quote_header(name: str) -> str:
    """A header (as the export writes it) as a DuckDB identifier; safe for any text."""
    return '"' + name.replace('"', '""') + '"'


def _walk(node: Any, refs: list[str]) -> None:
    if isinstance(node, list):
        for x in node:
            _walk(x, refs)
        return
    if not isinstance(node, dict):
        return
    cls = node.get("class")
    if cls is not None:
        if cls not in ALLOWED_CLASSES:
            raise ValueError(f"{str(cls).lower().replace('_', ' ')} is not allowed in an expression")
        if cls == "COLUMN_REF":
            names = node.get("column_names", [])
            if len(names) != 1:
                raise ValueError(f"{'.'.join(names)} is not a header of the export")
            refs.append(str(names[0]))
        if cls == "FUNCTION":
            name = str(node.get("function_name", "")).lower()
            if node.get("schema") or node.get("catalog"):
                raise ValueError(f"the function {name} names a schema or catalog")
            kinds = _function_types().get(name, set())
            if name in DENIED_FUNCTIONS or (not node.get("is_operator") and not kinds & {"scalar", "macro"}):
                what = "/".join(sorted(kinds)) or "unknown"
                raise ValueError(f"the function {name}() ({what}) is not a scalar function an expression may call")
            if node.get("filter") or node.get("distinct") or (node.get("order_bys") or {}).get("orders"):
                raise ValueError(f"{name}() is used as an aggregate")
    for key, value in node.items():
        if key not in ("query_location", "query_location_length"):
            _walk(value, refs)


@cache
def expression_refs(expression: str) -> tuple[str, ...]:
    """The headers an expression reads; ValueError saying why it is not a plain expression."""
    text = f"SELECT ({expression}) AS v FROM {EXPORT}"
    with sandbox() as con:
        row = con.execute("SELECT json_serialize_sql(?::VARCHAR)", [text]).fetchone()
    doc: dict[str, Any] = json.loads(row[0]) if row else {"error": True, "error_message": "no result"}
    if doc.get("error"):
        first = str(doc.get("error_message", "")).strip().splitlines()
        raise ValueError(f"DuckDB cannot parse it ({first[0] if first else 'syntax error'})")
    statements = doc.get("statements", [])
    if len(statements) != 1:
        raise ValueError("it is more than one statement")
    node = statements[0]["node"]
    if node.get("type") != "SELECT_NODE":
        raise ValueError("it is not a single expression")
    table = node.get("from_table") or {}
    if table.get("type") != "BASE_TABLE" or table.get("table_name") != EXPORT or table.get("schema_name"):
        raise ValueError("it reads from something other than the export's own columns")
    extra = [k for k in ("where_clause", "having", "qualify", "sample") if node.get(k) not in (None, [], {})]
    if extra or node.get("group_expressions") or node.get("modifiers") or (node.get("cte_map") or {}).get("map"):
        raise ValueError("it is not a single expression (it has clauses of a query)")
    if len(node.get("select_list", [])) != 1:
        raise ValueError("it is more than one expression")
    refs: list[str] = []
    _walk(node["select_list"][0], refs)
    return tuple(dict.fromkeys(refs))


def check_profiles(profiles: Sequence[Profile]) -> dict[str, tuple[str, ...]]:
    """Every SQL expression of every profile checked; returns expression -> headers read.

    Raises ProfileError naming the profile, the key and what is wrong."""
    refs: dict[str, tuple[str, ...]] = {}
    for p in profiles:
        for key, expression in p.sql_expressions:
            if expression in refs:
                continue
            try:
                refs[expression] = expression_refs(expression)
            except ValueError as exc:
                raise ProfileError(
                    f"profile {p.name!r} ({p.origin}), {key}: {exc}. Write one DuckDB expression over the "
                    'export\'s headers, like CAST("Amount" AS DECIMAL(18,4)) * "Quantity"; it may not read '
                    "files, tables or settings."
                ) from None
    return refs


def evaluate(frame: pl.DataFrame, select: str, params: Mapping[str, Any]) -> pl.DataFrame:
    """``SELECT <select> FROM _export`` in the sandbox (``select`` may end with a WHERE)."""
    with sandbox(frame) as con:
        return con.sql(f"SELECT {select}", params=dict(params) or None).pl()
