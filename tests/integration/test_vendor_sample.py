"""The sample portfolio written as Salesforce, Stripe and Zendesk export it gives the same
marts as the same portfolio written contract-shaped.

``pipeline sample --format salesforce+stripe+zendesk`` writes the CRM as Salesforce's
weekly Data Export ZIP, subscriptions and invoices as Stripe's Dashboard exports (most
rows carrying ``salesforce_account_id (metadata)``, every fourth account's found through
``crm/account_aliases``), tickets and CSAT as Zendesk's ticket export (organizations
through aliases), and the rest (fx rates, invoice lines, NPS, goals, health overrides,
aliases) contract-shaped. The contract-shaped sample it is compared with is written with
``values_of`` the same systems: the data both carry is only what those exports can
express, so every table of the marts schema must be equal row for row, every column
(they carry no lineage or load-time column; ``BUILT`` would drop one if a mart gained it). What the vendor exports cannot carry, and therefore both samples
leave out (docs/metrics.md, "Vendor exports", and pipeline/sample/vendors.py):

- Zendesk CSAT is Good/Bad: CSAT scores 4-5 are 5, 1-3 are 1 (``csat_3m`` and the
  satisfied share move accordingly), one per ticket, dated when the ticket was solved;
  ticket times are to the minute and the first reply in whole minutes.
- Salesforce tasks (calls, e-mails) have a date (``ActivityDate``), no time: their
  ``occurred_at`` is midnight UTC of the day (touches are counted by UTC day, so no
  mart changes). Contacts have no ``is_primary`` (false; no mart reads it).
- Stripe's ``Ended At`` is known only once a subscription has ended: fixed-term add-ons
  ending after the sample's last day are open-ended (no mart of the month looks past it).

The deliberately broken files are left out of both (they are contract-shaped; beside
vendor exports the sample writes only those of contract-shaped sources).
"""

from __future__ import annotations

import os
import zipfile
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import polars as pl
import pytest

from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.runs import run_month
from pipeline.sample.generator import write_sample

END = date(2026, 3, 1)
FIRST = "2025-02"  # 14 months ending 2026-03
SYSTEMS = "salesforce+stripe+zendesk"
DATA = "group:ingest or group:staging or group:marts"
BUILT = {"_built_at", "built_at", "_loaded_at", "loaded_at", "computed_at", "_computed_at"}


