"""Small helpers that turn frames into Dagster metadata a data engineer can read."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from dagster import MetadataValue


def _cell(v: object) -> str:
    if isinstance(v, float):
        s = f"{v:,.4f}".rstrip("0").rstrip(".")
    elif isinstance(v, Decimal):
        s = f"{v:,.2f}"
    else:
        s = "" if v is None else str(v)
    s = s.replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return s if len(s) <= 80 else s[:77] + "..."


def frame_markdown(frame: pl.DataFrame, limit: int = 10) -> str:
    """A markdown table of the first rows (values shortened and escaped)."""
    if frame.is_empty():
        return "_no rows_"
    head = frame.head(limit)
    lines = [
        "| " + " | ".join(head.columns) + " |",
        "| " + " | ".join("---" for _ in head.columns) + " |",
    ]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    if frame.height > limit:
        lines.append(f"\n_{frame.height - limit} more rows_")
    return "\n".join(lines)


def md(frame: pl.DataFrame, limit: int = 10) -> MetadataValue:
    return MetadataValue.md(frame_markdown(frame, limit))


def md_record(frame: pl.DataFrame) -> MetadataValue:
    """The first row of a frame as a two-column metric | value table (fits the UI's width)."""
    if frame.is_empty():
        return MetadataValue.md("_no rows_")
    row = frame.row(0, named=True)
    lines = ["| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {'n/a' if v is None else _cell(v)} |" for k, v in row.items()]
    return MetadataValue.md("\n".join(lines))
