"""Vendor export files built from the export profiles themselves (bad-input and injection
suites, tests/reliability/).

Nothing here knows Salesforce, Stripe, Zendesk or HubSpot: every file is derived from a
profile's data (pipeline/profiles/*.toml, or a ``[[profiles]]`` table), so a profile, a
file spec or a column mapping added there is covered without touching the tests.

* ``groups(profile)``: the files a profile reads, one per glob (specs sharing a glob,
  like Zendesk's tickets and CSAT responses, read the same file).
* ``VendorFile``: for one glob, the export headers it needs and a valid row for any index
  ``i`` (unique keys per ``i``). Header values follow the role the header plays: a
  contract column read as is (a valid contract value), a value map (a key that maps to a
  valid code), an expression input of a declared kind, a header only an expression reads
  (found by trying candidates: values of the columns it feeds, the expression's own
  string literals, empty), or an account lookup (CRM id, external id, e-mail).
* ``value_cases(profile, spec)``: broken values for the headers a spec reads, each with
  the export header, value and reason phrase the quarantine must name.
* ``stage_group``: a file's rows through the real reader, the profile's mapping,
  account lookup and staging, as pure functions.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from hypothesis import strategies as st

from pipeline.contract import Column, Kind, Source
from pipeline.contract import source as contract_source
from pipeline.exports import ExportFile
from pipeline.landing import file_sha256
from pipeline.profiles import FileSpec, Profile, resolve_profiles
from pipeline.profiles.plan import header_key, plan_file
from pipeline.store.expressions import check_profiles
from pipeline.store.vendor_loading import read_vendor_rows
from pipeline.transforms.matching import account_lookups, resolve_accounts
from pipeline.transforms.staging import StagedResult, stage_source
from pipeline.zipsafe import ZipLimits
from tests.support.input_helpers import N_BASE, known_keys, valid_value

Value = Callable[[int], str]

# A broken value of each kind, and the phrase of the reason staging gives it.
BAD_BY_KIND: dict[Kind, tuple[str, str]] = {
    Kind.MONEY: ("USD 30", "not a number"),
    Kind.NUMBER: ("USD 30", "not a number"),
    Kind.INTEGER: ("four", "not a whole number"),
    Kind.DATE: ("24/11/2026", "not a valid date"),
    Kind.MONTH: ("Nov 2026", "not a valid month"),
    Kind.TIMESTAMP: ("Nov 24 2026 10:00", "not a valid ISO 8601"),
    Kind.CURRENCY: ("US Dollar", "ISO 4217"),
    Kind.BOOLEAN: ("maybe", "not true or false"),
    Kind.EMAIL: ("not-an-email", "not an e-mail"),
    Kind.EMAIL_LIST: ("a@example.com, b@example.com", "not a list"),
}
INPUT_VALUE = {"number": "3", "integer": "2", "date": "2024-03-01", "timestamp": "2024-03-01T10:00:00Z"}
BAD_INPUT = {"number": "USD 30", "integer": "four", "date": "24/11/2026", "timestamp": "Nov 24 2026 10:00"}


def builtin_profiles() -> tuple[Profile, ...]:
    return tuple(p for p in resolve_profiles() if p.origin == "built-in")


def sql_refs(profiles: Sequence[Profile] | None = None) -> dict[str, tuple[str, ...]]:
    return check_profiles(tuple(profiles or builtin_profiles()))


def file_name(glob: str, stub: str = "rx") -> str:
    """A file name the glob matches (``*subscriptions*.csv`` -> ``rxsubscriptionsrx.csv``)."""
    name = glob.replace("*", stub).replace("?", "x")
    return re.sub(r"\[[^\]]*\]", "x", name)


def groups(profile: Profile) -> dict[str, list[FileSpec]]:
    """The profile's specs by glob (one file each)."""
    out: dict[str, list[FileSpec]] = {}
    for spec in profile.files:
        out.setdefault(spec.glob, []).append(spec)
    return out


