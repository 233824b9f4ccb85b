"""Reading landing files: discovery, content hashes and header checks.

A file is identified by the SHA-256 of its bytes, so a re-delivered identical file is
never loaded twice, whatever its name. Every value is read as text: typing and
validation happen in staging, where a bad value becomes a quarantine row instead of a
failed load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
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
        if (
            other.folder == source.folder
            and len(other.pattern) > len(source.pattern)
            and other.pattern.startswith(source.pattern)
            and name.startswith(other.pattern.lower())
        ):
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
    frame = read_csv_text(decode_csv(file.path.read_bytes(), where), where)

    # The reader renames a repeated header to "<name>_duplicated_<n>": count it as <name>.
    first_name = {c: re.sub(r"_duplicated_\d+$", "", c) for c in frame.columns}
    names = {c: normalise_header(first_name[c] if first_name[c] in frame.columns else c) for c in frame.columns}
    present = set(names.values())
    missing = [c for c in source.required_columns if c not in present]
    if missing:
        hint = ""
        if len(present) == 1 and any(d in next(iter(present)) for d in ";\t|"):
            hint = " It looks separated by ';', tabs or '|': export it comma-separated."
        elif not present & set(source.column_names):
            hint = " The first line must be the header row with these column names."
        raise LandingFileError(
            f"{where} is missing the required column(s) {', '.join(missing)}. "
            f"A {source.name} file needs the columns {', '.join(source.column_names)} "
            f"(required: {', '.join(source.required_columns)}); it has "
            f"{', '.join(_short(c) for c in sorted(present)) or 'none'}.{hint}"
        )
    found = list(names.values())
    duplicates = [c for c in source.column_names if found.count(c) > 1]
    if duplicates:
        raise LandingFileError(f"{where} has the column(s) {', '.join(duplicates)} more than once; keep one of each.")
    extra = sorted(present - set(source.column_names))
    column_of = {v: k for k, v in names.items() if v in source.column_names}
    frame = frame.select(
        [pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row")]
        + [
            pl.col(column_of[c]).cast(pl.String).alias(c) if c in column_of else pl.lit(None, pl.String).alias(c)
            for c in source.column_names
        ]
    )
    return frame, extra


def decode_csv(raw: bytes, where: str) -> str:
    """The bytes of a CSV file as text (UTF-8, BOM dropped, one kind of line break).

    ``where`` names the file in the message of the LandingFileError raised for bytes that
    are not UTF-8 text."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise LandingFileError(
            f"{where} is UTF-16 text, not UTF-8. Export it as CSV in UTF-8 and drop it in the landing folder again."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LandingFileError(
            f"{where} is not UTF-8 text (byte {exc.start} cannot be decoded). "
            "Export it as CSV in UTF-8 and drop it in the landing folder again."
        ) from None
    if "\x00" in text[:4096]:
        raise LandingFileError(f"{where} looks binary (or UTF-16 text), not a CSV file. Export it as CSV in UTF-8.")
    if "\r" in text:
        # Windows (\r\n), old Mac (\r) and mixed line endings: one line break for the reader.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_csv_text(text: str, where: str) -> pl.DataFrame:
    """CSV text as a frame of text columns, headers as written (a repeat gets ``_duplicated_<n>``)."""
    try:
        return pl.read_csv(
            text.encode("utf-8"),
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LandingFileError(
            f"{where} is not a readable CSV file ({_ragged_row(text) or first}). Check that it is "
            "comma-separated with a header row and that quoted fields are closed."
        ) from None


def _ragged_row(text: str) -> str | None:
    """Which data row has more fields than the header (for the error message), if any."""
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, [])
        for n, fields in enumerate(reader, start=1):
            if len(fields) > len(header):
                return f"data row {n} has {len(fields)} fields but the header has {len(header)}"
    except csv.Error:
        return None
    return None


def _short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 3] + "..."
