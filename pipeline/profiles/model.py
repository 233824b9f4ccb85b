"""An export profile as data, and the one parser that checks it.

A profile says how the files another system exports (``landing/<folder>/``) become rows
of the contract's sources: for each file it reads (a glob), which contract source it
feeds, and for each contract column an export header, a constant, a value map (for
codes) or a DuckDB SQL expression over the export's headers; and how a record finds its
account (a header carrying the CRM id, an external id looked up in crm/account_aliases,
an e-mail among the contacts). Parsing is pure: a profile that is not valid raises
ProfileError naming the profile and the key, before anything is loaded. SQL expressions
are only checked for shape here; pipeline.store.expressions parses them with DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.contract import SOURCES_BY_NAME

CONTRACT_FOLDERS = frozenset({"crm", "surveys", "billing"})
INPUT_KINDS = ("number", "integer", "date", "timestamp")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_SQL = 2000
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ProfileError(ValueError):
    """A profile is not valid; the message names the profile, the key and what to write."""


@dataclass(frozen=True)
class ColumnMap:
    """How one contract column is filled from an export row.

    Exactly one way: ``headers`` (the first header of the list the file has; with
    ``codes``, a value map: the export's value, case-insensitive, to the contract's
    code, ``otherwise`` for a value not in the map, else the value as is), ``value`` (a
    constant) or ``sql`` (an expression over the export's headers). ``value`` with
    ``headers`` is the default for an empty value or a missing header. ``inputs`` names
    headers an expression reads with their kind: a row whose header does not hold one
    keeps that header's value (and name) for the column, so staging's quarantine
    names the export's header and value instead of a null result."""

    headers: tuple[str, ...] = ()
    value: str | None = None
    codes: tuple[tuple[str, str], ...] = ()
    otherwise: str | None = None
    sql: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()

    @property
    def way(self) -> str:
        if self.sql is not None:
            return "sql"
        if self.headers:
            return "map" if self.codes else "header"
        return "value"


@dataclass(frozen=True)
class AccountLookup:
    """How a record finds its account, in order: a header carrying the CRM account id
    (``crm_id``, the first the file has), the id it carries in its own system
    (``external_id``, looked up in crm/account_aliases under ``system``), an e-mail
    among the contacts (``email``). ``label`` names the external id in messages
    ("customer", "organization")."""

    system: str
    crm_id: tuple[str, ...] = ()
    external_id: str | None = None
    email: str | None = None
    label: str = "id"

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(h for h in (*self.crm_id, self.external_id, self.email) if h)


@dataclass(frozen=True)
class FileSpec:
    """One kind of export file and the contract source it feeds."""

    source: str
    glob: str  # file name pattern, case-insensitive, also matched inside ZIP archives
    columns: tuple[tuple[str, ColumnMap], ...]
    account: AccountLookup | None = None
    filter: str | None = None  # a SQL condition: rows it is not true for are not this source's
    optional_headers: tuple[str, ...] = ()  # read as empty when the file lacks them
    where: str = ""  # "profile stripe, files[0]" for messages

    def column(self, name: str) -> ColumnMap | None:
        return dict(self.columns).get(name)


@dataclass(frozen=True)
class Profile:
    name: str
    folder: str
    files: tuple[FileSpec, ...]
    description: str = ""
    origin: str = "built-in"  # or the pipeline.toml it came from
    variables: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def files_for(self, source: str) -> tuple[FileSpec, ...]:
        return tuple(f for f in self.files if f.source == source)

    @property
    def sql_expressions(self) -> list[tuple[str, str]]:
        """(key, expression) of every SQL expression of the profile, the key as in messages."""
        out = []
        for i, f in enumerate(self.files):
            if f.filter is not None:
                out.append((f"files[{i}].filter", f.filter))
            for name, m in f.columns:
                if m.sql is not None:
                    out.append((f"files[{i}].columns.{name}.sql", m.sql))
        return out


def _err(profile: str, key: str, what: str) -> ProfileError:
    return ProfileError(f"profile {profile!r}, {key}: {what}")


def _text(profile: str, key: str, raw: Any) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _err(profile, key, f"must be a text value, got {raw!r}")
    return str(raw)


def _expand(profile: str, key: str, text: str, variables: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in variables:
            raise _err(
                profile,
                key,
                f"names the setting ${{{m.group(1)}}}, which the profile's [settings] does not define",
            )
        return variables[m.group(1)]

    return _VAR.sub(sub, text)


def _headers(profile: str, key: str, raw: Any, variables: Mapping[str, str]) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = tuple(_expand(profile, key, _text(profile, key, h), variables).strip() for h in items)
    if not out or any(not h for h in out):
        raise _err(profile, key, "a header name cannot be empty")
    return out


def _check_keys(profile: str, key: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _err(profile, key, f"unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(allowed))}")


def _sql(profile: str, key: str, raw: Any, variables: Mapping[str, str]) -> str:
    text = _expand(profile, key, _text(profile, key, raw), variables).strip()
    if not text:
        raise _err(profile, key, "the SQL expression is empty")
    if len(text) > MAX_SQL:
        raise _err(profile, key, f"the SQL expression is longer than {MAX_SQL} characters")
    for bad, word in ((";", "a ';'"), ("--", "a comment"), ("/*", "a comment")):
        if bad in text:
            raise _err(profile, key, f"the SQL expression contains {word}; write one expression, not statements")
    return text


def parse_column(profile: str, key: str, raw: Any, variables: Mapping[str, str]) -> ColumnMap:
    """A column mapping: "Header", ["Header", "Alternative"], or a table with one of
    header, value, sql (and map, otherwise, default, inputs)."""
    if isinstance(raw, str | list):
        return ColumnMap(headers=_headers(profile, key, raw, variables))
    if not isinstance(raw, Mapping):
        raise _err(profile, key, f"must be a header name or a table (header, value, map or sql), got {raw!r}")
    _check_keys(profile, key, raw, {"header", "value", "default", "map", "otherwise", "sql", "inputs"})
    ways = [w for w in ("header", "value", "sql") if w in raw]
    if len(ways) != 1:
        raise _err(profile, key, "give exactly one of header, value or sql")
    if "sql" in raw:
        for k in ("map", "otherwise", "default"):
            if k in raw:
                raise _err(profile, f"{key}.{k}", "goes with header, not with sql")
        inputs_raw = raw.get("inputs", {})
        if not isinstance(inputs_raw, Mapping):
            raise _err(profile, f"{key}.inputs", 'must be a table like { Amount = "number" }')
        inputs = []
        for h, kind in inputs_raw.items():
            kind = _text(profile, f"{key}.inputs.{h}", kind).strip().lower()
            if kind not in INPUT_KINDS:
                raise _err(profile, f"{key}.inputs.{h}", f"kind {kind!r} is not one of {', '.join(INPUT_KINDS)}")
            inputs.append((_expand(profile, f"{key}.inputs", str(h), variables).strip(), kind))
        return ColumnMap(sql=_sql(profile, f"{key}.sql", raw["sql"], variables), inputs=tuple(inputs))
    if "inputs" in raw:
        raise _err(profile, f"{key}.inputs", "goes with sql only")
    if "value" in raw:
        for k in ("map", "otherwise", "default"):
            if k in raw:
                raise _err(profile, f"{key}.{k}", "goes with header, not with value")
        return ColumnMap(
            value=_expand(profile, f"{key}.value", _text(profile, f"{key}.value", raw["value"]), variables)
        )
    headers = _headers(profile, f"{key}.header", raw["header"], variables)
    codes: tuple[tuple[str, str], ...] = ()
    if "map" in raw:
        if not isinstance(raw["map"], Mapping) or not raw["map"]:
            raise _err(
                profile, f"{key}.map", 'must be a table of export value = contract value, like { "High" = "high" }'
            )
        codes = tuple(
            (str(k).strip().lower(), _text(profile, f"{key}.map.{k}", v).strip()) for k, v in raw["map"].items()
        )
    otherwise = raw.get("otherwise")
    if otherwise is not None and not codes:
        raise _err(profile, f"{key}.otherwise", "goes with map")
    default = raw.get("default")
    return ColumnMap(
        headers=headers,
        codes=codes,
        otherwise=None if otherwise is None else _text(profile, f"{key}.otherwise", otherwise),
        value=None if default is None else _expand(profile, f"{key}.default", _text(profile, key, default), variables),
    )


def _parse_account(profile: str, key: str, raw: Any, variables: Mapping[str, str]) -> AccountLookup:
    if not isinstance(raw, Mapping):
        raise _err(profile, key, "must be a table (crm_id, external_id, system, label, email)")
    _check_keys(profile, key, raw, {"crm_id", "external_id", "system", "label", "email"})
    crm = _headers(profile, f"{key}.crm_id", raw["crm_id"], variables) if "crm_id" in raw else ()
    ext = _headers(profile, f"{key}.external_id", raw["external_id"], variables)[0] if "external_id" in raw else None
    email = _headers(profile, f"{key}.email", raw["email"], variables)[0] if "email" in raw else None
    if not (crm or ext or email):
        raise _err(profile, key, "needs at least one of crm_id, external_id or email")
    system = _text(profile, f"{key}.system", raw.get("system", profile)).strip().lower()
    if not NAME_RE.match(system):
        raise _err(profile, f"{key}.system", f"{system!r} must be lower-case letters, digits and _")
    return AccountLookup(
        system=system,
        crm_id=crm,
        external_id=ext,
        email=email,
        label=_text(profile, f"{key}.label", raw.get("label", "id")).strip() or "id",
    )


def _parse_file(profile: str, i: int, raw: Any, variables: Mapping[str, str]) -> FileSpec:
    key = f"files[{i}]"
    if not isinstance(raw, Mapping):
        raise _err(profile, key, "must be a table (source, glob, columns, ...)")
    _check_keys(profile, key, raw, {"source", "glob", "columns", "account", "filter", "optional_headers"})
    for need in ("source", "glob", "columns"):
        if need not in raw:
            raise _err(profile, f"{key}.{need}", "is missing")
    source_name = _text(profile, f"{key}.source", raw["source"]).strip().lower()
    src = SOURCES_BY_NAME.get(source_name)
    if src is None:
        raise _err(
            profile,
            f"{key}.source",
            f"{source_name!r} is not a contract source; use one of {', '.join(sorted(SOURCES_BY_NAME))}",
        )
    glob = _expand(profile, f"{key}.glob", _text(profile, f"{key}.glob", raw["glob"]), variables).strip()
    if not glob or "/" in glob or "\\" in glob or ".." in glob:
        raise _err(profile, f"{key}.glob", f"{glob!r} must be a file name pattern like 'Account*.csv' (no folders)")
    if not isinstance(raw["columns"], Mapping):
        raise _err(profile, f"{key}.columns", "must be a table of contract column = mapping")
    columns = []
    for name, m in raw["columns"].items():
        if name not in src.column_names:
            raise _err(
                profile,
                f"{key}.columns.{name}",
                f"{source_name} has no column {name!r}; its columns are {', '.join(src.column_names)}",
            )
        columns.append((name, parse_column(profile, f"{key}.columns.{name}", m, variables)))
    account = _parse_account(profile, f"{key}.account", raw["account"], variables) if "account" in raw else None
    if account is not None and "account_id" not in src.column_names:
        raise _err(profile, f"{key}.account", f"{source_name} has no account_id to find")
    if account is not None and "account_id" in dict(columns):
        raise _err(profile, f"{key}.account", "give either columns.account_id or account, not both")
    mapped = set(dict(columns)) | ({"account_id"} if account else set())
    missing = [c.name for c in src.columns if c.required and c.default is None and c.name not in mapped]
    if missing:
        raise _err(
            profile,
            f"{key}.columns",
            f"{source_name} needs a mapping for its required column(s) {', '.join(missing)}",
        )
    optional = raw.get("optional_headers", [])
    if not isinstance(optional, list):
        raise _err(profile, f"{key}.optional_headers", "must be a list of header names")
    return FileSpec(
        source=source_name,
        glob=glob,
        columns=tuple(columns),
        account=account,
        filter=_sql(profile, f"{key}.filter", raw["filter"], variables) if "filter" in raw else None,
        optional_headers=tuple(_headers(profile, f"{key}.optional_headers", h, variables)[0] for h in optional),
        where=f"profile {profile}, {key}",
    )


def parse_profile(
    raw: Mapping[str, Any], origin: str = "built-in", settings: Mapping[str, Any] | None = None
) -> Profile:
    """A profile from its TOML table; ``settings`` overrides its [settings] values."""
    name = str(raw.get("name", "")).strip()
    if not NAME_RE.match(name):
        raise ProfileError(
            f"a profile in {origin} has the name {name!r}; a profile needs a name of lower-case letters, digits and _"
        )
    _check_keys(name, "the profile", raw, {"name", "folder", "description", "files", "settings", "extends"})
    declared = raw.get("settings", {})
    if not isinstance(declared, Mapping):
        raise _err(name, "settings", "must be a table of name = value")
    variables = {str(k): _text(name, f"settings.{k}", v) for k, v in declared.items()}
    for k, v in (settings or {}).items():
        if k not in variables:
            raise _err(
                name, f"settings.{k}", f"unknown setting; the profile's settings are {', '.join(variables) or 'none'}"
            )
        variables[k] = _text(name, f"settings.{k}", v)
    folder = _text(name, "folder", raw.get("folder", name)).strip().lower()
    if not NAME_RE.match(folder) or folder in CONTRACT_FOLDERS:
        raise _err(
            name,
            "folder",
            f"{folder!r} must be one folder name under landing/ (letters, digits, _), not crm, surveys or billing",
        )
    files = raw.get("files")
    if not isinstance(files, list) or not files:
        raise _err(name, "files", "needs at least one [[files]] table (source, glob, columns)")
    return Profile(
        name=name,
        folder=folder,
        files=tuple(_parse_file(name, i, f, variables) for i, f in enumerate(files)),
        description=str(raw.get("description", "")),
        origin=origin,
        variables=tuple(sorted(variables.items())),
    )
