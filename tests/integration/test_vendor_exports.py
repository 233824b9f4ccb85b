"""Vendor exports through the built-in profiles: hand-written files in each vendor's shape
(tests/fixtures/vendors/<system>/) load into the same staging tables, with hand-checked
values, the export's own lineage, and a quarantine in the export's words."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipeline.contract import load_order, source
from pipeline.landing import LandingFileError
from pipeline.profiles import ProfileError, resolve_profiles
from pipeline.resources.warehouse import fetch
from pipeline.store.loading import load_new_files
from pipeline.store.staging import stage
from pipeline.transforms.recurring_revenue import mrr_by_month

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"


def put(data_dir: Path, system: str, zip_name: str | None = None) -> None:
    """Copy a fixture folder into landing/<system>/ (as one ZIP when ``zip_name``)."""
    target = data_dir / "landing" / system
    target.mkdir(parents=True, exist_ok=True)
    if zip_name is None:
        for f in (FIXTURES / system).iterdir():
            shutil.copy(f, target / f.name)
        return
    with zipfile.ZipFile(target / zip_name, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted((FIXTURES / system).iterdir()):
            z.write(f, f.name)


def put_aliases(data_dir: Path) -> None:
    (data_dir / "landing" / "crm").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "crm" / "account_aliases.csv", data_dir / "landing" / "crm" / "account_aliases.csv")


def load_all(warehouse, data_dir, profiles=None):
    reports = {}
    for s in load_order():
        reports[s.name] = load_new_files(warehouse, data_dir / "landing", s, profiles=profiles)
        stage(warehouse, s)
    return reports


def table(warehouse, name, order):
    with warehouse.connect() as con:
        return fetch(con, f"SELECT * EXCLUDE (_loaded_at) FROM staging.{name} ORDER BY {order}")


def quarantine(warehouse, source=None):
    with warehouse.connect() as con:
        where = "WHERE source = ?" if source else ""
        return fetch(
            con,
            f'SELECT source, file, "row", "column", value, reason FROM ops.quarantine {where} ORDER BY source, file, "row"',
            [source] if source else None,
        )


def test_a_salesforce_data_export_zip_loads_into_staging(warehouse, data_dir):
    put(data_dir, "salesforce", "WE_00D5g000001_1.ZIP")
    reports = load_all(warehouse, data_dir)
    assert not any(r.errors for r in reports.values())
    accounts = table(warehouse, "accounts", "account_id")
    assert accounts.select(
        "account_id", "account_name", "tier", "segment", "account_manager_id", "parent_account_id",
        "customer_since", "renewal_date", "currency", "report_cadence", "region",
    ).rows() == [
        ("001A1", "Acme Corp", "strategic", "enterprise", "005A1", None, date(2023, 2, 10), date(2027, 2, 1), "usd", "monthly", "US"),
        ("001A2", "Beta GmbH", "key", "mid_market", "005A2", "001A1", date(2024, 6, 1), None, "eur", "quarterly", "DE"),
        ("001A3", "Gamma Ltd", "transactional", "smb", "005A1", None, date(2025, 1, 15), None, "gbp", "monthly", "GB"),
    ]  # fmt: skip
    # Lineage: the export's own file (inside its archive) and row.
    assert accounts["_file"].unique().to_list() == ["salesforce/WE_00D5g000001_1.ZIP/Account.csv"]
    assert accounts["_row"].to_list() == [1, 2, 3]
    assert accounts["report_recipients"][0] == "cfo@acme.example;ops@acme.example"
    managers = table(warehouse, "account_managers", "manager_id")
    assert managers.select("manager_id", "name", "email", "team").rows() == [
        ("005A1", "Ann Lee", "ann@example.com", "East"),
        ("005A2", "Bo Chen", "bo@example.com", "West"),
    ]
    contacts = table(warehouse, "contacts", "contact_id")
    # The private contact (no AccountId) is left out by the profile's filter.
    assert contacts.select("contact_id", "account_id", "name", "email", "role").rows() == [
        ("003A1", "001A1", "Cara Diaz", "cara@acme.example", "CFO"),
        ("003A2", "001A2", "Dan Evans", "dan@beta.example", "CTO"),
        ("003A4", "001A3", "Gomez", "gomez@gamma.example", "Buyer"),
    ]
    assert reports["contacts"].rows_filtered == {"salesforce/WE_00D5g000001_1.ZIP/Contact.csv": 1}
    opps = table(warehouse, "opportunities", "opportunity_id")
    assert opps.select("opportunity_id", "type", "stage", "amount", "currency", "created_on", "is_closed", "is_won").rows() == [
        ("006A1", "upsell", "Negotiation", Decimal("24000"), "usd", date(2026, 9, 1), False, False),
        ("006A2", "new_business", "Closed Won", Decimal("12000"), "eur", date(2024, 5, 1), True, True),
        ("006A3", "renewal", "Closed Lost", Decimal("5000"), "gbp", date(2026, 3, 1), True, False),
        ("006A4", "renewal", "Prospecting", Decimal("1000"), "gbp", date(2026, 10, 1), False, False),
    ]  # fmt: skip
    tickets = table(warehouse, "tickets", "ticket_id")
    assert tickets.select("ticket_id", "account_id", "priority", "status").rows() == [
        ("500A1", "001A1", "high", "closed"),
        ("500A2", "001A2", "normal", "new"),
        ("500A3", "001A3", "low", "working"),
    ]
    assert str(tickets["opened_at"][0]) == "2026-10-02 14:03:00+00:00"
    activities = table(warehouse, "activities", "activity_id")
    assert activities.select("activity_id", "account_id", "manager_id", "type").rows() == [
        ("00TA1", "001A1", "005A1", "call"),
        ("00TA2", "001A2", "005A2", "email"),
        ("00TA3", "001A1", "005A1", "other"),
        ("00UA1", "001A1", "005A1", "meeting"),
        ("00UA2", "001A3", "005A1", "other"),
    ]
    assert str(activities["occurred_at"][3]) == "2026-10-10 15:00:00+00:00"
    assert quarantine(warehouse).is_empty()


def test_stripe_subscriptions_mrr_accounts_and_quarantine_in_the_exports_words(warehouse, data_dir):
    put(data_dir, "salesforce")
    put(data_dir, "stripe")
    put_aliases(data_dir)
    reports = load_all(warehouse, data_dir)
    assert not any(r.errors for r in reports.values())
    # The subscription that ended inside its trial never paid: the profile's filter leaves it out.
    assert reports["subscriptions"].rows_filtered == {"stripe/subscriptions.csv": 1}
    subs = table(warehouse, "subscriptions", "subscription_id")
    assert subs.select("subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "currency").rows() == [
        # cancelled: ends when Stripe ended it
        ("sub_C1", "001A1", "Reporting Add-on", date(2025, 6, 1), date(2026, 5, 1), Decimal("200"), "usd"),
        # 12 seats x 25 a month; cus_B1 found through crm/account_aliases
        ("sub_Q1", "001A2", "Seats", date(2025, 7, 1), None, Decimal("300"), "eur"),
        # 2 x 50 a month, in trial until 2026-09-03: no MRR before
        ("sub_T1", "001A2", "Analytics", date(2026, 9, 3), None, Decimal("100"), "eur"),
        # 30 a week = 30 x 52 / 12 a month; found through salesforce_account_id (metadata)
        ("sub_W1", "001A1", "Support Hours", date(2026, 1, 5), None, Decimal("130"), "usd"),
        # 12,000 a year
        ("sub_Y1", "001A1", "Core Platform", date(2025, 3, 1), None, Decimal("1000"), "usd"),
    ]  # fmt: skip
    mrr = mrr_by_month(subs.cast({"mrr": pl.Decimal(18, 4)}), date(2026, 10, 1))
    by = {(a, m): v for a, m, v in mrr.rows()}
    assert by[("001A1", date(2025, 3, 1))] == Decimal("1000")
    assert by[("001A1", date(2025, 6, 1))] == Decimal("1200")
    assert by[("001A1", date(2026, 1, 1))] == Decimal("1330")
    assert by[("001A1", date(2026, 4, 1))] == Decimal("1330")
    assert by[("001A1", date(2026, 5, 1))] == Decimal("1130")  # the cancelled one has ended
    assert by[("001A2", date(2026, 8, 1))] == Decimal("300")  # in trial: nothing yet
    assert by[("001A2", date(2026, 9, 1))] == Decimal("400")
    q = quarantine(warehouse)
    assert q.select("source", "file", "row", "column", "value").rows() == [
        ("invoices", "stripe/invoices.csv", 3, "Customer", "cus_Z9"),
        ("subscriptions", "stripe/subscriptions.csv", 7, "Customer ID", "cus_Z9"),
        ("subscriptions", "stripe/subscriptions.csv", 8, "Amount", "USD 30"),
    ]
    reasons = q["reason"].to_list()
    assert "add stripe customer cus_Z9 to crm/account_aliases.csv" in reasons[1]
    assert reasons[2].startswith("not a number")
    invoices = table(warehouse, "invoices", "invoice_id")
    assert invoices.select("invoice_id", "account_id", "issued_on", "due_on", "total", "status", "paid_on").rows() == [
        ("in_1B1", "001A2", date(2026, 10, 1), date(2026, 10, 15), Decimal("357"), "paid", date(2026, 10, 5)),
        ("in_2B1", "001A2", date(2026, 11, 1), date(2026, 11, 1), Decimal("476"), "open", None),
    ]  # fmt: skip


def test_an_alias_added_later_finds_the_account_of_rows_already_loaded(warehouse, data_dir):
    put(data_dir, "salesforce")
    put(data_dir, "stripe")
    put_aliases(data_dir)
    load_all(warehouse, data_dir)
    with (data_dir / "landing" / "crm" / "account_aliases_2.csv").open("w") as f:
        f.write("account_id,system,external_id\n001A3,stripe,cus_Z9\n")
    load_all(warehouse, data_dir)
    subs = table(warehouse, "subscriptions", "subscription_id")
    assert subs.filter(pl.col("subscription_id") == "sub_Z1")["account_id"].to_list() == ["001A3"]
    assert quarantine(warehouse, "subscriptions")["column"].to_list() == ["Amount"]


def test_an_id_that_matches_two_accounts_is_quarantined_not_guessed(warehouse, data_dir):
    put(data_dir, "salesforce")
    put(data_dir, "stripe")
    put_aliases(data_dir)
    with (data_dir / "landing" / "crm" / "account_aliases_2.csv").open("w") as f:
        f.write("account_id,system,external_id\n001A3,stripe,cus_B1\n")
    load_all(warehouse, data_dir)
    q = quarantine(warehouse, "subscriptions").filter(pl.col("value") == "cus_B1")
    assert q["row"].to_list() == [3, 4]
    assert "matches 2 accounts in crm/account_aliases (001A2, 001A3)" in q["reason"][0]


def test_zendesk_tickets_and_ratings_become_tickets_and_csat(warehouse, data_dir):
    put(data_dir, "salesforce")
    put(data_dir, "zendesk")
    put_aliases(data_dir)
    load_all(warehouse, data_dir)
    tickets = table(warehouse, "tickets", "ticket_id").filter(pl.col("_file").str.starts_with("zendesk/"))
    assert tickets.select("ticket_id", "account_id", "priority", "status").rows() == [
        ("102", "001A3", "normal", "closed"),  # Organization "Gamma Ltd" through account_aliases
    ]
    assert str(tickets["first_response_at"][0]) == "2026-10-05 10:00:00+00:00"  # 08:00 + 120 minutes
    responses = table(warehouse, "responses", "response_id")
    # Good -> 5, Bad -> 1, dated when solved; ticket 101 has no organization: its requester's
    # e-mail is a contact of 001A1. "Offered" (103) is no rating.
    assert responses.select("response_id", "account_id", "survey_type", "score", "contact_email").rows() == [
        ("zendesk-csat-101", "001A1", "csat", 5, "cara@acme.example"),
        ("zendesk-csat-102", "001A3", "csat", 1, "gomez@gamma.example"),
    ]
    assert str(responses["responded_at"][0]) == "2026-10-03 09:00:00+00:00"
    q = quarantine(warehouse)
    assert q.select("source", "file", "row", "column", "value").rows() == [
        ("responses", "zendesk/export-2026-11-02-tickets.csv", 4, "Organization", "Zeta Inc"),
        ("tickets", "zendesk/export-2026-11-02-tickets.csv", 1, "Organization", None),
        ("tickets", "zendesk/export-2026-11-02-tickets.csv", 3, "Organization", "Beta GmbH"),
        ("tickets", "zendesk/export-2026-11-02-tickets.csv", 4, "Organization", "Zeta Inc"),
    ]
    assert "add zendesk organization Zeta Inc to crm/account_aliases.csv" in q["reason"][0]


def test_hubspot_exports_load_with_owners_as_account_managers(warehouse, data_dir):
    put(data_dir, "hubspot")
    reports = load_all(warehouse, data_dir)
    assert not any(r.errors for r in reports.values())
    managers = table(warehouse, "account_managers", "manager_id")
    assert managers.select("manager_id", "name", "email", "team").rows() == [
        ("Ann Lee", "Ann Lee", "ann@example.com", "East"),
        ("Bo Chen", "Bo Chen", "bo@example.com", "West"),
    ]
    accounts = table(warehouse, "accounts", "account_id")
    assert accounts.select("account_id", "account_name", "tier", "segment", "account_manager_id", "currency", "customer_since").rows() == [
        ("5101", "Acme Corp", "strategic", "enterprise", "Ann Lee", "usd", date(2023, 2, 10)),
        ("5102", "Beta GmbH", "key", "mid_market", "Bo Chen", "eur", date(2024, 6, 1)),
    ]  # fmt: skip
    assert table(warehouse, "contacts", "contact_id").select("contact_id", "account_id", "name").rows() == [
        ("7001", "5101", "Cara Diaz"),
        ("7002", "5102", "Dan Evans"),
    ]
    deals = table(warehouse, "opportunities", "opportunity_id")
    assert deals.select("opportunity_id", "account_id", "type", "amount", "is_closed", "is_won", "close_date").rows() == [
        ("8001", "5101", "upsell", Decimal("6000"), True, True, date(2026, 9, 30)),
        ("8002", "5102", "new_business", Decimal("12000"), False, False, date(2026, 12, 15)),
        ("8003", "5102", "new_business", Decimal("3000"), True, False, date(2026, 7, 1)),
    ]  # fmt: skip
    tickets = table(warehouse, "tickets", "ticket_id")
    assert tickets.select("ticket_id", "account_id", "priority", "status").rows() == [
        ("9101", "5101", "high", "closed"),
        ("9102", "5102", "normal", "waiting on contact"),
    ]
    assert quarantine(warehouse).is_empty()


def test_a_vendor_file_missing_a_required_header_fails_naming_the_header_and_the_profile(warehouse, data_dir):
    put(data_dir, "stripe")
    path = data_dir / "landing" / "stripe" / "subscriptions.csv"
    text = path.read_text().replace("Currency,", "Money,", 1)
    path.write_text(text)
    report = load_new_files(warehouse, data_dir / "landing", source("subscriptions"))
    assert len(report.errors) == 1
    assert "stripe/subscriptions.csv is missing the header(s) Currency (for currency)" in report.errors[0]
    assert "the stripe profile" in report.errors[0]


def test_a_profile_with_an_invalid_expression_fails_at_start(tmp_path):
    from pipeline.settings import SettingsError, load_settings
    from pipeline.store.expressions import check_profiles

    bad = {
        "name": "survey",
        "files": [
            {
                "source": "responses",
                "glob": "*.csv",
                "account": {"email": "Email"},
                "columns": {
                    "response_id": "Response ID",
                    "survey_type": {"value": "nps"},
                    "score": {"sql": 'CAST("Score" AS INT) +'},
                    "responded_at": "Submitted",
                },
            }
        ],
    }
    with pytest.raises(
        ProfileError, match=r"profile 'survey' \(cfg\), files\[0\]\.columns\.score\.sql: DuckDB cannot parse"
    ):
        check_profiles(resolve_profiles([bad], origin="cfg"))
    # Structure errors fail when the settings are read, naming the profile and the key.
    toml = tmp_path / "pipeline.toml"
    toml.write_text('[[profiles]]\nname = "survey"\n[[profiles.files]]\nsource = "responses"\nglob = "*.csv"\n'
                    '[profiles.files.columns]\nscore = "Score"\nnot_a_column = "X"\n')  # fmt: skip
    with pytest.raises(SettingsError, match=r"profile 'survey', files\[0\]\.columns\.not_a_column"):
        load_settings({"PIPELINE_SETTINGS_FILE": str(toml), "PIPELINE_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    "expression",
    [
        "(SELECT content FROM read_text('/etc/passwd'))",
        "1 FROM read_csv('/etc/passwd')",
        "read_text('/etc/passwd')",
        "current_setting('home_directory')",
        'sum("Score")',
        "\"Score\" ; ATTACH '/tmp/x.db'",
        '"Score") AS v FROM _export UNION ALL SELECT (1',
    ],
)
def test_a_profile_expression_that_tries_to_read_a_file_is_refused_at_start(expression):
    from pipeline.store.expressions import check_profiles

    profile = {
        "name": "sneaky",
        "files": [
            {
                "source": "responses",
                "glob": "*.csv",
                "account": {"email": "Email"},
                "columns": {
                    "response_id": "Id",
                    "survey_type": {"value": "nps"},
                    "score": {"sql": expression},
                    "responded_at": "At",
                },
            }
        ],
    }
    with pytest.raises(ProfileError, match=r"profile 'sneaky'.*files\[0\]\.columns\.score\.sql"):
        check_profiles(resolve_profiles([profile]))


def test_the_sandbox_reads_no_file_even_past_the_check():
    import duckdb

    from pipeline.store.expressions import sandbox

    with sandbox(pl.DataFrame({"x": ["1"]})) as con:
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            con.execute("SELECT * FROM read_text('/etc/passwd')").fetchall()
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")


SURVEY_TOML = """
[[profiles]]
name = "typeform"
description = "Typeform responses export, one column per question"

