"""Ingestion on hand-made landing folders: lineage, quarantine, versions, idempotence."""

from __future__ import annotations

import shutil
from dataclasses import replace

import dagster as dg
import polars as pl
import pytest

from pipeline.assets.ingest import build_raw_assets
from pipeline.assets.staging import build_staging_assets
from pipeline.contract import SOURCES, source
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource, fetch
from pipeline.store.loading import load_new_files, read_staging
from pipeline.store.staging import stage

MANAGERS = ["manager_id", "name", "email", "team"]
ACCOUNTS = ["account_id", "account_name", "tier", "account_manager_id", "currency", "segment", "report_cadence"]
SUBS = ["subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "currency"]
INVOICES = [
    "invoice_id",
    "account_id",
    "issued_on",
    "due_on",
    "currency",
    "subtotal",
    "tax",
    "total",
    "status",
    "paid_on",
]
RESPONSES = ["response_id", "account_id", "survey_type", "score", "responded_at"]


def load_and_stage(warehouse, data_dir, names):
    """Each source's staging result, with ``frame`` the staged table as stored."""
    out = {}
    for name in names:
        load_new_files(warehouse, data_dir / "landing", source(name))
        out[name] = replace(stage(warehouse, source(name)), frame=read_staging(warehouse, name))
    return out


def base_crm(write_csv):
    write_csv("crm/account_managers.csv", MANAGERS, [["M1", "Ann Lee", "ann@example.com", "East"]])
    write_csv(
        "crm/accounts.csv",
        ACCOUNTS,
        [["A1", "Acme", "key", "M1", "usd", "smb", ""], ["A2", "Beta", "strategic", "M1", "eur", "", "quarterly"]],
    )


def quarantine(warehouse, src):
    with warehouse.connect() as con:
        return fetch(
            con,
            'SELECT file, "row", "column", value, reason FROM ops.quarantine WHERE source = ? ORDER BY "row", "column"',
            [src],
        )


def test_each_kind_of_bad_row_is_quarantined_with_column_and_reason(warehouse, data_dir, write_csv):
    base_crm(write_csv)
    write_csv(
        "billing/subscriptions.csv",
        SUBS,
        [
            ["S1", "A1", "Core", "2024-01-01", "", "100.00", "usd"],  # valid
            ["S2", "A1", "Core", "2024-01-01", "", "", "usd"],  # missing required value
            ["S3", "A1", "Core", "2024-01-01", "", "12,5O", "usd"],  # unparseable number
            ["S4", "A1", "Core", "2024-13-45", "", "10", "usd"],  # unparseable date
            ["S5", "A9", "Core", "2024-01-01", "", "10", "usd"],  # unknown account
            ["S6", "A1", "Core", "2024-01-01", "", "10", "usd"],  # duplicate key, conflicting
            ["S6", "A1", "Core", "2024-01-01", "", "20", "usd"],
            ["S7", "A1", "Core", "2024-03-01", "2024-02-01", "10", "usd"],  # ends before start
        ],
    )
    write_csv(
        "billing/invoices.csv",
        INVOICES,
        [["I1", "A1", "2024-01-01", "2024-01-31", "usd", "10", "1", "11", "pending_payment", ""]],  # unknown code
    )
    res = load_and_stage(warehouse, data_dir, ["account_managers", "accounts", "subscriptions", "invoices"])
    q = quarantine(warehouse, "subscriptions")
    got = {(r["row"], r["column"]): r["reason"] for r in q.iter_rows(named=True)}
    assert got[(2, "mrr")] == "missing required value"
    assert got[(3, "mrr")].startswith("not a number")
    assert got[(4, "start_date")] == "not a valid date in YYYY-MM-DD form"
    assert got[(5, "account_id")] == "unknown account 'A9' (not in the valid accounts rows)"
    assert got[(6, "subscription_id")] == "duplicate key in this file with conflicting values (rows 6, 7)"
    assert got[(7, "subscription_id")] == got[(6, "subscription_id")]
    assert got[(8, "end_date")].startswith("end_date is on or before start_date")
    assert set(q["file"]) == {"billing/subscriptions.csv"}
    assert q.filter(pl.col("row") == 3)["value"].to_list() == ["12,5O"]
    inv = quarantine(warehouse, "invoices")
    assert inv.rows() == [
        (
            "billing/invoices.csv",
            1,
            "status",
            "pending_payment",
            "unknown status 'pending_payment' (expected draft, open, paid, void or uncollectible)",
        )
    ]
    s = res["subscriptions"]
    assert s.frame["subscription_id"].to_list() == ["S1"]
    assert (s.rows_in, s.rows_staged, s.rows_quarantined, s.rows_superseded) == (8, 1, 7, 0)


def test_bom_and_upper_case_codes_and_headers_load(warehouse, data_dir, write_csv):
    write_csv(
        "crm/account_managers.csv", [h.upper() for h in MANAGERS], [["M1", "Ann", "ann@example.com", ""]], bom=True
    )
    write_csv(
        "crm/accounts.csv", ACCOUNTS, [["A1", "Acme", "STRATEGIC", "M1", "EUR", "Mid_Market", "Quarterly"]], bom=True
    )
    res = load_and_stage(warehouse, data_dir, ["account_managers", "accounts"])
    row = res["accounts"].frame.row(0, named=True)
    assert (row["tier"], row["currency"], row["segment"], row["report_cadence"]) == (
        "strategic",
        "eur",
        "mid_market",
        "quarterly",
    )
    assert res["account_managers"].rows_staged == 1
    assert quarantine(warehouse, "accounts").is_empty()


def test_empty_cadence_defaults_to_monthly(warehouse, data_dir, write_csv):
    base_crm(write_csv)
    res = load_and_stage(warehouse, data_dir, ["account_managers", "accounts"])
    assert dict(zip(res["accounts"].frame["account_id"], res["accounts"].frame["report_cadence"], strict=True)) == {
        "A1": "monthly",
        "A2": "quarterly",
    }


def test_loading_the_same_file_twice_changes_nothing(warehouse, data_dir, write_csv):
    base_crm(write_csv)
    load_and_stage(warehouse, data_dir, ["account_managers", "accounts"])
    with warehouse.connect() as con:
        before = fetch(con, "SELECT * FROM staging.accounts ORDER BY account_id")
    # the same bytes again, under the same and under another name
    shutil.copy(data_dir / "landing/crm/accounts.csv", data_dir / "landing/crm/accounts_copy.csv")
    report = load_new_files(warehouse, data_dir / "landing", source("accounts"))
    assert report.files_loaded == [] and sorted(report.files_skipped) == ["accounts.csv", "accounts_copy.csv"]
    stage(warehouse, source("accounts"))
    with warehouse.connect() as con:
        after = fetch(con, "SELECT * FROM staging.accounts ORDER BY account_id")
        raw_rows = con.execute("SELECT count(*) FROM raw.accounts").fetchall()[0][0]
        loads = con.execute("SELECT count(*) FROM ops.loads WHERE source = 'accounts'").fetchall()[0][0]
    assert before.equals(after)
    assert (raw_rows, loads) == (2, 1)


def test_reexport_with_one_changed_row_makes_that_row_win(warehouse, data_dir, write_csv):
    base_crm(write_csv)
    load_and_stage(warehouse, data_dir, ["account_managers", "accounts"])
    write_csv(
        "crm/accounts_2024-02.csv",
        ACCOUNTS,
        [
            ["A1", "Acme Corp", "strategic", "M1", "usd", "smb", ""],
            ["A2", "Beta", "strategic", "M1", "eur", "", "quarterly"],
        ],
    )
    res = load_and_stage(warehouse, data_dir, ["accounts"])["accounts"]
    rows = {r["account_id"]: r for r in res.frame.iter_rows(named=True)}
    assert rows["A1"]["account_name"] == "Acme Corp" and rows["A1"]["tier"] == "strategic"
    assert rows["A1"]["_file"] == "crm/accounts_2024-02.csv" and rows["A1"]["_row"] == 1
    assert rows["A2"]["_file"] == "crm/accounts_2024-02.csv"
    assert (res.rows_in, res.rows_staged, res.rows_quarantined, res.rows_superseded) == (4, 2, 0, 2)


def test_a_bad_row_in_a_later_file_keeps_the_earlier_valid_version(warehouse, data_dir, write_csv):
    base_crm(write_csv)
    load_and_stage(warehouse, data_dir, ["account_managers", "accounts"])
    write_csv("crm/accounts_fix.csv", ACCOUNTS, [["A1", "Acme", "platinum", "M1", "usd", "smb", ""]])
    res = load_and_stage(warehouse, data_dir, ["accounts"])["accounts"]
    assert res.frame.filter(pl.col("account_id") == "A1")["tier"].to_list() == ["key"]
    assert quarantine(warehouse, "accounts")["file"].to_list() == ["crm/accounts_fix.csv"]


def test_missing_required_column_fails_the_asset_with_a_message_naming_it(data_dir, write_csv):
    write_csv("crm/account_managers.csv", ["manager_id", "name", "team"], [["M1", "Ann", "East"]])
    result = dg.materialize(
        [a for a in build_raw_assets() if a.key.path[-1] == "account_managers"],
        resources={"warehouse": WarehouseResource(), "settings": SettingsResource()},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = failure.step_failure_data.user_failure_data.description
    assert "crm/account_managers.csv is missing the required column(s) email" in text
    assert "manager_id, name, email, team" in text


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "not UTF-8"),
        ("manager_id,name,email\nM1,J\xe9r\xf4me,j@example.com\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_files_fail_with_a_message(warehouse, data_dir, content, expected):
    p = data_dir / "landing/crm/account_managers.csv"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(content)
    report = load_new_files(warehouse, data_dir / "landing", source("account_managers"))
    assert len(report.errors) == 1 and "crm/account_managers.csv" in report.errors[0]
    assert expected in report.errors[0]


def test_rows_in_equal_staged_plus_quarantined_plus_superseded_for_every_source(warehouse, data_dir, write_csv):
    base_crm(write_csv)
    write_csv(
        "billing/subscriptions.csv",
        SUBS,
        [["S1", "A1", "Core", "2024-01-01", "", "10", "usd"], ["S2", "A1", "x", "bad", "", "1", "usd"]],
    )
    write_csv("billing/subscriptions_b.csv", SUBS, [["S1", "A1", "Core", "2024-01-01", "", "12", "usd"]])
    write_csv(
        "surveys/responses.csv",
        RESPONSES,
        [["R1", "A1", "nps", "11", "2024-01-01T10:00:00Z"], ["R2", "A1", "csat", "5", "2024-01-01"]],
    )
    for src in [s.name for s in SOURCES]:
        load_new_files(warehouse, data_dir / "landing", source(src))
    for s in [
        "account_managers",
        "accounts",
        *[x.name for x in SOURCES if x.name not in ("account_managers", "accounts")],
    ]:
        r = stage(warehouse, source(s))
        with warehouse.connect() as con:
            raw_rows = con.execute(f'SELECT count(*) FROM raw."{s}"').fetchall()[0][0]
        assert r.rows_in == raw_rows
        assert r.rows_in == r.rows_staged + r.rows_quarantined + r.rows_superseded, s
    assert quarantine(warehouse, "responses")["reason"].to_list() == ["must be at most 10"]


def test_staging_assets_report_counts_in_metadata(data_dir, write_csv):
    base_crm(write_csv)
    write_csv("crm/accounts_b.csv", ACCOUNTS, [["A3", "Gamma", "gold", "M1", "usd", "", ""]])
    wanted = {"account_managers", "accounts"}
    assets = [a for a in [*build_raw_assets(), *build_staging_assets()] if a.key.path[-1] in wanted]
    result = dg.materialize(assets, resources={"warehouse": WarehouseResource(), "settings": SettingsResource()})
    mats = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    meta = mats["staging/accounts"]
    assert meta["rows_in"].value == 3 and meta["rows_staged"].value == 2 and meta["rows_quarantined"].value == 1
    assert "unknown tier 'gold'" in meta["top_quarantine_reasons"].value
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    assert checks[("staging/accounts", "rows_balance")].passed
    assert checks[("raw/accounts", "fresh")].passed
    rate = checks[("staging/accounts", "quarantine_rate")]
    assert not rate.passed  # 1 of 3 rows quarantined, above the 5% default
    assert rate.metadata["quarantine_rate"].value == pytest.approx(1 / 3, abs=1e-6)
    assert rate.metadata["threshold"].value == 0.05
