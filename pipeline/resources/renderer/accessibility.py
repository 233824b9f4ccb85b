"""What WeasyPrint's tagged PDF leaves out of PDF/UA-1 and this module adds.

WeasyPrint tags a table's header cells (``TH`` with an ``ID``) and points every data cell
at its headers (``/Headers``), which ISO 14289-1 §7.5 accepts; it writes no ``/Scope`` on
the header cells, which assistive technology and checkers that look only at the header
cells (the ``pdfua`` package among them) rely on. ``add_header_scopes`` gives every
``TH`` a ``/Scope``: ``/Column`` in a row of header cells only, ``/Row`` in a row that
also has data cells (a ``<th scope="row">``).

Deterministic: the same PDF bytes in give the same bytes out (the document ID is derived
from the content), so a report's sha256 still changes only when its content does.
"""

from __future__ import annotations

import io

import pikepdf

_TH, _TD, _TR = pikepdf.Name("/TH"), pikepdf.Name("/TD"), pikepdf.Name("/TR")


def _kids(element: pikepdf.Dictionary) -> list[pikepdf.Dictionary]:
    k = element.get("/K")
    if k is None:
        return []
    items = list(k) if isinstance(k, pikepdf.Array) else [k]
    return [i for i in items if isinstance(i, pikepdf.Dictionary) and "/S" in i]


def _rows(element: pikepdf.Dictionary, depth: int = 0):
    """The TR elements under ``element`` (a Table, or its THead/TBody/TFoot)."""
    for kid in _kids(element):
        if kid.get("/S") == _TR:
            yield kid
        elif depth < 3:
            yield from _rows(kid, depth + 1)


def _walk(element: pikepdf.Dictionary, depth: int = 0):
    yield element
    if depth < 200:
        for kid in _kids(element):
            yield from _walk(kid, depth + 1)


def add_header_scopes(pdf: bytes) -> bytes:
    """The PDF with a ``/Scope`` on every table header cell that has none (see the module)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        root = doc.Root.get("/StructTreeRoot")
        if not isinstance(root, pikepdf.Dictionary):
            return pdf
        changed = False
        seen: set[tuple[int, int]] = set()
        for element in _walk(root):
            if element.get("/S") != pikepdf.Name("/Table"):
                continue
            for row in _rows(element):
                cells = _kids(row)
                scope = pikepdf.Name("/Row") if any(c.get("/S") == _TD for c in cells) else pikepdf.Name("/Column")
                for cell in cells:
                    if cell.get("/S") != _TH or cell.objgen in seen:
                        continue
                    seen.add(cell.objgen)
                    attributes = cell.get("/A")
                    if not isinstance(attributes, pikepdf.Dictionary):
                        attributes = pikepdf.Dictionary(O=pikepdf.Name("/Table"))
                        cell.A = attributes
                    if "/Scope" not in attributes:
                        attributes.Scope = scope
                        changed = True
        if not changed:
            return pdf
        out = io.BytesIO()
        doc.save(out, deterministic_id=True)
        return out.getvalue()
