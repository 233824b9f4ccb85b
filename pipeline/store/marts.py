"""The marts' side of the warehouse: read a mart's months, write them, and skip the work
when nothing a month is built from has changed.

A build of month M writes every month up to M: it replaces the rows with
``month <= M`` (and, for a stage that quarantines rows, that stage's quarantine rows)
and records the fingerprint of its inputs in the same transaction, so a rerun of M
changes nothing and a crash changes nothing either (see pipeline.store.fingerprints).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import polars as pl

from pipeline.resources.warehouse import Warehouse, arrow, fetch
from pipeline.schemas import QUARANTINE
from pipeline.sql import load_sql, quote_ident
from pipeline.store import fingerprints


def read_months(wh: Warehouse, table: str, month: date, schema: pl.Schema) -> pl.DataFrame:
    """A mart's rows up to the month, typed; an empty frame of the schema before the first run."""
    frame = wh.table(table, where_month_le=month)
    return pl.DataFrame(schema=schema) if frame.is_empty() else frame.cast(schema)


def read_months_as_stored(
    wh: Warehouse, table: str, month: date, columns: tuple[str, ...] | None = None
) -> pl.DataFrame | None:
    """A mart's rows up to the month (``columns`` only, when given) with the types they were
    stored with; None before the first run."""
    frame = wh.table(table, where_month_le=month, columns=columns)
    return None if frame.is_empty() else frame


def repeated_keys(wh: Warehouse, table: str, keys: list[str], month: date) -> pl.DataFrame:
    """The keys that more than one stored row up to the month shares, with how many (``len``;
    none, normally). The uniqueness check of a large mart runs here, in DuckDB, on what was
    written: hashing 3 million account-months in Polars took 1.7 GiB at 100,000 accounts."""
    schema, name = table.split(".")
    cols = ", ".join(quote_ident(k) for k in keys)
    with wh.connect() as con:
        return fetch(
            con,
            f"SELECT {cols}, count(*) AS len FROM {quote_ident(schema)}.{quote_ident(name)} "
            f"WHERE month <= ? GROUP BY {cols} HAVING count(*) > 1 ORDER BY {cols}",
            [month],
        )


def first_billing_month(wh: Warehouse) -> date | None:
    """The first month anything was billed (from staged subscriptions and invoices)."""
    return wh.query("marts/first_billing_month")["first_month"][0]


@dataclass(frozen=True)
class Inputs:
    """What a mart for one month is built from (see pipeline.store.fingerprints)."""

    asset: str
    month: date
    fingerprint: str

    def unchanged(self, wh: Warehouse, recompute: bool) -> fingerprints.Built | None:
        """The stored state when the table already holds exactly this build, else None."""
        if recompute:
            return None
        with wh.connect() as con:
            built = fingerprints.read(con, self.asset)
        return built if built is not None and built.matches(self.month, self.fingerprint) else None

    def record(self, con: duckdb.DuckDBPyConnection, counts: dict[str, Any]) -> None:
        fingerprints.record(con, self.asset, self.month, self.fingerprint, counts)


def mart_inputs(wh: Warehouse, asset: str, month: date, settings: dict[str, Any], reads: list[str]) -> Inputs:
    """The fingerprint of a mart month: its settings and the state of every table it reads."""
    with wh.connect() as con:
        tokens = {r: fingerprints.token(con, r) for r in reads}
    return Inputs(asset, month, fingerprints.fingerprint(fingerprints.MART_CODE, asset, month, settings, tokens))


def write_months(
    wh: Warehouse,
    table: str,
    frame: pl.DataFrame,
    month: date,
    inputs: Inputs | None = None,
    counts: dict[str, Any] | None = None,
) -> None:
    """Replace the months up to ``month`` (and record the inputs), in one transaction."""
    with wh.transaction() as con:
        Warehouse.replace_rows(con, table, frame, "month <= ?", [month])
        if inputs is not None:
            inputs.record(con, counts or {})


def write_months_and_quarantine(
    wh: Warehouse,
    table: str,
    frame: pl.DataFrame,
    month: date,
    rejects: pl.DataFrame,
    inputs: Inputs | None = None,
    counts: dict[str, Any] | None = None,
    quarantine_sources: tuple[str, ...] | None = None,
) -> None:
    """Replace the months and this mart's quarantine rows together, or neither.

    ``quarantine_sources``: the sources whose stage-"marts" quarantine rows this mart
    owns (None: every stage-"marts" row), so two marts that quarantine never delete each
    other's rows."""
    with wh.transaction() as con:
        Warehouse.replace_rows(con, table, frame, "month <= ?", [month])
        if quarantine_sources is None:
            con.execute("DELETE FROM ops.quarantine WHERE stage = 'marts'")
        else:
            con.execute(load_sql("marts/clear_quarantine_of_sources"), [list(quarantine_sources)])
        con.register("_q", arrow(rejects.cast(QUARANTINE)))
        con.execute("INSERT INTO ops.quarantine SELECT * FROM _q")
        con.unregister("_q")
        if inputs is not None:
            inputs.record(con, counts or {})


@dataclass(frozen=True)
class Computed:
    """What a mart's pure transform produced for a month.

    ``counts`` are stored with the fingerprint and handed back when a later run reuses
    the rows; ``rejects`` (quarantine rows) is None for a stage that quarantines nothing.
    """

    frame: pl.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)
    rejects: pl.DataFrame | None = None


@dataclass(frozen=True)
class Build:
    """A mart's months up to the reporting month, and whether this run recomputed them."""

    frame: pl.DataFrame
    recomputed: bool
    counts: dict[str, Any]


def build_or_reuse(
    wh: Warehouse,
    table: str,
    month: date,
    inputs: Inputs,
    schema: pl.Schema,
    compute: Callable[[], Computed],
    recompute: bool = False,
    quarantine_sources: tuple[str, ...] | None = None,
) -> Build:
    """The mart's months up to ``month``: the stored rows when its inputs are unchanged
    since the last build of this month (and ``recompute`` is off), else ``compute()``'s,
    cast to ``schema`` and written with its quarantine rows and the fingerprint in one
    transaction."""
    built = inputs.unchanged(wh, recompute)
    if built is not None:
        return Build(read_months(wh, table, month, schema), recomputed=False, counts=built.counts)
    computed = compute()
    # A cast to the schema it already has still copies nested columns (the health
    # drivers: 0.8 GiB at 100,000 accounts).
    frame = computed.frame if computed.frame.schema == schema else computed.frame.cast(schema)
    if computed.rejects is None:
        write_months(wh, table, frame, month, inputs, computed.counts)
    else:
        write_months_and_quarantine(
            wh, table, frame, month, computed.rejects, inputs, computed.counts, quarantine_sources
        )
    return Build(frame, recomputed=True, counts=computed.counts)
