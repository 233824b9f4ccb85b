"""Issue 16: hostile payloads in the vendor exports' text headers (account names through
Salesforce's Account.Name, contact names, Zendesk subjects, Stripe products...) reach
staging exactly, never quarantined, mangled or evaluated on the way in: neither the
profile's SQL (header names and values are bound or quoted, never pasted) nor the CSV
reader. The text headers come from the built-in profiles' data (tests.support.vendor_inputs):
every header a profile reads into a text column of the contract.

(The rendering half, every payload inert in a client report and its e-mail, is covered
for contract-shaped data by test_injection.py; staging is where both paths meet.)
"""

from __future__ import annotations

import pytest

from pipeline.contract import Kind
from pipeline.contract import source as contract_source
from tests.support.security_helpers import PAYLOADS
from tests.support.vendor_inputs import builtin_profiles, groups, sql_refs, stage_group, to_csv, vendor_file


@pytest.fixture(autouse=True)
def test_instance():
    """No Dagster instance is used here; skip the folder's per-test one."""
    yield None


def text_headers(vf) -> dict[str, tuple[str, str]]:
    """Export header -> (source, text column) it is read into as is, for every spec of the file."""
    out: dict[str, tuple[str, str]] = {}
    for spec in vf.specs:
        src = contract_source(spec.source)
        for name, m in spec.columns:
            c = src.column(name)
            if (
                m.sql is None
                and m.headers
                and not m.codes
                and c.kind == Kind.TEXT
                and not c.references
                and name not in src.key
                and not name.endswith("_id")
            ):
                header = next(h for h in vf.headers if h.lower() == m.headers[0].lower())
                out.setdefault(header, (spec.source, name))
    return out


def test_every_payload_in_every_vendor_text_header_is_staged_exactly(tmp_path):
    refs = sql_refs()
    cases = 0
    covered: set[tuple[str, str]] = set()
    for p in builtin_profiles():
        for glob in groups(p):
            vf = vendor_file(p, glob, refs, tmp_path / "search" / p.name)
            fields = text_headers(vf)
            if not fields:
                continue
            # Padding first: a NUL in the first 4 KiB makes a file "binary" (tested elsewhere).
            rows = [vf.row(i, **{h: f"PAD{i}-" + "p" * 200 for h in fields}) for i in range(30)]
            expected: dict[int, tuple[str, str, str]] = {}
            for h in fields:
                for payload in PAYLOADS.values():
                    n = len(rows)
                    value = f"zq{n:04d}" + payload
                    rows.append(vf.row(100 + n, **{h: value}))
                    expected[n + 1] = (h, *fields[h])
                    expected[n + 1] = (*expected[n + 1], value.replace("\r\n", "\n").replace("\r", "\n").strip())
            _f, results = stage_group(tmp_path / "files" / p.name, vf, to_csv(vf.headers, rows, "\r\n"), refs)
            for r in results:
                assert r.rows_read == len(rows)
                assert r.result.rows_quarantined == 0, (vf.rel, r.result.rejects.head(5).to_dicts())
                staged = {row["_row"]: row for row in r.result.frame.iter_rows(named=True)}
                for row_no, (header, source, column, value) in expected.items():
                    if source != r.spec.source:
                        continue
                    assert staged[row_no][column] == value, (vf.rel, header, row_no)
                    covered.add((vf.rel, header))
                    cases += 1
    print(f"\nvendor text headers attacked: {len(covered)}, cases {cases}")
    names = {h for _, h in covered}
    # Spot checks that the derivation finds the headers the issue names.
    assert {"Name", "Subject", "Number", "Company name", "Ticket name"} <= names, names
    assert cases == len(covered) * len(PAYLOADS)