def _literals(expression: str) -> list[str]:
    return [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", expression)]


def _required(src: Source, name: str) -> bool:
    c = src.column(name)
    return c.required and c.default is None


def _contract_value(src: Source, column: Column) -> Value:
    return lambda i: valid_value(src, column, i)


@dataclass
class Role:
    """What a header is to one spec: how to fill it, and the candidates when unsure."""

    candidates: list[Value]
    fixed: bool  # a column read as is, a value map or an account header: one way to fill it


def _roles(spec: FileSpec, refs: dict[str, tuple[str, ...]]) -> dict[str, Role]:
    """header_key -> Role, for every header the spec reads (first alternative of a list)."""
    src = contract_source(spec.source)
    roles: dict[str, Role] = {}
    names: dict[str, str] = {}

    def put(header: str, role: Role) -> None:
        k = header_key(header)
        names.setdefault(k, header)
        if k not in roles or (role.fixed and not roles[k].fixed):
            roles[k] = role
        elif not roles[k].fixed and not role.fixed:
            roles[k].candidates.extend(role.candidates)

    optional = {header_key(h) for h in spec.optional_headers}
    for name, m in spec.columns:
        column = src.column(name)
        if m.sql is None and m.headers:
            if m.codes:
                good = [
                    k for k, v in m.codes if (column.kind != Kind.CODE or not column.codes or v.lower() in column.codes)
                ]
                put(m.headers[0], Role([lambda i, g=good: g[i % len(g)]], True))
            else:
                put(m.headers[0], Role([_contract_value(src, column)], True))
        elif m.sql is not None:
            inputs = {header_key(h): kind for h, kind in m.inputs}
            for h in refs[m.sql]:
                if header_key(h) in inputs:
                    v = INPUT_VALUE[inputs[header_key(h)]]
                    put(h, Role([lambda i, v=v: v], True))
                    continue
                cands: list[Value] = [_contract_value(src, column)]
                if column.kind == Kind.TEXT:
                    cands = [lambda i, h=h: f"{h} {i}"]
                cands += [lambda i, v=v: v for v in _literals(m.sql)]
                if header_key(h) in optional or not _required(src, name):
                    cands.append(lambda i: "")
                put(h, Role(cands, False))
    if spec.filter is not None:
        for h in refs[spec.filter]:
            cands = [lambda i, v=v: v for v in _literals(spec.filter)]
            if header_key(h) in optional:
                cands.insert(0, lambda i: "")
            put(h, Role(cands or [lambda i, h=h: f"{h} {i}"], False))
    if spec.account is not None:
        a = spec.account
        if a.crm_id:
            put(a.crm_id[0], Role([lambda i: f"RXA{i % N_BASE}"], True))
        if a.external_id:
            put(a.external_id, Role([lambda i: f"EXT{i}"], True))
        if a.email:
            put(a.email, Role([lambda i: f"person{i}@example.com"], True))
    # Keep the header spelling of the profile.
    return {names[k]: r for k, r in roles.items()}


@dataclass
class VendorFile:
    """One export file of a profile (one glob): its headers and valid rows."""

    profile: Profile
    glob: str
    specs: list[FileSpec]
    headers: list[str]
    values: dict[str, Value]  # header -> value of row i

    @property
    def name(self) -> str:
        return file_name(self.glob)

    @property
    def rel(self) -> str:
        return f"{self.profile.folder}/{self.name}"

    def row(self, i: int, **changes: str) -> dict[str, str]:
        out = {h: self.values[h](i) for h in self.headers}
        for h, v in changes.items():
            assert h in out, (h, self.headers)
            out[h] = v
        return out

    def rows(self, n: int, start: int = 0) -> list[dict[str, str]]:
        return [self.row(start + i) for i in range(n)]


def to_csv(headers: Sequence[str], rows: Sequence[dict[str, str]], newline: str = "\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(headers)
    w.writerows([[r.get(h, "") for h in headers] for r in rows])
    return buf.getvalue().encode("utf-8")


def export_file(path: Path, profile: Profile, data: bytes) -> ExportFile:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return ExportFile(profile.name, profile.folder, path, None, file_sha256(path), len(data))


# ------------------------------------------------------------------ pure staging


def aliases_for(system: str, n: int = 5000) -> pl.DataFrame:
    """crm/account_aliases for external ids EXT<i> (account RXA<i mod N_BASE>)."""
    return pl.DataFrame(
        {
            "account_id": [f"RXA{i % N_BASE}" for i in range(n)],
            "system": [system] * n,
            "external_id": [f"EXT{i}" for i in range(n)],
        }
    )


def contacts_for(n: int = 5000) -> pl.DataFrame:
    return pl.DataFrame(
        {"account_id": [f"RXA{i % N_BASE}" for i in range(n)], "email": [f"person{i}@example.com" for i in range(n)]}
    )


@dataclass
class SpecResult:
    spec: FileSpec
    source: Source
    raw: pl.DataFrame  # the rows the profile kept, as raw holds them
    rows_read: int
    result: StagedResult

    @property
    def filtered(self) -> int:
        return self.rows_read - self.raw.height


def stage_spec(file: ExportFile, profile: Profile, spec: FileSpec, refs: dict[str, tuple[str, ...]]) -> SpecResult:
    """One export through read_vendor_rows, the account lookup and staging (no warehouse)."""
    rows = read_vendor_rows(file, profile, spec, refs, ZipLimits())
    raw = rows.frame.with_columns(
        pl.lit(file.name).alias("_file"), pl.lit(datetime(2026, 1, 1, tzinfo=UTC)).alias("_loaded_at")
    )
    source = contract_source(spec.source)
    if spec.account is not None and account_lookups(source):
        contacts = contacts_for() if "contacts" in account_lookups(source) else None
        raw = resolve_accounts(raw, aliases_for(spec.account.system), contacts)
    return SpecResult(spec, source, raw, rows.rows_read, stage_source(source, raw, known_keys()))


def stage_group(
    folder: Path, vf: VendorFile, data: bytes, refs: dict[str, tuple[str, ...]], name: str | None = None
) -> tuple[ExportFile, list[SpecResult]]:
    f = export_file(folder / vf.profile.folder / (name or vf.name), vf.profile, data)
    return f, [stage_spec(f, vf.profile, spec, refs) for spec in vf.specs]


# ------------------------------------------------------------------ finding valid rows


def vendor_file(profile: Profile, glob: str, refs: dict[str, tuple[str, ...]], tmp: Path) -> VendorFile:
    """The file of ``glob``: headers and a value per header such that a row is staged by
    every spec reading it (not filtered out, not quarantined). Headers with one way to be
    filled get it; the others are searched over their candidates."""
    specs = groups(profile)[glob]
    roles: dict[str, Role] = {}
    for spec in specs:
        for h, r in _roles(spec, refs).items():
            k = next((x for x in roles if header_key(x) == header_key(h)), h)
            if k not in roles or (r.fixed and not roles[k].fixed):
                roles[k] = Role(list(r.candidates), r.fixed)
            elif not roles[k].fixed and not r.fixed:
                roles[k].candidates.extend(r.candidates)
    headers = list(roles)
    fixed = {h: r.candidates[0] for h, r in roles.items() if r.fixed}
    open_ = [h for h, r in roles.items() if not r.fixed]
    combos = list(itertools.islice(itertools.product(*(range(len(roles[h].candidates)) for h in open_)), 4000))

    def values_of(combo: tuple[int, ...]) -> dict[str, Value]:
        return {**fixed, **{h: roles[h].candidates[c] for h, c in zip(open_, combo, strict=True)}}

    rows = [{h: v(i) for h, v in values_of(combo).items()} for i, combo in enumerate(combos)]  # row i+1 tries combo i
    vf = VendorFile(profile, glob, specs, headers, {})
    _f, results = stage_group(tmp, vf, to_csv(headers, rows), refs)
    good: set[int] | None = None
    for r in results:
        staged = set(r.result.frame["_row"].to_list())
        good = staged if good is None else good & staged
    assert good, f"{profile.name} {glob}: no candidate row is staged by every spec ({len(combos)} tried)"
    vf.values = values_of(combos[min(good) - 1])
    return vf


@dataclass(frozen=True)
class ValueCase:
    """A broken value in one export header; the quarantine must name ``header``, the value
    (None for an empty one) and a reason containing ``reason``."""

    name: str
    changes: dict[str, str]
    header: str
    value: str | None
    reason: str
    spec_source: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def value_cases(spec: FileSpec, plan_headers: Sequence[str], refs: dict[str, tuple[str, ...]]) -> list[ValueCase]:
    """Broken values for the headers the spec reads: each column read as is or through a
    value map (a value not of its kind, an unknown code or reference, an empty required
    one), each declared expression input, and each way of finding the account. Headers
    the spec's filter reads are left out (a broken one there filters the row out)."""
    src = contract_source(spec.source)
    plan = plan_file(spec, plan_headers, refs)
    in_filter = {header_key(h) for h in refs.get(spec.filter or "", ())}
    cases: list[ValueCase] = []
    for name, m in spec.columns:
        column = src.column(name)
        if m.sql is None and m.headers and name in plan.reads and plan.reads[name]:
            h = plan.reads[name][0]
            if header_key(h) in in_filter:
                continue
            if column.references:
                cases.append(ValueCase(f"{h}: unknown reference", {h: "RX-NOBODY"}, h, "RX-NOBODY", "unknown"))
            elif column.kind == Kind.CODE and column.codes and not (m.codes and m.otherwise is not None):
                cases.append(ValueCase(f"{h}: unknown code", {h: "platinum"}, h, "platinum", "unknown"))
            elif not m.codes and column.kind in BAD_BY_KIND:
                bad, reason = BAD_BY_KIND[column.kind]
                cases.append(ValueCase(f"{h}: {column.kind.value} {bad!r}", {h: bad}, h, bad, reason))
            if _required(src, name) and m.value is None:
                cases.append(ValueCase(f"{h}: empty required value", {h: ""}, h, None, "missing required value"))
        elif m.sql is not None:
            for h, kind in m.inputs:
                actual = plan.header(h)
                if actual is None or header_key(h) in in_filter:
                    continue
                phrase = BAD_BY_KIND.get(column.kind, ("", ""))[1]
                bad = BAD_INPUT[kind]
                cases.append(ValueCase(f"{actual}: {kind} input {bad!r}", {actual: bad}, actual, bad, phrase))
    if spec.account is not None:
        heads = plan.account_headers
        blank = {h: "" for h in heads.values()}
        if "crm_id" in heads:
            h = heads["crm_id"]
            cases.append(ValueCase(f"{h}: unknown CRM id", {**blank, h: "RX-NOBODY"}, h, "RX-NOBODY", "unknown"))
        if "external_id" in heads:
            h = heads["external_id"]
            cases.append(
                ValueCase(f"{h}: unknown external id", {**blank, h: "EXT-NOBODY"}, h, "EXT-NOBODY", "no account found")
            )
        if "email" in heads:
            h = heads["email"]
            bad = "nobody@nowhere.example"
            cases.append(ValueCase(f"{h}: unknown e-mail", {**blank, h: bad}, h, bad, "no contact has the e-mail"))
        h = heads.get("external_id") or heads.get("email") or heads["crm_id"]
        cases.append(ValueCase("no account id at all", blank, h, None, "missing required value"))
    return [ValueCase(c.name, c.changes, c.header, c.value, c.reason, spec.source) for c in cases]


def combined_cases(vf: VendorFile, refs: dict[str, tuple[str, ...]], base: int = 3):
    """Valid rows 1..base, then one row per broken-value case of every spec of the file.
    Returns (bytes, [(case, row number)])."""
    rows = vf.rows(base)
    placed: list[tuple[ValueCase, int]] = []
    for spec in vf.specs:
        for case in value_cases(spec, vf.headers, refs):
            rows.append(vf.row(1000 + len(rows), **case.changes))
            placed.append((case, len(rows)))
    return to_csv(vf.headers, rows), placed


# ------------------------------------------------------------------ hypothesis


GARBAGE = (
    "",
    " ",
    "NULL",
    "NaN",
    "-0",
    "1,234.50",
    "$12",
    "24/11/2026",
    "9999-12-31",
    "0001-01-01",
    "2023-02-29",
    "-50",
    "1e3",
    "yes",
    "RX-NOBODY",
    "EXT-NOBODY",
    "a@b",
    "x" * 300,
    "'; DROP TABLE raw.accounts; --",
    '" OR 1=1 --',
)


@st.composite
def generated_vendor_file(draw: st.DrawFn, vf: VendorFile) -> tuple[bytes, int]:
    """(bytes, data rows written) of an export in ``vf``'s shape: mostly all its headers
    (any order and case, sometimes one dropped, strangers added), cells valid or garbage,
    any line ending, sometimes re-encoded, truncated or with bytes spliced in."""
    headers = list(vf.headers)
    if draw(st.integers(0, 4)) == 0:
        headers.remove(draw(st.sampled_from(headers)))
    headers += draw(st.lists(st.sampled_from(["Notes", "_row", "_file", "_origin", "c_x"]), unique=True, max_size=2))
    headers = draw(st.permutations(headers))
    n = draw(st.integers(0, 8))
    pool = draw(st.lists(st.one_of(st.sampled_from(GARBAGE), st.text(max_size=10)), min_size=1, max_size=5))
    rows = []
    for _ in range(n):
        valid = vf.row(draw(st.integers(0, 40)))
        row = {}
        for h in headers:
            pick = draw(st.integers(0, len(pool) + 2))
            row[h] = pool[pick - 3] if pick >= 3 else valid.get(h, "x")
        rows.append(row)
    # Headers in any case and with surrounding spaces, the loader's own names among them.
    shown = [draw(st.sampled_from([h, h.upper(), h.lower(), f" {h} "])) for h in headers]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    w.writerow(shown)
    w.writerows([[row[h] for h in headers] for row in rows])
    data = buf.getvalue().encode("utf-8")
    mangle = draw(st.sampled_from(["none"] * 6 + ["bom", "latin1", "truncate", "bytes", "utf16"]))
    if mangle == "bom":
        data = b"\xef\xbb\xbf" + data
    elif mangle == "latin1":
        data = data.decode().encode("latin-1", errors="replace")
    elif mangle == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mangle == "bytes":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    elif mangle == "utf16":
        data = data.decode().encode("utf-16")
    return data, n
