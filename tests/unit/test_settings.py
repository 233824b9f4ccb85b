"""Settings: environment and pipeline.toml, and invalid values named at start."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipeline.settings import SettingsError, load_settings


def toml(tmp_path: Path, text: str) -> dict[str, str]:
    p = tmp_path / "pipeline.toml"
    p.write_text(text)
    return {"PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_SETTINGS_FILE": str(p)}


def test_defaults_and_environment_overrides(tmp_path):
    s = load_settings({"PIPELINE_DATA_DIR": str(tmp_path)})
    assert s.reporting_currency == "usd" and s.gross_margin == 1.0 and s.health.total_weight == 100
    s = load_settings(
        {
            "PIPELINE_DATA_DIR": str(tmp_path),
            "PIPELINE_REPORTING_CURRENCY": "EUR",
            "PIPELINE_GROSS_MARGIN": "0.8",
            "PIPELINE_FIRST_MONTH": "2024-07",
            "PIPELINE_REQUIRE_APPROVAL": "yes",
            "PIPELINE_LEADERSHIP_RECIPIENTS": "ceo@example.com; coo@example.com",
        }
    )
    assert (s.reporting_currency, s.gross_margin, s.first_month, s.require_approval) == (
        "eur",
        0.8,
        date(2024, 7, 1),
        True,
    )
    assert s.leadership_recipients == ("ceo@example.com", "coo@example.com")
    assert s.warehouse_path == tmp_path / "warehouse.duckdb"


def test_the_health_model_is_data(tmp_path):
    s = load_settings(
        toml(
            tmp_path,
            """
[health]
green_at = 75
tier_cadence_days = { strategic = 7, key = 30, transactional = 60 }
[[health.measures]]
name = "satisfaction"
weight = 50
[[health.measures]]
name = "support"
zero_at = 5
full_at = 0
weight = 50
""",
        )
    )
    assert [m.name for m in s.health.measures] == ["satisfaction", "support"]
    assert s.health.measures[0].zero_at == -100 and s.health.measures[0].weight == 50  # defaults kept
    assert s.health.measures[1].zero_at == 5 and s.health.green_at == 75
    assert s.health.tier_cadence_days["strategic"] == 7


@pytest.mark.parametrize(
    "text, named",
    [
        ('[[health.measures]]\nname = "support"\nweight = 0\n', "health.measures.support.weight must be positive"),
        (
            '[[health.measures]]\nname = "service"\nzero_at = 80\nfull_at = 80\n',
            "health.measures.service: zero_at and full_at are both 80",
        ),
        ('[[health.measures]]\nname = "happiness"\n', "health.measures[0].name: unknown measure 'happiness'"),
        ("[health]\namber_at = 80\ngreen_at = 70\n", "health.amber_at and health.green_at"),
        ("[health.tier_cadence_days]\nkey = -1\n", "health.tier_cadence_days.key must be positive"),
        ('reporting_currency = "dollars"\n', "PIPELINE_REPORTING_CURRENCY must be a three-letter"),
        ('colour = "blue"\n', "unknown setting 'colour'"),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_invalid_settings_fail_naming_the_setting(tmp_path, text, named):
    with pytest.raises(SettingsError) as err:
        load_settings(toml(tmp_path, text))
    assert named in str(err.value)


def test_invalid_environment_values_are_named(tmp_path):
    base = {"PIPELINE_DATA_DIR": str(tmp_path)}
    for env, named in [
        ({"PIPELINE_GROSS_MARGIN": "lots"}, "PIPELINE_GROSS_MARGIN must be a number"),
        ({"PIPELINE_GROSS_MARGIN": "1.5"}, "PIPELINE_GROSS_MARGIN must be in (0, 1]"),
        ({"PIPELINE_REQUIRE_APPROVAL": "perhaps"}, "PIPELINE_REQUIRE_APPROVAL must be true or false"),
        ({"PIPELINE_FIRST_MONTH": "July"}, "PIPELINE_FIRST_MONTH must be YYYY-MM"),
        ({"PIPELINE_TIMEZONE": "Mars/Olympus"}, "PIPELINE_TIMEZONE 'Mars/Olympus' is not a known"),
        ({"PIPELINE_SETTINGS_FILE": str(tmp_path / "missing.toml")}, "PIPELINE_SETTINGS_FILE points at"),
    ]:
        with pytest.raises(SettingsError) as err:
            load_settings({**base, **env})
        assert named in str(err.value)


def test_the_cli_reports_a_bad_setting_in_one_line(tmp_path):
    p = tmp_path / "pipeline.toml"
    p.write_text('[[health.measures]]\nname = "support"\nweight = -3\n')
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--month", "2026-01"],
        env={
            "PATH": "/usr/bin:/bin",
            "PIPELINE_DATA_DIR": str(tmp_path),
            "PIPELINE_SETTINGS_FILE": str(p),
            "DAGSTER_HOME": str(tmp_path / "dh"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "error: health.measures.support.weight must be positive, got -3.0"


def test_the_warehouse_memory_limit_reaches_duckdb(tmp_path):
    """PIPELINE_WAREHOUSE_MEMORY_LIMIT caps DuckDB on every connection; a typo is named."""
    from pipeline.resources.warehouse import Warehouse

    assert load_settings({"PIPELINE_DATA_DIR": str(tmp_path)}).warehouse_memory_limit == "2GB"
    s = load_settings({"PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_WAREHOUSE_MEMORY_LIMIT": "512 MiB"})
    with Warehouse.from_settings(s).connect() as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] == "512.0 MiB"
    unset = load_settings({"PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_WAREHOUSE_MEMORY_LIMIT": ""})
    assert unset.warehouse_memory_limit == ""
    with Warehouse.from_settings(unset).connect() as con:  # DuckDB's own default, not 512 MiB
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] != "512.0 MiB"
    with pytest.raises(SettingsError, match="PIPELINE_WAREHOUSE_MEMORY_LIMIT must be an amount like 2GB"):
        load_settings({"PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_WAREHOUSE_MEMORY_LIMIT": "2 gigs'; DROP"})
