"""File names from client data cannot escape the reports folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.reporting.naming import (
    UnsafePathError,
    attachment_name,
    client_report_paths,
    ensure_inside,
    safe_name,
)
from tests.support.budgets import examples

SAFE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-[0-9a-f]{10}$")


@pytest.mark.parametrize(
    "account_id",
    [
        "../../x",
        "..",
        ".",
        "/etc/passwd",
        "a/../../b",
        "C:\\Windows\\system32",
        "CON",
        "con",
        "NUL.txt",
        "LPT1",
        "x" * 500,
        "東京エネルギー株式会社",
        "Ωμέγα ΑΕ",
        "",
        "   ",
        "\x00evil",
        "acme\r\nBcc: x",
    ],
)
def test_hostile_ids_become_safe_names_inside_the_folder(tmp_path: Path, account_id: str) -> None:
    name = safe_name(account_id)
    assert SAFE.match(name), name
    assert len(name) <= 51
    # Windows reserves a base name (before any dot) equal to CON, NUL, LPT1...; ours has no
    # dot and always ends with a hash, so it can never be one.
    assert "." not in name and name not in {"con", "prn", "aux", "nul", "lpt1", "com1"}
    paths = client_report_paths(tmp_path / "reports", "2024-03", account_id, "2024-Q1")
    root = (tmp_path / "reports").resolve()
    assert root in paths.html.parents and root in paths.pdf.parents
    assert paths.html.parent == root / "2024-03" / "clients" / name
    assert paths.pdf.name == "account-report-2024-Q1.pdf"


def test_reserved_windows_names_are_suffixed() -> None:
    assert safe_name("CON").startswith("con-x-")
    assert safe_name("nul").startswith("nul-x-")


def test_ids_that_slug_alike_stay_distinct() -> None:
    assert safe_name("Acme/1") != safe_name("Acme 1") != safe_name("acme-1")


def test_non_latin_names_keep_what_ascii_can_say() -> None:
    assert safe_name("Société Générale").startswith("societe-generale-")
    assert safe_name("東京").startswith("account-")


def test_period_and_month_are_validated(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError):
        client_report_paths(tmp_path, "../2024", "a", "2024-03")
    with pytest.raises(UnsafePathError):
        client_report_paths(tmp_path, "2024-03", "a", "../../x")


def test_ensure_inside_refuses_escapes(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError):
        ensure_inside(tmp_path, tmp_path / ".." / "x")
    with pytest.raises(UnsafePathError):
        ensure_inside(tmp_path, tmp_path)
    assert ensure_inside(tmp_path, tmp_path / "a" / "b") == (tmp_path / "a" / "b").resolve()


def test_attachment_name_is_ascii() -> None:
    assert attachment_name("Globex Énergie SA", "2024-Q1") == "globex-energie-sa-account-report-2024-q1.pdf"
    assert attachment_name("東京", "2024-03") == "account-account-report-2024-03.pdf"


@hsettings(max_examples=examples(200), deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_text_gives_a_safe_name(text: str) -> None:
    assert SAFE.match(safe_name(text))
