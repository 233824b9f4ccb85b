"""The DuckDB warehouse: one file, schemas raw, staging, marts and ops.

Frames cross between DuckDB and Polars through Arrow. Writes that replace a slice of a
table (a month of a mart, a source's quarantine rows) happen in one transaction, so a
rerun or a crash never leaves a half-written month.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from pipeline.sql import load_sql, quote_ident

if TYPE_CHECKING:
    from pipeline.settings import Settings

SCHEMAS = ("raw", "staging", "marts", "ops")
OPS_TABLES = (
    "ops_loads",
    "ops_quarantine",
    "ops_deliveries",
    "ops_deliveries_requested_by",
    "ops_deliveries_content_hash",
    "ops_report_manifest",
    "ops_report_approvals",
    "ops_fingerprints",
)

_BOOTSTRAPPED: set[str] = set()
_BOOT_LOCK = threading.Lock()


class WarehouseError(RuntimeError):
    """The warehouse cannot be opened or written; the message says what to do."""


class WarehouseDamaged(WarehouseError):
    """The warehouse file fails DuckDB's own checks; the message names the file and the two ways out."""


def fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict[str, Any] | None = None
) -> pl.DataFrame:
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
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction on ``con``: COMMIT when it ends, ROLLBACK and
    re-raise when anything escapes it, so readers see all of its writes or none."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        # A failed COMMIT may have ended the transaction already: raise its error, not ROLLBACK's.
        with suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise


def create_temp_table(con: duckdb.DuckDBPyConnection, name: str, schema: pl.Schema) -> None:
    """An empty temporary table of these columns, for rows written a batch at a time.

    Create it outside any transaction: DuckDB 2.0.0 loses sight of inserts of more than
    one row group into a table created empty in the same transaction (this connection
    reads it as empty; see ``Warehouse.replace_rows_from_query``). A temporary table
    needs no transaction: it is this connection's alone, and its owner drops it."""
    con.register("_empty", arrow(pl.DataFrame(schema=schema)))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(name)} AS SELECT * FROM _empty WHERE false")
    finally:
        con.unregister("_empty")


def append_rows(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    """Insert a frame into a (temporary) table created by ``create_temp_table``."""
    con.register("_frame", arrow(frame))
    try:
        con.execute(f"INSERT INTO {quote_ident(name)} SELECT * FROM _frame")
    finally:
        con.unregister("_frame")


@contextmanager
def open_warehouse(
    path: Path | str, read_only: bool = False, memory_limit: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse file, creating it and its schemas on first use.

    ``memory_limit`` (like "2GB", validated by the settings) caps what DuckDB holds in
    memory before it spills to ``<warehouse>.tmp``; None leaves DuckDB's default, 80% of
    the machine."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():  # a new file (or one deleted since this process bootstrapped it)
            forget_bootstrap(path)
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
        if memory_limit:
            if not re.fullmatch(r"\d+(\.\d+)?[KMGT]i?B", memory_limit, flags=re.IGNORECASE):
                raise ValueError(f"not a memory amount: {memory_limit!r}")
            con.execute(f"SET memory_limit = '{memory_limit}'")
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


def forget_bootstrap(path: Path | str) -> None:
    """The file at ``path`` was replaced (restored, set aside): bootstrap and check it
    again on next open."""
    key = str(Path(path).resolve())
    with _BOOT_LOCK:
        _BOOTSTRAPPED.discard(key)
    _VERIFIED.pop(key, None)


# --------------------------------------------------------------------------- integrity


RECOVERY_HINT = (
    "Nothing was run. Restore the last snapshot with `pipeline restore`, or rebuild the warehouse "
    "from the landing folder with `pipeline rebuild`; both move the damaged file aside and send nothing again."
)
# Files whose (size, mtime, inode) this process verified: a run checked by the CLI is not
# checked again when its resources start.
_VERIFIED: dict[str, tuple[int, int, int]] = {}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, list[str]]]:
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "ORDER BY schema_name, table_name"
    ).fetchall()
    out = []
    for schema, name in tables:
        cols = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, name],
            ).fetchall()
        ]
        out.append((schema, name, cols))
    return out


