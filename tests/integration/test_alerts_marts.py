"""marts.account_alerts and marts.cross_sell_ideas materialized by Dagster on the hand-built
book of business (tests/support/book_builders.py): the alerts of March are exactly the
ones its docstring lists, with their checks passing; a rerun keeps the rows; without
marts.account_goals there are no goal alerts and no crash; the ideas follow the peer
rules. The slow test closes a sample month and finds every rule among its alerts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from dagster import AssetKey, instance_for_test, materialize

from pipeline.assets.alerts import ACCOUNT_ALERTS_KEY, CROSS_SELL_IDEAS_KEY, build_alert_assets
from pipeline.partitions import monthly_partitions
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.settings import ALERT_RULES
from tests.support.book_builders import ALERTS_IN_MARCH, GOAL_ALERT, MAR, write_book_of_business
from tests.support.cli import subprocess_cli
from tests.support.closed_month import env_for

pytestmark = pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
PARTS = monthly_partitions(date(2023, 1, 1))
PK = "2024-03-01"
RESOURCES = {"warehouse": WarehouseResource(), "settings": SettingsResource()}


def run_marts(instance):
    return materialize(build_alert_assets(PARTS), partition_key=PK, resources=RESOURCES, instance=instance)


def metadata(result, key: AssetKey) -> dict:
    # a rebuild also marks the earlier months it rewrote: the reporting month's event
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key and e.partition == PK]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def alerts_of(warehouse: Warehouse, month: date = MAR) -> set[tuple[str, str]]:
    frame = warehouse.table("marts.account_alerts").filter(pl.col("month") == month)
    return set(frame.select("account_id", "rule").iter_rows())


def test_alerts_and_ideas_of_the_month_with_their_checks(data_dir: Path, warehouse: Warehouse) -> None:
    write_book_of_business(warehouse)
    with instance_for_test() as instance:
        first = run_marts(instance)
        assert first.success
        checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
        assert checks == {
            "state_alerts_match_conditions": True,
            "event_alerts_match_events": True,
            "one_alert_per_key": True,
            "one_row_per_idea": True,
            "ideas_follow_the_rules": True,
        }
        assert alerts_of(warehouse) == ALERTS_IN_MARCH | {GOAL_ALERT}
        assert alerts_of(warehouse, date(2024, 2, 1)) == set() and alerts_of(warehouse, date(2024, 1, 1)) == set()
        meta = metadata(first, ACCOUNT_ALERTS_KEY)
        assert meta["recomputed"] is True and meta["alerts_this_month"] == 9 and meta["goals_read"] is True
        assert {r: meta[f"alerts_{r}"] for r in ALERT_RULES} == {
            "band_drop": 3,
            "score_drop": 1,
            "detractor": 1,
            "renewal_risk": 1,
            "gone_quiet": 1,
            "overdue": 1,
            "goal_behind": 1,
        }
        assert "Acme <b>Rockets</b> moved from green to red" in meta["top_alerts"]

        alerts = warehouse.table("marts.account_alerts").filter(pl.col("rule") == "detractor").row(0, named=True)
        assert alerts["details"] == "Support is <script>alert('slow')</script>"  # as written; templates escape
        assert alerts["message"].startswith("Birch & Co got an NPS score of 3 out of 10 from jo@birch.example")

        ideas = warehouse.table("marts.cross_sell_ideas").filter(pl.col("month") == MAR).sort("account_id")
        assert ideas.select("account_id", "product", "peers", "peer_holders", "rank").rows() == [
            (a, "Analytics", 11, 7, 1) for a in ("P01", "P02", "P03", "P04", "P05")
        ]
        assert ideas["peer_median_mrr"].to_list() == [Decimal("200.0000")] * 5
        assert ideas["peer_share"].to_list() == [7 / 11] * 5
        assert metadata(first, CROSS_SELL_IDEAS_KEY)["ideas_this_month"] == 5

        before = warehouse.table("marts.account_alerts").sort("alert_id")
        again = run_marts(instance)
        assert metadata(again, ACCOUNT_ALERTS_KEY)["recomputed"] is False
        assert metadata(again, CROSS_SELL_IDEAS_KEY)["recomputed"] is False
        assert all(e.passed for e in again.get_asset_check_evaluations())
        assert warehouse.table("marts.account_alerts").sort("alert_id").equals(before)


def test_without_the_goals_mart_there_are_no_goal_alerts(data_dir: Path, warehouse: Warehouse) -> None:
    write_book_of_business(warehouse, with_goals=False)
    with instance_for_test() as instance:
        result = run_marts(instance)
    assert result.success and all(e.passed for e in result.get_asset_check_evaluations())
    assert alerts_of(warehouse) == ALERTS_IN_MARCH
    assert metadata(result, ACCOUNT_ALERTS_KEY)["goals_read"] is False


def test_a_switched_off_rule_and_a_changed_threshold_rebuild(data_dir: Path, warehouse: Warehouse) -> None:
    write_book_of_business(warehouse)
    (data_dir / "pipeline.toml").write_text(
        "[alerts.band_drop]\nenabled = false\n\n[alerts.overdue]\nthreshold = 2000\n"
    )
    with instance_for_test() as instance:
        result = run_marts(instance)
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert alerts_of(warehouse) == {x for x in ALERTS_IN_MARCH | {GOAL_ALERT} if x[1] not in ("band_drop", "overdue")}


@pytest.mark.slow
def test_the_sample_raises_every_rule_in_its_last_month(tmp_path: Path) -> None:
    """200 accounts, 36 months: the sample's last month has alerts of all seven rules and
    peer groups large enough for cross-sell ideas (the marts only: no reports)."""
    env = env_for(tmp_path, PIPELINE_FIRST_MONTH="2023-12")
    sample = subprocess_cli(["sample", "--end-month", "2026-11"], env)
    assert sample.returncode == 0, sample.stderr[-2000:]
    run = subprocess_cli(["run", "--month", "2026-11", "--select", "group:ingest or group:staging or group:marts"], env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        rules = dict(
            con.execute(
                "SELECT rule, count(*) FROM marts.account_alerts WHERE month = DATE '2026-11-01' GROUP BY rule"
            ).fetchall()
        )
        ideas = con.execute(
            "SELECT count(*), count(DISTINCT tier || segment) FROM marts.cross_sell_ideas "
            "WHERE month = DATE '2026-11-01'"
        ).fetchone()
    assert set(rules) == set(ALERT_RULES), rules
    assert ideas[0] > 0 and ideas[1] >= 2
