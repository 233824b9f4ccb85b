"""Landing files → raw, and reading staging: the warehouse side of ingestion (raw →
staging is ``pipeline.store.staging``).

Each file is loaded in one transaction with its ops.loads row, so a crash leaves either
the whole file or none of it, and a rerun picks up where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from pipeline.contract import Source
from pipeline.contract import source as source_by_name
from pipeline.exports import ExportFile, discover_exports
from pipeline.landing import LandingFile, LandingFileError, discover, read_landing_file
from pipeline.profiles import FileSpec, Profile, ProfileError, resolve_profiles
from pipeline.resources.warehouse import Warehouse, arrow, fetch, transaction
from pipeline.sql import load_sql, quote_ident
from pipeline.store.expressions import check_profiles
from pipeline.store.ledger import load_times, record_load
from pipeline.store.vendor_loading import VENDOR_COLUMNS, load_identity, read_vendor_rows
from pipeline.zipsafe import ZipLimits


@dataclass
class LoadReport:
    source: str
    files_seen: int = 0
    files_loaded: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)  # already loaded (same content)
    rows_loaded: int = 0
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    newest_file_at: datetime | None = None  # modification time of the newest landing file
    rows_filtered: dict[str, int] = field(default_factory=dict)  # export rows a profile's filter left out


def raw_table_ddl(source: Source) -> str:
    cols = ", ".join(f"{quote_ident(c)} VARCHAR" for c in source.column_names)
    vendor = "".join(f", {c} VARCHAR" for c in VENDOR_COLUMNS)
    return (
        f"CREATE TABLE IF NOT EXISTS raw.{quote_ident(source.name)} ("
        f"{cols}, _file VARCHAR NOT NULL, _row BIGINT NOT NULL, "
        f"_file_hash VARCHAR NOT NULL, _loaded_at TIMESTAMPTZ NOT NULL{vendor})"
    )


def ensure_raw_table(con: duckdb.DuckDBPyConnection, source: Source) -> None:
    """Create the raw table, adding columns the contract gained since it was created."""
    con.execute(raw_table_ddl(source))
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ?",
            [source.name],
        ).fetchall()
    }
    for c in source.column_names:
        if c not in have:
            con.execute(f"ALTER TABLE raw.{quote_ident(source.name)} ADD COLUMN {quote_ident(c)} VARCHAR")
    # Lineage of vendor exports (pipeline.store.vendor_loading), null for contract files.
    for c in VENDOR_COLUMNS:
        if c not in have:
            con.execute(f"ALTER TABLE raw.{quote_ident(source.name)} ADD COLUMN {c} VARCHAR")


def load_new_files(
    warehouse: Warehouse,
    landing_dir: Path,
    source: Source,
    run_id: str | None = None,
    profiles: tuple[Profile, ...] | None = None,
    zip_limits: ZipLimits | None = None,
) -> LoadReport:
    """Load every landing file of the source whose content is not loaded yet: the
    contract-shaped files of ``landing/<folder>/`` and the vendor exports the profiles
    (default: the built-in ones) read for it under ``landing/<system>/``.

    Readable files are loaded even when another file of the same source is not; the
    unreadable ones are listed in ``errors`` for the caller to fail with. A file is loaded
    with the time the ledger remembers for it (its first load), so a rebuilt warehouse
    keeps each file's version order and every report its "data as of" date.
    """
    report = LoadReport(source.name)
    files = discover(landing_dir, source)
    exports = _vendor_files(
        landing_dir, source, resolve_profiles() if profiles is None else profiles, zip_limits or ZipLimits(), report
    )
    report.files_seen = len(files) + len(exports)
    stamps = [f.path.stat().st_mtime for f in files] + [e.path.stat().st_mtime for e, _, _ in exports]
    if stamps:
        report.newest_file_at = datetime.fromtimestamp(max(stamps), UTC)
    first_loaded = load_times(warehouse, source.name) if stamps else {}
    with warehouse.connect() as con:
        ensure_raw_table(con, source)
        loaded = {r[0] for r in con.execute(load_sql("ops/loaded_hashes"), [source.name]).fetchall()}
        base = datetime.now(UTC)
        for i, f in enumerate(files):
            if f.sha256 in loaded:
                report.files_skipped.append(f.name)
                continue
            try:
                frame, extra = read_landing_file(f, source)
            except LandingFileError as exc:
                report.errors.append(str(exc))
                continue
            if extra:
                report.extra_columns[f.name] = extra
            # Files of one run keep their name order as their version order; a file loaded
            # before (by a warehouse since lost) keeps its first load time.
            loaded_at = record_load(
                warehouse,
                source.name,
                f.sha256,
                f"{source.folder}/{f.name}",
                first_loaded.get(f.sha256) or base + timedelta(microseconds=i),
                frame.height,
                run_id,
            )
            _insert_raw(con, source, f, frame, loaded_at, run_id)
            loaded.add(f.sha256)
            report.files_loaded.append(f.name)
            report.rows_loaded += frame.height
        if exports:
            _load_exports(
                warehouse, con, source, exports, loaded, first_loaded, base, len(files), zip_limits, run_id, report
            )
    return report


def _vendor_files(
    landing_dir: Path, source: Source, profiles: tuple[Profile, ...], limits: ZipLimits, report: LoadReport
) -> list[tuple[ExportFile, Profile, FileSpec]]:
    found: list[tuple[ExportFile, Profile, FileSpec]] = []
    for profile in profiles:
        for spec in profile.files_for(source.name):
            try:
                found.extend((f, profile, spec) for f in discover_exports(landing_dir, profile, spec, limits))
            except LandingFileError as exc:
                if str(exc) not in report.errors:
                    report.errors.append(str(exc))
    return found


def _load_exports(
    warehouse: Warehouse,
    con: duckdb.DuckDBPyConnection,
    source: Source,
    exports: list[tuple[ExportFile, Profile, FileSpec]],
    loaded: set[str],
    first_loaded: dict[str, datetime],
    base: datetime,
    offset: int,
    zip_limits: ZipLimits | None,
    run_id: str | None,
    report: LoadReport,
) -> None:
    """Vendor exports through their profiles, after the contract files of the same run."""
    identified = [(f, p, s, load_identity(f, p, s)) for f, p, s in exports]
    todo = [t for t in identified if t[3] not in loaded]
    report.files_skipped.extend(f.name for f, _, _, identity in identified if identity in loaded)
    if not todo:
        return
    try:
        refs = check_profiles(tuple(dict.fromkeys(p for _, p, _, _ in todo)))
    except ProfileError as exc:
        report.errors.append(str(exc))
        return
    for i, (f, profile, spec, identity) in enumerate(todo, start=offset):
        try:
            rows = read_vendor_rows(f, profile, spec, refs, zip_limits or ZipLimits())
        except LandingFileError as exc:
            report.errors.append(str(exc))
            continue
        if rows.plan.ignored:
            report.extra_columns[f.name] = list(rows.plan.ignored)
        if rows.rows_read != rows.frame.height:
            report.rows_filtered[f.name] = rows.rows_read - rows.frame.height
        loaded_at = record_load(
            warehouse,
            source.name,
            identity,
            f.name,
            first_loaded.get(identity) or base + timedelta(microseconds=i),
            rows.frame.height,
            run_id,
        )
        target = LandingFile(source.name, f.path, identity, f.size)
        _insert_raw(con, source, target, rows.frame, loaded_at, run_id, rel=f.name)
        loaded.add(identity)
        report.files_loaded.append(f.name)
        report.rows_loaded += rows.frame.height


def _insert_raw(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    f: LandingFile,
    frame: pl.DataFrame,
    loaded_at: datetime,
    run_id: str | None,
    rel: str | None = None,
) -> None:
    rel = rel or f"{source.folder}/{f.name}"
    data = frame.with_columns(
        pl.lit(rel).alias("_file"),
        pl.lit(f.sha256).alias("_file_hash"),
        pl.lit(loaded_at).alias("_loaded_at"),
    )
    vendor = [c for c in VENDOR_COLUMNS if c in data.columns]
    cols = ", ".join(
        quote_ident(c) for c in [*source.column_names, "_file", "_row", "_file_hash", "_loaded_at", *vendor]
    )
    with transaction(con):
        con.register("_frame", arrow(data))
        con.execute(f"INSERT INTO raw.{quote_ident(source.name)} ({cols}) SELECT {cols} FROM _frame")
        con.unregister("_frame")
        con.execute(
            load_sql("ops/record_load"),
            [f.sha256, source.name, rel, str(f.path), frame.height, f.size, loaded_at, run_id],
        )


def top_reasons(warehouse: Warehouse, source_name: str, stage_name: str) -> pl.DataFrame:
    return warehouse.query("ops/quarantine_top_reasons", [source_name, stage_name])


def read_staging(
    warehouse: Warehouse,
    source_name: str,
    only: tuple[str, ...] | None = None,
    accounts: tuple[str, str] | None = None,
) -> pl.DataFrame:
    """A staging table as a frame; an empty frame of the right schema before the first load.

    ``only``, when given, reads just those columns (ids, free text and lineage are most
    of the bytes of the largest tables); ``accounts`` (first, last), only the records of
    the accounts in that range (a slice of a mart computed in parts)."""
    from pipeline.schemas import staging_schema

    full = staging_schema(source_by_name(source_name))
    schema = pl.Schema({k: v for k, v in full.items() if only is None or k in only})
    with warehouse.connect() as con:
        if not Warehouse.has_table(con, "staging", source_name):
            return pl.DataFrame(schema=schema)
        cols = ", ".join(quote_ident(c) for c in schema.names())
        sql, params = f"SELECT {cols} FROM staging.{quote_ident(source_name)}", []
        if accounts is not None:
            sql, params = sql + " WHERE account_id BETWEEN ? AND ?", list(accounts)
        frame = fetch(con, sql, params)
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    return frame.cast(schema)
