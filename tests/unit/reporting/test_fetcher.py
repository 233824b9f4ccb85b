"""The renderer's URL fetcher serves files inside report_templates/ and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.resources.renderer.fetcher import RefusedURL, generated_url, resolve_template_url


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "templates"
    (r / "assets").mkdir(parents=True)
    (r / "assets" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (r / "client.html").write_text("<p>template</p>")
    (tmp_path / "secret.svg").write_text("<svg/>")
    (r / "assets" / "escape.svg").symlink_to(tmp_path / "secret.svg")
    return r


def test_serves_an_asset_inside(root: Path) -> None:
    assert (
        resolve_template_url((root / "assets" / "logo.svg").as_uri(), root) == (root / "assets" / "logo.svg").resolve()
    )
    assert resolve_template_url("file://localhost" + str(root / "assets" / "logo.svg"), root).name == "logo.svg"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/x.png",
        "https://attacker.example/track.svg",
        "ftp://example.com/x.css",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "file:///etc/ssl/certs/ca-certificates.crt",
        "//example.com/x.css",
        "x.svg",
    ],
)
def test_refuses_other_schemes_and_files(root: Path, url: str) -> None:
    with pytest.raises(RefusedURL):
        resolve_template_url(url, root)


def test_refuses_traversal_symlinks_hosts_queries_and_non_assets(root: Path) -> None:
    base = root.as_uri()
    for url in (
        f"{base}/../secret.svg",
        f"{base}/assets/%2e%2e/%2e%2e/secret.svg",
        (root / "assets" / "escape.svg").as_uri(),  # a symlink pointing outside
        "file://evil.example" + str(root / "assets" / "logo.svg"),
        (root / "assets" / "logo.svg").as_uri() + "?x=1",
        (root / "client.html").as_uri(),  # not an asset type
        (root / "assets" / "missing.svg").as_uri(),
        f"{base}",
    ):
        with pytest.raises(RefusedURL):
            resolve_template_url(url, root)


def test_generated_urls_stay_under_the_root(root: Path) -> None:
    url = generated_url(root, "mrr.svg")
    assert url.startswith(root.resolve().as_uri() + "/__generated__/")
    for bad in ("../x.svg", "a/b.svg", ".hidden", ""):
        with pytest.raises(ValueError):
            generated_url(root, bad)


def test_weasyprint_fetcher_records_and_refuses(root: Path) -> None:
    from pipeline.resources.renderer.fetcher import make_url_fetcher

    url = generated_url(root, "chart.svg")
    fetcher = make_url_fetcher(root, {url: (b"<svg/>", "image/svg+xml")})
    assert fetcher.fetch(url).read() == b"<svg/>"
    assert fetcher.fetch((root / "assets" / "logo.svg").as_uri()).read().startswith(b"<svg")
    with pytest.raises(RefusedURL):
        fetcher.fetch("http://127.0.0.1:9/x.png")
    with pytest.raises(RefusedURL):
        fetcher.fetch("file:///etc/passwd")
    assert fetcher.refused == ["http://127.0.0.1:9/x.png", "file:///etc/passwd"]
    assert len(fetcher.requested) == 4
    assert os.path.exists("/etc/passwd")  # it exists; it was refused anyway
