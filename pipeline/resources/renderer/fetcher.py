"""The only way the PDF renderer may read anything: files inside report_templates/.

WeasyPrint fetches stylesheets, fonts, images and ``<link rel=attachment>`` files
through a URL fetcher. Ours serves a ``file:`` URL only when it resolves (symlinks
followed) to an existing regular file strictly inside the templates folder and has an
asset extension; it refuses every other URL and scheme: ``http(s)``, ``ftp``, ``data``,
``file://`` anywhere else, hosts, queries. Nothing from a client's data can make the
renderer touch the network or the disk outside that folder, and every URL asked for is
recorded so tests (and the asset's metadata) can show it.

Charts drawn for one document are served from memory under
``<templates>/__generated__/<name>``: exact URLs handed to the fetcher by the renderer,
never files on disk, never anything a template or the data can invent.

``resolve_template_url`` is the pure decision; ``make_url_fetcher`` wraps it in the
WeasyPrint fetcher class (imported lazily: importing WeasyPrint costs 1.4 s).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

GENERATED_DIR = "__generated__"

ASSET_TYPES = {
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".css": "text/css",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


class RefusedURL(ValueError):
    """The renderer asked for something outside report_templates/ (or not a file)."""


def resolve_template_url(url: str, root: Path) -> Path:
    """The file inside ``root`` that ``url`` names, or raise ``RefusedURL`` saying why."""
    shown = url if len(url) <= 120 else url[:117] + "..."
    try:
        parts = urlsplit(url)
    except ValueError:
        raise RefusedURL(f"refused {shown!r}: not a valid URL") from None
    if parts.scheme.lower() != "file":
        raise RefusedURL(f"refused {shown!r}: only files inside the templates folder are served")
    if parts.netloc not in ("", "localhost"):
        raise RefusedURL(f"refused {shown!r}: file URLs with a host are not served")
    if parts.query:
        raise RefusedURL(f"refused {shown!r}: file URLs with a query are not served")
    raw_path = unquote(parts.path)
    if "\x00" in raw_path or not raw_path.startswith("/"):
        raise RefusedURL(f"refused {shown!r}: not an absolute file path")
    root_r = Path(root).resolve()
    try:
        path = Path(raw_path).resolve()
    except (OSError, RuntimeError):
        raise RefusedURL(f"refused {shown!r}: cannot resolve the path") from None
    if root_r not in path.parents:
        raise RefusedURL(f"refused {shown!r}: outside the templates folder")
    if path.suffix.lower() not in ASSET_TYPES:
        raise RefusedURL(f"refused {shown!r}: {path.suffix or 'no'} extension is not an asset type")
    if not path.is_file():
        raise RefusedURL(f"refused {shown!r}: no such file in the templates folder")
    return path


def media_type(path: Path) -> str:
    return ASSET_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def generated_url(root: Path, name: str) -> str:
    """The URL under which the fetcher serves an in-memory file (a chart) for one render."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"bad generated file name {name!r}")
    return (Path(root).resolve() / GENERATED_DIR / name).as_uri()


def make_url_fetcher(root: Path, generated: dict[str, tuple[bytes, str]] | None = None):
    """A WeasyPrint URL fetcher serving only ``root`` (and ``generated``: exact URL ->
    (bytes, media type), in memory). ``.requested`` and ``.refused`` list the URLs."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class TemplatesOnlyFetcher(URLFetcher):
        def __init__(self, templates_root: Path):
            # fetch() and open() are overridden, so urllib's handlers are never used.
            super().__init__(timeout=1, allowed_protocols=("file",), allow_redirects=False)
            self.root = Path(templates_root).resolve()
            self.requested: list[str] = []
            self.refused: list[str] = []
            self.generated = dict(generated or {})

        def fetch(self, url, headers=None):
            self.requested.append(url)
            if url in self.generated:
                body, kind = self.generated[url]
                return URLFetcherResponse(url, body=body, headers={"Content-Type": kind})
            try:
                path = resolve_template_url(url, self.root)
            except RefusedURL as exc:
                self.refused.append(url)
                raise exc
            return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": media_type(path)})

        def open(self, url, data=None, timeout=None):
            target = url.full_url if hasattr(url, "full_url") else url
            return self.fetch(target)

    return TemplatesOnlyFetcher(root)
