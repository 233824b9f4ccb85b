"""Finding and reading vendor exports under ``landing/<system>/`` (never modifying them).

A profile's file spec names its files by a glob; the files are CSVs in the profile's
folder, or entries of a ZIP archive there (read in memory, see pipeline.zipsafe). Each
export keeps its own name for lineage: ``stripe/subscriptions.csv``, or
``salesforce/WE_00D_1.zip/Account.csv`` for an entry of an archive. Every value is read
as text, with the export's own headers; mapping to the contract happens in
pipeline.store.vendor_loading.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline.landing import LandingFileError, decode_csv, file_sha256, read_csv_text
from pipeline.profiles import FileSpec, Profile
from pipeline.zipsafe import ZipLimits, ZipRefused, member_base_name, read_member, zip_members

# The loader's own 1-based row number beside the export's columns. DuckDB matches names
# case-insensitively, so it must not be a name an export could plausibly carry (``_row``
# or ``_ROW`` are ordinary extra columns of an export).
EXPORT_ROW = "_pipeline_export_row_number"


@dataclass(frozen=True)
class ExportFile:
    """One export CSV: a file in the profile's folder, or ``member`` of the ZIP at ``path``."""

    profile: str
    folder: str
    path: Path
    member: str | None
    sha256: str  # of the CSV's own bytes
    size: int

    @property
    def name(self) -> str:
        """The name lineage keeps, relative to the landing folder."""
        inner = f"/{self.member}" if self.member else ""
        return f"{self.folder}/{self.path.name}{inner}"

    def read_bytes(self, limits: ZipLimits) -> bytes:
        if self.member is None:
            return self.path.read_bytes()
        with_member = [i for i in zip_members(self.path, limits, self.name) if i.filename == self.member]
        return read_member(self.path, with_member[0], limits, self.name)


def _matches(name: str, glob: str) -> bool:
    return fnmatch.fnmatchcase(name.lower(), glob.lower())


def discover_exports(landing_dir: Path, profile: Profile, spec: FileSpec, limits: ZipLimits) -> list[ExportFile]:
    """The spec's files in ``landing/<profile folder>/``, in name order. Raises
    LandingFileError for an archive refused whole."""
    return discover_in(landing_dir / profile.folder, profile, spec, limits)


def discover_in(folder: Path, profile: Profile, spec: FileSpec, limits: ZipLimits) -> list[ExportFile]:
    """The spec's files in ``folder`` (name order); lineage names them under the profile's folder."""
    if not folder.is_dir():
        return []
    found: list[ExportFile] = []
    for p in sorted(folder.iterdir(), key=lambda p: p.name):
        if not p.is_file() or p.name.startswith("."):
            continue
        low = p.name.lower()
        if low.endswith(".csv") and _matches(p.name, spec.glob):
            found.append(ExportFile(profile.name, profile.folder, p, None, file_sha256(p), p.stat().st_size))
        elif low.endswith(".zip"):
            where = f"{profile.folder}/{p.name}"
            try:
                members = zip_members(p, limits, where)
                for info in sorted(members, key=lambda i: i.filename):
                    base = member_base_name(info)
                    if base.lower().endswith(".csv") and _matches(base, spec.glob):
                        data = read_member(p, info, limits, where)
                        found.append(
                            ExportFile(
                                profile.name,
                                profile.folder,
                                p,
                                info.filename,
                                hashlib.sha256(data).hexdigest(),
                                len(data),
                            )
                        )
            except ZipRefused as exc:
                raise LandingFileError(str(exc)) from None
    return found


def read_export(file: ExportFile, limits: ZipLimits) -> pl.DataFrame:
    """The export as text columns under its own headers (trimmed), with a 1-based ``EXPORT_ROW``."""
    if file.size == 0:
        raise LandingFileError(f"{file.name} is empty (0 bytes). Export it again or remove it from the folder.")
    try:
        data = file.read_bytes(limits)
    except ZipRefused as exc:
        raise LandingFileError(str(exc)) from None
    frame = read_csv_text(decode_csv(data, file.name), file.name)
    # Headers are matched ignoring case and surrounding spaces (pipeline.profiles.plan), so
    # they are read that way too: trimmed, and two headers equal so are the same header twice.
    headers = [re.sub(r"_duplicated_\d+$", "", c).strip() for c in frame.columns]
    seen: dict[str, str] = {}
    twice: list[str] = []
    for h in headers:
        if h.lower() in seen and seen[h.lower()] not in twice:
            twice.append(seen[h.lower()])
        seen.setdefault(h.lower(), h)
    if twice:
        raise LandingFileError(
            f"{file.name} has the header(s) {', '.join(repr(h) for h in twice)} more than once (headers are "
            "compared ignoring case and surrounding spaces); keep one of each and export it again."
        )
    if EXPORT_ROW in seen:
        raise LandingFileError(
            f"{file.name} has a header {EXPORT_ROW!r}, a name the loader keeps for itself; rename it."
        )
    frame = frame.rename(dict(zip(frame.columns, headers, strict=True)))
    return frame.with_columns(pl.all().cast(pl.String)).with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(EXPORT_ROW)
    )