def run_sample(root: Path, fmt: str) -> dict[str, pl.DataFrame]:
    """Write the sample in ``fmt`` under ``root``, run ingest..marts for END, return every
    marts table (sorted, without build-time columns) and the quarantine."""
    data, home = root / "data", root / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    write_sample(
        data / "landing", accounts=12, months=14, seed=11, end_month=END, format=fmt, values_of=SYSTEMS, broken=False
    )
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("PIPELINE_")]:
            mp.delenv(name)
        mp.chdir(root)
        mp.setenv("PIPELINE_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("PIPELINE_FIRST_MONTH", FIRST)
        assert run_month(END, select=DATA, quiet=True) == 0
    with Warehouse(data / "warehouse.duckdb").connect(read_only=True) as con:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1").fetchall()]  # fmt: skip
        out = {}
        for name in names:
            frame = fetch(con, f"SELECT * FROM marts.{name}")
            frame = frame.drop([c for c in frame.columns if c in BUILT])
            out[name] = frame.sort(frame.columns, nulls_last=True)
        out["_quarantine"] = fetch(con, 'SELECT source, file, "row", "column", value, reason FROM ops.quarantine')
    return out


@pytest.mark.slow  # two Dagster runs of ingest..marts on a 12-account, 14-month sample
def test_the_vendor_shaped_sample_gives_the_same_marts_as_the_contract_shaped_one(tmp_path):
    contract = run_sample(tmp_path / "contract", "contract")
    vendor = run_sample(tmp_path / "vendor", SYSTEMS)

    landing = tmp_path / "vendor" / "data" / "landing"
    assert sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file()) == [
        "billing/fx_rates.csv",
        "billing/invoice_lines.csv",
        "crm/account_aliases.csv",
        "crm/account_goals.csv",
        "crm/health_overrides.csv",
        "salesforce/WE_00D5g000000SAMP_1.ZIP",
        "stripe/invoices.csv",
        "stripe/subscriptions.csv",
        "surveys/responses.csv",
        "zendesk/export-2026-03-tickets.csv",
    ]
    assert contract["_quarantine"].is_empty(), contract["_quarantine"]
    assert vendor["_quarantine"].is_empty(), vendor["_quarantine"]

    assert set(contract) == set(vendor)
    for name in ("account_monthly", "account_health", "portfolio_monthly"):
        assert name in contract and contract[name].height > 0, name
    for name in sorted(set(contract) - {"_quarantine"}):
        assert contract[name].columns == vendor[name].columns, name
        assert contract[name].equals(vendor[name]), f"marts.{name} differs:\n{contract[name]}\n{vendor[name]}"

    # The vendor run's CSAT came from Zendesk ratings only: every score is 5 or 1.
    monthly = vendor["account_monthly"]
    assert monthly.filter(pl.col("csat_responses_3m") > 0).height > 0

    # By hand: ACC00001 (strategic) pays its Core Platform yearly in Stripe; its MRR at
    # the end of March 2026 is Amount / 12 plus its monthly subscriptions' Amounts, for
    # those started by then and not ended.
    subs = pl.read_csv(landing / "stripe" / "subscriptions.csv", infer_schema=False)
    mine = subs.filter(
        (pl.col("salesforce_account_id (metadata)") == "ACC00001")
        & (pl.col("Start Date (UTC)").str.slice(0, 10) <= "2026-03-31")
        & (pl.col("Ended At (UTC)").is_null() | (pl.col("Ended At (UTC)").str.slice(0, 10) > "2026-03-31"))
    )
    assert "year" in mine["Interval"].to_list()
    by_hand = sum(
        (Decimal(a) / (12 if i == "year" else 1)).quantize(Decimal("0.0001"))
        for a, i in zip(mine["Amount"], mine["Interval"], strict=True)
    )
    contract_subs = pl.read_csv(tmp_path / "contract" / "data" / "landing" / "billing" / "subscriptions.csv", infer_schema=False)  # fmt: skip
    from_contract = sum(
        Decimal(m)
        for m in contract_subs.filter(
            (pl.col("account_id") == "ACC00001")
            & (pl.col("start_date") <= "2026-03-31")
            & (pl.col("end_date").is_null() | (pl.col("end_date") > "2026-03-31"))
        )["mrr"]
    )
    assert by_hand == from_contract  # in the account's own currency
    # In the reporting currency (USD): each subscription at the rate in force on its start date.
    fx = pl.read_csv(landing / "billing" / "fx_rates.csv", infer_schema=False)

    def rate(currency: str, day: str) -> Decimal:
        if currency == "usd":
            return Decimal(1)
        dated = fx.filter((pl.col("currency") == currency) & (pl.col("date") <= day)).sort("date")
        return Decimal(dated["rate"][-1])

    in_usd = sum(
        ((Decimal(a) / (12 if i == "year" else 1)).quantize(Decimal("0.0001")) * rate(c, d[:10])).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )
        for a, i, c, d in zip(mine["Amount"], mine["Interval"], mine["Currency"], mine["Start Date (UTC)"], strict=True)
    )
    for marts in (contract, vendor):
        row = marts["account_monthly"].filter((pl.col("account_id") == "ACC00001") & (pl.col("month") == END))
        assert Decimal(str(row["mrr"][0])) == in_usd

    with zipfile.ZipFile(landing / "salesforce" / "WE_00D5g000000SAMP_1.ZIP") as z:
        assert sorted(z.namelist()) == [
            "Account.csv", "Contact.csv", "Event.csv", "Opportunity.csv", "Task.csv", "User.csv",
        ]  # fmt: skip


def test_the_format_names_systems_joined_by_plus():
    from pipeline.sample.vendors import parse_format

    assert parse_format("contract") == ()
    assert parse_format("Zendesk+salesforce+stripe") == ("salesforce", "stripe", "zendesk")
    with pytest.raises(ValueError, match="unknown format freshdesk"):
        parse_format("salesforce+freshdesk")
    with pytest.raises(ValueError, match="both CRMs"):
        parse_format("salesforce+hubspot")


def test_a_hubspot_shaped_sample_loads_and_stages_without_quarantine(warehouse, data_dir):
    """HubSpot in place of Salesforce: owners by full name, activities contract-shaped."""
    from pipeline.contract import load_order
    from pipeline.store.loading import load_new_files
    from pipeline.store.staging import stage

    landing = data_dir / "landing"
    write_sample(landing, accounts=12, months=14, seed=11, end_month=END, format="hubspot+stripe+zendesk", broken=False)
    assert sorted(p.name for p in (landing / "hubspot").iterdir()) == [
        f"hubspot-crm-exports-all-{k}.csv" for k in ("companies", "contacts", "deals", "users")
    ]
    assert (landing / "crm" / "activities.csv").exists() and not (landing / "crm" / "accounts.csv").exists()
    for s in load_order():
        assert not load_new_files(warehouse, landing, s).errors
        stage(warehouse, s)
    with warehouse.connect(read_only=True) as con:
        assert fetch(con, "SELECT * FROM ops.quarantine").is_empty()
        managers = fetch(con, "SELECT manager_id, name FROM staging.account_managers")
        assert managers["manager_id"].to_list() == managers["name"].to_list()
        owners = fetch(con, "SELECT DISTINCT account_manager_id FROM staging.accounts")["account_manager_id"]
        assert set(owners) <= set(managers["manager_id"])
        subs = fetch(con, "SELECT account_id, _file FROM staging.subscriptions")
        assert subs["_file"].unique().to_list() == ["stripe/subscriptions.csv"] and subs["account_id"].null_count() == 0
        csat = fetch(con, "SELECT score FROM staging.responses WHERE survey_type = 'csat'")
        assert csat.height > 0 and set(csat["score"]) <= {1, 5}
