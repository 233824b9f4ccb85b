"""What a table was last built from, so a rerun with unchanged inputs can skip the work.

Each staging table and mart keeps one row in ``ops.fingerprints``: the month it was last
written for (staging has none) and a hash of everything that went into it, namely the
loaded files (by content hash), the fingerprints of the tables it reads, the settings
that change its numbers and the code that shapes it (``STAGING_CODE``, ``MART_CODE``). The row is written in the same
transaction as the table, so it can never describe data that is not there.

A step skips its computation only when the fingerprint it would write equals the stored
one for the same month; any new file, corrected export, changed setting or code change
recomputes. ``PIPELINE_RECOMPUTE_UNCHANGED=true`` turns skipping off.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from pipeline.code_fingerprint import code_fingerprint
from pipeline.sql import load_sql

# The code each kind of table depends on (see pipeline.code_fingerprint).
STAGING_CODE = (
    "pipeline/contract.py",
    "pipeline/schemas.py",
    "pipeline/landing.py",
    "pipeline/transforms/staging.py",
    "pipeline/store/loading.py",
    "pipeline/store/staging.py",
    "sql/ops",
)
MART_CODE = (
    "pipeline/contract.py",
    "pipeline/schemas.py",
    "pipeline/transforms",
    "pipeline/store",
    "pipeline/assets/marts.py",  # the compute closures choose what each transform reads
    "pipeline/assets/forecast.py",
    "sql/marts",
)


def fingerprint(code: tuple[str, ...], *parts: Any) -> str:
    """A stable hash of the named code and JSON-able parts (dates and other values by their str())."""
    text = json.dumps([code_fingerprint(*code), *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Built:
    """The stored state of one table: what it was last built from."""

    month: date | None
    fingerprint: str
    counts: dict[str, Any]

    def matches(self, month: date | None, fp: str) -> bool:
        return self.month == month and self.fingerprint == fp

    def token(self) -> list[Any]:
        """What a downstream fingerprint includes about this table."""
        return [self.month, self.fingerprint]


def read(con: duckdb.DuckDBPyConnection, asset: str) -> Built | None:
    rows = con.execute(load_sql("ops/fingerprint_read"), [asset]).fetchall()
    if not rows:
        return None
    month, fp, counts = rows[0]
    return Built(month, fp, json.loads(counts))


def token(con: duckdb.DuckDBPyConnection, asset: str) -> list[Any] | None:
    built = read(con, asset)
    return None if built is None else built.token()


def record(con: duckdb.DuckDBPyConnection, asset: str, month: date | None, fp: str, counts: dict[str, Any]) -> None:
    """Store the state; call inside the transaction that writes the table."""
    con.execute(load_sql("ops/fingerprint_record"), [asset, month, fp, json.dumps(counts, default=str)])


def source_inputs(con: duckdb.DuckDBPyConnection, source_name: str) -> list[Any]:
    """The loaded files of a source, by content hash and row count."""
    return [list(r) for r in con.execute(load_sql("ops/source_inputs"), [source_name]).fetchall()]
