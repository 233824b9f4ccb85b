"""A vendor export, read through its profile, as contract-shaped raw rows (all text).

The profile's mappings (header, constant, value map, SQL expression, filter) are
compiled into one SELECT over the export and evaluated in the sandbox of
pipeline.store.expressions; header names and profile values reach it quoted or as bound
parameters, never as SQL text. Each raw row keeps the export's own row number and, in
``_origin`` (JSON), the export header each contract column came from, so staging's
quarantine can name the export's header and value. The account a record belongs to is
not decided here: the CRM id it carries goes in ``account_id``, the id it carries in
its own system and its e-mail in ``_account_ref`` / ``_account_email``, and staging
looks them up (pipeline.transforms.matching), so an alias added later applies to rows
already loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from pipeline.contract import source as contract_source
from pipeline.exports import EXPORT_ROW, ExportFile, read_export
from pipeline.landing import LandingFileError
from pipeline.profiles import FileSpec, Profile
from pipeline.profiles.plan import FilePlan, plan_file
from pipeline.store.expressions import EXPORT, evaluate, quote_header
from pipeline.zipsafe import ZipLimits

VENDOR_COLUMNS = ("_origin", "_account_system", "_account_ref", "_account_email")

_BAD_INPUT = {
    "number": "TRY_CAST(trim({h}) AS DOUBLE) IS NULL",
    "integer": "TRY_CAST(trim({h}) AS BIGINT) IS NULL",
    "date": "TRY_CAST(trim({h}) AS DATE) IS NULL",
    "timestamp": "TRY_CAST(trim({h}) AS TIMESTAMPTZ) IS NULL",
}


@dataclass
class VendorRows:
    frame: pl.DataFrame  # contract columns (text), _row, and the VENDOR_COLUMNS
    plan: FilePlan
    rows_read: int  # data rows in the export (before the profile's filter)


def spec_fingerprint(profile: Profile, spec: FileSpec) -> str:
    """A hash of everything that shapes the raw rows of ``spec`` (a changed profile reloads)."""
    return hashlib.sha256(repr((profile.name, profile.variables, spec)).encode()).hexdigest()


def load_identity(file: ExportFile, profile: Profile, spec: FileSpec) -> str:
    """The key a loaded export is remembered by: its bytes, the source it feeds, the profile."""
    return hashlib.sha256(f"{file.sha256}|{spec.source}|{spec_fingerprint(profile, spec)}".encode()).hexdigest()


class _Sql:
    """Collects bound parameters while the SELECT is written."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: str | None) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"CAST(${name} AS VARCHAR)"


def _empty(h: str) -> str:
    return f"nullif(trim(CAST({h} AS VARCHAR)), '')"


def _compile(spec: FileSpec, plan: FilePlan) -> tuple[str, dict[str, Any], dict[str, str | None]]:
    """(SELECT text, parameters, base origin per contract column)."""
    q = _Sql()
    items = [f"{quote_header(EXPORT_ROW)} AS _row"]
    origin: dict[str, str | None] = {}
    for name, m in spec.columns:
        if name not in plan.reads:
            continue
        read = plan.reads[name]
        if m.sql is not None:
            value = f"CAST(({m.sql}) AS VARCHAR)"
            checks, whose = [], []
            for h, kind in m.inputs:
                actual = plan.header(h)
                if actual is None:
                    continue
                qh = quote_header(actual)
                bad = f"{_empty(qh)} IS NOT NULL AND " + _BAD_INPUT[kind].format(h=qh)
                checks.append(f"WHEN {bad} THEN CAST({qh} AS VARCHAR)")
                whose.append(f"WHEN {bad} THEN {q.bind(actual)}")
            if checks:
                items.append(f"CASE {' '.join(checks)} ELSE {value} END AS {quote_header('c_' + name)}")
                items.append(f"CASE {' '.join(whose)} END AS {quote_header('o_' + name)}")
            else:
                items.append(f"{value} AS {quote_header('c_' + name)}")
            origin[name] = ", ".join(read) or None
        elif m.headers and read:
            qh = quote_header(read[0])
            default = q.bind(m.value) if m.value is not None else "NULL"
            if m.codes:
                whens = " ".join(f"WHEN {q.bind(k)} THEN {q.bind(v)}" for k, v in m.codes)
                rest = q.bind(m.otherwise) if m.otherwise is not None else f"trim(CAST({qh} AS VARCHAR))"
                mapped = f"CASE lower(trim(CAST({qh} AS VARCHAR))) {whens} ELSE {rest} END"
            else:
                mapped = f"CAST({qh} AS VARCHAR)"
            items.append(
                f"CASE WHEN {_empty(qh)} IS NULL THEN {default} ELSE {mapped} END AS {quote_header('c_' + name)}"
            )
            origin[name] = read[0]
        else:  # a constant (or a header's default when the file lacks the header)
            items.append(f"{q.bind(m.value)} AS {quote_header('c_' + name)}")
            origin[name] = None
    if spec.account is not None:
        heads = plan.account_headers
        crm = [quote_header(h) for role, h in heads.items() if role == "crm_id"]
        items.append(f"{_empty(crm[0]) if crm else 'NULL'} AS _crm_id")
        for role, alias in (("external_id", "_account_ref"), ("email", "_account_email")):
            items.append(f"{_empty(quote_header(heads[role])) if role in heads else 'NULL'} AS {alias}")
    where = f" WHERE coalesce(({spec.filter}), false)" if spec.filter is not None else ""
    return f"{', '.join(items)} FROM {EXPORT}{where}", q.params, origin


