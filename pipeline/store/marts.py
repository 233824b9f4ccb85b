"""The marts' side of the warehouse: read a mart's months, write them, and skip the work
when nothing a month is built from has changed.

A build of month M writes every month up to M: it replaces the rows with
``month <= M`` (and, for a stage that quarantines rows, that stage's quarantine rows)
and records the fingerprint of its inputs in the same transaction, so a rerun of M
changes nothing and a crash changes nothing either (see pipeline.store.fingerprints).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb
import polars as pl

from pipeline.resources.warehouse import Warehouse, append_rows, arrow, create_temp_table, fetch, transaction
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
        replace_quarantine(con, rejects, quarantine_sources)
        if inputs is not None:
            inputs.record(con, counts or {})


def replace_quarantine(
    con: duckdb.DuckDBPyConnection, rejects: pl.DataFrame, quarantine_sources: tuple[str, ...] | None
) -> None:
    """Replace a mart's stage-"marts" quarantine rows (of ``quarantine_sources``; None:
    every stage-"marts" row) with ``rejects``, inside the caller's transaction."""
    if quarantine_sources is None:
        con.execute("DELETE FROM ops.quarantine WHERE stage = 'marts'")
    else:
        con.execute(load_sql("marts/clear_quarantine_of_sources"), [list(quarantine_sources)])
    con.register("_q", arrow(rejects.cast(QUARANTINE)))
    con.execute("INSERT INTO ops.quarantine SELECT * FROM _q")
    con.unregister("_q")


@dataclass(frozen=True)
class Computed:
    """What a mart's pure transform produced for a month.

    ``counts`` are stored with the fingerprint and handed back when a later run reuses
    the rows; ``rejects`` (quarantine rows) is None for a stage that quarantines nothing.
    """

    frame: pl.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)
    rejects: pl.DataFrame | None = None


def rows_per_month(frame: pl.DataFrame) -> dict[date, int]:
    """How many rows each month of a mart's frame has."""
    if frame.is_empty():
        return {}
    per = frame.group_by("month").len()
    return dict(zip(per["month"].to_list(), per["len"].to_list(), strict=True))


def stored_rows_per_month(wh: Warehouse, table: str, month: date) -> dict[date, int]:
    """How many stored rows each month up to ``month`` has (none before the first build)."""
    schema, name = table.split(".")
    with wh.connect() as con:
        if not Warehouse.has_table(con, schema, name):
            return {}
        rows = con.execute(
            f"SELECT month, count(*) FROM {quote_ident(schema)}.{quote_ident(name)} WHERE month <= ? GROUP BY month",
            [month],
        ).fetchall()
    return {m: n for m, n in rows}


@dataclass(frozen=True)
class Build:
    """A mart's months up to the reporting month, and whether this run recomputed them."""

    frame: pl.DataFrame
    recomputed: bool
    counts: dict[str, Any]

    @property
    def rows_per_month(self) -> dict[date, int]:
        return rows_per_month(self.frame)


@dataclass(frozen=True)
class StoredBuild:
    """A mart built a slice at a time: its rows are in the warehouse only (read back the
    columns a step needs, ``read_month_columns``), with how many rows each month has."""

    recomputed: bool
    counts: dict[str, Any]
    rows_per_month: dict[date, int]


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


PARTS = "_mart_parts"  # the temporary table a mart built in parts is written to