[[profiles.files]]
source = "responses"
glob = "*.csv"
account = { email = "What is your work e-mail?", system = "typeform", label = "respondent" }

[profiles.files.columns]
response_id = { sql = "'typeform-' || \\"Network ID\\" || '-' || \\"Submitted At\\"" }
survey_type = { value = "nps" }
score = "How likely are you to recommend us to a friend or colleague?"
responded_at = "Submitted At"
contact_email = "What is your work e-mail?"
comment = "What is the main reason for your score?"
"""


def test_a_survey_tools_export_through_a_profile_in_pipeline_toml(warehouse, data_dir):
    from pipeline.settings import load_settings

    (data_dir / "pipeline.toml").write_text(SURVEY_TOML)
    settings = load_settings({"PIPELINE_DATA_DIR": str(data_dir)})
    put(data_dir, "salesforce")
    folder = data_dir / "landing" / "typeform"
    folder.mkdir()
    (folder / "responses-2026-10.csv").write_text(
        "Network ID,How likely are you to recommend us to a friend or colleague?,What is the main reason for your score?,"
        "What is your work e-mail?,Submitted At,Token\n"
        "n1,9,Great support,Cara@Acme.example,2026-10-12 08:30:00,t1\n"
        "n2,3,Too slow,dan@beta.example,2026-10-13 10:00:00,t2\n"
        "n3,11,,nobody@else.example,2026-10-14 10:00:00,t3\n"
    )
    load_all(warehouse, data_dir, profiles=settings.profiles)
    responses = table(warehouse, "responses", "response_id")
    assert responses.select("account_id", "survey_type", "score", "comment").rows() == [
        ("001A1", "nps", 9, "Great support"),
        ("001A2", "nps", 3, "Too slow"),
    ]
    q = quarantine(warehouse, "responses")
    assert q.select("file", "row", "column", "value").rows() == [
        ("typeform/responses-2026-10.csv", 3, "How likely are you to recommend us to a friend or colleague?", "11"),
        ("typeform/responses-2026-10.csv", 3, "What is your work e-mail?", "nobody@else.example"),
    ]


def _zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(name, data)


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16
    return info


@pytest.mark.parametrize(
    ("entries", "why"),
    [
        ([("Account.csv", b"Id\n1\n"), ("/etc/Account.csv", b"Id\n1\n")], "absolute path"),
        ([("../../Account.csv", b"Id\n1\n")], "climbs out"),
        ([(_link("Account.csv"), b"/etc/passwd")], "is a link"),
        ([("Account.csv", b"Id\n1\n"), ("inner.zip", b"PK\x03\x04rest")], "itself an archive"),
        ([("Account.csv", b"Id,Name\n" + b"0" * (50 << 20))], "zip bomb"),
    ],
    ids=["absolute", "climbs", "link", "nested", "bomb"],
)
def test_hostile_zips_are_refused_whole(warehouse, data_dir, entries, why):
    folder = data_dir / "landing" / "salesforce"
    folder.mkdir(parents=True)
    _zip(folder / "export.zip", entries)
    report = load_new_files(warehouse, data_dir / "landing", source("accounts"))
    assert report.files_loaded == []
    assert len(report.errors) == 1
    assert "salesforce/export.zip was refused and nothing in it was loaded" in report.errors[0]
    assert why in report.errors[0]


def test_too_many_entries_is_refused(warehouse, data_dir):
    from pipeline.zipsafe import ZipLimits

    folder = data_dir / "landing" / "salesforce"
    folder.mkdir(parents=True)
    _zip(folder / "export.zip", [(f"f{i}.csv", b"a\n1\n") for i in range(12)])
    report = load_new_files(warehouse, data_dir / "landing", source("accounts"), zip_limits=ZipLimits(max_entries=10))
    assert "12 entries, more than PIPELINE_ZIP_MAX_ENTRIES" in report.errors[0]


def test_a_refused_zip_raises_a_landing_error_from_discovery(data_dir):
    from pipeline.exports import discover_exports
    from pipeline.zipsafe import ZipLimits

    folder = data_dir / "landing" / "salesforce"
    folder.mkdir(parents=True)
    _zip(folder / "export.zip", [("../Account.csv", b"Id\n")])
    sf = next(p for p in resolve_profiles() if p.name == "salesforce")
    with pytest.raises(LandingFileError, match="climbs out"):
        discover_exports(data_dir / "landing", sf, sf.files[0], ZipLimits())


def test_reloading_the_same_exports_changes_nothing(warehouse, data_dir):
    put(data_dir, "salesforce", "export.zip")
    put(data_dir, "stripe")
    put_aliases(data_dir)
    load_all(warehouse, data_dir)
    before = table(warehouse, "subscriptions", "subscription_id")
    second = load_all(warehouse, data_dir)
    assert all(r.files_loaded == [] for r in second.values())
    assert table(warehouse, "subscriptions", "subscription_id").equals(before)


def test_pipeline_profiles_lists_and_checks_a_folder(data_dir, capsys):
    from pipeline.cli import main

    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in ("salesforce", "stripe", "zendesk", "hubspot"):
        assert f"  {name} (built-in)" in out
    put(data_dir, "stripe")
    path = data_dir / "landing" / "stripe" / "invoices.csv"
    path.write_text(path.read_text().replace("Total,", "Grand total,", 1))
    assert main(["profiles", "check", str(data_dir / "landing")]) == 1
    captured = capsys.readouterr()
    assert "stripe/subscriptions.csv -> subscriptions: ok" in captured.out
    assert "ignored: Customer Name, Customer Email" in captured.out
    assert "stripe/invoices.csv -> invoices: MISSING REQUIRED HEADERS" in captured.out
    assert "missing: Total (for total)" in captured.out
    assert "salesforce: no folder salesforce/" in captured.out
    assert captured.err.startswith("error: 1 file(s)")
    assert "Traceback" not in captured.err


def test_pipeline_run_stops_before_starting_on_a_profile_that_is_not_valid(data_dir, capsys):
    from pipeline.cli import main

    (data_dir / "pipeline.toml").write_text(
        '[[profiles]]\nname = "survey"\n[[profiles.files]]\nsource = "responses"\nglob = "*.csv"\n'
        'account = { email = "Email" }\n[profiles.files.columns]\nresponse_id = "Id"\n'
        'survey_type = { value = "nps" }\nscore = { sql = "(SELECT 1)" }\nresponded_at = "At"\n'
    )
    assert main(["run", "--month", "2026-10"]) == 1
    err = capsys.readouterr().err
    assert "profile 'survey'" in err and "files[0].columns.score.sql" in err and "subquery is not allowed" in err