def read_every_block(con: duckdb.DuckDBPyConnection) -> int:
    """Read every value of every column of every table (hashing it), so DuckDB loads, and
    verifies the checksum of, every block the database uses; returns the tables read.
    ``count(column)`` is not enough: it is answered from validity masks and statistics
    without loading the values (measured: corrupt data blocks went unnoticed)."""
    tables = _tables(con)
    for schema, name, cols in tables:
        if cols:
            exprs = ", ".join(f"bit_xor(hash({quote_ident(c)}))" for c in cols)
            con.execute(f"SELECT {exprs} FROM {quote_ident(schema)}.{quote_ident(name)}").fetchall()
    return len(tables)


def _is_lock_conflict(exc: BaseException) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting lock" in text or "Could not set lock" in text)


def check_warehouse(path: Path | str, *, force: bool = False) -> bool:
    """Check that the warehouse opens and every block reads cleanly (DuckDB's checksums),
    before any work. Returns False when there is no file (a first run creates it), True
    when it is sound; raises ``WarehouseDamaged`` with one line naming the file and what
    to do, or ``WarehouseError`` when another process holds it. Cheap: about a second
    per 130 MB (README, "Backups and recovery"). A file this process already verified,
    unchanged since, is not read again unless ``force``."""
    path = Path(path)
    key = str(path.resolve())
    stamp = _stamp(path)
    if stamp is None:
        return False
    if not force and _VERIFIED.get(key) == stamp:
        return True
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        if _is_lock_conflict(exc):
            raise WarehouseError(
                f"Cannot check the warehouse {path}: another process holds it ({str(exc).splitlines()[0]}). "
                "Wait for it to finish and run again."
            ) from None
        raise damaged(path, exc) from None
    try:
        read_every_block(con)
    except duckdb.Error as exc:
        raise damaged(path, exc) from None
    finally:
        con.close()
    _VERIFIED[key] = _stamp(path) or stamp
    return True


def damaged(path: Path | str, exc: BaseException) -> WarehouseDamaged:
    detail = " ".join(str(exc).split())[:240]
    return WarehouseDamaged(f"The warehouse {path} is damaged (DuckDB: {detail}). {RECOVERY_HINT}")


