"""Reading landing files: discovery, content hashes and header checks.

A file is identified by the SHA-256 of its bytes, so a re-delivered identical file is
never loaded twice, whatever its name. Every value is read as text: typing and
validation happen in staging, where a bad value becomes a quarantine row instead of a
failed load.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.contract import Source

BOM = "\ufeff"


class LandingFileError(ValueError):
    """A landing file cannot be read at all; the message names the file and the fix."""


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def discover(landing_dir: Path, source: Source) -> list[LandingFile]:
    """The source's files in name order (case-insensitive ``<pattern>*.csv``)."""
    folder = landing_dir / source.folder
    if not folder.is_dir():
        return []
    prefix = source.pattern.lower()
    files = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        name = p.name.lower()
        if not (p.is_file() and name.startswith(prefix) and name.endswith(".csv")):
            continue
        # "accounts*.csv" must not swallow "account_managers.csv"-like siblings of other
        # sources whose pattern is a longer prefix of this name.
        if _belongs_to_longer_pattern(name, source):
            continue
        files.append(LandingFile(source.name, p, file_sha256(p), p.stat().st_size))
    return files


def _belongs_to_longer_pattern(name: str, source: Source) -> bool:
    from pipeline.contract import SOURCES

    for other in SOURCES:
        if other.folder == source.folder and len(other.pattern) > len(source.pattern):
            if other.pattern.startswith(source.pattern) and name.startswith(other.pattern.lower()):
                return True
    return False


def normalise_header(name: str) -> str:
    return name.replace(BOM, "").strip().strip('"').strip().lower().replace(" ", "_")


def read_landing_file(file: LandingFile, source: Source) -> tuple[pl.DataFrame, list[str]]:
    """Read a file as text columns named per the contract, with a 1-based ``_row``.

    Returns the frame (contract columns, missing optional ones as nulls) and the list of
    extra columns that were ignored. Raises LandingFileError when the file cannot be
    used at all.
    """
    where = f"{source.folder}/{file.name}"
    if file.size == 0:
        raise LandingFileError(
            f"{where} is empty (0 bytes). Re-export it with a header row "
            f"({', '.join(source.column_names)}) or remove it from the landing folder."
        )
    raw = file.path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            f"{where} is not UTF-8 text (byte {exc.start} cannot be decoded). "
            "Export it as CSV in UTF-8 and drop it in the landing folder again."
        ) from None
    if "\x00" in text[:4096]:
        raise LandingFileError(f"{where} looks binary, not a CSV file. Export it as CSV in UTF-8.")
    try:
        frame = pl.read_csv(
            text.encode("utf-8"),
            infer_schema=False,
            has_header=True,
            row_index_name="_row",
            row_index_offset=1,
            raise_if_empty=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LandingFileError(
            f"{where} is not a readable CSV file ({first}). Check that it is comma-separated "
            "with a header row and that quoted fields are closed."
        ) from None

    renamed = {c: normalise_header(c) for c in frame.columns if c != "_row"}
    duplicates = sorted({v for v in renamed.values() if list(renamed.values()).count(v) > 1})
    if duplicates:
        raise LandingFileError(f"{where} has the column(s) {', '.join(duplicates)} more than once.")
    frame = frame.rename(renamed)
    present = set(renamed.values())
    missing = [c for c in source.required_columns if c not in present]
    if missing:
        raise LandingFileError(
            f"{where} is missing the required column(s) {', '.join(missing)}. "
            f"A {source.name} file needs the columns {', '.join(source.column_names)} "
            f"(required: {', '.join(source.required_columns)}); it has "
            f"{', '.join(sorted(present)) or 'none'}."
        )
    extra = sorted(present - set(source.column_names))
    frame = frame.select(
        [pl.col("_row").cast(pl.Int64)]
        + [
            pl.col(c).cast(pl.String) if c in present else pl.lit(None, pl.String).alias(c)
            for c in source.column_names
        ]
    )
    return frame, extra
