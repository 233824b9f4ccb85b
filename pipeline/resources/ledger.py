"""The ledger: what the pipeline has done that the landing folder cannot tell again.

The warehouse can always be rebuilt from the landing folder, except for a few facts about
the outside world: which e-mails left (and to whom, with which report), who approved a
period, when each landing file was first loaded (the version order of staging and the
"data as of" date of the reports), which closes finished, and which alerts went out.
Those live here, in a store of their own that losing, restoring or rebuilding the
warehouse cannot touch:

- by default ``ledger.sqlite`` beside the warehouse (SQLite in WAL mode with
  ``synchronous=FULL``: a commit is on disk before it returns, so a delivery is claimed
  and recorded durably before and after its message leaves);
- with ``PIPELINE_LEDGER_URL=dagster``, the Dagster instance's PostgreSQL (the
  ``DAGSTER_PG_*`` variables ``deploy/dagster.postgres.yaml`` reads), or any
  ``postgresql+psycopg2://`` URL: a server database that outlives the machine.

SQLAlchemy Core, one table per kind of fact (``pipeline_ledger_*``, so they can share a
database with Dagster's own tables). The password of a URL never leaves this module:
``describe`` hides it and every error message goes through ``_redact``.

This module only stores and reads; what a new, empty ledger means (a lost ledger, or a
first deployment) is decided by ``pipeline.store.ledger``.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

DEFAULT_FILE = "ledger.sqlite"
DAGSTER = "dagster"  # PIPELINE_LEDGER_URL=dagster: the Dagster instance's PostgreSQL
PG_VARIABLES = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB")

FINAL = ("sent", "rejected")


class LedgerError(RuntimeError):
    """The ledger cannot be reached or used; the message says what to do (never a password)."""


class UtcDateTime(sa.types.TypeDecorator):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite keeps none)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

META = sa.Table(
    "pipeline_ledger_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

DELIVERIES = sa.Table(
    "pipeline_ledger_deliveries",
    metadata,
    sa.Column("delivery_key", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("account_id", sa.Text, nullable=False),
    sa.Column("period", sa.String(7), nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64)),  # the report's input hash: what it says
    sa.Column("report_sha256", sa.String(64)),  # the PDF that was attached
    sa.Column("status", sa.String(16), nullable=False),  # sending, sent, failed, rejected
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(16)),  # smtp, outbox, confirmed (an operator said so), warehouse (adopted)
    sa.Column("message_id", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("period_key", sa.String(16)),
    sa.Column("report_path", sa.Text),
    sa.Column("requested_by", sa.Text),
    sa.Column("note", sa.Text),  # how an operator settled or confirmed it
    sa.Column("created_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("sent_at", UtcDateTime),
)
sa.Index("pipeline_ledger_deliveries_period", DELIVERIES.c.period, DELIVERIES.c.kind)

APPROVALS = sa.Table(
    "pipeline_ledger_approvals",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("approved_by", sa.Text, nullable=False),
    sa.Column("approved_at", UtcDateTime, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("reports", sa.Integer, nullable=False),
)

LOADS = sa.Table(
    "pipeline_ledger_loads",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("file_hash", sa.String(64), primary_key=True),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("loaded_at", UtcDateTime, nullable=False),  # first load: a rebuild loads it at this time again
    sa.Column("rows", sa.BigInteger),
    sa.Column("run_id", sa.Text),
)

HOLDS = sa.Table(
    "pipeline_ledger_holds",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("resolution", sa.String(16)),  # already_sent, not_sent (None: still held)
    sa.Column("resolved_by", sa.Text),
    sa.Column("resolved_at", UtcDateTime),
)

ALERTS = sa.Table(
    "pipeline_ledger_alerts",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("recipient", sa.Text, primary_key=True),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # sending, sent, failed
    sa.Column("error", sa.Text),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

CLOSES = sa.Table(
    "pipeline_ledger_closes",
    metadata,
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("finished_at", UtcDateTime, nullable=False),
    sa.Column("snapshot", sa.Text),  # the snapshot's file name in the backups folder
    sa.Column("snapshot_sha256", sa.String(64)),
    sa.Column("snapshot_bytes", sa.BigInteger),
)


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- where it is


def resolve_ledger_url(setting: str | None, warehouse_path: Path | str, env: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL of the ledger: ``setting`` (PIPELINE_LEDGER_URL) or, when it is
    empty, ``ledger.sqlite`` beside the warehouse; ``dagster`` builds the URL of the
    Dagster instance's PostgreSQL from the DAGSTER_PG_* variables."""
    value = (setting or "").strip()
    if not value:
        return "sqlite:///" + str((Path(warehouse_path).parent / DEFAULT_FILE).resolve())
    if value.lower() == DAGSTER:
        env = os.environ if env is None else env
        missing = [v for v in PG_VARIABLES if not env.get(v)]
        if missing:
            raise LedgerError(
                f"PIPELINE_LEDGER_URL=dagster puts the ledger in the Dagster instance's PostgreSQL, but "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set (see deploy/README.md)."
            )
        return sa.URL.create(
            "postgresql+psycopg2",
            username=env["DAGSTER_PG_USERNAME"],
            password=env["DAGSTER_PG_PASSWORD"],
            host=env["DAGSTER_PG_HOST"],
            port=int(env["DAGSTER_PG_PORT"]),
            database=env["DAGSTER_PG_DB"],
        ).render_as_string(hide_password=False)
    return value


