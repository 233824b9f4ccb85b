"""Reruns with unchanged inputs keep staging and marts as they are; any change rebuilds."""

from __future__ import annotations

from datetime import date

import dagster as dg
import polars as pl
import pytest

from pipeline.checks import check_unique
from pipeline.contract import source
from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.runs import run_month
from pipeline.sample.generator import write_sample
from pipeline.store.loading import load_new_files
from pipeline.store.staging import stage

ACCOUNTS = ["account_id", "account_name", "tier", "account_manager_id", "currency", "segment", "report_cadence"]
MANAGERS = ["manager_id", "name", "email", "team"]
SUBS = ["subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "currency"]


def test_stage_skips_only_while_its_files_and_references_are_unchanged(warehouse, data_dir, write_csv):
    write_csv("crm/account_managers.csv", MANAGERS, [["M1", "Ann Lee", "ann@example.com", "East"]])
    write_csv("crm/accounts.csv", ACCOUNTS, [["A1", "Acme", "key", "M1", "usd", "smb", ""]])
    write_csv(
        "billing/subscriptions.csv",
        SUBS,
        [["S1", "A1", "Core", "2024-01-01", "", "100", "usd"], ["S2", "A9", "Core", "2024-01-01", "", "100", "usd"]],
    )

    def run(name, **kw):
        load_new_files(warehouse, data_dir / "landing", source(name))
        return stage(warehouse, source(name), **kw)

    run("account_managers")
    first = (run("accounts"), run("subscriptions"))
    assert not first[0].skipped and not first[1].skipped
    assert first[1].rows_quarantined == 1  # S2: unknown account A9

    again = (run("accounts"), run("subscriptions"))
    assert again[0].skipped and again[1].skipped
    assert (again[1].rows_in, again[1].rows_staged, again[1].rows_quarantined) == (2, 1, 1)
    assert again[1].frame.height == 0  # no stored key repeats: nothing read back for the check

    # A new accounts file makes A9 known: accounts and the subscriptions that reference it rebuild.
    write_csv("crm/accounts_2.csv", ACCOUNTS, [["A9", "Nine", "key", "M1", "usd", "smb", ""]])
    accounts, subs = run("accounts"), run("subscriptions")
    assert not accounts.skipped and not subs.skipped
    assert (subs.rows_staged, subs.rows_quarantined) == (2, 0)

    assert run("subscriptions").skipped
    assert not run("subscriptions", recompute=True).skipped


def stage_two_accounts(warehouse, data_dir, write_csv) -> None:
    """Accounts A1 and A2 (and their manager), loaded and staged once."""
    write_csv("crm/account_managers.csv", MANAGERS, [["M1", "Ann Lee", "ann@example.com", "East"]])
    write_csv(
        "crm/accounts.csv",
        ACCOUNTS,
        [["A1", "Acme", "key", "M1", "usd", "smb", ""], ["A2", "Beta", "key", "M1", "usd", "smb", ""]],
    )
    for name in ("account_managers", "accounts"):
        load_new_files(warehouse, data_dir / "landing", source(name))
        stage(warehouse, source(name))


def test_stage_rebuilds_when_the_table_no_longer_matches_its_counts(warehouse, data_dir, write_csv):
    stage_two_accounts(warehouse, data_dir, write_csv)
    with warehouse.connect() as con:
        con.execute("DELETE FROM staging.accounts WHERE account_id = 'A2'")  # someone edited it by hand
    result = stage(warehouse, source("accounts"))
    assert not result.skipped and result.rows_staged == 2


def test_a_kept_table_is_still_checked_for_repeated_keys(warehouse, data_dir, write_csv):
    """An edit that keeps the row count (A2 replaced by a second A1) is not caught by the
    counts, so the skipped step still hands the uniqueness check the repeated key."""
    stage_two_accounts(warehouse, data_dir, write_csv)
    with warehouse.connect() as con:
        con.execute("UPDATE staging.accounts SET account_id = 'A1' WHERE account_id = 'A2'")
    result = stage(warehouse, source("accounts"))
    assert result.skipped
    assert result.frame["account_id"].to_list() == ["A1", "A1"]
    assert not check_unique(result.frame, ["account_id"], "one_row_per_key").passed


DATA = "group:ingest or group:staging or key:marts/account_monthly or key:marts/account_health or key:marts/portfolio_monthly"
MARTS = ("account_monthly", "account_health", "portfolio_monthly")


def recomputed(instance: dg.DagsterInstance, *key: str) -> bool:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
    return event.asset_materialization.metadata["recomputed"].value


def mart_rows(wh: Warehouse) -> dict[str, pl.DataFrame]:
    with wh.connect(read_only=True) as con:
        return {m: fetch(con, f"SELECT * FROM marts.{m} ORDER BY ALL") for m in MARTS}


@pytest.mark.slow  # four Dagster runs of ingest..marts on a sample
def test_a_rerun_of_the_same_month_keeps_staging_and_marts_and_a_change_rebuilds(
    data_dir, warehouse, monkeypatch, test_instance
):
    month = date(2026, 3, 1)
    monkeypatch.setenv("PIPELINE_FIRST_MONTH", "2025-10")
    write_sample(data_dir / "landing", accounts=12, months=6, seed=3, end_month=month)
    assert run_month(month, select=DATA, quiet=True) == 0
    before = mart_rows(warehouse)
    with dg.DagsterInstance.get() as instance:
        assert recomputed(instance, "staging", "activities") and recomputed(instance, "marts", "account_monthly")

    assert run_month(month, select=DATA, quiet=True) == 0
    with dg.DagsterInstance.get() as instance:
        assert not recomputed(instance, "staging", "activities")
        assert not any(recomputed(instance, "marts", m) for m in MARTS)
    after = mart_rows(warehouse)
    assert all(before[m].equals(after[m]) for m in MARTS)

    # Another month is another build; a changed setting rebuilds too.
    monkeypatch.setenv("PIPELINE_GROSS_MARGIN", "0.8")
    assert run_month(month, select=DATA, quiet=True) == 0
    with dg.DagsterInstance.get() as instance:
        assert not recomputed(instance, "marts", "account_monthly")
        assert recomputed(instance, "marts", "portfolio_monthly")
    monkeypatch.setenv("PIPELINE_RECOMPUTE_UNCHANGED", "true")
    assert run_month(month, select=DATA, quiet=True) == 0
    with dg.DagsterInstance.get() as instance:
        assert recomputed(instance, "staging", "accounts") and recomputed(instance, "marts", "account_health")
