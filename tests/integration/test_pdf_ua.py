"""Every kind of PDF the pipeline writes passes a PDF/UA-1 check.

The reports claim PDF/UA (tagged, with a PDF/UA identification). Each PDF of a closed
sample month (client reports, the leadership pack, and any other kind a later change adds
under reports/, such as managers' books) is checked with the ``pdfua`` package (the
machine-checkable part of PDF/UA-1 it implements, on pikepdf) and must have no finding at
all. ``pdfua`` cannot evaluate empty headings on these files (its UA-14-001 rule stops on a
/K array of numbers) and judges table headers only by /Scope on the header cells, so this
module adds its own checks, read from the structure tree with pikepdf: every heading
marks content, every data cell of a table with headers points (/Headers) at header cells
that exist (/ID), every header cell has a /Scope, every font is embedded, the document has
a title, a language and the PDF/UA identification. What no program can judge (reading
order, whether alt text or a heading says the right thing) is for a person: README.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest
from pdfua import validate

pytestmark = pytest.mark.slow

# Rules pdfua cannot evaluate on our files, and the check here that covers each.
KNOWN_SKIPS = {"UA-14-001": "test_headings_tables_fonts_and_identification (headings mark content)"}


@pytest.fixture(scope="module")
def pdfs(closed_month_template_root) -> dict[str, Path]:
    """Every PDF of the closed month, by kind (the folder under reports/YYYY-MM/)."""
    reports = closed_month_template_root.data / "reports"
    found: dict[str, Path] = {}
    for path in sorted(reports.rglob("*.pdf")):
        kind = path.relative_to(reports).parts[1]
        found.setdefault(kind, path)
    return found


def test_every_kind_of_document_is_checked(pdfs):
    assert {"clients", "leadership"} <= set(pdfs), sorted(pdfs)


def test_pdfua_finds_nothing(pdfs):
    for kind, path in pdfs.items():
        report = validate(str(path))
        findings = [f"{f.rule_id} {f.severity.name} {f.location.describe()}: {f.message}" for f in report.findings]
        assert not findings, f"{kind} ({path.name}):\n" + "\n".join(findings[:20])
        skipped = {o.rule_id for o in report.skipped}
        assert skipped <= set(KNOWN_SKIPS), f"{kind}: pdfua could not evaluate {sorted(skipped - set(KNOWN_SKIPS))}"


def _kids(node) -> list:
    k = node.get("/K")
    if k is None:
        return []
    return list(k) if isinstance(k, pikepdf.Array) else [k]


def _elements(root):
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Dictionary):
            yield node
            stack.extend(k for k in _kids(node) if isinstance(k, pikepdf.Dictionary))


def _marks_content(node) -> bool:
    for kid in _kids(node):
        if isinstance(kid, int) or (isinstance(kid, pikepdf.Object) and kid._type_code == pikepdf.ObjectType.integer):
            return True
        if isinstance(kid, pikepdf.Dictionary) and (kid.get("/Type") == pikepdf.Name("/MCR") or _marks_content(kid)):
            return True
    return False


def test_headings_tables_fonts_and_identification(pdfs):
    for kind, path in pdfs.items():
        with pikepdf.open(path) as pdf:
            root = pdf.Root.StructTreeRoot
            elements = list(_elements(root))
            roles = [str(e.get("/S")) for e in elements if "/S" in e]
            headings = [e for e in elements if str(e.get("/S")) in {"/H1", "/H2", "/H3", "/H4", "/H5", "/H6"}]
            assert headings and all(_marks_content(h) for h in headings), f"{kind}: an empty heading"
            assert "/Table" in roles
            ids = {bytes(e.ID) for e in elements if e.get("/S") == pikepdf.Name("/TH") and "/ID" in e}
            for e in elements:
                a = e.get("/A")
                if e.get("/S") == pikepdf.Name("/TH"):
                    assert isinstance(a, pikepdf.Dictionary) and "/Scope" in a, f"{kind}: a header cell without /Scope"
                if e.get("/S") == pikepdf.Name("/TD") and isinstance(a, pikepdf.Dictionary) and "/Headers" in a:
                    assert {bytes(h) for h in a.Headers} <= ids, f"{kind}: a data cell names a missing header"
            figures = [e for e in elements if e.get("/S") == pikepdf.Name("/Figure")]
            assert all(str(f.get("/Alt", "")).strip() for f in figures), f"{kind}: a figure without alt text"
            for page in pdf.pages:
                for name, font in (page.Resources.get("/Font") or {}).items():
                    descendants = font.get("/DescendantFonts")
                    described = descendants[0] if descendants else font
                    descriptor = described.get("/FontDescriptor")
                    assert descriptor is not None and any(
                        k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
                    ), f"{kind}: font {name} is not embedded"
            assert str(pdf.docinfo.get("/Title", "")).strip(), f"{kind}: no title"
            assert str(pdf.Root.get("/Lang", "")).strip(), f"{kind}: no language"
            assert pdf.Root.MarkInfo.Marked, kind
            assert pdf.Root.ViewerPreferences.DisplayDocTitle, kind
            xmp = pdf.Root.Metadata.read_bytes()
            assert b"pdfuaid:part" in xmp and b"pdfaid:part" in xmp, f"{kind}: no PDF/UA or PDF/A identification"
