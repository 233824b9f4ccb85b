"""stage_source on hand-built raw frames: typing of every kind, defaults, rules, versions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.contract import source
from pipeline.schemas import staging_schema
from pipeline.transforms.staging import _parse_timestamp_series, stage_source
from tests.support.budgets import examples

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def raw(src: str, rows: list[dict], file: str = "f.csv", loaded_at: datetime = T0) -> pl.DataFrame:
    s = source(src)
    return pl.DataFrame(
        [{**{c: None for c in s.column_names}, **r} for r in rows],
        schema={c: pl.String for c in s.column_names},
    ).with_columns(
        pl.lit(file).alias("_file"),
        pl.int_range(1, len(rows) + 1, dtype=pl.Int64).alias("_row"),
        pl.lit(loaded_at).alias("_loaded_at"),
    )


ACC = {"accounts.account_id": pl.Series(["A1"])}


def reasons(result) -> dict[tuple[int, str], str]:
    return {(r["row"], r["column"]): r["reason"] for r in result.rejects.iter_rows(named=True)}


def test_timestamps_with_and_without_offsets_are_stored_in_utc():
    r = stage_source(
        source("activities"),
        raw(
            "activities",
            [
                {"activity_id": "1", "account_id": "A1", "type": "call", "occurred_at": "2024-03-31T23:30:00-02:00"},
                {"activity_id": "2", "account_id": "A1", "type": "CALL", "occurred_at": "2024-03-05 14:30:00"},
                {"activity_id": "3", "account_id": "A1", "type": "qbr", "occurred_at": "2024-03-05T14:30Z"},
                {"activity_id": "4", "account_id": "A1", "type": "visit", "occurred_at": "2024-03-05"},
                {"activity_id": "5", "account_id": "A1", "type": "call", "occurred_at": "05/03/2024 14:30"},
            ],
        ),
        ACC,
    )
    got = dict(zip(r.frame["activity_id"], r.frame["occurred_at"], strict=True))
    assert got == {
        "1": datetime(2024, 4, 1, 1, 30, tzinfo=UTC),  # belongs to 1 April in UTC
        "2": datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
        "3": datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
        "4": datetime(2024, 3, 5, 0, 0, tzinfo=UTC),
    }
    assert reasons(r) == {(5, "occurred_at"): "not a valid ISO 8601 timestamp (like 2024-03-05T14:30:00Z)"}
    assert r.frame.schema == staging_schema(source("activities"))


def test_booleans_defaults_and_emails():
    r = stage_source(
        source("contacts"),
        raw(
            "contacts",
            [
                {"contact_id": "1", "account_id": "A1", "email": "a@example.com", "is_primary": "TRUE"},
                {"contact_id": "2", "account_id": "A1", "email": " b@example.org ", "is_primary": ""},
                {"contact_id": "3", "account_id": "A1", "is_primary": "no"},
                {"contact_id": "4", "account_id": "A1", "is_primary": "maybe"},
                {"contact_id": "5", "account_id": "A1", "email": "not-an-email"},
            ],
        ),
        ACC,
    )
    assert dict(zip(r.frame["contact_id"], r.frame["is_primary"], strict=True)) == {"1": True, "2": False, "3": False}
    assert r.frame.filter(pl.col("contact_id") == "2")["email"].item() == "b@example.org"
    assert reasons(r) == {(4, "is_primary"): "not true or false", (5, "email"): "not an e-mail address"}


def test_money_is_exact_and_malformed_numbers_are_rejected():
    rows = [
        {
            "subscription_id": str(i),
            "account_id": "A1",
            "product": "P",
            "start_date": "2024-01-01",
            "mrr": v,
            "currency": "usd",
        }
        for i, v in enumerate(["0.10", "1234.5", "1,234.50", "$12", "1e3", "-5", "99999999999999"], start=1)
    ]
    r = stage_source(source("subscriptions"), raw("subscriptions", rows), ACC)
    assert dict(zip(r.frame["subscription_id"], r.frame["mrr"], strict=True)) == {
        "1": Decimal("0.1000"),
        "2": Decimal("1234.5000"),
    }
    why = reasons(r)
    assert why[(3, "mrr")].startswith("not a number") and why[(4, "mrr")].startswith("not a number")
    assert why[(5, "mrr")].startswith("not a number")
    assert why[(6, "mrr")] == "must be at least 0"
    assert why[(7, "mrr")] == "number is too large"


def test_recipient_list_with_a_line_break_is_rejected():
    r = stage_source(
        source("accounts"),
        raw(
            "accounts",
            [
                {
                    "account_id": "A1",
                    "account_name": "x",
                    "tier": "key",
                    "account_manager_id": "M",
                    "currency": "usd",
                    "report_recipients": "a@example.com; b@example.com",
                },
                {
                    "account_id": "A2",
                    "account_name": "y",
                    "tier": "key",
                    "account_manager_id": "M",
                    "currency": "usd",
                    "report_recipients": "a@example.com\r\nBcc: evil@example.net",
                },
            ],
        ),
        {"account_managers.manager_id": pl.Series(["M"])},
    )
    assert r.frame["report_recipients"].to_list() == ["a@example.com;b@example.com"]
    assert reasons(r)[(2, "report_recipients")].startswith("line break inside the recipient list")


def test_fx_rate_must_be_positive_and_dates_plausible():
    r = stage_source(
        source("fx_rates"),
        raw(
            "fx_rates",
            [
                {"date": "2024-01-01", "currency": "EUR", "rate": "1.08"},
                {"date": "2024-01-01", "currency": "gbp", "rate": "0"},
                {"date": "1850-01-01", "currency": "cad", "rate": "0.7"},
                {"date": "2024-01-01", "currency": "euro", "rate": "1.1"},
            ],
        ),
    )
    assert r.frame.select("date", "currency").rows() == [(date(2024, 1, 1), "eur")]
    why = reasons(r)
    assert why[(2, "rate")] == "an exchange rate must be greater than 0"
    assert why[(3, "date")] == "date is outside 1900-01-01 .. 2199-12-31"
    assert why[(4, "currency")].startswith("not a three-letter ISO 4217")


def test_identical_repeat_in_one_file_is_kept_once_and_counted_as_superseded():
    row = {"activity_id": "1", "account_id": "A1", "type": "call", "occurred_at": "2024-03-05"}
    r = stage_source(source("activities"), raw("activities", [row, row]), ACC)
    assert (r.rows_in, r.rows_staged, r.rows_quarantined, r.rows_superseded) == (2, 1, 0, 1)


def test_a_later_file_wins_over_an_earlier_one():
    early = raw(
        "activities", [{"activity_id": "1", "account_id": "A1", "type": "call", "occurred_at": "2024-03-05"}], "a.csv"
    )
    late = raw(
        "activities",
        [{"activity_id": "1", "account_id": "A1", "type": "visit", "occurred_at": "2024-03-05"}],
        "b.csv",
        datetime(2024, 2, 1, tzinfo=UTC),
    )
    r = stage_source(source("activities"), pl.concat([late, early]), ACC)
    assert r.frame.select("type", "_file").rows() == [("visit", "b.csv")]
    assert r.rows_superseded == 1


def test_no_rows_gives_an_empty_frame_of_the_staging_schema():
    r = stage_source(source("tickets"), raw("tickets", []), ACC)
    assert r.frame.schema == staging_schema(source("tickets")) and r.rejects.is_empty()


def test_freshness_check_measures_the_age_of_the_newest_file():
    from pipeline.checks import check_freshness

    now = datetime(2026, 11, 24, tzinfo=UTC)
    fresh = check_freshness(datetime(2026, 11, 1, tzinfo=UTC), now, 45, "fresh")
    stale = check_freshness(datetime(2026, 9, 1, tzinfo=UTC), now, 45, "fresh")
    none = check_freshness(None, now, 45, "fresh")
    assert fresh.passed and not stale.passed and not none.passed
    assert stale.metadata["newest_file_age_days"].value == 84.0
    assert stale.metadata["threshold_days"].value == 45


# ---- timestamps: the one-parse-per-value cascade against every form tried at once

TIMESTAMP_LIKE = st.from_regex(
    r"\A\d{4}-[01]\d-[0-3]\d([ Tt][0-2]\d:[0-5]\d(:[0-6]\d(\.\d{1,9})?)?)?([Zz]|[+-][01]\d:?[0-5]\d|[+-]\d\d)?\Z"
)


def every_form_at_once(text: pl.Series) -> pl.Series:
    """The definition the cascade must equal: the first form (in the old order) that reads the value."""
    from pipeline.transforms.staging import DATE_RE

    n = pl.col("t").str.replace(r"[Zz]$", "+00:00").str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
    expr = pl.coalesce(
        n.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC"),
        n.str.to_datetime("%Y-%m-%dT%H:%M%:z", strict=False, time_zone="UTC"),
        n.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.replace_time_zone("UTC"),
        n.str.to_datetime("%Y-%m-%dT%H:%M", strict=False).dt.replace_time_zone("UTC"),
        pl.when(n.str.contains(DATE_RE))
        .then(n.str.to_date("%Y-%m-%d", strict=False))
        .cast(pl.Datetime("us"))
        .dt.replace_time_zone("UTC"),
    ).cast(pl.Datetime("us", "UTC"))
    return pl.DataFrame({"t": text}).select(expr).to_series()


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(st.one_of(TIMESTAMP_LIKE, st.text(max_size=30), st.none()), min_size=1, max_size=40))
def test_timestamp_cascade_reads_what_every_form_at_once_reads(values):
    text = pl.Series("t", values, dtype=pl.String)
    got = _parse_timestamp_series(text)
    want = every_form_at_once(text)
    # Compared in Polars: a text like "0000-01-10" reads as year 0, which Python's
    # datetime (to_list) cannot hold; staging then rejects it as outside 1900..2199.
    assert got.equals(want), (got, want)


def test_timestamp_forms_by_hand():
    text = pl.Series(
        "t",
        [
            "2024-03-05T14:30:00.250+01:00",  # offset, seconds, fraction
            "2024-03-05T14:30+05:30",  # offset, no seconds
            "2024-03-05 14:30:07",  # space for T, no offset = UTC
            "2024-03-05t14:30z",  # lower-case t is not a separator
            "2024-03-05 14:30Z",  # space and Z, no seconds
            "2024-03-05",  # a bare date is midnight UTC
            "2024-02-30T00:00:00Z",  # no such day
            "",
            None,
        ],
    )
    assert _parse_timestamp_series(text).to_list() == [
        datetime(2024, 3, 5, 13, 30, 0, 250000, tzinfo=UTC),
        datetime(2024, 3, 5, 9, 0, tzinfo=UTC),
        datetime(2024, 3, 5, 14, 30, 7, tzinfo=UTC),
        None,
        datetime(2024, 3, 5, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 5, 0, 0, tzinfo=UTC),
        None,
        None,
        None,
    ]