def export_plan(file_frame: pl.DataFrame, spec: FileSpec, sql_refs: Mapping[str, tuple[str, ...]]) -> FilePlan:
    return plan_file(spec, [c for c in file_frame.columns if c != EXPORT_ROW], sql_refs)


def read_vendor_rows(
    file: ExportFile,
    profile: Profile,
    spec: FileSpec,
    sql_refs: Mapping[str, tuple[str, ...]],
    limits: ZipLimits,
) -> VendorRows:
    """The export's rows for ``spec.source``; LandingFileError when it cannot be used at all."""
    export = read_export(file, limits)
    plan = export_plan(export, spec, sql_refs)
    src = contract_source(spec.source)
    if plan.missing:
        lacking = ", ".join(f"{h} (for {c})" for c, h in plan.missing)
        raise LandingFileError(
            f"{file.name} is missing the header(s) {lacking} that the {profile.name} profile reads for "
            f"{spec.source} ({spec.where}, glob {spec.glob}). Export the file with these columns, or change "
            f"the profile ({profile.origin}). `pipeline profiles check {file.path.parent}` lists what it reads."
        )
    # Headers an expression may read that the file lacks are read as empty.
    optional = [h for h in spec.optional_headers if plan.header(h) is None]
    if optional:
        export = export.with_columns(pl.lit(None, pl.String).alias(h) for h in optional)
    select, params, base_origin = _compile(spec, plan)
    try:
        out = evaluate(export, select, params)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise LandingFileError(
            f"{file.name}: the {profile.name} profile's expressions for {spec.source} ({spec.where}) fail on it: "
            f"{first}. Fix the expression in the profile ({profile.origin}), or the values in the export."
        ) from None
    out = out.cast({c: pl.String for c in out.columns if c != "_row"}).with_columns(pl.col("_row").cast(pl.Int64))
    columns: list[pl.Expr] = [pl.col("_row")]
    origin_fields: list[pl.Expr] = []
    for c in src.column_names:
        if f"c_{c}" in out.columns:
            columns.append(pl.col(f"c_{c}").alias(c))
            base = pl.lit(base_origin.get(c), pl.String)
            origin_fields.append((pl.coalesce(pl.col(f"o_{c}"), base) if f"o_{c}" in out.columns else base).alias(c))
        elif c == "account_id" and spec.account is not None:
            heads = plan.account_headers
            columns.append(pl.col("_crm_id").alias(c))
            origin_fields.append(
                pl.when(pl.col("_crm_id").is_not_null())
                .then(pl.lit(heads.get("crm_id")))
                .when(pl.col("_account_ref").is_not_null())
                .then(pl.lit(heads.get("external_id")))
                .when(pl.col("_account_email").is_not_null())
                .then(pl.lit(heads.get("email")))
                .otherwise(pl.lit(heads.get("external_id") or heads.get("email") or heads.get("crm_id")))
                .cast(pl.String)
                .alias(c)
            )
        else:
            columns.append(pl.lit(None, pl.String).alias(c))
    account = spec.account
    frame = out.select(
        *columns,
        pl.struct(origin_fields).struct.json_encode().alias("_origin")
        if origin_fields
        else pl.lit(json.dumps({}), pl.String).alias("_origin"),
        pl.lit(f"{account.system}:{account.label}" if account else None, pl.String).alias("_account_system"),
        (pl.col("_account_ref") if account else pl.lit(None, pl.String)).alias("_account_ref"),
        (pl.col("_account_email") if account else pl.lit(None, pl.String)).alias("_account_email"),
    )
    return VendorRows(frame=frame, plan=plan, rows_read=export.height)
