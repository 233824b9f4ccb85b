"""One hash of the code a table or document depends on, and nothing else.

A staging table, a mart or a report is rebuilt when the code that shapes it changes.
Hashing the whole package would rebuild every mart after an edit to the CLI or the
benchmark, so each caller names what it depends on: files or folders relative to the
repository root (``pipeline/transforms``, ``pipeline/schemas.py``, ``sql/marts``).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
CODE_SUFFIXES = (".py", ".sql")


def _files(part: str) -> list[Path]:
    path = REPO_DIR / part
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"code_fingerprint: {part} is not a file or folder of the repository")
    return sorted(
        p for p in path.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file() and "__pycache__" not in p.parts
    )


@cache
def code_fingerprint(*parts: str) -> str:
    """sha256 over the named files (every .py and .sql under a named folder), by path and bytes."""
    h = hashlib.sha256()
    for path in sorted({f for part in parts for f in _files(part)}):
        h.update(path.relative_to(REPO_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()
