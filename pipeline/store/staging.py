"""Raw → staging in the warehouse, batch by batch, so a source of any size fits in memory.

Every rule about a single row (types, codes, bounds, references, row rules, the vendor
account lookup) is judged in Polars on one batch of raw rows at a time
(``pipeline.transforms.staging.judge_rows``); the rows that pass go to a temporary
DuckDB table. The two rules that need every row of a source, conflicting repeats of a
key in one file and the latest version of each key, then run in SQL on that table
(``sql/ops/staging_conflicts.sql``, ``sql/ops/staging_latest.sql``), where DuckDB can
spill to disk. So the memory a rebuild takes is one batch, not the whole source: the
activities of 100,000 accounts (9.3 million rows) took 9.7 GiB in one piece and take
about 2.3 GiB in batches.

``pipeline.transforms.staging.stage_source`` is the same staging in one piece, in pure
Polars; a test holds the two to the same result.
"""

from __future__ import annotations

import duckdb
import polars as pl

from pipeline.contract import Source
from pipeline.resources.warehouse import Warehouse, append_rows, arrow, create_temp_table, fetch, transaction
from pipeline.schemas import QUARANTINE, staging_schema
from pipeline.sql import load_sql, quote_ident
from pipeline.store import fingerprints
from pipeline.store.loading import ensure_raw_table
from pipeline.store.vendor_loading import VENDOR_COLUMNS
from pipeline.transforms.matching import account_lookups, resolve_accounts
from pipeline.transforms.staging import (
    StagedResult,
    clean_rows,
    conflict_reason,
    judge_rows,
    reject_rows,
)

# Raw rows judged at a time: about 0.5 GiB of Polars for the widest source.
BATCH_ROWS = 500_000
VALID = "_staging_valid"  # the temporary table of rows that passed every row rule


def known_keys_for(con: duckdb.DuckDBPyConnection, source: Source) -> dict[str, pl.Series]:
    """The staged key values each referencing column must be found in."""
    keys: dict[str, pl.Series] = {}
    for c in source.columns:
        if not c.references:
            continue
        ref_source, ref_col = c.references.split(".")
        if Warehouse.has_table(con, "staging", ref_source):
            keys[c.references] = fetch(
                con, f"SELECT DISTINCT {quote_ident(ref_col)} AS k FROM staging.{quote_ident(ref_source)}"
            )["k"]
        else:
            keys[c.references] = pl.Series("k", [], dtype=pl.String)
    return keys


def account_lookup_tables(con: duckdb.DuckDBPyConnection, source: Source) -> dict[str, pl.DataFrame | None]:
    """The staged tables a vendor record's account is looked up in (see transforms.matching)."""
    lookups = account_lookups(source)
    return {
        name: fetch(con, f"SELECT account_id, {cols} FROM staging.{quote_ident(name)}")
        if Warehouse.has_table(con, "staging", name)
        else None
        for name, cols in (("account_aliases", "system, external_id"), ("contacts", "email"))
        if name in lookups
    }


def with_accounts(source: Source, raw: pl.DataFrame, tables: dict[str, pl.DataFrame | None]) -> pl.DataFrame:
    """Raw rows with the account of each vendor record looked up (see transforms.matching)."""
    if (
        not account_lookups(source)
        or raw.is_empty()
        or (raw["_account_ref"].is_null().all() and raw["_account_email"].is_null().all())
    ):
        return raw
    aliases = tables.get("account_aliases")
    if aliases is None:
        aliases = pl.DataFrame(schema={"account_id": pl.String, "system": pl.String, "external_id": pl.String})
    return resolve_accounts(raw, aliases, tables.get("contacts"))


def staging_fingerprint(con: duckdb.DuckDBPyConnection, source: Source) -> str:
    """Everything staging reads: the source's loaded files, and the staged keys it checks against."""
    refs = sorted(
        ({c.references.split(".")[0] for c in source.columns if c.references} | set(account_lookups(source)))
        - {source.name}
    )
    return fingerprints.fingerprint(
        fingerprints.STAGING_CODE,
        "staging",
        source.name,
        fingerprints.source_inputs(con, source.name),
        {r: fingerprints.token(con, f"staging/{r}") for r in refs},
    )


def repeated_keys(con: duckdb.DuckDBPyConnection, source: Source) -> pl.DataFrame:
    """The key columns of the stored rows whose key repeats (none, normally): enough for
    the uniqueness check, run on what was written, without reading the table into Python."""
    table = f"staging.{quote_ident(source.name)}"
    keys = ", ".join(quote_ident(k) for k in source.key)
    return fetch(
        con,
        f"SELECT {keys} FROM (SELECT {keys}, count(*) OVER (PARTITION BY {keys}) AS _n FROM {table}) WHERE _n > 1",
    )


def _valid_schema(source: Source) -> pl.Schema:
    """The temporary table's columns: the staging table's, in order, then the bookkeeping."""
    return pl.Schema({**staging_schema(source), "_i": pl.UInt64(), "_key": pl.String(), "_hash": pl.UInt64()})


def _raw_batch(con: duckdb.DuckDBPyConnection, source: Source, where: str, params: list) -> pl.DataFrame:
    cols = ", ".join(quote_ident(c) for c in [*source.column_names, "_file", "_row", "_loaded_at", *VENDOR_COLUMNS])
    return fetch(con, f"SELECT rowid AS _i, {cols} FROM raw.{quote_ident(source.name)} WHERE {where}", params)


