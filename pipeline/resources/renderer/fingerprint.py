"""Fingerprints that decide whether a report must be rendered again.

A report is re-rendered only when its input hash changes: the hash of its context
(canonical JSON) plus a fingerprint of everything else that shapes the output: the
files of report_templates/, the rendering and chart code, and the WeasyPrint and
matplotlib versions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from pipeline.code_fingerprint import code_fingerprint

# The code that turns a context into bytes, whatever the document (see pipeline.code_fingerprint).
RENDER_CODE = (
    "pipeline/resources/renderer/worker.py",
    "pipeline/resources/renderer/accessibility.py",
    "pipeline/resources/renderer/fetcher.py",
    "pipeline/resources/renderer/environment.py",
    "pipeline/reporting/charts.py",
    "pipeline/reporting/formatting.py",
)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value else "NaN"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"cannot hash a {type(value).__name__} in a report context")


def canonical_json(value: Any) -> str:
    """Stable text of a context: sorted keys, decimals normalised, dates ISO."""
    return json.dumps(value, default=_default, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


@lru_cache(maxsize=8)
def _fingerprint(templates_dir: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    root = Path(templates_dir)
    for rel, _, _ in stamp:
        h.update(rel.encode("utf-8") + b"\0")
        h.update((root / rel).read_bytes())
        h.update(b"\0")
    for package in ("weasyprint", "matplotlib", "jinja2"):
        h.update(f"{package}={_version(package)}\0".encode())
    return h.hexdigest()


def render_fingerprint(
    templates_dir: Path, include: tuple[str, ...] | None = None, code: tuple[str, ...] = RENDER_CODE
) -> str:
    """Hash of the templates folder's files (or only those under the ``include``
    prefixes, e.g. ``("client/", "css/")``), the library versions and the ``code`` that
    shapes the document (the renderer's own, plus a document's chart and context code)."""
    root = Path(templates_dir).resolve()
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in rel.split("/")):
            continue
        if include is not None and not rel.startswith(include):
            continue
        st = path.stat()
        entries.append((rel, st.st_size, st.st_mtime_ns))
    return _fingerprint(str(root), tuple(entries)) + code_fingerprint(*code)


def input_hash(context: dict[str, Any], fingerprint: str) -> str:
    h = hashlib.sha256()
    h.update(canonical_json(context).encode("utf-8"))
    h.update(b"\0" + fingerprint.encode("ascii"))
    return h.hexdigest()
