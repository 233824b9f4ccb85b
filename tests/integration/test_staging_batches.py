"""The warehouse stages batch by batch (pipeline.store.staging) exactly as the pure
one-piece staging (pipeline.transforms.staging.stage_source) does: the same table, the
same quarantine rows, the same counts, however the rows fall into batches.

The rules that need every row, conflicting repeats of a key in one file and the latest
version of each key, run in SQL over all batches; the cases below put the rows of one
key into different batches on purpose (a batch of one or two rows)."""

from __future__ import annotations

import polars as pl
import pytest

from pipeline.contract import source
from pipeline.resources.warehouse import fetch
from pipeline.schemas import QUARANTINE
from pipeline.store.loading import load_new_files, read_staging
from pipeline.store.staging import _raw_batch, known_keys_for, stage
from pipeline.transforms.staging import stage_source

MANAGERS = ["manager_id", "name", "email", "team"]
ACCOUNTS = ["account_id", "account_name", "tier", "account_manager_id", "currency", "segment", "report_cadence"]
SUBS = ["subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "currency"]


def write_inputs(write_csv):
    write_csv("crm/account_managers.csv", MANAGERS, [["M1", "Ann Lee", "ann@example.com", "East"]])
    write_csv(
        "crm/accounts.csv",
        ACCOUNTS,
        [
            ["A1", "Acme", "key", "M1", "usd", "smb", ""],
            ["A2", "Beta", "platinum", "M1", "eur", "", ""],  # unknown tier
            ["A3", "Gamma", "key", "M9", "eur", "smb", ""],  # unknown manager
            ["A4", "Delta", "key", "M1", "usd", "smb", ""],  # repeated, identical: superseded
            ["A4", "Delta", "key", "M1", "usd", "smb", ""],
            ["A5", "Eps", "key", "M1", "usd", "smb", ""],  # repeated, conflicting: both quarantined
            ["A5", "Eps", "strategic", "M1", "usd", "smb", ""],
            ["A6", "Zeta", "key", "M1", "usd", "smb", ""],
        ],
    )
    write_csv(
        "crm/accounts_2.csv",  # loaded later: its versions win
        ACCOUNTS,
        [
            ["A6", "Zeta Corp", "key", "M1", "usd", "smb", ""],
            ["A2", "Beta", "key", "M1", "eur", "", ""],
            ["A1", "Acme", "KEY", "M1", "USD", "SMB", "sometimes"],  # bad cadence: the earlier A1 stays
        ],
    )
    write_csv(
        "billing/subscriptions.csv",
        SUBS,
        [
            ["S1", "A1", "Core", "2024-01-01", "", "100.00", "usd"],
            ["S2", "A1", "Core", "2024-01-01", "2023-12-01", "10", "usd"],  # ends before it starts
            ["S3", "A9", "Core", "2024-01-01", "", "10", "usd"],  # unknown account
            ["S4", "A1", "Core", "2024-01-01", "", "1e3", "usd"],  # not a number
            ["S5", "A1", "Core", "2024-01-01", "", "10", "usd"],
            ["S5", "A1", "Core", "2024-01-01", "", "20", "usd"],
            ["S1", "A1", "Core", "2024-01-01", "", "100.00", "usd"],
        ],
    )


def one_piece(warehouse, name):
    """stage_source on the same raw rows, with the same staged keys to check against."""
    with warehouse.connect() as con:
        raw = _raw_batch(con, source(name), "true", []).drop("_i")
        keys = known_keys_for(con, source(name))
    return stage_source(source(name), raw, keys)


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 1000])
def test_batches_stage_exactly_as_one_piece(warehouse, data_dir, write_csv, batch_rows):
    write_inputs(write_csv)
    for name in ("account_managers", "accounts", "subscriptions"):
        load_new_files(warehouse, data_dir / "landing", source(name))
        expected = one_piece(warehouse, name)
        got = stage(warehouse, source(name), recompute=True, batch_rows=batch_rows)
        stored = read_staging(warehouse, name)
        assert stored.equals(expected.frame), name
        assert got.rejects.equals(expected.rejects), name
        cols = ", ".join(f'"{c}"' for c in QUARANTINE.names())
        with warehouse.connect() as con:
            quarantined = fetch(
                con,
                f'SELECT {cols} FROM ops.quarantine WHERE source = ? ORDER BY file, row, "column"',
                [name],
            ).cast(QUARANTINE)
        assert quarantined.equals(expected.rejects), name
        counts = (got.rows_in, got.rows_staged, got.rows_quarantined, got.rows_superseded)
        assert counts == (expected.rows_in, expected.rows_staged, expected.rows_quarantined, expected.rows_superseded)
        assert got.frame.is_empty()  # no stored key repeats


def test_the_hand_counted_outcome(warehouse, data_dir, write_csv):
    """What the cases above must come to, counted by hand (so both paths cannot be wrong alike)."""
    write_inputs(write_csv)
    for name in ("account_managers", "accounts"):
        load_new_files(warehouse, data_dir / "landing", source(name))
        got = stage(warehouse, source(name), batch_rows=2)
    # 11 rows in. Quarantined (5): the first file's A2 and A3, both A5 rows, the second
    # file's A1. Superseded (2): one of the identical A4 rows, the first file's A6.
    # Staged (4): A1 (first file), A2 and A6 (second file), A4.
    assert (got.rows_in, got.rows_staged, got.rows_quarantined, got.rows_superseded) == (11, 4, 5, 2)
    staged = read_staging(warehouse, "accounts")
    assert staged["account_id"].to_list() == ["A1", "A2", "A4", "A6"]
    assert staged.filter(pl.col("account_id") == "A6")["account_name"].to_list() == ["Zeta Corp"]
    assert staged.filter(pl.col("account_id") == "A1")["_file"].to_list() == ["crm/accounts.csv"]
    reasons = dict(zip(got.rejects["row"].cast(str) + " " + got.rejects["file"], got.rejects["reason"], strict=True))
    assert reasons["6 crm/accounts.csv"] == "duplicate key in this file with conflicting values (rows 6, 7)"
    assert reasons["7 crm/accounts.csv"] == "duplicate key in this file with conflicting values (rows 6, 7)"