def stage(warehouse: Warehouse, source: Source, recompute: bool = False, batch_rows: int = BATCH_ROWS) -> StagedResult:
    """Rebuild the source's staging table and its quarantine rows from everything in raw.

    When nothing it reads has changed since the last rebuild (and ``recompute`` is off)
    the table is left as it is and the counts of that rebuild are returned. Either way
    ``frame`` holds the key columns of stored rows whose key repeats (none, normally),
    and the staged rows are in the table, not in Python.
    """
    asset = f"staging/{source.name}"
    table = f"staging.{quote_ident(source.name)}"
    with warehouse.connect() as con:
        fp = staging_fingerprint(con, source)
        built = fingerprints.read(con, asset)
        if (
            not recompute
            and built is not None
            and built.matches(None, fp)
            and Warehouse.has_table(con, "staging", source.name)
        ):
            c = built.counts
            # Trust the stored counts only while the table still holds what they describe.
            if con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == c["rows_staged"]:
                return StagedResult(
                    frame=repeated_keys(con, source),
                    rejects=pl.DataFrame(schema=QUARANTINE),
                    rows_in=c["rows_in"],
                    rows_staged=c["rows_staged"],
                    rows_quarantined=c["rows_quarantined"],
                    rows_superseded=c["rows_superseded"],
                    skipped=True,
                )
        ensure_raw_table(con, source)
        keys = known_keys_for(con, source)
        lookups = account_lookup_tables(con, source)
        # Batches are judged into a temporary table outside the transaction (only this
        # connection sees it): DuckDB holds every frame registered inside a transaction
        # until it ends, 350 MB per million activities; see also create_temp_table.
        create_temp_table(con, VALID, _valid_schema(source))
        try:
            rows_in, rows_flagged, versions, rejects = _judge_into_valid(con, source, keys, lookups, batch_rows)
            with transaction(con):
                Warehouse.replace_table_from_query(con, f"staging.{source.name}", load_sql("ops/staging_latest"))
                staged = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
                counts = {
                    "rows_in": rows_in,
                    "rows_staged": staged,
                    "rows_quarantined": rows_flagged,
                    "rows_superseded": versions - staged,
                }
                con.execute(load_sql("ops/clear_quarantine"), [source.name, "staging"])
                con.register("_q", arrow(rejects))
                con.execute("INSERT INTO ops.quarantine SELECT * FROM _q")
                con.unregister("_q")
                fingerprints.record(con, asset, None, fp, counts)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {VALID}")
        return StagedResult(
            frame=repeated_keys(con, source),
            rejects=rejects,
            rows_in=rows_in,
            rows_staged=staged,
            rows_quarantined=rows_flagged,
            rows_superseded=versions - staged,
        )


def _judge_into_valid(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    keys: dict[str, pl.Series],
    lookups: dict[str, pl.DataFrame | None],
    batch_rows: int,
) -> tuple[int, int, int, pl.DataFrame]:
    """Judge raw batch by batch into the temporary table, then take out the conflicting
    repeats. Returns rows in, rows quarantined, rows left (every version of each key) and
    the quarantine rows, sorted by file, row and column."""
    names = list(source.column_names)
    schema = _valid_schema(source)
    raw_table = f"raw.{quote_ident(source.name)}"
    low, high = con.execute(f"SELECT min(rowid), max(rowid) FROM {raw_table}").fetchall()[0]
    rows_in = rows_flagged = 0
    rejects: list[pl.DataFrame] = []
    for start in range(low or 0, (high if high is not None else -1) + 1, batch_rows):
        raw = _raw_batch(con, source, "rowid >= ? AND rowid < ?", [start, start + batch_rows])
        if raw.is_empty():
            continue
        rows_in += raw.height
        judged = judge_rows(source, with_accounts(source, raw, lookups), keys)
        del raw
        rows_flagged += judged.rows_flagged
        if judged.problems.height:
            rejects.append(reject_rows(source, judged.problems, judged.text))
        valid = judged.valid.with_columns(pl.struct(names).hash().alias("_hash")).select(schema.names())
        del judged
        append_rows(con, VALID, valid)
        del valid

    conflicts = fetch(con, load_sql("ops/staging_conflicts"))
    if conflicts.height:
        con.register("_conflicts", arrow(conflicts.select("_i")))
        raw = _raw_batch(con, source, "rowid IN (SELECT _i FROM _conflicts)", [])
        con.execute(f"DELETE FROM {VALID} WHERE _i IN (SELECT _i FROM _conflicts)")
        con.unregister("_conflicts")
        problems = conflicts.select(
            "_i", pl.lit(", ".join(source.key)).alias("column"), conflict_reason(pl.col("rows_listed")).alias("reason")
        )
        rejects.append(reject_rows(source, problems, clean_rows(source, with_accounts(source, raw, lookups))))
        rows_flagged += conflicts.height
    versions = con.execute(f"SELECT count(*) FROM {VALID}").fetchall()[0][0]
    out = pl.concat(rejects).sort("file", "row", "column") if rejects else pl.DataFrame(schema=QUARANTINE)
    return rows_in, rows_flagged, versions, out
