"""The one way SQL is loaded: one statement per file under ``sql/``, values always bound."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


@cache
def load_sql(name: str) -> str:
    """Return the statement in ``sql/<name>.sql`` (``name`` may contain a sub-folder)."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR not in path.parents:
        raise ValueError(f"SQL name {name!r} escapes the sql/ folder")
    return path.read_text(encoding="utf-8")


def quote_ident(name: str) -> str:
    """Quote an identifier that comes from the contract or the schemas (never from data)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe identifier: {name!r}")
    return f'"{name}"'
