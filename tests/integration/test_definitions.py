"""What the code location exposes. ``test_the_code_location_matches_its_snapshot`` compares
every asset key (with its group and whether it is partitioned), every check, job,
schedule and sensor with tests/integration/__snapshots__/test_definitions.ambr (syrupy):
adding, removing or renaming one fails it until the snapshot is updated deliberately with
``pytest tests/integration/test_definitions.py --snapshot-update`` (and the diff reviewed).
The other tests check what every asset must carry (description, owners, kinds) and the
settings the definitions read."""

from __future__ import annotations

import os

from pipeline.contract import SOURCES
from pipeline.definitions import build_definitions
from pipeline.settings import load_settings

MARTS = {"marts/account_monthly", "marts/account_health", "marts/portfolio_monthly"}


def location(defs) -> dict:
    """Asset keys (group, partitioned), checks, jobs, schedules and sensors, sorted."""
    graph = defs.resolve_asset_graph()
    repository = defs.get_repository_def()
    return {
        "assets": {
            k.to_user_string(): {"group": graph.get(k).group_name, "partitioned": graph.get(k).is_partitioned}
            for k in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
        },
        "checks": sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": {
            s.name: {"cron": s.cron_schedule, "job": s.job_name, "default_status": s.default_status.value}
            for s in sorted(repository.schedule_defs, key=lambda s: s.name)
        },
        "sensors": {
            s.name: {"job": s.job_name if s.has_jobs else None, "default_status": s.default_status.value}
            for s in sorted(repository.sensor_defs, key=lambda s: s.name)
        },
    }


def test_the_code_location_matches_its_snapshot(data_dir, monkeypatch, snapshot):
    """Built with the default settings (no PIPELINE_ variable from the caller's shell)."""
    for name in [k for k in os.environ if k.startswith("PIPELINE_") and k != "PIPELINE_DATA_DIR"]:
        monkeypatch.delenv(name)
    assert location(build_definitions(load_settings())) == snapshot


def test_asset_keys_groups_and_descriptions(data_dir):
    defs = build_definitions(load_settings())
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    expected = {f"raw/{s.name}" for s in SOURCES} | {f"staging/{s.name}" for s in SOURCES} | MARTS
    assert expected <= keys
    groups = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups.setdefault(node.group_name, set()).add(key.to_user_string())
        assert node.description, f"{key.to_user_string()} has no description"
        assert node.owners, f"{key.to_user_string()} has no owner"
        assert node.kinds, f"{key.to_user_string()} has no kinds"
    assert {"ingest", "staging", "marts"} <= set(groups)
    assert groups["marts"] >= MARTS
    for key in MARTS:
        assert graph.get(next(k for k in graph.get_all_asset_keys() if k.to_user_string() == key)).partitions_def


def test_jobs_schedules_sensors_and_checks(data_dir):
    defs = build_definitions(load_settings())
    assert defs.resolve_job_def("monthly_close").partitions_def is not None
    assert defs.resolve_job_def("ingest_landing")
    assert defs.resolve_schedule_def("monthly_close_schedule")
    assert defs.resolve_sensor_def("landing_folder_sensor")
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in defs.resolve_asset_graph().asset_check_keys}
    assert {
        "marts/portfolio_monthly:mrr_bridge",
        "marts/account_monthly:account_mrr_bridge",
        "marts/account_monthly:one_row_per_account_month",
        "marts/account_health:score_in_range",
        "marts/account_health:change_split_adds_up",
        "staging/accounts:rows_balance",
    } <= checks


def test_partitions_start_at_the_first_month_setting(data_dir, monkeypatch):
    monkeypatch.setenv("PIPELINE_FIRST_MONTH", "2024-07")
    defs = build_definitions(load_settings())
    keys = defs.resolve_job_def("monthly_close").partitions_def.get_partition_keys()
    assert keys[0] == "2024-07-01"
