"""Profiles as data: the built-ins parse, and a profile that is not valid names itself and the key."""

from __future__ import annotations

import pytest

from pipeline.profiles import ProfileError, resolve_profiles
from pipeline.profiles.plan import plan_file


def sf():
    return next(p for p in resolve_profiles() if p.name == "salesforce")


def test_the_built_in_profiles_parse():
    assert {p.name for p in resolve_profiles()} == {"salesforce", "stripe", "zendesk", "hubspot"}


def test_a_built_in_profiles_custom_fields_are_settings():
    changed = resolve_profiles([{"name": "salesforce", "settings": {"tier_field": "Account_Tier__c"}}])
    accounts = next(p for p in changed if p.name == "salesforce").files_for("accounts")[0]
    assert accounts.column("tier").headers == ("Account_Tier__c",)
    with pytest.raises(ProfileError, match=r"profile 'salesforce', settings\.no_such: unknown setting"):
        resolve_profiles([{"name": "salesforce", "settings": {"no_such": "x"}}])


@pytest.mark.parametrize(
    ("profile", "key"),
    [
        ({"name": "x", "files": [{"source": "nope", "glob": "*.csv", "columns": {}}]}, r"files\[0\]\.source"),
        ({"name": "x", "files": [{"source": "fx_rates", "glob": "../*.csv", "columns": {}}]}, r"files\[0\]\.glob"),
        ({"name": "x", "files": [{"source": "fx_rates", "glob": "*.csv", "columns": {"date": "D"}}]}, r"files\[0\]\.columns: fx_rates needs"),
        ({"name": "x", "folder": "crm", "files": []}, r"folder"),
        ({"name": "x", "files": [{"source": "fx_rates", "glob": "*.csv", "columns": {"date": {"sql": "1; DROP"}, "currency": "C", "rate": "R"}}]}, r"columns\.date\.sql"),
        ({"name": "x", "files": [{"source": "fx_rates", "glob": "*.csv", "columns": {"date": {"header": "D", "value": "1"}, "currency": "C", "rate": "R"}}]}, r"columns\.date: give exactly one"),
    ],
)  # fmt: skip
def test_a_profile_that_is_not_valid_names_the_profile_and_the_key(profile, key):
    with pytest.raises(ProfileError, match=r"profile 'x'.*" + key):
        resolve_profiles([profile])


def test_the_plan_matches_headers_case_insensitively_and_names_what_is_missing_and_ignored():
    spec = sf().files_for("account_managers")[0]
    plan = plan_file(spec, ["ID", " name ", "EMAIL", "Extra"], {})
    assert plan.ok
    assert plan.reads == {"manager_id": ("ID",), "name": (" name ",), "email": ("EMAIL",)}
    assert plan.nulls == ["team"]
    assert plan.ignored == ["Extra"]
    missing = plan_file(spec, ["Id", "Name"], {})
    assert missing.missing == [("email", "Email")]


def test_unmatched_records_by_system_for_the_quality_report():
    import polars as pl

    from pipeline.reporting.quality import unmatched_by_system

    q = pl.DataFrame(
        {
            "source": ["subscriptions", "subscriptions", "invoices", "subscriptions"],
            "file": ["stripe/subscriptions.csv"] * 2 + ["stripe/invoices.csv", "stripe/subscriptions.csv"],
            "row": [7, 9, 3, 8],
            "column": ["Customer ID", "Customer ID", "Customer", "Amount"],
            "value": ["cus_Z9", "cus_Z8", "cus_Z9", "USD 30"],
            "reason": ["no account found ... crm/account_aliases.csv"] * 3 + ["not a number"],
        }
    )
    assert unmatched_by_system(q).rows() == [
        ("stripe", "invoices", "Customer", 1, ["cus_Z9"]),
        ("stripe", "subscriptions", "Customer ID", 2, ["cus_Z9", "cus_Z8"]),
    ]
