"""What makes a report's bytes the same on every machine, and the checks that they will be.

A render worker (a local pool process or a Dask worker on another machine) must turn a
context into exactly the bytes this machine would. Three things decide that beyond the
context, the templates and our code:

- **Fonts.** Pango asks fontconfig for a font for every character; a character missing
  from the shipped fonts falls back to whatever the machine has installed (measured: a
  report naming "ℊ ⌚" changed bytes when STIX fonts were added under
  ``$XDG_DATA_HOME/fonts``). ``isolated_font_configuration`` builds WeasyPrint's font
  configuration from ``report_templates/fonts/fonts.conf``, which lists only that
  folder: no system or user font, no ``/etc/fonts/conf.d`` rule. Reports that only use
  the shipped glyphs came out byte-identical with and without the isolation.
- **Font subsetting.** WeasyPrint 70 subsets embedded fonts with HarfBuzz-Subset when
  ``libharfbuzz-subset`` >= 4.1 can be loaded, else with fontTools, whose ``save()``
  stamps the current time into each font's ``head`` table: measured, the same document
  rendered twice in one process a second apart gave two different PDFs. So HarfBuzz
  subsetting is required everywhere (``require_harfbuzz_subset``); a process without it
  refuses to render, with a message saying what to install.
- **Library versions.** HarfBuzz shapes and subsets, Pango lays out, zlib compresses the
  PDF streams, and the Python libraries (WeasyPrint, pydyf, fontTools, matplotlib for
  the charts, Jinja2, pikepdf for the accessibility pass, ...) each shape the output.
  ``environment_report`` lists all of them with digests of the templates folder and of
  the code a worker has loaded, so a Dask worker whose environment differs from the run
  process is refused by name instead of producing different bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import zlib
from functools import lru_cache
from pathlib import Path

FONTS_CONF = "fonts/fonts.conf"  # relative to the templates folder
# The Python distributions whose versions shape the bytes (with everything they require);
# pikepdf (with the qpdf it bundles) post-processes the PDF (accessibility.py).
RENDER_DISTRIBUTIONS = ("weasyprint", "matplotlib", "jinja2", "pikepdf")

_ENV_LOCK = threading.Lock()


class RenderEnvironmentError(RuntimeError):
    """This process cannot render reports that are byte-identical everywhere."""


def require_harfbuzz_subset() -> None:
    """Raise unless WeasyPrint will subset fonts with HarfBuzz (never with fontTools)."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    if not harfbuzz_subset or not harfbuzz.hb_version_atleast(4, 1, 0):
        raise RenderEnvironmentError(
            "WeasyPrint cannot load HarfBuzz-Subset >= 4.1 here, so it would subset fonts with fontTools, "
            "which writes the current time into every embedded font: no two renders would be byte-identical. "
            "Install it (Debian/Ubuntu: apt-get install libharfbuzz-subset0) and start the renderer again."
        )


def fonts_conf(templates_dir: Path) -> Path:
    path = Path(templates_dir) / FONTS_CONF
    if not path.is_file():
        raise RenderEnvironmentError(
            f"{path} is missing: the renderer uses only the fonts shipped in {Path(templates_dir) / 'fonts'}, "
            "listed by that file"
        )
    return path


def _config_font_files(font_config) -> list[str]:
    from weasyprint.text.ffi import ffi, fontconfig

    fonts = fontconfig.FcConfigGetFonts(font_config._config, fontconfig.FcSetSystem)
    found = []
    name = ffi.new("FcChar8 **")
    for i in range(fonts.nfont if fonts != ffi.NULL else 0):
        if fontconfig.FcPatternGetString(fonts.fonts[i], b"file", 0, name) == 0:
            found.append(ffi.string(name[0]).decode("utf-8", "replace"))
    return found


