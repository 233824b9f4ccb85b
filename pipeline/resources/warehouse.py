"""The DuckDB warehouse: one file, schemas raw, staging, marts and ops.

Frames cross between DuckDB and Polars through Arrow. Writes that replace a slice of a
table (a month of a mart, a source's quarantine rows) happen in one transaction, so a
rerun or a crash never leaves a half-written month.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from dagster import ConfigurableResource
from pydantic import PrivateAttr

from pipeline.sql import load_sql, quote_ident

SCHEMAS = ("raw", "staging", "marts", "ops")
OPS_TABLES = (
    "ops_loads",
    "ops_quarantine",
    "ops_deliveries",
    "ops_deliveries_requested_by",
    "ops_report_manifest",
    "ops_report_approvals",
    "ops_fingerprints",
)

_BOOTSTRAPPED: set[str] = set()
_BOOT_LOCK = threading.Lock()


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or written; the message says what to do."""


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
    """Run a query and return all its rows as a Polars frame (through Arrow)."""
    return con.sql(sql, params=params or None).pl()


def arrow(frame: pl.DataFrame):
    """The frame as Arrow for DuckDB to scan, keeping Polars' string views.

    The default (oldest) Arrow level copies every string into a plain string column
    first, which cost about a third of a large raw insert."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def bootstrap(con: duckdb.DuckDBPyConnection) -> None:
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    for name in OPS_TABLES:
        con.execute(load_sql(f"ddl/{name}"))


@contextmanager
def open_warehouse(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse file, creating it and its schemas on first use."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        msg = str(exc).splitlines()[0]
        raise WarehouseError(
            f"Cannot open the warehouse {path}: {msg}. Another pipeline run or a DuckDB "
            "session may hold it; wait for it to finish (or close it) and run again."
        ) from None
    try:
        con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            key = str(path.resolve())
            with _BOOT_LOCK:
                if key not in _BOOTSTRAPPED:
                    bootstrap(con)
                    _BOOTSTRAPPED.add(key)
        yield con
    finally:
        con.close()


@contextmanager
def run_lock(path: Path | str) -> Iterator[None]:
    """Hold the warehouse's run lock (``<warehouse>.run.lock``) for a whole run.

    DuckDB locks the file only while a connection is open, and a run opens and closes
    it many times, so two runs would interleave and both fail halfway. A second run
    fails here at once instead, with a message (the kernel releases the lock when the
    holder exits, even if it is killed).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no run lock
        yield
        return
    lock_path = Path(f"{path}.run.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = " ".join(f.read().split())[:200]
            raise WarehouseError(
                f"Another pipeline run is using the warehouse {path}"
                + (f" ({holder})" if holder else "")
                + "; runs of one warehouse never overlap. Wait for it to finish and run again."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}, started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
        f.flush()
        yield


class Warehouse:
    """Small access class over one DuckDB file (the only code that talks to DuckDB)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._local = threading.local()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        shared = getattr(self._local, "con", None)
        if shared is not None:
            yield shared
            return
        with open_warehouse(self.path, read_only=read_only) as con:
            yield con

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep one connection open for this thread's ``connect()`` calls inside the block.

        For loops of many small writes (one delivery claim per e-mail): each statement
        still commits on its own, but the file is opened once rather than per statement.
        The warehouse stays locked for other processes until the block ends."""
        if getattr(self._local, "con", None) is not None:
            yield
            return
        with open_warehouse(self.path) as con:
            self._local.con = con
            try:
                yield
            finally:
                self._local.con = None

    def query(self, sql_name: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run ``sql/<sql_name>.sql`` with bound parameters and return a Polars frame."""
        with self.connect() as con:
            return fetch(con, load_sql(sql_name), params)

    def table(self, qualified: str, where_month_le: date | None = None) -> pl.DataFrame:
        """Read a whole table (optionally rows with month <= a date); empty frame if it is absent."""
        schema, name = qualified.split(".")
        with self.connect() as con:
            if not self.has_table(con, schema, name):
                return pl.DataFrame()
            sql = f"SELECT * FROM {quote_ident(schema)}.{quote_ident(name)}"
            if where_month_le is not None:
                return fetch(con, sql + " WHERE month <= ?", [where_month_le])
            return fetch(con, sql)

    def query_table_head(self, qualified: str, n: int) -> pl.DataFrame:
        """The first ``n`` rows of a table, as stored."""
        schema, name = qualified.split(".")
        with self.connect(read_only=False) as con:
            return fetch(con, f"SELECT * FROM {quote_ident(schema)}.{quote_ident(name)} LIMIT ?", [n])

    @staticmethod
    def has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
        return bool(
            con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()[0][0]
        )

    @staticmethod
    def replace_table(con: duckdb.DuckDBPyConnection, qualified: str, frame: pl.DataFrame) -> None:
        """Replace a whole table with a frame (inside the caller's transaction)."""
        schema, name = qualified.split(".")
        con.register("_frame", arrow(frame))
        try:
            con.execute(
                f"CREATE OR REPLACE TABLE {quote_ident(schema)}.{quote_ident(name)} AS SELECT * FROM _frame"
            )
        finally:
            con.unregister("_frame")

    @staticmethod
    def replace_rows(
        con: duckdb.DuckDBPyConnection,
        qualified: str,
        frame: pl.DataFrame,
        where: str,
        params: Sequence[Any],
    ) -> None:
        """Delete the rows matching ``where`` (a fixed predicate with ``?`` placeholders) and insert ``frame``.

        Creates the table from the frame's schema on first use. The caller wraps this in a
        transaction so readers never see the slice half-replaced.
        """
        schema, name = qualified.split(".")
        target = f"{quote_ident(schema)}.{quote_ident(name)}"
        con.register("_frame", arrow(frame))
        try:
            if not Warehouse.has_table(con, schema, name):
                con.execute(f"CREATE TABLE {target} AS SELECT * FROM _frame WHERE false")
            con.execute(f"DELETE FROM {target} WHERE {where}", list(params))
            cols = ", ".join(quote_ident(c) for c in frame.columns)
            con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM _frame")
        finally:
            con.unregister("_frame")


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file. Empty ``database`` means ``$PIPELINE_DATA_DIR/warehouse.duckdb``."""

    database: str = ""

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            if self.database:
                path = Path(self.database)
            else:
                from pipeline.settings import load_settings

                path = load_settings().warehouse_path
            self._warehouse = Warehouse(path)
        return self._warehouse
