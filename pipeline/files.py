"""Files written safely and checked by content: the one place for atomic writes and hashes.

Reports, e-mails in the outbox and the data-quality page are all written through
``atomic_write`` (temporary name, fsync, rename), so a crash never leaves a
half-written file under a real name; ``intact`` tells whether files recorded earlier
are still there with the bytes that were recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o644  # mkstemp creates 0600; reports are ordinary readable files


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(files: list[tuple[Path, bytes]]) -> None:
    """Write every file to a temporary name in its folder, then rename them all.

    If anything fails before the renames, no target is touched and no temporary file
    is left behind.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            staged.append((tmp, path))
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def remove_stale_parts(folder: Path) -> int:
    """Delete temporary ``.*.part`` files a killed run left under ``folder``.

    Called before a run renders, when no other run can be writing there (runs of one
    warehouse never overlap), so every such file is a leftover. Returns how many."""
    removed = 0
    if folder.is_dir():
        for path in folder.rglob(".*.part"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def intact(root: Path, recorded: Iterable[tuple[str | None, str | None]]) -> bool:
    """Every (relative path, sha256) pair names a file under ``root`` with exactly those bytes.

    A missing path or hash, a missing file or an unreadable one all count as not intact,
    so the caller renders again rather than trusting a record it cannot check."""
    try:
        for rel, sha in recorded:
            if not rel or not sha:
                return False
            path = root / rel
            if not path.is_file() or sha256_file(path) != sha:
                return False
    except OSError:
        return False
    return True
