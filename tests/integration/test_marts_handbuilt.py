"""`pipeline run --month 2026-03` on a hand-built portfolio: every mart value worked out by hand.

Issues 4 and 5, "done means": the run gives the values a careful analyst computes from
docs/metrics.md (the definitions and the choices it records) for every column of
marts.account_monthly, marts.account_health and marts.portfolio_monthly. Nothing here
calls a product function to get an expected value; the arithmetic is in the comments.

Reporting month R = 2026-03 (end 2026-03-31), previous month P = 2026-02 (end 2026-02-28);
PIPELINE_FIRST_MONTH = 2025-01, billing data from 2025-01, so M-12 = 2025-03 has data.
Reporting currency usd. fx: eur 1.0850 from 2024-12-01, eur 1.1725 from 2025-09-01,
gbp 1.2500 from 2026-01-01 only.

    acct tier           segment     mgr  ccy  MRR story (month-end snapshots, usd)
    A1   strategic      enterprise  M1   usd  S1 1000 open-ended from 2025-01 (new); S2 +500 overlapping
                                              2025-06-15..2026-03-01 (expansion 2025-06, contraction 2026-03)
    A2   key            mid_market  M1   eur  S3 eur 800 from 2025-03-01 @1.0850 = 868 (new 2025-03);
                                              S4 eur 200 from 2026-03-10 @1.1725 = 234.5 (expansion 2026-03);
                                              S10 gbp 300 from 2025-06-01: no gbp rate that early ->
                                              ops.quarantine (stage marts), never in MRR
    A3   transactional  smb         M2   usd  S5 300 2025-01-01..2025-07-01 (new, churn 2025-07);
                                              S7 999 2025-10-05..2025-10-20 never shows;
                                              S6 250 from 2026-03-05 (reactivation 2026-03)
    A4   key            (empty)     M2   usd  S8 400 2025-02-01..2026-03-31 + S9 100 2025-02-01..2026-02-15
                                              (new 500 2025-02, contraction 100 2026-02, churn 400 2026-03);
                                              health override amber until 2026-04-01 (active)
    A5   transactional  smb         M2   eur  S11 eur 150 from 2026-03-01 @1.1725 = 175.875 (new 2026-03);
                                              never contacted, no survey: insufficient_data

Invoices: paid on time (A1 I01, A2 I06, A5 I11), paid late (A1 I02: overdue at end of
2026-02, paid 2026-03-05), due on the month end so not yet overdue (A1 I03), open overdue
in eur at the old rate (A2 I05, I07), uncollectible (A4 I10), draft (A1 I04) and void
(A2 I08) ignored. Surveys, activities and tickets put records on the window edges, with
negative UTC offsets that move a timestamp onto the next UTC day (and month).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.runs import run_month

# one worker makes the module's shared run (with --dist loadgroup under -n)
pytestmark = pytest.mark.xdist_group("marts_handbuilt")

R = date(2026, 3, 1)  # the reporting month
P = date(2026, 2, 1)  # the month before

GBP_REASON_PARTS = ("gbp", "2025-06-01", "2026-01-01")


# --------------------------------------------------------------------------- landing


def landing_files() -> dict[str, tuple[list[str], list[list[object]]]]:
    """Every landing file of the scenario: relative path -> (header, rows)."""
    return {
        "crm/account_managers.csv": (
            ["manager_id", "name", "email", "team"],
            [["M1", "Maria Lopez", "maria@example.com", "East"], ["M2", "Sam Okafor", "sam@example.com", "West"]],
        ),
        "crm/accounts.csv": (
            ["account_id", "account_name", "tier", "segment", "account_manager_id", "renewal_date", "currency"],
            [
                ["A1", "Alpha", "strategic", "enterprise", "M1", "2026-06-30", "usd"],
                ["A2", "Beta", "key", "mid_market", "M1", "2026-03-15", "eur"],
                ["A3", "Gamma", "transactional", "smb", "M2", "", "usd"],
                ["A4", "Delta", "key", "", "M2", "", "usd"],
                ["A5", "Epsilon", "transactional", "smb", "M2", "2027-03-01", "eur"],
            ],
        ),
        "billing/fx_rates.csv": (
            ["date", "currency", "rate"],
            [["2024-12-01", "eur", "1.0850"], ["2025-09-01", "eur", "1.1725"], ["2026-01-01", "gbp", "1.2500"]],
        ),
        "billing/subscriptions.csv": (
            ["subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "currency"],
            [
                ["S1", "A1", "Core", "2025-01-01", "", "1000.00", "usd"],  # row 1
                ["S2", "A1", "Analytics", "2025-06-15", "2026-03-01", "500.00", "usd"],  # row 2
                ["S3", "A2", "Core", "2025-03-01", "", "800.00", "eur"],  # row 3
                ["S4", "A2", "Analytics", "2026-03-10", "", "200.00", "eur"],  # row 4
                ["S5", "A3", "Core", "2025-01-01", "2025-07-01", "300.00", "usd"],  # row 5
                ["S6", "A3", "Core", "2026-03-05", "", "250.00", "usd"],  # row 6
                ["S7", "A3", "Trial", "2025-10-05", "2025-10-20", "999.00", "usd"],  # row 7
                ["S8", "A4", "Core", "2025-02-01", "2026-03-31", "400.00", "usd"],  # row 8
                ["S9", "A4", "Seats", "2025-02-01", "2026-02-15", "100.00", "usd"],  # row 9
                ["S10", "A2", "UK add-on", "2025-06-01", "", "300.00", "gbp"],  # row 10: no gbp rate yet
                ["S11", "A5", "Core", "2026-03-01", "", "150.00", "eur"],  # row 11
            ],
        ),
        "billing/invoices.csv": (
            [
                "invoice_id",
                "account_id",
                "number",
                "issued_on",
                "due_on",
                "currency",
                "subtotal",
                "tax",
                "total",
                "status",
                "paid_on",
            ],
            [
                [
                    "I01",
                    "A1",
                    "2026-001",
                    "2026-01-01",
                    "2026-01-31",
                    "usd",
                    "1500.00",
                    "300.00",
                    "1800.00",
                    "paid",
                    "2026-01-25",
                ],
                [
                    "I02",
                    "A1",
                    "2026-002",
                    "2026-02-01",
                    "2026-02-15",
                    "usd",
                    "1500.00",
                    "300.00",
                    "1800.00",
                    "paid",
                    "2026-03-05",
                ],
                [
                    "I03",
                    "A1",
                    "2026-003",
                    "2026-03-01",
                    "2026-03-31",
                    "usd",
                    "1000.00",
                    "200.00",
                    "1200.00",
                    "open",
                    "",
                ],
                ["I04", "A1", "", "2026-03-02", "2026-04-01", "usd", "50000.00", "10000.00", "60000.00", "draft", ""],
                ["I05", "A2", "2025-101", "2025-08-15", "2025-09-14", "eur", "800.00", "160.00", "960.00", "open", ""],
                [
                    "I06",
                    "A2",
                    "2026-102",
                    "2026-02-01",
                    "2026-03-03",
                    "eur",
                    "800.00",
                    "160.00",
                    "960.00",
                    "paid",
                    "2026-03-02",
                ],
                [
                    "I07",
                    "A2",
                    "2026-103",
                    "2026-03-01",
                    "2026-03-30",
                    "eur",
                    "1000.00",
                    "200.00",
                    "1200.00",
                    "open",
                    "",
                ],
                [
                    "I08",
                    "A2",
                    "2026-104",
                    "2026-03-05",
                    "2026-04-04",
                    "eur",
                    "5000.00",
                    "1000.00",
                    "6000.00",
                    "void",
                    "",
                ],
                ["I09", "A3", "2026-201", "2026-03-05", "2026-04-04", "usd", "250.00", "0.00", "250.00", "open", ""],
                [
                    "I10",
                    "A4",
                    "2026-301",
                    "2026-01-10",
                    "2026-02-09",
                    "usd",
                    "500.00",
                    "100.00",
                    "600.00",
                    "uncollectible",
                    "",
                ],
                [
                    "I11",
                    "A5",
                    "2026-401",
                    "2026-03-01",
                    "2026-03-31",
                    "eur",
                    "150.00",
                    "30.00",
                    "180.00",
                    "paid",
                    "2026-03-01",
                ],
            ],
        ),
        "surveys/responses.csv": (
            ["response_id", "account_id", "contact_email", "survey_type", "score", "responded_at"],
            [
                ["N01", "A1", "", "nps", "10", "2025-03-15T10:00:00Z"],  # in P's window (2025-03..2026-02) only
                ["N02", "A1", "", "nps", "9", "2025-04-01T00:30:00Z"],  # first day of R's window
                ["N03", "A1", "", "nps", "7", "2026-02-28T23:30:00-03:00"],  # = 2026-03-01T02:30Z: R only
                ["N04", "A1", "", "nps", "3", "2025-11-10T12:00:00Z"],
                ["N05", "A1", "", "nps", "6", "2026-03-31T22:00:00-05:00"],  # = 2026-04-01T03:00Z: after R
                ["N06", "A2", "", "nps", "9", "2025-04-15T09:00:00Z"],
                ["N07", "A2", "", "nps", "10", "2026-02-10T09:00:00Z"],
                ["N08", "A2", "", "nps", "0", "2025-03-31T23:00:00-02:00"],  # = 2025-04-01T01:00Z: in R's window
                ["N09", "A3", "", "nps", "8", "2026-01-05T09:00:00Z"],
                ["N10", "A4", "", "nps", "2", "2025-06-01T09:00:00Z"],
                ["N11", "A4", "", "nps", "5", "2026-03-15T09:00:00Z"],
                ["C01", "A1", "", "csat", "2", "2025-12-01T00:00:00Z"],  # P's window (2025-12..2026-02) only
                ["C02", "A1", "", "csat", "3", "2026-01-15T10:00:00Z"],
                ["C03", "A1", "", "csat", "4", "2026-03-20T10:00:00Z"],
                ["C04", "A1", "", "csat", "4", "2025-12-31T23:00:00-02:00"],  # = 2026-01-01T01:00Z: P and R
                ["C05", "A2", "", "csat", "5", "2026-02-20T10:00:00Z"],
                ["C06", "A2", "", "csat", "4", "2026-03-10T10:00:00Z"],
                ["C07", "A4", "", "csat", "4", "2026-01-31T10:00:00Z"],
            ],
        ),
        "crm/activities.csv": (
            ["activity_id", "account_id", "manager_id", "type", "occurred_at", "subject"],
            [
                ["T1", "A1", "M1", "meeting", "2026-01-05T10:00:00Z", "kick-off"],
                ["T2", "A1", "M1", "call", "2026-02-10T09:00:00Z", "check-in"],
                ["T3", "A1", "M1", "qbr", "2026-03-03T23:30:00-05:00", "QBR"],  # = 2026-03-04 UTC
                ["T4", "A2", "M1", "call", "2025-12-20T15:00:00Z", "renewal"],
                ["T5", "A2", "M1", "email", "2026-03-31T20:00:00-05:00", "follow-up"],  # = 2026-04-01 UTC
                ["T6", "A3", "M2", "email", "2025-10-11T08:00:00Z", "newsletter"],
                ["T7", "A4", "M2", "call", "2026-02-27T10:00:00Z", "escalation"],
                ["T8", "A4", "M2", "email", "2026-02-27T16:00:00Z", "escalation recap"],
            ],
        ),
        "crm/tickets.csv": (
            [
                "ticket_id",
                "account_id",
                "opened_at",
                "first_response_at",
                "resolved_at",
                "priority",
                "status",
                "subject",
            ],
            [
                [
                    "K01",
                    "A1",
                    "2026-03-10T09:00:00Z",
                    "",
                    "2026-03-31T18:00:00Z",
                    "high",
                    "solved",
                    "resolved on end(R)",
                ],
                ["K02", "A1", "2026-02-20T09:00:00Z", "", "", "urgent", "open", ""],
                ["K03", "A1", "2026-01-05T09:00:00Z", "", "2026-02-02T09:00:00Z", "low", "solved", ""],
                ["K04", "A2", "2026-03-05T09:00:00Z", "", "", "normal", "open", ""],
                ["K05", "A2", "2026-02-01T09:00:00Z", "", "2026-04-02T09:00:00Z", "high", "solved", ""],
                [
                    "K06",
                    "A2",
                    "2026-03-30T09:00:00Z",
                    "",
                    "2026-03-31T23:30:00-02:00",
                    "urgent",
                    "solved",
                    "= 04-01 UTC",
                ],
                ["K07", "A4", "2026-02-10T09:00:00Z", "", "", "high", "open", ""],
                ["K08", "A4", "2026-02-11T09:00:00Z", "", "", "urgent", "open", ""],
                ["K09", "A4", "2026-02-12T09:00:00Z", "", "", "high", "open", ""],
                ["K10", "A4", "2026-03-01T09:00:00Z", "", "", "urgent", "open", ""],
            ],
        ),
        "crm/opportunities.csv": (
            [
                "opportunity_id",
                "account_id",
                "type",
                "stage",
                "amount",
                "currency",
                "created_on",
                "close_date",
                "is_closed",
                "is_won",
            ],
            [
                ["O1", "A1", "upsell", "Proposal", "5000.00", "usd", "2026-01-10", "2026-06-30", "false", "false"],
                ["O2", "A1", "cross_sell", "Closed Won", "2000.00", "usd", "2026-02-01", "2026-03-15", "true", "true"],
                ["O3", "A1", "renewal", "Negotiation", "10000.00", "usd", "2026-01-01", "2026-06-30", "false", "false"],
                ["O4", "A1", "new_business", "Discovery", "3000.00", "usd", "2026-02-01", "", "false", "false"],
                ["O5", "A2", "upsell", "Proposal", "1000.00", "eur", "2025-09-01", "2026-05-31", "false", "false"],
                ["O6", "A2", "cross_sell", "Discovery", "400.00", "eur", "2026-03-31", "2026-07-31", "false", "false"],
                ["O7", "A2", "upsell", "Closed Lost", "600.00", "eur", "2025-10-01", "2026-02-28", "true", "false"],
            ],
        ),
        "crm/health_overrides.csv": (
            ["account_id", "band", "reason", "set_by", "expires_on"],
            [
                ["A4", "amber", "Churn is the move to the parent contract", "Sam Okafor", "2026-04-01"],
                ["A3", "red", "Reactivation not signed yet", "Sam Okafor", "2026-03-01"],  # expired for R
            ],
        ),
    }


def write_landing(landing: Path) -> None:
    """Mirror of the conftest `write_csv` fixture (module scope cannot use it)."""
    for rel, (header, rows) in landing_files().items():
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
        path.write_bytes(buf.getvalue().encode("utf-8"))


@pytest.fixture(autouse=True)
def test_instance():
    """Overrides the folder's per-test Dagster instance: these tests only read tables the
    one shared run wrote (that run uses its own DAGSTER_HOME), and 45 throwaway instances
    would cost more than the run itself."""
    yield None


@dataclass(frozen=True)
class Marts:
    account_monthly: pl.DataFrame
    account_health: pl.DataFrame
    portfolio_monthly: pl.DataFrame
    quarantine: pl.DataFrame


@pytest.fixture(scope="module")
def marts(tmp_path_factory: pytest.TempPathFactory) -> Marts:
    """One `run_month(2026-03)` through Dagster on the hand-built landing folder, shared."""
    root = tmp_path_factory.mktemp("handbuilt")
    data = root / "data"
    (data / "landing").mkdir(parents=True)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    write_landing(data / "landing")
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("PIPELINE_")]:
            mp.delenv(name)  # no stray setting (currency, margin, settings file) changes the numbers
        mp.chdir(root)  # no ./pipeline.toml of the working tree is picked up either
        mp.setenv("PIPELINE_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("PIPELINE_FIRST_MONTH", "2025-01")
        assert run_month(R, quiet=True) == 0
        with Warehouse(data / "warehouse.duckdb").connect(read_only=True) as con:
            return Marts(
                account_monthly=fetch(con, "SELECT * FROM marts.account_monthly ORDER BY account_id, month"),
                account_health=fetch(con, "SELECT * FROM marts.account_health ORDER BY account_id, month"),
                portfolio_monthly=fetch(
                    con, "SELECT * FROM marts.portfolio_monthly ORDER BY month, grouping, group_value"
                ),
                quarantine=fetch(con, 'SELECT * FROM ops.quarantine ORDER BY source, "row"'),
            )


# --------------------------------------------------------------------------- helpers


def one(frame: pl.DataFrame, **keys) -> dict:
    rows = frame.filter(*[pl.col(k) == v for k, v in keys.items()]).rows(named=True)
    assert len(rows) == 1, f"expected one row for {keys}, got {len(rows)}"
    return rows[0]


def mismatches(got: dict, expected: dict) -> list[str]:
    """Decimals exactly (and as Decimal), floats to 1e-9, None as null, the rest by ==."""
    bad = []
    for col, want in expected.items():
        have = got[col]
        if want is None:
            ok = have is None
        elif isinstance(want, float):
            ok = isinstance(have, float) and have == pytest.approx(want, abs=1e-9)
        elif isinstance(want, D):
            ok = isinstance(have, D) and have == want
        else:
            ok = type(have) is type(want) and have == want
        if not ok:
            bad.append(f"{col}: expected {want!r}, got {have!r}")
    return bad


# --------------------------------------------------------------------------- ops.quarantine


def test_the_only_quarantined_record_is_the_gbp_subscription_without_an_early_enough_rate(marts):
    # Every landing row is valid, so nothing is quarantined at staging; S10 (gbp 300 from
    # 2025-06-01) needs a gbp rate dated on or before 2025-06-01 and the only one is 2026-01-01.
    q = marts.quarantine
    assert q.height == 1, q
    row = q.row(0, named=True)
    assert (row["source"], row["stage"], row["file"], row["row"], row["column"], row["value"], row["record_key"]) == (
        "subscriptions",
        "marts",
        "billing/subscriptions.csv",
        10,
        "currency",
        "gbp",
        "S10",
    )
    for part in GBP_REASON_PARTS:  # names the currency, the date that needed a rate, the first rate on file
        assert part in row["reason"].lower(), row["reason"]


# --------------------------------------------------------------------------- account_monthly


def mrr_story(segments: list[tuple[int, str]]) -> list[D]:
    """MRR per month from the first month to R: segments of (number of months, amount)."""
    out: list[D] = []
    for n, amount in segments:
        out += [D(amount)] * n
    return out


# Month-end MRR from each account's first month with any data to R (15 months 2025-01..2026-03).
MRR_STORY = {
    # 2025-01..05 S1 1000; 2025-06..2026-02 S1+S2 = 1500 (S2 active on 06-30 .. 02-28);
    # 2026-03: S2 ended 2026-03-01, so 03-31 < 03-01 fails -> 1000
    "A1": (date(2025, 1, 1), mrr_story([(5, "1000"), (9, "1500"), (1, "1000")])),
    # first data 2025-03 (S3); 800 eur x 1.0850 (rate of 2024-12-01, the latest on or before 2025-03-01) = 868;
    # 2026-03: + 200 eur x 1.1725 (rate of 2025-09-01 for 2026-03-10) = 234.5 -> 1102.5.
    # S10 (gbp) is quarantined, so never + 300 x anything.
    "A2": (date(2025, 3, 1), mrr_story([(12, "868"), (1, "1102.5")])),
    # 2025-01..06 S5 300; 2025-07..2026-02 0 (S7 999 starts and ends inside 2025-10: never shows);
    # 2026-03 S6 250
    "A3": (date(2025, 1, 1), mrr_story([(6, "300"), (8, "0"), (1, "250")])),
    # 2025-02..2026-01 S8+S9 = 500; 2026-02 S9 ended 02-15 -> 400; 2026-03 S8 ends 03-31, 03-31 < 03-31 fails -> 0
    "A4": (date(2025, 2, 1), mrr_story([(12, "500"), (1, "400"), (1, "0")])),
    # only 2026-03: 150 eur x 1.1725 = 175.875
    "A5": (date(2026, 3, 1), mrr_story([(1, "175.875")])),
}

# Every non-zero movement of the whole history; all other (account, month, movement) are 0.
MOVEMENTS_SEEN = {
    ("A1", date(2025, 1, 1), "mrr_new"): D("1000"),
    ("A1", date(2025, 6, 1), "mrr_expansion"): D("500"),  # 1500 - 1000
    ("A1", R, "mrr_contraction"): D("500"),  # 1500 - 1000
    ("A2", date(2025, 3, 1), "mrr_new"): D("868"),
    ("A2", R, "mrr_expansion"): D("234.5"),  # 1102.5 - 868
    ("A3", date(2025, 1, 1), "mrr_new"): D("300"),
    ("A3", date(2025, 7, 1), "mrr_churn"): D("300"),  # prev 300, curr 0
    ("A3", R, "mrr_reactivation"): D("250"),  # prev 0, had 300 before -> reactivation, not new
    ("A4", date(2025, 2, 1), "mrr_new"): D("500"),
    ("A4", P, "mrr_contraction"): D("100"),  # 500 - 400
    ("A4", R, "mrr_churn"): D("400"),  # prev 400, curr 0
    ("A5", R, "mrr_new"): D("175.875"),
}
MOVEMENT_COLUMNS = ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churn", "mrr_reactivation")


@pytest.mark.parametrize("account", sorted(MRR_STORY))
def test_mrr_and_movements_over_the_whole_history(marts, account):
    first, story = MRR_STORY[account]
    rows = marts.account_monthly.filter(pl.col("account_id") == account).sort("month").rows(named=True)
    assert rows[0]["month"] == first and rows[-1]["month"] == R
    assert len(rows) == len(story)  # one row per month, first data month .. R
    assert [r["mrr"] for r in rows] == story
    for r in rows:
        for col in MOVEMENT_COLUMNS:
            assert r[col] == MOVEMENTS_SEEN.get((account, r["month"], col), D(0)), (r["month"], col)


# Every column of marts.account_monthly (pipeline/schemas.py) for R and P, per account.
AM_EXPECTED: dict[tuple[str, date], dict] = {
    ("A1", R): dict(
        mrr=D("1000"),
        arr=D("12000"),  # S1 only; 12 x 1000
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D("500"),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D("1000"),
        invoiced_tax=D("200"),  # I03 (I04 is a draft)
        invoiced_net_mom=1000 / 1500 - 1,
        invoiced_net_yoy=None,  # docs/metrics.md growth; 2025-03 invoiced 0
        collected=D("1800"),  # I02 paid 2026-03-05 (issued in P)
        overdue_amount=D(0),  # I03 due 03-31 is not < 03-31; I02 paid 03-05 <= 03-31
        nps_12m=0.0,
        nps_responses_12m=3,  # 2025-04..2026-03: N02 9 (P), N03 7 (-), N04 3 (D): 100 x (1 - 1) / 3
        # (N01 is 2025-03, N05 is 2026-04-01 in UTC)
        csat_3m=100 * 2 / 3,
        csat_responses_3m=3,  # 2026-01..03: C02 3, C03 4, C04 4 (01-01 UTC): 2 of 3 satisfied
        touches_3m=3,  # T1 01-05, T2 02-10, T3 03-04 UTC
        days_since_last_touch=27,  # 03-31 - 03-04 (T3's UTC day)
        tickets_opened=1,  # K01
        open_tickets=1,
        open_high_priority_tickets=1,  # K02 urgent; K01 resolved on 03-31 is closed
        open_expansion_pipeline=D("5000"),  # O1; O2 closed 03-15; O3 renewal and O4 new_business excluded
        days_to_renewal=91,  # 2026-06-30 - 2026-03-31 = 30 + 31 + 30
    ),
    ("A1", P): dict(
        mrr=D("1500"),
        arr=D("18000"),
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D("1500"),
        invoiced_tax=D("300"),  # I02
        invoiced_net_mom=1500 / 1500 - 1,
        invoiced_net_yoy=None,  # January: I01 1500
        collected=D(0),  # I01 was paid in January
        overdue_amount=D("1800"),  # I02: issued 02-01 <= 02-28, due 02-15 < 02-28, paid 03-05 > 02-28
        nps_12m=100 * (2 - 1) / 3,
        nps_responses_12m=3,  # 2025-03..2026-02: N01 10, N02 9, N04 3 (N03 is March UTC)
        csat_3m=100 * 1 / 3,
        csat_responses_3m=3,  # 2025-12..2026-02: C01 2, C02 3, C04 4
        touches_3m=2,  # T1, T2
        days_since_last_touch=18,  # 02-28 - 02-10
        tickets_opened=1,  # K02
        open_tickets=1,
        open_high_priority_tickets=1,  # K02; K03 resolved 02-02
        open_expansion_pipeline=D("7000"),  # O1 5000 + O2 2000 (closes 03-15)
        days_to_renewal=122,  # 2026-06-30 - 2026-02-28 = 31 + 91
    ),
    ("A2", R): dict(
        mrr=D("1102.5"),
        arr=D("13230"),  # 868 + 234.5; 12 x 1102.5
        mrr_new=D(0),
        mrr_expansion=D("234.5"),
        mrr_contraction=D(0),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D("1172.5"),
        invoiced_tax=D("234.5"),  # I07 eur 1000 / 200 x 1.1725 (I08 void)
        invoiced_net_mom=1172.5 / 938 - 1,
        invoiced_net_yoy=None,
        collected=D("1125.6"),  # I06 total eur 960 x 1.1725 (rate at issued_on 2026-02-01), paid 03-02
        overdue_amount=D(
            "2448.6"
        ),  # I05 960 x 1.0850 = 1041.6 (issued 2025-08-15, old rate) + I07 1200 x 1.1725 = 1407
        nps_12m=100 * (2 - 1) / 3,
        nps_responses_12m=3,  # N06 9, N07 10, N08 0 (2025-04-01 UTC)
        csat_3m=100.0,
        csat_responses_3m=2,  # C05 5, C06 4
        touches_3m=0,  # T5 is 2026-04-01 in UTC, T4 is 2025-12
        days_since_last_touch=101,  # 03-31 - 2025-12-20 = 11 + 31 + 28 + 31
        tickets_opened=2,  # K04, K06
        open_tickets=3,
        open_high_priority_tickets=2,  # K04 normal, K05 high (resolved 04-02), K06 urgent (04-01 UTC)
        open_expansion_pipeline=D("1641.5"),  # O5 eur 1000 x 1.1725 (rate dated its created_on 2025-09-01)
        # + O6 eur 400 x 1.1725 = 469 (created on 03-31 itself); O7 closed 2026-02-28
        days_to_renewal=-16,  # 2026-03-15 - 2026-03-31 (lapsed)
    ),
    ("A2", P): dict(
        mrr=D("868"),
        arr=D("10416"),
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D("938"),
        invoiced_tax=D("187.6"),  # I06 eur 800 / 160 x 1.1725
        invoiced_net_mom=None,
        invoiced_net_yoy=None,  # nothing invoiced in January: no base
        collected=D(0),
        overdue_amount=D("1041.6"),  # I05 only (I06 due 03-03)
        nps_12m=100 * (2 - 1) / 3,
        nps_responses_12m=3,  # N06, N07, N08
        csat_3m=100.0,
        csat_responses_3m=1,  # C05
        touches_3m=1,  # T4
        days_since_last_touch=70,  # 02-28 - 2025-12-20 = 11 + 31 + 28
        tickets_opened=1,  # K05
        open_tickets=1,
        open_high_priority_tickets=1,  # K05
        open_expansion_pipeline=D("1172.5"),  # O5; O7 closed on 02-28 = end(P) -> not open
        days_to_renewal=15,  # 2026-03-15 - 2026-02-28
    ),
    ("A3", R): dict(
        mrr=D("250"),
        arr=D("3000"),
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D(0),
        mrr_reactivation=D("250"),
        invoiced_net=D("250"),
        invoiced_tax=D(0),  # I09
        invoiced_net_mom=None,
        invoiced_net_yoy=None,
        collected=D(0),
        overdue_amount=D(0),  # I09 due 04-04
        nps_12m=0.0,
        nps_responses_12m=1,  # N09 8 (passive): 100 x (0 - 0) / 1
        csat_3m=None,
        csat_responses_3m=0,
        touches_3m=0,
        days_since_last_touch=171,  # 03-31 - 2025-10-11 = 20 + 30 + 31 + 31 + 28 + 31
        tickets_opened=0,
        open_tickets=0,
        open_high_priority_tickets=0,
        open_expansion_pipeline=D(0),
        days_to_renewal=None,
    ),
    ("A3", P): dict(
        mrr=D(0),
        arr=D(0),
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D(0),
        invoiced_tax=D(0),
        collected=D(0),
        overdue_amount=D(0),
        invoiced_net_mom=None,
        invoiced_net_yoy=None,
        nps_12m=0.0,
        nps_responses_12m=1,
        csat_3m=None,
        csat_responses_3m=0,
        touches_3m=0,
        days_since_last_touch=140,  # 171 - 31
        tickets_opened=0,
        open_tickets=0,
        open_high_priority_tickets=0,
        open_expansion_pipeline=D(0),
        days_to_renewal=None,
    ),
    ("A4", R): dict(
        mrr=D(0),
        arr=D(0),
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D("400"),
        mrr_reactivation=D(0),
        invoiced_net=D(0),
        invoiced_tax=D(0),
        collected=D(0),
        invoiced_net_mom=None,
        invoiced_net_yoy=None,  # 0 / 0
        overdue_amount=D("600"),  # I10 uncollectible, due 02-09, never paid
        nps_12m=-100.0,
        nps_responses_12m=2,  # N10 2, N11 5: 100 x (0 - 2) / 2
        csat_3m=100.0,
        csat_responses_3m=1,  # C07 4
        touches_3m=2,  # T7, T8 (same day, two touches)
        days_since_last_touch=32,  # 03-31 - 02-27 = 1 + 31
        tickets_opened=1,  # K10
        open_tickets=4,
        open_high_priority_tickets=4,  # K07..K10
        open_expansion_pipeline=D(0),
        days_to_renewal=None,
    ),
    ("A4", P): dict(
        mrr=D("400"),
        arr=D("4800"),
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D("100"),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D(0),
        invoiced_tax=D(0),
        collected=D(0),  # I10 was issued in January
        invoiced_net_mom=0 / 500 - 1,
        invoiced_net_yoy=None,  # January: I10 500
        overdue_amount=D("600"),
        nps_12m=-100.0,
        nps_responses_12m=1,  # N10
        csat_3m=100.0,
        csat_responses_3m=1,
        touches_3m=2,
        days_since_last_touch=1,  # 02-28 - 02-27
        tickets_opened=3,
        open_tickets=3,
        open_high_priority_tickets=3,  # K07, K08, K09
        open_expansion_pipeline=D(0),
        days_to_renewal=None,
    ),
    ("A5", R): dict(
        mrr=D("175.875"),
        arr=D("2110.5"),  # 150 x 1.1725; 12 x 175.875
        mrr_new=D("175.875"),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        invoiced_net=D("175.875"),
        invoiced_tax=D("35.175"),  # I11 eur 150 / 30 x 1.1725
        invoiced_net_mom=None,
        invoiced_net_yoy=None,  # no February row: no base
        collected=D("211.05"),  # eur 180 x 1.1725, paid the day it was issued
        overdue_amount=D(0),
        nps_12m=None,
        nps_responses_12m=0,
        csat_3m=None,
        csat_responses_3m=0,
        touches_3m=0,
        days_since_last_touch=None,  # never contacted
        tickets_opened=0,
        open_tickets=0,
        open_high_priority_tickets=0,
        open_expansion_pipeline=D(0),
        days_to_renewal=335,  # 2027-03-01 - 2026-03-31
    ),
}


@pytest.mark.parametrize("account, month", list(AM_EXPECTED), ids=lambda v: str(v))
def test_account_monthly_every_contract_column(marts, account, month):
    got = one(marts.account_monthly, account_id=account, month=month)
    assert mismatches(got, AM_EXPECTED[(account, month)]) == []


def test_account_monthly_has_no_row_before_an_accounts_first_data_month(marts):
    firsts = marts.account_monthly.group_by("account_id").agg(pl.col("month").min()).sort("account_id").rows()
    # A2: S3 on 2025-03-01 (N08 is 2025-04-01 in UTC); A4: S8/S9 on 2025-02-01; A5: S11 on 2026-03-01
    assert firsts == [
        ("A1", date(2025, 1, 1)),
        ("A2", date(2025, 3, 1)),
        ("A3", date(2025, 1, 1)),
        ("A4", date(2025, 2, 1)),
        ("A5", date(2026, 3, 1)),
    ]
    assert marts.account_monthly["month"].max() == R


# --------------------------------------------------------------------------- account_health
#
# Measure scores (linear, clamped): satisfaction (nps + 100) x 100 / 150; service
# (csat - 50) x 100 / 45; engagement (3 - days / cadence) x 50 (strategic 14, key 30,
# transactional 90); revenue_trend (trend + 0.2) x 100 / 0.3 with trend = MRR(M) / MRR(M-3) - 1;
# payments (2 - overdue / MRR) x 50; support (3 - open high) x 100 / 3. Weights 20, 10, 20, 25, 10, 15.

MEASURES = ("satisfaction", "service", "engagement", "revenue_trend", "payments", "support")
WEIGHTS = dict(satisfaction=20, service=10, engagement=20, revenue_trend=25, payments=10, support=15)

HEALTH_EXPECTED: dict[tuple[str, date], dict] = {
    ("A1", R): dict(
        scores=dict(
            satisfaction=(0 + 100) * 100 / 150,  # 66.67
            service=(200 / 3 - 50) * 100 / 45,  # csat 66.67 -> 37.04
            engagement=(3 - 27 / 14) * 50,  # 53.57
            revenue_trend=0.0,  # 1000 / 1500 (2025-12) - 1 = -33% -> below -20% -> 0
            payments=100.0,  # 0 / 1000 = 0
            support=(3 - 1) * 100 / 3,  # 66.67
        ),
        # (20 x 66.67 + 10 x 37.04 + 20 x 53.57 + 0 + 10 x 100 + 15 x 66.67) / 100 = 47.75 -> 47.8
        score=47.8,
        computed_band="amber",
        missing=[],
        # shortfalls w(100 - s)/100: revenue 25, engagement 9.29, satisfaction 6.67, service 6.30, support 5
        first_driver="recurring revenue fell 33% over 3 months",
    ),
    ("A1", P): dict(
        scores=dict(
            satisfaction=(100 / 3 + 100) * 100 / 150,  # 88.89
            service=0.0,  # csat 33.3 < 50
            engagement=(3 - 18 / 14) * 50,  # 85.71
            revenue_trend=(0 + 0.2) * 100 / 0.3,  # 1500 / 1500 (2025-11) - 1 = 0 -> 66.67
            payments=(2 - 1800 / 1500) * 50,  # 1.2 months overdue -> 40
            support=(3 - 1) * 100 / 3,
        ),
        # (1777.78 + 0 + 1714.29 + 1666.67 + 400 + 1000) / 100 = 65.587 -> 65.6
        score=65.6,
        computed_band="amber",
        missing=[],
        first_driver="CSAT over the last 3 months is 33% (target 95%)",  # service shortfall 10 is the largest
    ),
    ("A2", R): dict(
        scores=dict(
            satisfaction=(100 / 3 + 100) * 100 / 150,
            service=100.0,  # csat 100 > 95
            engagement=0.0,  # 101 / 30 = 3.37 > 3
            revenue_trend=100.0,  # 1102.5 / 868 - 1 = +27% > +10%
            payments=0.0,  # 2448.6 / 1102.5 = 2.22 > 2
            support=(3 - 2) * 100 / 3,  # 33.33
        ),
        # (1777.78 + 1000 + 0 + 2500 + 0 + 500) / 100 = 57.78 -> 57.8
        score=57.8,
        computed_band="amber",
        missing=[],
        first_driver="no contact for 101 days; key accounts expect one every 30 days",  # shortfall 20
    ),
    ("A2", P): dict(
        scores=dict(
            satisfaction=(100 / 3 + 100) * 100 / 150,
            service=100.0,
            engagement=(3 - 70 / 30) * 50,  # 33.33
            revenue_trend=(0 + 0.2) * 100 / 0.3,  # 868 / 868 - 1 = 0
            payments=(2 - 1041.6 / 868) * 50,  # 1.2 -> 40
            support=(3 - 1) * 100 / 3,
        ),
        # (1777.78 + 1000 + 666.67 + 1666.67 + 400 + 1000) / 100 = 65.11 -> 65.1
        score=65.1,
        computed_band="amber",
        missing=[],
        first_driver="no contact for 70 days; key accounts expect one every 30 days",  # shortfall 13.3
    ),
    ("A3", R): dict(
        scores=dict(
            satisfaction=(0 + 100) * 100 / 150,
            service=None,  # no csat
            engagement=(3 - 171 / 90) * 50,  # 1.9 -> 55
            revenue_trend=None,  # MRR(2025-12) = 0
            payments=100.0,  # 0 / 250
            support=100.0,
        ),
        # present weight 20 + 20 + 10 + 15 = 65: (1333.33 + 1100 + 1000 + 1500) / 65 = 75.90 -> 75.9
        score=75.9,
        computed_band="green",
        missing=["service", "revenue_trend"],
        # shortfalls /65: engagement 20 x 45 / 65 = 13.85, satisfaction 20 x 33.3 / 65 = 10.26
        first_driver="no contact for 171 days; transactional accounts expect one every 90 days",
    ),
    ("A3", P): dict(
        scores=dict(
            satisfaction=(0 + 100) * 100 / 150,
            service=None,
            engagement=(3 - 140 / 90) * 50,  # 72.22
            revenue_trend=None,  # MRR(2025-11) = 0
            payments=None,  # MRR 0: overdue ratio has no denominator (docs/metrics.md)
            support=100.0,
        ),
        # present weight 20 + 20 + 15 = 55: (1333.33 + 1444.44 + 1500) / 55 = 77.78 -> 77.8
        score=77.8,
        computed_band="green",
        missing=["service", "revenue_trend", "payments"],
        # shortfalls /55: satisfaction 12.12, engagement 10.10
        first_driver="NPS over the last 12 months is 0 (target 50)",
    ),
    ("A4", R): dict(
        scores=dict(
            satisfaction=0.0,  # nps -100
            service=100.0,
            engagement=(3 - 32 / 30) * 50,  # 96.67
            revenue_trend=0.0,  # 0 / 500 - 1 = -100%
            payments=None,  # MRR 0 (600 overdue, no denominator)
            support=0.0,  # 4 open high, clamped
        ),
        # present weight 90: (0 + 1000 + 1933.33 + 0 + 0) / 90 = 32.59 -> 32.6
        score=32.6,
        computed_band="red",
        missing=["payments"],
        # shortfalls /90: revenue 27.8, satisfaction 22.2, support 16.7, engagement 0.74
        first_driver="recurring revenue fell 100% over 3 months",
    ),
    ("A4", P): dict(
        scores=dict(
            satisfaction=0.0,
            service=100.0,
            engagement=100.0,  # 1 / 30 < 1
            revenue_trend=0.0,  # 400 / 500 - 1 = -20% exactly -> 0
            payments=(2 - 600 / 400) * 50,  # 1.5 -> 25
            support=0.0,  # 3 open high
        ),
        # (0 + 1000 + 2000 + 0 + 250 + 0) / 100 = 32.5
        score=32.5,
        computed_band="red",
        missing=[],
        first_driver="recurring revenue fell 20% over 3 months",  # shortfall 25
    ),
    ("A5", R): dict(
        scores=dict(
            satisfaction=None,
            service=None,
            engagement=None,  # never contacted -> missing, not 0
            revenue_trend=None,  # one month of history
            payments=100.0,
            support=100.0,
        ),
        # present weight 10 + 15 = 25 < 50: insufficient_data; score (1000 + 1500) / 25 = 100
        score=100.0,
        computed_band="insufficient_data",
        missing=["satisfaction", "service", "engagement", "revenue_trend"],
        first_driver=None,  # every present measure is at 100: no driver
    ),
}

OVERRIDE_A4 = ("amber", "Churn is the move to the parent contract", "Sam Okafor", date(2026, 4, 1))
OVERRIDE_A3 = ("red", "Reactivation not signed yet", "Sam Okafor", date(2026, 3, 1))
# (band, override_band, reason, set_by, expires_on) per row: an override applies to M while end(M) < expires_on.
EFFECTIVE = {
    ("A1", R): ("amber", None),
    ("A1", P): ("amber", None),
    ("A2", R): ("amber", None),
    ("A2", P): ("amber", None),
    ("A3", R): ("green", None),  # end(R) 03-31 is not < 03-01: expired
    ("A3", P): ("red", OVERRIDE_A3),  # 02-28 < 03-01: active, replaces computed green
    ("A4", R): ("amber", OVERRIDE_A4),
    ("A4", P): ("amber", OVERRIDE_A4),  # replaces computed red
    ("A5", R): ("insufficient_data", None),
}


def weighted_part(scores: dict, measure: str) -> float:
    """w·s / Σw(present), 0 for a missing measure (docs/metrics.md)."""
    present = sum(WEIGHTS[m] for m, s in scores.items() if s is not None)
    s = scores[measure]
    return 0.0 if s is None else WEIGHTS[measure] * s / present


@pytest.mark.parametrize("account, month", list(HEALTH_EXPECTED), ids=lambda v: str(v))
def test_account_health_score_band_missing_and_first_driver(marts, account, month):
    want = HEALTH_EXPECTED[(account, month)]
    got = one(marts.account_health, account_id=account, month=month)
    assert mismatches(got, {f"{m}_score": s for m, s in want["scores"].items()}) == []
    assert got["score"] == pytest.approx(want["score"], abs=1e-9)
    assert got["computed_band"] == want["computed_band"]
    assert list(got["missing_measures"]) == want["missing"]
    details = got["drivers_detail"] or []
    if want["first_driver"] is None:
        assert details == [] and got["drivers"] == ""
    else:
        assert details[0]["sentence"] == want["first_driver"]
        assert got["drivers"].startswith(want["first_driver"])
        # worst first: shortfalls never increase
        falls = [d["shortfall"] for d in details]
        assert falls == sorted(falls, reverse=True)


@pytest.mark.parametrize("account, month", list(EFFECTIVE), ids=lambda v: str(v))
def test_account_health_override_columns(marts, account, month):
    band, override = EFFECTIVE[(account, month)]
    got = one(marts.account_health, account_id=account, month=month)
    assert got["band"] == band
    assert got["computed_band"] == HEALTH_EXPECTED[(account, month)]["computed_band"]
    assert (got["override_band"], got["override_reason"], got["override_set_by"], got["override_expires_on"]) == (
        override or (None, None, None, None)
    )


# score_change = score(R) - score(P) of the rounded scores; split w·s(R)/Σw(R) - w·s(P)/Σw(P).
SCORE_CHANGE = {
    "A1": -17.8,  # 47.8 - 65.6
    "A2": -7.3,  # 57.8 - 65.1
    "A3": -1.9,  # 75.9 - 77.8
    "A4": 0.1,  # 32.6 - 32.5
}


def test_equal_shortfalls_keep_the_settings_order(marts):
    # A2 in R, present weight 100: engagement 20 x (100 - 0) / 100 = 20; payments 10 x (100 - 0) / 100 = 10;
    # support 15 x (100 - 100/3) / 100 = 10; satisfaction 20 x (100 - 800/9) / 100 = 2.22; service and
    # revenue_trend are at 100 (no driver). Payments and support tie at exactly 10: settings order,
    # payments (5th) before support (6th).
    got = one(marts.account_health, account_id="A2", month=R)
    assert [d["measure"] for d in got["drivers_detail"]] == ["engagement", "payments", "support", "satisfaction"]
    assert got["drivers"] == (
        "no contact for 101 days; key accounts expect one every 30 days; "
        "overdue invoices equal 2.2 months of recurring revenue; 2 high-priority tickets open; "
        "NPS over the last 12 months is 33 (target 50)"
    )


@pytest.mark.parametrize("account", sorted(SCORE_CHANGE))
def test_score_change_and_its_split_by_measure(marts, account):
    now, before = HEALTH_EXPECTED[(account, R)]["scores"], HEALTH_EXPECTED[(account, P)]["scores"]
    got = one(marts.account_health, account_id=account, month=R)
    assert got["score_change"] == pytest.approx(SCORE_CHANGE[account], abs=1e-9)
    parts = {m: weighted_part(now, m) - weighted_part(before, m) for m in MEASURES}
    # e.g. A1: satisfaction 13.33 - 17.78 = -4.44, service 3.70 - 0, engagement 10.71 - 17.14,
    # revenue 0 - 16.67, payments 10 - 4, support 10 - 10: sum -17.84 (unrounded 47.75 - 65.59)
    assert mismatches(got, {f"{m}_change": parts[m] for m in MEASURES}) == []
    total = sum(got[f"{m}_change"] for m in MEASURES)
    assert total == pytest.approx(sum(parts.values()), abs=1e-9)
    assert abs(total - got["score_change"]) <= 0.05 + 1e-9  # the parts add to the unrounded change


def test_score_change_is_null_without_a_previous_month(marts):
    assert one(marts.account_health, account_id="A5", month=R)["score_change"] is None


# --------------------------------------------------------------------------- portfolio_monthly

PORTFOLIO_EXPECTED: dict[tuple[date, str, str], dict] = {
    # R, everyone. Feb-end MRR: A1 1500, A2 868, A3 0, A4 400 (A5 no row); March-end: 1000, 1102.5, 250, 0, 175.875.
    (R, "all", "all"): dict(
        mrr_start=D("2768"),
        mrr_end=D("2528.375"),  # 1500 + 868 + 400; 1000 + 1102.5 + 250 + 175.875
        mrr_new=D("175.875"),
        mrr_expansion=D("234.5"),
        mrr_contraction=D("500"),
        mrr_churn=D("400"),
        mrr_reactivation=D("250"),  # 2768 + 175.875 + 250 + 234.5 - 500 - 400 = 2528.375
        customers_start=3,
        customers_end=4,  # A1 A2 A4; A1 A2 A3 A5
        new_customers=1,
        churned_customers=1,
        reactivated_customers=1,  # A5, A4, A3
        logo_retention_1m=(3 - 1) / 3,
        nrr_1m=(2768 + 234.5 - 500 - 400) / 2768,
        grr_1m=(2768 - 500 - 400) / 2768,
        expansion_rate_1m=234.5 / 2768,
        # cohort = customers at end of 2025-03: A1 1000, A2 868, A3 300, A4 500 (A5 no row) = 2668
        nrr_12m=(1000 + 1102.5 + 250 + 0) / 2668,
        grr_12m=(min(1000, 1000) + min(1102.5, 868) + min(250, 300) + min(0, 500)) / 2668,
        logo_retention_12m=3 / 4,
        arpa=D("632.0938"),  # 2528.375 / 4 = 632.09375 -> 4 decimals
        # 2025-10..2026-03: customers_start 3 each month (A1 A2 A4) = 18; churned 1 (A4 in March)
        customer_churn_rate_6m=1 / 18,
        ltv=632.0938 * 1.0 / (1 / 18),  # arpa x gross margin 1.0 / churn rate
        # pooled: promoters A1 1 + A2 2 = 3, detractors A1 1 + A2 1 + A4 2 = 4, responses 3 + 3 + 1 + 2 = 9
        nps_12m=100 * (3 - 4) / 9,
        nps_responses_12m=9,
        csat_3m=100 * (2 + 2 + 1) / (3 + 2 + 1),
        csat_responses_3m=6,  # A1 2/3, A2 2/2, A4 1/1
        arr_end=D("30340.5"),  # 12 x 2528.375
        invoiced_net=D("2598.375"),  # 1000 + 1172.5 + 250 + 0 + 175.875
        collected=D("3136.65"),  # 1800 + 1125.6 + 0 + 0 + 211.05
        overdue_amount=D("3048.6"),  # 0 + 2448.6 + 0 + 600 + 0
        touches_3m=5,  # 3 + 0 + 0 + 2 + 0
        accounts=5,
        # effective bands: A1 amber, A2 amber, A3 green, A4 amber (override), A5 insufficient_data
        accounts_green=1,
        accounts_amber=3,
        accounts_red=0,
        accounts_insufficient_data=1,
    ),
    (P, "all", "all"): dict(
        mrr_start=D("2868"),
        mrr_end=D("2768"),  # 1500 + 868 + 0 + 500; 1500 + 868 + 0 + 400
        mrr_new=D(0),
        mrr_expansion=D(0),
        mrr_contraction=D("100"),
        mrr_churn=D(0),
        mrr_reactivation=D(0),
        customers_start=3,
        customers_end=3,
        new_customers=0,
        churned_customers=0,
        reactivated_customers=0,
        logo_retention_1m=1.0,
        nrr_1m=(2868 - 100) / 2868,
        grr_1m=(2868 - 100) / 2868,
        expansion_rate_1m=0.0,
        # cohort = customers at end of 2025-02: A1 1000, A3 300, A4 500 (A2 has no row yet) = 1800
        nrr_12m=(1500 + 0 + 400) / 1800,
        grr_12m=(min(1500, 1000) + min(0, 300) + min(400, 500)) / 1800,
        logo_retention_12m=2 / 3,
        arpa=D("922.6667"),  # 2768 / 3 = 922.6666.. -> 4 decimals
        customer_churn_rate_6m=0.0,  # 2025-09..2026-02: 0 churned of 18
        ltv=None,  # churn rate 0
        # A1 N01 10, N02 9, N04 3; A2 N06 9, N07 10, N08 0; A3 N09 8; A4 N10 2: 4 promoters, 3 detractors of 8
        nps_12m=100 * (4 - 3) / 8,
        nps_responses_12m=8,
        csat_3m=100 * (1 + 1 + 1) / (3 + 1 + 1),
        csat_responses_3m=5,  # A1 1/3, A2 1/1, A4 1/1
        accounts=4,
        # A1 amber, A2 amber, A3 red (override active), A4 amber (override)
        accounts_green=0,
        accounts_amber=3,
        accounts_red=1,
        accounts_insufficient_data=0,
    ),
    # R, tier key = A2, A4.
    (R, "tier", "key"): dict(
        mrr_start=D("1268"),
        mrr_end=D("1102.5"),  # 868 + 400; 1102.5 + 0
        mrr_new=D(0),
        mrr_expansion=D("234.5"),
        mrr_contraction=D(0),
        mrr_churn=D("400"),
        mrr_reactivation=D(0),
        customers_start=2,
        customers_end=1,
        new_customers=0,
        churned_customers=1,
        reactivated_customers=0,
        logo_retention_1m=(2 - 1) / 2,
        nrr_1m=(1268 + 234.5 - 400) / 1268,
        grr_1m=(1268 - 400) / 1268,
        expansion_rate_1m=234.5 / 1268,
        nrr_12m=(1102.5 + 0) / (868 + 500),
        grr_12m=(min(1102.5, 868) + min(0, 500)) / (868 + 500),
        logo_retention_12m=1 / 2,
        arpa=D("1102.5"),  # 1102.5 / 1
        customer_churn_rate_6m=1 / 12,  # customers_start 2 x 6 months, churned 1
        ltv=1102.5 / (1 / 12),
        nps_12m=100 * (2 - 3) / 5,
        nps_responses_12m=5,  # A2 2P 1D of 3, A4 2D of 2
        csat_3m=100 * (2 + 1) / (2 + 1),
        csat_responses_3m=3,
        accounts=2,
        accounts_green=0,
        accounts_amber=2,
        accounts_red=0,
        accounts_insufficient_data=0,
    ),
    # R, account manager M2 = A3, A4, A5.
    (R, "account_manager", "M2"): dict(
        mrr_start=D("400"),
        mrr_end=D("425.875"),  # 0 + 400 + 0; 250 + 0 + 175.875
        mrr_new=D("175.875"),
        mrr_expansion=D(0),
        mrr_contraction=D(0),
        mrr_churn=D("400"),
        mrr_reactivation=D("250"),
        customers_start=1,
        customers_end=2,
        new_customers=1,
        churned_customers=1,
        reactivated_customers=1,
        logo_retention_1m=(1 - 1) / 1,
        nrr_1m=(400 + 0 - 0 - 400) / 400,
        grr_1m=(400 - 0 - 400) / 400,
        expansion_rate_1m=0 / 400,
        # cohort at end of 2025-03: A3 300, A4 500 = 800
        nrr_12m=(250 + 0) / 800,
        grr_12m=(min(250, 300) + min(0, 500)) / 800,
        logo_retention_12m=1 / 2,
        arpa=D("212.9375"),  # 425.875 / 2
        customer_churn_rate_6m=1 / 6,  # customers_start: A4 in each of 2025-10..2026-03 = 6; churned 1
        ltv=212.9375 / (1 / 6),
        nps_12m=100 * (0 - 2) / 3,
        nps_responses_12m=3,  # A3 N09 passive, A4 N10 N11 detractors
        csat_3m=100.0,
        csat_responses_3m=1,  # A4 C07
        accounts=3,
        accounts_green=1,
        accounts_amber=1,
        accounts_red=0,
        accounts_insufficient_data=1,  # A3, A4, A5
    ),
}


@pytest.mark.parametrize("month, grouping, value", list(PORTFOLIO_EXPECTED), ids=lambda v: str(v))
def test_portfolio_monthly(marts, month, grouping, value):
    got = one(marts.portfolio_monthly, month=month, grouping=grouping, group_value=value)
    assert mismatches(got, PORTFOLIO_EXPECTED[(month, grouping, value)]) == []


def test_portfolio_12_month_rates_start_once_m_minus_12_has_billing_data(marts):
    first_billing = one(marts.portfolio_monthly, month=date(2025, 12, 1), grouping="all", group_value="all")
    # M-12 = 2024-12 is before the first billing month 2025-01: null
    assert (first_billing["nrr_12m"], first_billing["grr_12m"], first_billing["logo_retention_12m"]) == (
        None,
        None,
        None,
    )
    jan = one(marts.portfolio_monthly, month=date(2026, 1, 1), grouping="all", group_value="all")
    # cohort at end of 2025-01: A1 1000, A3 300; at end of 2026-01: A1 1500, A3 0
    assert (
        mismatches(
            jan,
            dict(nrr_12m=(1500 + 0) / 1300, grr_12m=(min(1500, 1000) + min(0, 300)) / 1300, logo_retention_12m=1 / 2),
        )
        == []
    )


def test_portfolio_groups_present_in_the_reporting_month(marts):
    rows = marts.portfolio_monthly.filter(pl.col("month") == R).select("grouping", "group_value").rows()
    assert sorted(rows) == sorted(
        [
            ("all", "all"),
            ("tier", "strategic"),
            ("tier", "key"),
            ("tier", "transactional"),
            ("segment", "enterprise"),
            ("segment", "mid_market"),
            ("segment", "smb"),
            ("segment", "unassigned"),
            ("account_manager", "M1"),
            ("account_manager", "M2"),
        ]
    )
