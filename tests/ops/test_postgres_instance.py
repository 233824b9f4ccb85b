"""deploy/dagster.postgres.yaml against a real PostgreSQL server: the monthly close, run
through the CLI as an operator would, is recorded in PostgreSQL and nowhere else.

The server is a throw-away cluster on 127.0.0.1 (fixture `postgres_server` in
conftest.py); the template is copied unchanged as $DAGSTER_HOME/dagster.yaml and pointed
at the server by its DAGSTER_PG_* variables only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# one worker holds the module's PostgreSQL server (with --dist loadgroup under -n)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ops_postgres")]

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "deploy" / "dagster.postgres.yaml"
END = "2026-06"
PARTITION = f"{END}-01"


@pytest.fixture(scope="module")
def expected():
    """Asset keys and check names of the definitions (the set grows: never hard-coded)."""
    from pipeline.definitions import build_definitions
    from pipeline.settings import load_settings

    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("PIPELINE_")]:
            mp.delenv(name)
        mp.setenv("PIPELINE_FIRST_MONTH", "2025-01")
        graph = build_definitions(load_settings()).resolve_asset_graph()
    return {
        "assets": {k.to_user_string() for k in graph.materializable_asset_keys},
        "checks": {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys},
    }


@pytest.fixture(scope="module")
def closed_month(postgres_server, demo_instance):
    template = TEMPLATE.read_text(encoding="utf-8")
    return demo_instance("pg_instance", accounts=6, dagster_yaml=template, **postgres_server.dagster_env)


def test_the_template_reads_every_connection_setting_from_the_environment():
    import yaml

    config = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    db = config["storage"]["postgres"]["postgres_db"]
    assert db == {
        "hostname": {"env": "DAGSTER_PG_HOST"},
        "port": {"env": "DAGSTER_PG_PORT"},
        "username": {"env": "DAGSTER_PG_USERNAME"},
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "db_name": {"env": "DAGSTER_PG_DB"},
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3 (not installed)
        "scheme": "postgresql+psycopg2",
    }
    # one `storage: postgres` block = run, event-log and schedule storage; no per-store override
    assert not {"run_storage", "event_log_storage", "schedule_storage"} & set(config)


def test_the_monthly_close_is_recorded_in_postgres(closed_month, postgres_server):
    assert "Traceback" not in closed_month.run.stdout + closed_month.run.stderr
    runs = postgres_server.psql(
        "SELECT run_id, pipeline_name, status, coalesce(partition, '') FROM runs ORDER BY create_timestamp"
    )
    assert [r[1:] for r in runs] == [["monthly_close", "SUCCESS", PARTITION]], runs
    run_id = runs[0][0]
    assert run_id in closed_month.run.stdout  # the run the CLI reported
    tags = dict(postgres_server.psql(f"SELECT key, value FROM run_tags WHERE run_id = '{run_id}'"))
    assert tags["dagster/partition"] == PARTITION
    assert tags["pipeline/trigger"] == "cli"


def test_materializations_and_check_results_are_in_the_postgres_event_log(closed_month, postgres_server, expected):
    rows = postgres_server.psql(
        "SELECT DISTINCT asset_key FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
    )
    keys = {"/".join(json.loads(row[0])) for row in rows}  # stored as a JSON list of path parts
    assert expected["assets"] <= keys, f"not materialized in PostgreSQL: {sorted(expected['assets'] - keys)}"
    evaluated = postgres_server.psql(
        "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_CHECK_EVALUATION'"
    )[0][0]
    assert int(evaluated) >= len(expected["checks"])


def test_dagster_reads_the_same_history_through_the_template(closed_month, monkeypatch, expected):
    """What the UI and the daemon see: an instance loaded from that DAGSTER_HOME."""
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    for name, value in closed_month.env.items():
        if name.startswith(("DAGSTER_", "PIPELINE_")):
            monkeypatch.setenv(name, value)
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        (run,) = instance.get_runs()
        assert (run.job_name, run.status, run.tags["dagster/partition"]) == (
            "monthly_close",
            DagsterRunStatus.SUCCESS,
            PARTITION,
        )
        for key in expected["assets"]:
            event = instance.get_latest_materialization_event(AssetKey.from_user_string(key))
            assert event is not None and event.run_id == run.run_id, key
    # nothing fell back to SQLite next to the configuration
    assert not list(closed_month.home.rglob("*.db")), list(closed_month.home.rglob("*.db"))
