"""A snapshot of what the code location exposes: keys, groups, jobs, automation, metadata."""

from __future__ import annotations

from pipeline.contract import SOURCES
from pipeline.definitions import build_definitions
from pipeline.settings import load_settings

MARTS = {"marts/account_monthly", "marts/account_health", "marts/portfolio_monthly"}


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
    checks = {
        f"{k.asset_key.to_user_string()}:{k.name}" for k in defs.resolve_asset_graph().asset_check_keys
    }
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
