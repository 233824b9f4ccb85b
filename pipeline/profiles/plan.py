"""What a profile will read from one export file, given the file's headers.

Pure: the same plan answers ``pipeline profiles check DIR`` (which headers each profile
reads, which required ones are missing, which it ignores) and drives the load, so the
check can never promise something the load does not do. Header names match
case-insensitively (and ignoring surrounding spaces and a BOM).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.contract import source as contract_source
from pipeline.profiles.model import FileSpec


def header_key(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class FilePlan:
    """``reads``: contract column -> the export headers it is filled from (as the file
    writes them); ``nulls``: optional columns left empty because the file lacks their
    headers; ``missing``: (contract column, header) pairs the file must have and has not
    (the file cannot be loaded); ``ignored``: headers nothing reads; ``absent``: optional
    headers the file lacks (read as empty)."""

    spec: FileSpec
    actual: Mapping[str, str]  # header_key -> the header as written
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nulls: list[str] = field(default_factory=list)
    missing: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    account_headers: dict[str, str] = field(default_factory=dict)  # crm_id|external_id|email -> header

    @property
    def ok(self) -> bool:
        return not self.missing

    def header(self, name: str) -> str | None:
        """The file's own spelling of a header, or None when it lacks it."""
        return self.actual.get(header_key(name))


def plan_file(spec: FileSpec, headers: Sequence[str], sql_refs: Mapping[str, tuple[str, ...]]) -> FilePlan:
    """The plan of ``spec`` for a file with ``headers``; ``sql_refs`` maps each SQL
    expression of the spec to the headers it reads (from pipeline.store.expressions)."""
    actual: dict[str, str] = {}
    for h in headers:
        actual.setdefault(header_key(h), h)
    plan = FilePlan(spec=spec, actual=actual)
    optional = {header_key(h) for h in spec.optional_headers}
    used: set[str] = set()
    src = contract_source(spec.source)

    def have(h: str) -> bool:
        return header_key(h) in actual

    for name, m in spec.columns:
        required = src.column(name).required and src.column(name).default is None
        if m.sql is not None:
            refs = sql_refs.get(m.sql, ())
            lacking = [r for r in refs if not have(r) and header_key(r) not in optional]
            used |= {header_key(r) for r in refs}
            if lacking and required:
                plan.missing.extend((name, r) for r in lacking)
            elif lacking:
                plan.nulls.append(name)
            else:
                plan.reads[name] = tuple(actual.get(header_key(r), r) for r in refs)
        elif m.headers:
            found = next((actual[header_key(h)] for h in m.headers if have(h)), None)
            if found is not None:
                used.add(header_key(found))
                plan.reads[name] = (found,)
            elif m.value is not None:
                plan.reads[name] = ()  # the default
            elif required:
                plan.missing.append((name, " or ".join(m.headers)))
            else:
                plan.nulls.append(name)
        else:
            plan.reads[name] = ()  # a constant
    if spec.account is not None:
        a = spec.account
        for role, names in (("crm_id", a.crm_id), ("external_id", (a.external_id,)), ("email", (a.email,))):
            found = next((actual[header_key(h)] for h in names if h and have(h)), None)
            if found is not None:
                plan.account_headers[role] = found
                used.add(header_key(found))
        if not plan.account_headers:
            plan.missing.append(("account_id", " or ".join(a.headers)))
        else:
            plan.reads["account_id"] = tuple(plan.account_headers.values())
    if spec.filter is not None:
        refs = sql_refs.get(spec.filter, ())
        used |= {header_key(r) for r in refs}
        plan.missing.extend(("(filter)", r) for r in refs if not have(r) and header_key(r) not in optional)
    plan.absent.extend(h for h in spec.optional_headers if not have(h))
    plan.ignored.extend(h for k, h in actual.items() if k not in used)
    return plan