def build_or_reuse_in_parts(
    wh: Warehouse,
    table: str,
    month: date,
    inputs: Inputs,
    schema: pl.Schema,
    compute_parts: Callable[[], Iterable[Computed]],
    recompute: bool = False,
    quarantine_sources: tuple[str, ...] | None = None,
    quarantines: bool = False,
) -> StoredBuild:
    """``build_or_reuse`` for a mart too large to hold whole: each part ``compute_parts``
    yields (a slice of accounts, say) goes to a temporary table as soon as it is built,
    and one transaction then replaces the months up to ``month`` from that table, with
    the quarantine rows (when ``quarantines``) and the fingerprint. The whole mart is
    never in Python: at 100,000 accounts account_health alone was 1.3 GiB there.

    The parts are written before the transaction, and ``compute_parts`` runs inside one
    connection session (its reads through ``wh`` share the connection that sees the
    temporary table): DuckDB holds every frame registered inside a transaction until
    it ends. Counts of the parts are summed; their quarantine rows are concatenated."""
    built = inputs.unchanged(wh, recompute)
    if built is not None:
        return StoredBuild(False, built.counts, stored_rows_per_month(wh, table, month))
    counts: dict[str, Any] = {}
    rejects: list[pl.DataFrame] = []
    with wh.session(), wh.connect() as con:
        create_temp_table(con, PARTS, schema)
        try:
            for part in compute_parts():
                append_rows(con, PARTS, part.frame if part.frame.schema == schema else part.frame.cast(schema))
                for key, value in part.counts.items():
                    counts[key] = counts.get(key, 0) + value
                if part.rejects is not None and part.rejects.height:
                    rejects.append(part.rejects.cast(QUARANTINE))
            with transaction(con):
                Warehouse.replace_rows_from_query(con, table, f"SELECT * FROM {PARTS}", "month <= ?", [month])
                if quarantines:
                    replace_quarantine(
                        con,
                        pl.concat(rejects) if rejects else pl.DataFrame(schema=QUARANTINE),
                        quarantine_sources,
                    )
                inputs.record(con, counts)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PARTS}")
    return StoredBuild(True, counts, stored_rows_per_month(wh, table, month))


def account_ranges(wh: Warehouse, table: str, month: date, per_part: int) -> list[tuple[str, str]]:
    """The stored accounts up to ``month`` as (first, last) ranges of ``per_part``
    accounts each, in the warehouse's order: slices that read only their own rows."""
    schema, name = table.split(".")
    with wh.connect() as con:
        if not Warehouse.has_table(con, schema, name):
            return []
        ids = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT account_id FROM {quote_ident(schema)}.{quote_ident(name)} "
                "WHERE month <= ? AND account_id IS NOT NULL ORDER BY account_id",
                [month],
            ).fetchall()
        ]
    return ranges_of(ids, per_part)


def ranges_of(ids: Sequence[str], per_part: int) -> list[tuple[str, str]]:
    """Sorted distinct ids as (first, last) ranges of ``per_part`` ids each."""
    return [(ids[i], ids[min(i + per_part, len(ids)) - 1]) for i in range(0, len(ids), per_part)]


def read_month_columns(
    wh: Warehouse,
    table: str,
    month: date,
    schema: pl.Schema,
    columns: Sequence[str] | None = None,
    months: Sequence[date] | None = None,
    accounts: tuple[str, str] | None = None,
) -> pl.DataFrame:
    """A mart's rows up to ``month``, typed as in ``schema``: only ``columns`` (None: all of
    the schema's), of ``months`` only and of the accounts from ``accounts``' first to its
    last, when given. What a slice of a mart built in parts, and a step's checks and
    metadata, read of a large mart."""
    typed = schema if columns is None else pl.Schema({c: schema[c] for c in columns})
    schema_name, name = table.split(".")
    with wh.connect() as con:
        if not Warehouse.has_table(con, schema_name, name):
            return pl.DataFrame(schema=typed)
        sql = (
            f"SELECT {', '.join(quote_ident(c) for c in typed.names())} "
            f"FROM {quote_ident(schema_name)}.{quote_ident(name)} WHERE month <= ?"
        )
        params: list[Any] = [month]
        if months is not None:
            sql += " AND month IN (SELECT unnest(?::DATE[]))"
            params.append(list(months))
        if accounts is not None:
            sql += " AND account_id BETWEEN ? AND ?"
            params.extend(accounts)
        frame = fetch(con, sql, params)
    return pl.DataFrame(schema=typed) if frame.is_empty() else frame.cast(typed)
