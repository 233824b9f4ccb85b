"""The landing sensor and the monthly-close schedule, evaluated as Dagster would."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import dagster as dg

from pipeline.definitions import build_definitions
from pipeline.settings import load_settings


def _sensor_tick(defs, cursor):
    sensor = defs.resolve_sensor_def("landing_folder_sensor")
    return sensor.evaluate_tick(dg.build_sensor_context(cursor=cursor))


def test_a_new_file_triggers_exactly_one_run_and_the_same_file_none(data_dir, write_csv):
    defs = build_definitions(load_settings())
    assert _sensor_tick(defs, None).run_requests == []  # empty landing folder

    write_csv("crm/account_managers.csv", ["manager_id", "name", "email"], [["M1", "Ann", "a@example.com"]])
    first = _sensor_tick(defs, None)
    assert len(first.run_requests) == 1
    # A request without a job name runs the sensor's own job: that job must be ingestion.
    sensor = defs.resolve_sensor_def("landing_folder_sensor")
    assert sensor.job_name == "ingest_landing"
    assert (first.run_requests[0].job_name or sensor.job_name) == "ingest_landing"

    again = _sensor_tick(defs, first.cursor)
    assert again.run_requests == []

    # the same bytes under another name are not new either
    shutil.copy(data_dir / "landing/crm/account_managers.csv", data_dir / "landing/crm/account_managers_copy.csv")
    assert _sensor_tick(defs, first.cursor).run_requests == []

    # a changed file is
    write_csv("crm/account_managers.csv", ["manager_id", "name", "email"], [["M1", "Ann Lee", "a@example.com"]])
    changed = _sensor_tick(defs, first.cursor)
    assert len(changed.run_requests) == 1
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key


def test_the_schedule_requests_the_previous_month(data_dir, test_instance):
    defs = build_definitions(load_settings())
    schedule = defs.resolve_schedule_def("monthly_close_schedule")
    assert schedule.cron_schedule == "0 6 2 * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    ctx = dg.build_schedule_context(
        instance=test_instance, scheduled_execution_time=datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
    )
    result = schedule.evaluate_tick(ctx)
    assert [r.partition_key for r in result.run_requests] == ["2026-11-01"]


def test_close_day_and_hour_are_settings(data_dir, monkeypatch):
    monkeypatch.setenv("PIPELINE_CLOSE_DAY_OF_MONTH", "5")
    monkeypatch.setenv("PIPELINE_CLOSE_HOUR", "7")
    monkeypatch.setenv("PIPELINE_AUTOMATION_RUNNING", "true")
    defs = build_definitions(load_settings())
    schedule = defs.resolve_schedule_def("monthly_close_schedule")
    assert schedule.cron_schedule == "0 7 5 * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