def describe(url: str) -> str:
    """The ledger's location for messages: a file path, or the URL without its password."""
    try:
        parsed = sa.make_url(url)
    except Exception:
        return "(an unreadable PIPELINE_LEDGER_URL)"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or "(in memory)"
    return parsed.render_as_string(hide_password=True)


def _secrets(url: str) -> list[str]:
    try:
        password = sa.make_url(url).password
    except Exception:
        return []
    if not password:
        return []
    from urllib.parse import quote

    return sorted({str(password), quote(str(password), safe="")}, key=len, reverse=True)


def _redact(text: str, url: str) -> str:
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------- the ledger


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _engine(url: str) -> Engine:
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is not None:
            return engine
        try:
            parsed = sa.make_url(url)
        except Exception:
            raise LedgerError(
                "PIPELINE_LEDGER_URL is not a valid database URL "
                "(expected empty, dagster, or postgresql+psycopg2://user:pass@host:5432/db)"
            ) from None
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise LedgerError("the ledger must be a file or a server database, not an in-memory SQLite database")
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
            # A connection per use (NullPool): a ledger file replaced on disk is never
            # written through a stale open handle of a long-lived process (the UI's code server).
            engine = sa.create_engine(parsed, poolclass=NullPool, connect_args={"timeout": 60})

            @sa.event.listens_for(engine, "connect")
            def _connect(dbapi_con, _record):
                dbapi_con.isolation_level = None  # transactions are ours (BEGIN IMMEDIATE below)
                cur = dbapi_con.cursor()
                cur.execute("PRAGMA busy_timeout = 60000")
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = FULL")  # every commit reaches the disk before it returns
                cur.close()

            @sa.event.listens_for(engine, "begin")
            def _begin(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # writers queue instead of failing to upgrade a lock
        elif backend == "postgresql":
            engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=4)
        else:
            raise LedgerError(f"PIPELINE_LEDGER_URL: the ledger runs on SQLite or PostgreSQL, not {backend}")
        _ENGINES[url] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled ledger connection of this process (tests, and after a fork)."""
    with _ENGINES_LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


class Ledger:
    """One ledger (a SQLite file or a server database). Open it with ``Ledger(url)`` and
    call ``ensure()`` before use; ``pipeline.store.ledger.ledger_for`` does both and
    decides what a new ledger means."""

    def __init__(self, url: str):
        self.url = url
        self.display = describe(url)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Ledger({self.display!r})"

    @property
    def engine(self) -> Engine:
        return _engine(self.url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        parsed = sa.make_url(self.url)
        return Path(str(parsed.database)) if parsed.get_backend_name() == "sqlite" else None

    def _fail(self, what: str, exc: BaseException) -> LedgerError:
        detail = " ".join(str(exc).split())[:300]
        return LedgerError(
            _redact(
                f"The ledger {self.display} cannot be {what}: {type(exc).__name__}: {detail}. Nothing was sent; "
                "make it reachable (PIPELINE_LEDGER_URL) and run again.",
                self.url,
            )
        )

    # -- connections ----------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        pinned = getattr(self._local, "con", None)
        if pinned is not None:
            yield pinned
            return
        try:
            con = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("opened", exc) from None
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One committed transaction (durable when it returns)."""
        with self._conn() as con:
            try:
                with con.begin():
                    yield con
            except sa.exc.SQLAlchemyError as exc:
                raise self._fail("written", exc) from None

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep one connection for this thread's calls inside the block (each call still
        commits on its own): the delivery loop opens the ledger once, not per e-mail."""
        if getattr(self._local, "con", None) is not None:
            yield
            return
        with self._conn() as con:
            self._local.con = con
            try:
                yield
            finally:
                self._local.con = None

    def _rows(self, stmt: Any) -> list[dict[str, Any]]:
        with self._conn() as con:
            try:
                result = con.execute(stmt)
                rows = [dict(r._mapping) for r in result]
                if con.in_transaction():
                    con.commit()
                return rows
            except sa.exc.SQLAlchemyError as exc:
                raise self._fail("read", exc) from None

    def _insert(self, table: sa.Table) -> Any:
        """INSERT with ``on_conflict_do_*`` (both dialects have the same API)."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    # -- creation ---------------------------------------------------------------------------

    def exists(self) -> bool:
        """True when this ledger has been created (its tables and identity are there)."""
        path = self.path
        if path is not None and not path.exists():
            return False
        try:
            with self._conn() as con:
                if not sa.inspect(con).has_table(META.name):
                    return False
                rows = con.execute(sa.select(META.c.value).where(META.c.key == "ledger_id")).fetchall()
                if con.in_transaction():
                    con.commit()
                return bool(rows)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("opened", exc) from None

    def ensure(self) -> bool:
        """Create the tables and the ledger's identity if missing; True when this call
        created the ledger (so its caller decides what an empty ledger means)."""
        try:
            with self._conn() as con, con.begin():
                metadata.create_all(con, checkfirst=True)
        except sa.exc.SQLAlchemyError:
            try:  # two processes creating the same tables at once: the second sees them now
                with self._conn() as con, con.begin():
                    metadata.create_all(con, checkfirst=True)
            except sa.exc.SQLAlchemyError as exc:
                raise self._fail("created", exc) from None
        stamp = _now()
        identity = [
            {"key": "ledger_id", "value": str(uuid.uuid4())},
            {"key": "created_at", "value": stamp.isoformat()},
            {"key": "created_by", "value": f"{socket.gethostname()} pid {os.getpid()}"},
        ]
        with self.begin() as con:
            created = con.execute(
                self._insert(META).values(identity[0]).on_conflict_do_nothing().returning(META.c.key)
            ).fetchall()
            if created:
                con.execute(self._insert(META).values(identity[1:]).on_conflict_do_nothing())
        return bool(created)

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self._rows(sa.select(META))}

    def set_meta(self, key: str, value: str) -> None:
        stmt = self._insert(META).values(key=key, value=value)
        with self.begin() as con:
            con.execute(stmt.on_conflict_do_update(index_elements=[META.c.key], set_={"value": stmt.excluded.value}))

    @property
    def created_at(self) -> datetime | None:
        value = self.meta().get("created_at")
        return datetime.fromisoformat(value) if value else None

    # -- deliveries -----------------------------------------------------------------------

    def claim(self, record: Mapping[str, Any], resume: bool = False) -> bool:
        """Write ``sending`` for a delivery (attempts + 1) before its message leaves; True
        when this call holds it: a new delivery, a failed one, or (``resume``) one left
        ``sending`` whose channel showed the message never left."""
        stmt = self._insert(DELIVERIES).values(**_delivery_row(record, status="sending", attempts=1))
        claimable = ("failed", "sending") if resume else ("failed",)
        stmt = stmt.on_conflict_do_update(
            index_elements=[DELIVERIES.c.delivery_key],
            set_={
                "status": "sending",
                "attempts": DELIVERIES.c.attempts + 1,
                "channel": stmt.excluded.channel,
                "error": None,
                "updated_at": stmt.excluded.updated_at,
                "report_sha256": stmt.excluded.report_sha256,
                "report_path": stmt.excluded.report_path,
            },
            where=DELIVERIES.c.status.in_(claimable),
        ).returning(DELIVERIES.c.delivery_key)
        with self.begin() as con:
            return bool(con.execute(stmt).fetchall())

    def finish(self, key: str, status: str, message_id: str | None, error: str | None, now: datetime) -> None:
        values: dict[str, Any] = {"status": status, "message_id": message_id, "error": error, "updated_at": now}
        if status == "sent":
            values["sent_at"] = now
        with self.begin() as con:
            con.execute(sa.update(DELIVERIES).where(DELIVERIES.c.delivery_key == key).values(**values))

    def reject(self, record: Mapping[str, Any]) -> None:
        """Record a recipient that is not a usable address (not retried until it changes)."""
        stmt = self._insert(DELIVERIES).values(
            **_delivery_row(record, status="rejected", attempts=0), error=record.get("error")
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[DELIVERIES.c.delivery_key],
            set_={"status": "rejected", "error": stmt.excluded.error, "updated_at": stmt.excluded.updated_at},
        )
        with self.begin() as con:
            con.execute(stmt)

    def record_delivered(self, rows: Sequence[Mapping[str, Any]], note: str, now: datetime) -> int:
        """Record deliveries as ``sent`` without sending (an operator confirmed they went out
        before this ledger existed); a delivery already sent or rejected is left as it is."""
        count = 0
        with self.begin() as con:
            for record in rows:
                stmt = self._insert(DELIVERIES).values(
                    delivery_key=record["key"],
                    kind=record["kind"],
                    account_id=record["account_id"],
                    period=record["period"],
                    recipient=record["recipient"],
                    content_hash=record.get("content_hash"),
                    report_sha256=record.get("sha256"),
                    status="sent",
                    attempts=0,
                    channel="confirmed",
                    period_key=record.get("period_key"),
                    report_path=record.get("report_path"),
                    requested_by=record.get("requested_by"),
                    note=note,
                    created_at=now,
                    updated_at=now,
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=[DELIVERIES.c.delivery_key],
                    set_={"status": "sent", "channel": "confirmed", "note": note, "updated_at": now},
                    where=DELIVERIES.c.status.not_in(FINAL),
                ).returning(DELIVERIES.c.delivery_key)
                count += len(con.execute(stmt).fetchall())
        return count

    def settle(self, key: str, status: str, note: str, now: datetime) -> dict[str, Any] | None:
        """Settle a delivery left ``sending`` (its run stopped between claim and finish) as
        ``sent`` or ``failed`` (sent again by the next run); None when no such delivery waits."""
        if status not in ("sent", "failed"):
            raise ValueError("a delivery is settled as sent or failed")
        values: dict[str, Any] = {"status": status, "note": note, "updated_at": now}
        if status == "sent":
            values["sent_at"] = now
        with self.begin() as con:
            done = con.execute(
                sa.update(DELIVERIES)
                .where(DELIVERIES.c.delivery_key.startswith(key) if len(key) < 64 else DELIVERIES.c.delivery_key == key)
                .where(DELIVERIES.c.status == "sending")
                .values(**values)
                .returning(*DELIVERIES.c)
            ).fetchall()
        if len(done) > 1:  # an ambiguous prefix: nothing must change
            raise ValueError(f"{key!r} names {len(done)} deliveries; give more of the key")
        return dict(done[0]._mapping) if done else None

    def deliveries(
        self, period: str | None = None, kind: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        stmt = sa.select(DELIVERIES)
        if period is not None:
            stmt = stmt.where(DELIVERIES.c.period == period)
        if kind is not None:
            stmt = stmt.where(DELIVERIES.c.kind == kind)
        if status is not None:
            stmt = stmt.where(DELIVERIES.c.status == status)
        return self._rows(stmt.order_by(DELIVERIES.c.account_id, DELIVERIES.c.recipient, DELIVERIES.c.delivery_key))

    def delivery_periods(self) -> set[str]:
        return {r["period"] for r in self._rows(sa.select(DELIVERIES.c.period).distinct())}

    def counts(self) -> dict[str, int]:
        stmt = sa.select(DELIVERIES.c.status, sa.func.count().label("n")).group_by(DELIVERIES.c.status)
        return {r["status"]: int(r["n"]) for r in self._rows(stmt)}

    def import_rows(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows taken from elsewhere (a warehouse's copy), keeping any already here."""
        if not rows:
            return 0
        cols = {c.name for c in table.columns}
        count = 0
        with self.begin() as con:
            for start in range(0, len(rows), 500):
                chunk = [{k: v for k, v in r.items() if k in cols} for r in rows[start : start + 500]]
                result = con.execute(self._insert(table).values(chunk).on_conflict_do_nothing())
                count += max(result.rowcount or 0, 0)
        return count

    # -- approvals ------------------------------------------------------------------------

    def upsert_approval(self, record: Mapping[str, Any]) -> None:
        stmt = self._insert(APPROVALS).values(**{c.name: record[c.name] for c in APPROVALS.columns})
        stmt = stmt.on_conflict_do_update(
            index_elements=[APPROVALS.c.period, APPROVALS.c.kind],
            set_={k: stmt.excluded[k] for k in ("approved_by", "approved_at", "manifest_sha256", "reports")},
        )
        with self.begin() as con:
            con.execute(stmt)

    def approval(self, period: str, kind: str) -> dict[str, Any] | None:
        rows = self._rows(sa.select(APPROVALS).where(APPROVALS.c.period == period, APPROVALS.c.kind == kind))
        return rows[0] if rows else None

    def approvals(self) -> list[dict[str, Any]]:
        return self._rows(sa.select(APPROVALS).order_by(APPROVALS.c.period, APPROVALS.c.kind))

    # -- landing files ----------------------------------------------------------------------

    def load_times(self, source: str) -> dict[str, datetime]:
        """{file content hash: when it was first loaded} for one source."""
        rows = self._rows(sa.select(LOADS.c.file_hash, LOADS.c.loaded_at).where(LOADS.c.source == source))
        return {r["file_hash"]: r["loaded_at"] for r in rows}

    def record_load(
        self, source: str, file_hash: str, file: str, loaded_at: datetime, rows: int | None, run_id: str | None
    ) -> datetime:
        """Remember a file's first load time (kept if one is already there); returns the
        time the warehouse must use for it."""
        with self.begin() as con:
            con.execute(
                self._insert(LOADS)
                .values(
                    source=source,
                    file_hash=file_hash,
                    file=file,
                    loaded_at=loaded_at,
                    rows=rows,
                    run_id=run_id,
                )
                .on_conflict_do_nothing()
            )
            return con.execute(
                sa.select(LOADS.c.loaded_at).where(LOADS.c.source == source, LOADS.c.file_hash == file_hash)
            ).scalar_one()

    # -- holds ------------------------------------------------------------------------------

    def add_hold(self, period: str, reason: str, now: datetime | None = None) -> bool:
        """Hold a period's deliveries until an operator confirms (kept if one exists)."""
        stmt = self._insert(HOLDS).values(period=period, reason=reason, created_at=now or _now())
        with self.begin() as con:
            return bool(con.execute(stmt.on_conflict_do_nothing().returning(HOLDS.c.period)).fetchall())

    def hold(self, period: str) -> dict[str, Any] | None:
        rows = self._rows(sa.select(HOLDS).where(HOLDS.c.period == period))
        return rows[0] if rows else None

    def holds(self, open_only: bool = True) -> list[dict[str, Any]]:
        stmt = sa.select(HOLDS).order_by(HOLDS.c.period)
        if open_only:
            stmt = stmt.where(HOLDS.c.resolution.is_(None))
        return self._rows(stmt)

    def resolve_hold(self, period: str, resolution: str, by: str, now: datetime) -> bool:
        with self.begin() as con:
            done = con.execute(
                sa.update(HOLDS)
                .where(HOLDS.c.period == period, HOLDS.c.resolution.is_(None))
                .values(resolution=resolution, resolved_by=by, resolved_at=now)
                .returning(HOLDS.c.period)
            ).fetchall()
        return bool(done)

    # -- operator alerts ----------------------------------------------------------------------

    def claim_alert(self, run_id: str, recipient: str, subject: str, now: datetime) -> bool:
        """One alert per run and recipient: True when this call may send it."""
        stmt = self._insert(ALERTS).values(
            run_id=run_id, recipient=recipient, subject=subject, status="sending", updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ALERTS.c.run_id, ALERTS.c.recipient],
            set_={"status": "sending", "subject": stmt.excluded.subject, "updated_at": now, "error": None},
            where=ALERTS.c.status == "failed",
        ).returning(ALERTS.c.run_id)
        with self.begin() as con:
            return bool(con.execute(stmt).fetchall())

    def finish_alert(self, run_id: str, recipient: str, status: str, error: str | None, now: datetime) -> None:
        with self.begin() as con:
            con.execute(
                sa.update(ALERTS)
                .where(ALERTS.c.run_id == run_id, ALERTS.c.recipient == recipient)
                .values(status=status, error=error, updated_at=now)
            )

    def alerts(self, run_id: str | None = None) -> list[dict[str, Any]]:
        stmt = sa.select(ALERTS).order_by(ALERTS.c.updated_at)
        if run_id is not None:
            stmt = stmt.where(ALERTS.c.run_id == run_id)
        return self._rows(stmt)

    # -- closes -------------------------------------------------------------------------------

    def record_close(self, month: str, run_id: str, now: datetime, snapshot: Mapping[str, Any] | None = None) -> None:
        stmt = self._insert(CLOSES).values(
            month=month,
            run_id=run_id,
            finished_at=now,
            snapshot=(snapshot or {}).get("name"),
            snapshot_sha256=(snapshot or {}).get("sha256"),
            snapshot_bytes=(snapshot or {}).get("bytes"),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[CLOSES.c.month, CLOSES.c.run_id],
            set_={k: stmt.excluded[k] for k in ("finished_at", "snapshot", "snapshot_sha256", "snapshot_bytes")},
        )
        with self.begin() as con:
            con.execute(stmt)

    def closes(self) -> list[dict[str, Any]]:
        return self._rows(sa.select(CLOSES).order_by(CLOSES.c.finished_at))

    def last_closed_month(self) -> str | None:
        rows = self._rows(sa.select(sa.func.max(CLOSES.c.month).label("month")))
        return rows[0]["month"] if rows else None

    # -- copies -------------------------------------------------------------------------------

    def backup_to(self, target: Path) -> Path:
        """A consistent copy of a SQLite ledger (SQLite's online backup), for an operator's
        off-machine backup; a server database is backed up with its own tools."""
        import sqlite3

        path = self.path
        if path is None:
            raise LedgerError(
                f"The ledger {self.display} is a server database: back it up with its own tools (pg_dump)."
            )
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.part")
        src = sqlite3.connect(str(path), timeout=60)
        try:
            dst = sqlite3.connect(str(part))
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        os.replace(part, target)
        return target


def _delivery_row(record: Mapping[str, Any], status: str, attempts: int) -> dict[str, Any]:
    """A new row of the deliveries table from a delivery record (claimed or rejected)."""
    return {
        "delivery_key": record["key"],
        "kind": record["kind"],
        "account_id": record["account_id"],
        "period": record["period"],
        "recipient": record["recipient"],
        "content_hash": record.get("content_hash"),
        "report_sha256": record.get("sha256"),
        "status": status,
        "attempts": attempts,
        "channel": record.get("channel"),
        "period_key": record.get("period_key"),
        "report_path": record.get("report_path"),
        "requested_by": record.get("requested_by"),
        "created_at": record["now"],
        "updated_at": record["now"],
    }
