"""File names derived from client data, made safe.

An account id comes from a CRM export, so it may be ``../../x``, ``CON``, 300 characters
long or written in any script. A folder name is a short ASCII slug of the id plus a
short hash of the full id: readable, unique (two ids that slug alike still differ by
their hash), never a reserved or hidden name, and never a path separator. Every path is
checked to resolve inside the reports folder before anything is written.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

SLUG_MAX = 40
HASH_CHARS = 10
_WINDOWS_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}


class UnsafePathError(ValueError):
    """A path built from data would leave the folder it belongs in."""


def slugify(text: str, max_len: int = SLUG_MAX) -> str:
    """ASCII, lower-case, ``a-z0-9`` and single dashes; may be empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_len].rstrip("-")


def short_hash(text: str, chars: int = HASH_CHARS) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:chars]


def safe_name(text: str, fallback: str = "account") -> str:
    """``Acme Corp/7`` -> ``acme-corp-7-1a2b3c4d5e``: a slug plus a hash of the full text."""
    slug = slugify(text) or fallback
    if slug in _WINDOWS_RESERVED:
        slug = f"{slug}-x"
    return f"{slug}-{short_hash(text)}"


def ensure_inside(root: Path, path: Path) -> Path:
    """Return ``path`` resolved, or raise if it is not strictly inside ``root``."""
    root_r = root.resolve()
    path_r = path.resolve()
    if path_r == root_r or root_r not in path_r.parents:
        raise UnsafePathError(f"{path} is outside {root}")
    return path_r


@dataclass(frozen=True)
class ReportPaths:
    folder: Path
    html: Path
    pdf: Path

    def relative_to(self, root: Path) -> tuple[str, str]:
        return (
            self.html.relative_to(root.resolve()).as_posix(),
            self.pdf.relative_to(root.resolve()).as_posix(),
        )


def client_report_paths(reports_dir: Path, reporting_month: str, account_id: str, period_key: str) -> ReportPaths:
    """``reports/2024-03/clients/<safe id>/account-report-2024-Q1.{html,pdf}``."""
    if not re.fullmatch(r"\d{4}-\d{2}", reporting_month):
        raise UnsafePathError(f"reporting month {reporting_month!r} is not YYYY-MM")
    if not re.fullmatch(r"\d{4}-(\d{2}|Q[1-4])", period_key):
        raise UnsafePathError(f"period key {period_key!r} is not YYYY-MM or YYYY-Qn")
    root = Path(reports_dir)
    folder = root / reporting_month / "clients" / safe_name(account_id)
    stem = f"account-report-{period_key}"
    html = ensure_inside(root, folder / f"{stem}.html")
    pdf = ensure_inside(root, folder / f"{stem}.pdf")
    return ReportPaths(folder=html.parent, html=html, pdf=pdf)


@dataclass(frozen=True)
class PackPaths:
    folder: Path
    html: Path
    pdf: Path


def pack_paths(reports_dir: Path, month_key: str) -> PackPaths:
    """``reports/2026-10/leadership/account-health-pack-2026-10.{html,pdf}``."""
    if not re.fullmatch(r"\d{4}-\d{2}", month_key):
        raise UnsafePathError(f"reporting month {month_key!r} is not YYYY-MM")
    root = Path(reports_dir)
    folder = root / month_key / "leadership"
    html = ensure_inside(root, folder / f"account-health-pack-{month_key}.html")
    pdf = ensure_inside(root, folder / f"account-health-pack-{month_key}.pdf")
    return PackPaths(folder=html.parent, html=html, pdf=pdf)


def attachment_name(account_name: str, period_key: str) -> str:
    """The PDF's name in an e-mail: ``acme-corp-account-report-2024-q1.pdf`` (ASCII only)."""
    base = slugify(account_name, 30) or "account"
    return f"{base}-account-report-{period_key.lower()}.pdf"


def book_paths(reports_dir: Path, month_key: str, manager_id: str) -> ReportPaths:
    """``reports/2026-10/managers/<safe manager id>/book-2026-10.{html,pdf}``: an account
    manager's book of business (the folder is ``safe_name`` of the id from the CRM)."""
    if not re.fullmatch(r"\d{4}-\d{2}", month_key):
        raise UnsafePathError(f"reporting month {month_key!r} is not YYYY-MM")
    root = Path(reports_dir)
    folder = root / month_key / "managers" / safe_name(manager_id, fallback="manager")
    html = ensure_inside(root, folder / f"book-{month_key}.html")
    pdf = ensure_inside(root, folder / f"book-{month_key}.pdf")
    return ReportPaths(folder=html.parent, html=html, pdf=pdf)


def book_attachment_name(manager_name: str, month_key: str) -> str:
    """The book's PDF in an e-mail: ``book-of-business-jane-doe-2026-10.pdf`` (ASCII only)."""
    base = slugify(manager_name, 30) or "manager"
    return f"book-of-business-{base}-{month_key}.pdf"
