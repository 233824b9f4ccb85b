"""Reading the members of a ZIP archive in memory, refusing hostile archives whole.

Vendors deliver exports as ZIPs (Salesforce's weekly Data Export). An archive is read
without extracting anything to disk, and refused as a whole, before any member is used,
when one entry's path is absolute or climbs out (``../``), an entry is a link, an
encrypted entry or itself an archive, or the entry count or the uncompressed size (in
total, or against the compressed size: a zip bomb) is out of proportion. Sizes declared
in the archive are not trusted: reading a member stops past its declared size.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".jar", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".7z", ".rar", ".zst", ".z")
ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd")


class ZipRefused(ValueError):
    """The archive is not read at all; the message names it and why."""


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 5000
    max_total_bytes: int = 4 << 30  # uncompressed, all entries
    max_ratio: float = 200.0  # uncompressed / compressed, per entry


def _why_refused(info: zipfile.ZipInfo, limits: ZipLimits) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return f"the entry {name!r} has an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return f"the entry {name!r} climbs out of the archive (../)"
    mode = info.external_attr >> 16
    if mode and stat.S_ISLNK(mode):
        return f"the entry {name!r} is a link"
    if info.flag_bits & 0x1:
        return f"the entry {name!r} is encrypted"
    if not info.is_dir() and name.lower().endswith(ARCHIVE_SUFFIXES):
        return f"the entry {name!r} is itself an archive"
    if info.file_size > limits.max_total_bytes:
        return f"the entry {name!r} unpacks to {info.file_size:,} bytes, over PIPELINE_ZIP_MAX_TOTAL_BYTES"
    if info.file_size > 1 << 20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        return (
            f"the entry {name!r} unpacks to {info.file_size:,} bytes from {info.compress_size:,} "
            f"(more than {limits.max_ratio:g} times: a zip bomb?)"
        )
    return None


def zip_members(path: Path, limits: ZipLimits, where: str) -> list[zipfile.ZipInfo]:
    """The file entries of the archive, after checking every entry; raises ZipRefused."""

    def refuse(why: str) -> ZipRefused:
        return ZipRefused(
            f"{where} was refused and nothing in it was loaded: {why}. Export it again from the system it came "
            "from, or put the CSV files you trust in the folder instead of the archive."
        )

    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise refuse(f"it is not a readable ZIP archive ({exc})") from None
    if len(infos) > limits.max_entries:
        raise refuse(f"it has {len(infos):,} entries, more than PIPELINE_ZIP_MAX_ENTRIES ({limits.max_entries:,})")
    total = 0
    for info in infos:
        why = _why_refused(info, limits)
        if why:
            raise refuse(why)
        total += info.file_size
    if total > limits.max_total_bytes:
        raise refuse(
            f"it unpacks to {total:,} bytes, more than PIPELINE_ZIP_MAX_TOTAL_BYTES ({limits.max_total_bytes:,})"
        )
    return [i for i in infos if not i.is_dir()]


def read_member(path: Path, info: zipfile.ZipInfo, limits: ZipLimits, where: str) -> bytes:
    """One member's bytes, in memory; never more than it declared (nor the limits)."""
    cap = min(info.file_size, limits.max_total_bytes)
    out = bytearray()
    with zipfile.ZipFile(path) as zf, zf.open(info) as f:
        while chunk := f.read(1 << 20):
            out += chunk
            if len(out) > cap:
                raise ZipRefused(
                    f"{where} was refused: the entry {info.filename!r} unpacks to more than the {cap:,} bytes it "
                    "declares. Export it again."
                )
    data = bytes(out)
    if data.startswith(ARCHIVE_MAGIC):
        raise ZipRefused(f"{where} was refused: the entry {info.filename!r} is itself an archive. Export it again.")
    return data


def member_base_name(info: zipfile.ZipInfo) -> str:
    return PurePosixPath(info.filename.replace("\\", "/")).name