class Warehouse:
    """Small access class over one DuckDB file (the only code that talks to DuckDB).

    ``ledger_url`` is where the ledger of deliveries, approvals and loads lives
    (``PIPELINE_LEDGER_URL``; None: ``ledger.sqlite`` beside the file)."""

    def __init__(self, path: Path | str, ledger_url: str | None = None, memory_limit: str | None = None):
        self.path = Path(path)
        self.ledger_url = ledger_url
        self.memory_limit = memory_limit or None
        self._local = threading.local()

    @classmethod
    def from_settings(cls, settings: Settings) -> Warehouse:
        """The warehouse file, ledger and DuckDB memory limit the settings name."""
        return cls(
            settings.warehouse_path, ledger_url=settings.ledger_url, memory_limit=settings.warehouse_memory_limit
        )

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        shared = getattr(self._local, "con", None)
        if shared is not None:
            yield shared
            return
        with open_warehouse(self.path, read_only=read_only, memory_limit=self.memory_limit) as con:
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
        with open_warehouse(self.path, memory_limit=self.memory_limit) as con:
            self._local.con = con
            try:
                yield
            finally:
                self._local.con = None

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection whose block is one transaction (see the module's ``transaction``)."""
        with self.connect() as con, transaction(con):
            yield con

    def query(self, sql_name: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run ``sql/<sql_name>.sql`` with bound parameters and return a Polars frame."""
        with self.connect() as con:
            return fetch(con, load_sql(sql_name), params)

    def table(
        self, qualified: str, where_month_le: date | None = None, columns: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Read a whole table (optionally rows with month <= a date, only some columns);
        empty frame if it is absent."""
        schema, name = qualified.split(".")
        with self.connect() as con:
            if not self.has_table(con, schema, name):
                return pl.DataFrame()
            selected = ", ".join(quote_ident(c) for c in columns) if columns else "*"
            sql = f"SELECT {selected} FROM {quote_ident(schema)}.{quote_ident(name)}"
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
            con.execute(f"CREATE OR REPLACE TABLE {quote_ident(schema)}.{quote_ident(name)} AS SELECT * FROM _frame")
        finally:
            con.unregister("_frame")

    @staticmethod
    def replace_table_from_query(con: duckdb.DuckDBPyConnection, qualified: str, select_sql: str) -> None:
        """Replace a whole table with the rows of a query (inside the caller's transaction):
        staging writes a source's table from its temporary table of judged rows."""
        schema, name = qualified.split(".")
        con.execute(f"CREATE OR REPLACE TABLE {quote_ident(schema)}.{quote_ident(name)} AS {select_sql}")

    @staticmethod
    def replace_rows(
        con: duckdb.DuckDBPyConnection,
        qualified: str,
        frame: pl.DataFrame,
        where: str,
        params: Sequence[Any],
    ) -> None:
        """Delete the rows matching ``where`` (a fixed predicate with ``?`` placeholders) and
        insert ``frame`` (see ``replace_rows_from_query``)."""
        con.register("_frame", arrow(frame))
        try:
            Warehouse.replace_rows_from_query(con, qualified, "SELECT * FROM _frame", where, params)
        finally:
            con.unregister("_frame")

    @staticmethod
    def replace_rows_from_query(
        con: duckdb.DuckDBPyConnection,
        qualified: str,
        select_sql: str,
        where: str,
        params: Sequence[Any],
    ) -> None:
        """Delete the rows matching ``where`` (a fixed predicate with ``?`` placeholders) and
        insert the rows of ``select_sql``.

        Creates the table from the query's columns on first use, and adds the query's
        columns an older table lacks (a mart that gained columns: its rows outside the
        slice get null there). The caller wraps this in a transaction so readers never
        see the slice half-replaced.
        """
        schema, name = qualified.split(".")
        target = f"{quote_ident(schema)}.{quote_ident(name)}"
        if not Warehouse.has_table(con, schema, name):
            # One statement. DuckDB 2.0.0 loses sight of an insert of more than one row
            # group (122,880 rows) into a table created empty (AS ... WHERE false) in the
            # same transaction: this connection then reads the table as empty, even after
            # COMMIT (a new connection sees the rows). tests/integration/test_duckdb_quirks.py
            con.execute(f"CREATE TABLE {target} AS {select_sql}")
            return
        described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {select_sql}").fetchall()]
        Warehouse._add_missing_columns(con, schema, name, target, described)
        con.execute(f"DELETE FROM {target} WHERE {where}", list(params))
        cols = ", ".join(quote_ident(c) for c, _ in described)
        con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM ({select_sql})")

    @staticmethod
    def _add_missing_columns(
        con: duckdb.DuckDBPyConnection, schema: str, name: str, target: str, columns: list[tuple[str, str]]
    ) -> None:
        """ALTER TABLE ... ADD COLUMN for each (name, DuckDB type) the table lacks."""
        have = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        }
        for column, dtype in columns:
            if column not in have:
                con.execute(f"ALTER TABLE {target} ADD COLUMN {quote_ident(column)} {dtype}")


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file. Empty ``database`` means ``$PIPELINE_DATA_DIR/warehouse.duckdb``."""

    database: str = ""

    _warehouse: Warehouse | None = PrivateAttr(default=None)

    def get(self) -> Warehouse:
        if self._warehouse is None:
            from pipeline.settings import load_settings

            settings = load_settings()
            path = Path(self.database) if self.database else settings.warehouse_path
            self._warehouse = Warehouse(
                path, ledger_url=settings.ledger_url, memory_limit=settings.warehouse_memory_limit
            )
        return self._warehouse

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Before any step of a run: a run of ``rebuild_warehouse`` sets the current file
        aside (once per rebuild, re-executions included); then every run checks that the
        warehouse opens and reads cleanly, and refuses to start on a damaged file."""
        warehouse = self.get()
        run = context.run
        tags = run.tags if run is not None else {}
        log = context.log
        if tags.get(RECOVERY_TAG) == "rebuild" and run is not None:
            from pipeline.resources.backups import set_aside_for_rebuild

            moved = set_aside_for_rebuild(warehouse.path, tags.get("dagster/root_run_id") or run.run_id)
            if moved is not None and log is not None:
                log.info(f"Set the warehouse aside as {moved}; rebuilding it from the landing folder.")
        # Once per run: with a process per step (the multiprocess executor) every step
        # starts its resources, and only the first of them checks.
        marker = Path(f"{warehouse.path}.checked")
        if run is not None and _read(marker) == run.run_id:
            return
        if check_warehouse(warehouse.path) and run is not None:
            marker.write_text(run.run_id, encoding="utf-8")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


RECOVERY_TAG = "pipeline/recovery"