def isolated_font_configuration(templates_dir: Path):
    """A WeasyPrint ``FontConfiguration`` that sees only ``<templates>/fonts`` (plus the
    ``@font-face`` files the documents load from there). ``FONTCONFIG_FILE`` is set only
    while fontconfig reads its configuration, then restored: nothing else in the process
    is affected. Raises if any other font is visible."""
    from weasyprint.text.fonts import FontConfiguration

    conf = fonts_conf(templates_dir)
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in ("FONTCONFIG_FILE", "FONTCONFIG_SYSFILE")}
        os.environ["FONTCONFIG_FILE"] = str(conf.resolve())
        os.environ.pop("FONTCONFIG_SYSFILE", None)
        try:
            font_config = FontConfiguration()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    allowed = conf.resolve().parent
    outside = [f for f in _config_font_files(font_config) if allowed not in Path(f).resolve().parents]
    if outside:
        raise RenderEnvironmentError(
            f"fontconfig still sees fonts outside {allowed} ({', '.join(outside[:3])}); "
            f"check {conf} and the FONTCONFIG_* environment variables"
        )
    return font_config


# -- what shapes the bytes, for comparing machines ------------------------------------


@lru_cache(maxsize=1)
def _distribution_versions() -> dict[str, str]:
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, str] = {}
    todo = list(RENDER_DISTRIBUTIONS)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            seen[name] = "missing"
            continue
        seen[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return dict(sorted(seen.items()))


def _system_libraries() -> dict[str, str]:
    """Versions of the C libraries that lay out, shape, subset and compress."""
    import cffi
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset, pango

    ffi = cffi.FFI()
    ffi.cdef("const char *hb_version_string (void); int FcGetVersion (void);")

    def load(*names: str):
        for name in names:
            try:
                return ffi.dlopen(name)
            except OSError:
                continue
        return None

    hb = load("libharfbuzz.so.0", "libharfbuzz.0.dylib", "libharfbuzz-0.dll", "harfbuzz")
    fc = load("libfontconfig.so.1", "libfontconfig.1.dylib", "libfontconfig-1.dll", "fontconfig")
    pango_v = pango.pango_version()
    fc_v = fc.FcGetVersion() if fc is not None else 0
    return {
        "pango": f"{pango_v // 10000}.{pango_v // 100 % 100}.{pango_v % 100}",
        "harfbuzz": ffi.string(hb.hb_version_string()).decode() if hb is not None else "unknown",
        "harfbuzz-subset": "yes" if harfbuzz_subset and harfbuzz.hb_version_atleast(4, 1, 0) else "no",
        "fontconfig": f"{fc_v // 10000}.{fc_v // 100 % 100}.{fc_v % 100}",
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
    }


def loaded_code_files() -> tuple[str, ...]:
    """The repository files of every ``pipeline`` module this process has imported, e.g.
    a render worker after warming up: exactly the code that turns its jobs into bytes."""
    from pipeline.code_fingerprint import REPO_DIR

    files = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if (name == "pipeline" or name.startswith("pipeline.")) and path:
            try:
                files.add(Path(path).resolve().relative_to(REPO_DIR).as_posix())
            except ValueError:
                continue
    return tuple(sorted(files))


def _code_digest(code_files: tuple[str, ...]) -> str:
    from pipeline.code_fingerprint import code_fingerprint

    try:
        return code_fingerprint(*code_files)[:16]
    except FileNotFoundError as exc:  # a module this checkout does not have
        return f"not comparable ({exc})"


def environment_report(templates_dir: Path, code_files: tuple[str, ...]) -> dict[str, str]:
    """Everything besides the context that decides a report's bytes, as name -> version:
    digests of the templates folder and of ``code_files`` (the code a render worker runs,
    ``loaded_code_files``), Python, the C libraries and every Python distribution the
    renderer uses (WeasyPrint, matplotlib, Jinja2 and all they require)."""
    from pipeline.resources.renderer.fingerprint import render_fingerprint

    report = {
        "templates": hashlib.sha256(render_fingerprint(Path(templates_dir), None, ()).encode()).hexdigest()[:16],
        "rendering code": _code_digest(code_files),
        "python": "{}.{}".format(*sys.version_info[:2]),
    }
    report.update(_system_libraries())
    report.update(_distribution_versions())
    return report


def environment_digest(report: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()


def environment_differences(here: dict[str, str], there: dict[str, str]) -> list[str]:
    """``name: A here, B there`` for every entry that differs."""
    return [
        f"{name}: {here.get(name, 'missing')} here, {there.get(name, 'missing')} there"
        for name in sorted(set(here) | set(there))
        if here.get(name) != there.get(name)
    ]
