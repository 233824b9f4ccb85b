"""`build_account_monthly` end to end on hand-built staging frames.

Reporting month June 2024, reporting currency USD, eur rates 1.10 from 1 Jan 2024 and
1.20 from 1 Apr 2024, no gbp rate at all.

Account a (eur): a ticket in January (its first data), 100 eur from 10 Feb (at 1.10 =
110 usd) and 50 eur from 1 May (at 1.20 = 60 usd), a gbp subscription that cannot be
converted, an invoice issued 20 Mar (at 1.10) paid 10 May, a draft invoice, an open
upsell from 5 Mar (and two gbp opportunities that can never be expansion pipeline).
Account b (usd): an NPS response in January, nothing in February or
March, a touch and an unpaid invoice in April. Account c has no data, account d only
data after June: neither gets rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.contract import source
from pipeline.schemas import ACCOUNT_MONTHLY, QUARANTINE, staging_schema
from pipeline.transforms.account_monthly import (
    AccountMonthlyResult,
    build_account_monthly,
    first_data_months,
)

LOADED = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
UTC = UTC
MONTHS = [date(2024, m, 1) for m in range(1, 7)]


def staging(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A staging frame: contract columns typed by Kind, lineage filled in, rest null."""
    schema = staging_schema(source(name))
    full = []
    for i, row in enumerate(rows, start=1):
        record: dict[str, Any] = {c: None for c in schema}
        record.update({"_file": f"{name}.csv", "_row": i, "_loaded_at": LOADED})
        for column, value in row.items():
            assert column in schema, column
            is_decimal = isinstance(schema[column], pl.Decimal)
            record[column] = D(value) if is_decimal and isinstance(value, str) else value
        full.append(record)
    frame = pl.DataFrame(full, schema=schema)
    # the constructor turns a value of the wrong type into null: make that loud
    given = sum(1 for row in rows for v in row.values() if v is not None)
    present = frame.drop("_file", "_row", "_loaded_at").select(pl.all().is_not_null().sum())
    assert sum(present.row(0)) == given, f"{name}: a value did not fit its column type"
    return frame


ACCOUNTS = staging(
    "accounts",
    [
        {
            "account_id": "a",
            "account_name": "A",
            "tier": "strategic",
            "segment": "enterprise",
            "account_manager_id": "m1",
            "currency": "eur",
        },
        {
            "account_id": "b",
            "account_name": "B",
            "tier": "key",
            "account_manager_id": "m2",
            "renewal_date": date(2024, 12, 31),
            "currency": "usd",
        },
        {
            "account_id": "c",
            "account_name": "C",
            "tier": "transactional",
            "account_manager_id": "m1",
            "currency": "usd",
        },
        {"account_id": "d", "account_name": "D", "tier": "key", "account_manager_id": "m2", "currency": "gbp"},
    ],
)
SUBSCRIPTIONS = staging(
    "subscriptions",
    [
        {
            "subscription_id": "sa1",
            "account_id": "a",
            "product": "p",
            "start_date": date(2024, 2, 10),
            "mrr": "100",
            "currency": "eur",
        },
        {
            "subscription_id": "sa2",
            "account_id": "a",
            "product": "p",
            "start_date": date(2024, 5, 1),
            "mrr": "50",
            "currency": "eur",
        },
        {
            "subscription_id": "sa3",
            "account_id": "a",
            "product": "p",
            "start_date": date(2024, 3, 1),
            "mrr": "999",
            "currency": "gbp",
        },
        {
            "subscription_id": "sd1",
            "account_id": "d",
            "product": "p",
            "start_date": date(2024, 8, 1),
            "mrr": "10",
            "currency": "gbp",
        },
    ],
)
INVOICES = staging(
    "invoices",
    [
        {
            "invoice_id": "ia1",
            "account_id": "a",
            "issued_on": date(2024, 3, 20),
            "due_on": date(2024, 4, 19),
            "currency": "eur",
            "subtotal": "100",
            "tax": "20",
            "total": "120",
            "status": "paid",
            "paid_on": date(2024, 5, 10),
        },
        {
            "invoice_id": "ia2",
            "account_id": "a",
            "issued_on": date(2023, 11, 5),
            "due_on": date(2023, 12, 5),
            "currency": "eur",
            "subtotal": "5000",
            "tax": "0",
            "total": "5000",
            "status": "draft",
        },
        {
            "invoice_id": "ib1",
            "account_id": "b",
            "issued_on": date(2024, 4, 1),
            "due_on": date(2024, 5, 1),
            "currency": "usd",
            "subtotal": "80",
            "tax": "0",
            "total": "80",
            "status": "open",
        },
        {
            "invoice_id": "ib2",
            "account_id": "b",
            "issued_on": date(2023, 12, 1),
            "due_on": date(2023, 12, 1),
            "currency": "usd",
            "subtotal": "1",
            "tax": "0",
            "total": "1",
            "status": "void",
        },
    ],
)
RESPONSES = staging(
    "responses",
    [
        {
            "response_id": "rb1",
            "account_id": "b",
            "survey_type": "nps",
            "score": 10,
            "responded_at": datetime(2024, 1, 15, 12, 0, tzinfo=UTC),
        },
    ],
)
ACTIVITIES = staging(
    "activities",
    [
        {
            "activity_id": "xb1",
            "account_id": "b",
            "type": "call",
            "occurred_at": datetime(2024, 4, 3, 12, 0, tzinfo=UTC),
        },
        {
            "activity_id": "xd1",
            "account_id": "d",
            "type": "call",
            "occurred_at": datetime(2024, 7, 3, 12, 0, tzinfo=UTC),
        },
    ],
)
TICKETS = staging(
    "tickets",
    [
        {
            "ticket_id": "ta1",
            "account_id": "a",
            "opened_at": datetime(2024, 1, 20, 9, 0, tzinfo=UTC),
            "resolved_at": datetime(2024, 1, 22, 9, 0, tzinfo=UTC),
            "priority": "high",
            "status": "closed",
        },
    ],
)
OPPORTUNITIES = staging(
    "opportunities",
    [
        {
            "opportunity_id": "oa1",
            "account_id": "a",
            "type": "upsell",
            "stage": "proposal",
            "amount": "1000",
            "currency": "eur",
            "created_on": date(2024, 3, 5),
            "is_closed": False,
            "is_won": False,
        },
        # gbp has no rate, but neither of these can be expansion pipeline: no rate asked
        {
            "opportunity_id": "oa2",
            "account_id": "a",
            "type": "new_business",
            "stage": "x",
            "amount": "7",
            "currency": "gbp",
            "created_on": date(2024, 2, 1),
            "is_closed": False,
            "is_won": False,
        },
        {
            "opportunity_id": "oa3",
            "account_id": "a",
            "type": "upsell",
            "stage": "lost",
            "amount": "8",
            "currency": "gbp",
            "created_on": date(2024, 2, 1),
            "is_closed": True,
            "is_won": False,
        },
    ],
)
FX_RATES = staging(
    "fx_rates",
    [
        {"date": date(2024, 1, 1), "currency": "eur", "rate": "1.10"},
        {"date": date(2024, 4, 1), "currency": "eur", "rate": "1.20"},
    ],
)
INPUTS = {
    "accounts": ACCOUNTS,
    "subscriptions": SUBSCRIPTIONS,
    "invoices": INVOICES,
    "responses": RESPONSES,
    "activities": ACTIVITIES,
    "tickets": TICKETS,
    "opportunities": OPPORTUNITIES,
    "fx_rates": FX_RATES,
}


@pytest.fixture(scope="module")
def result() -> AccountMonthlyResult:
    return build_account_monthly(**INPUTS, reporting_month=date(2024, 6, 1), reporting_currency="USD")


def _of(result: AccountMonthlyResult, account: str, column: str) -> list[Any]:
    return result.frame.filter(pl.col("account_id") == account)[column].to_list()


def _money(*values: str | int) -> list[D]:
    return [D(v).quantize(D("0.0001")) for v in values]


def test_schema_is_exactly_account_monthly(result: AccountMonthlyResult) -> None:
    assert result.frame.schema == ACCOUNT_MONTHLY
    assert result.rejects.schema == QUARANTINE


def test_rows_run_from_the_first_data_month_to_the_reporting_month(
    result: AccountMonthlyResult,
) -> None:
    # a: first data is the January ticket (the November draft counts nowhere);
    # b: the January response (the December void invoice counts nowhere);
    # c: no data; d: only data after June.
    frame = result.frame
    assert frame["account_id"].to_list() == ["a"] * 6 + ["b"] * 6
    assert frame["month"].to_list() == MONTHS * 2
    assert frame.select("tier", "segment", "account_manager_id").unique(maintain_order=True).rows() == [
        ("strategic", "enterprise", "m1"),
        ("key", None, "m2"),
    ]


def test_mrr_converted_at_start_date_and_missing_rate_excluded(
    result: AccountMonthlyResult,
) -> None:
    # sa1 100 eur at 1.10 (10 Feb) = 110 usd, still 110 after the April rate;
    # sa2 50 eur at 1.20 (1 May) = 60; sa3 (gbp, no rate) is left out.
    assert _of(result, "a", "mrr") == _money(0, 110, 110, 110, 170, 170)
    assert _of(result, "a", "arr") == _money(0, 1320, 1320, 1320, 2040, 2040)
    assert _of(result, "a", "mrr_new") == _money(0, 110, 0, 0, 0, 0)
    assert _of(result, "a", "mrr_expansion") == _money(0, 0, 0, 0, 60, 0)
    assert _of(result, "a", "is_customer") == [False, True, True, True, True, True]
    # Apr: base Jan = 0 -> null; May 170/110-1; Jun 170/110-1
    assert _of(result, "a", "revenue_trend_3m") == pytest.approx([None, None, None, None, 170 / 110 - 1, 170 / 110 - 1])


def test_invoice_converted_at_issued_on_everywhere(result: AccountMonthlyResult) -> None:
    # ia1 at 1.10 (20 Mar): subtotal 110, tax 22, total 132 -- collected in May at the
    # issued_on rate, not May's 1.20; overdue on 30 Apr (due 19 Apr, paid 10 May).
    assert _of(result, "a", "invoiced_net") == _money(0, 0, 110, 0, 0, 0)
    assert _of(result, "a", "invoiced_tax") == _money(0, 0, 22, 0, 0, 0)
    assert _of(result, "a", "collected") == _money(0, 0, 0, 0, 132, 0)
    assert _of(result, "a", "overdue_amount") == _money(0, 0, 0, 132, 0, 0)
    # mom: Jan no base, Feb and Mar base 0, Apr 0/110-1, May and Jun base 0
    assert _of(result, "a", "invoiced_net_mom") == [None, None, None, -1.0, None, None]
    assert _of(result, "a", "invoiced_net_yoy") == [None] * 6


def test_pipeline_converted_at_created_on(result: AccountMonthlyResult) -> None:
    # oa1 1000 eur at 1.10 (5 Mar) = 1100, open through June
    assert _of(result, "a", "open_expansion_pipeline") == _money(0, 0, 1100, 1100, 1100, 1100)
    assert _of(result, "a", "tickets_opened") == [1, 0, 0, 0, 0, 0]
    assert _of(result, "a", "open_tickets") == [0] * 6
    assert _of(result, "a", "days_to_renewal") == [None] * 6  # unknown renewal date


def test_missing_rate_is_quarantined_with_a_reason(result: AccountMonthlyResult) -> None:
    expected = pl.DataFrame(
        {
            "source": ["subscriptions"],
            "stage": ["marts"],
            "file": ["subscriptions.csv"],
            "row": [3],
            "column": ["currency"],
            "value": ["gbp"],
            "reason": [
                "no gbp exchange rate on or before 2024-03-01 (billing/fx_rates has no gbp "
                "rate at all); add it to billing/fx_rates"
            ],
            "record_key": ["sa3"],
            "loaded_at": [LOADED],
        },
        schema=QUARANTINE,
    )
    # sd1 (gbp too) starts after June: ignored, so not quarantined either; nor are the
    # gbp opportunities oa2 (new business) and oa3 (closed without a date)
    assert_frame_equal(result.rejects, expected)


def test_months_without_data_have_rows_with_zeros_and_nulls(result: AccountMonthlyResult) -> None:
    feb = result.frame.filter(pl.col("account_id") == "b", pl.col("month") == date(2024, 2, 1))
    row = feb.row(0, named=True)
    zero = D("0.0000")
    for column in (
        "mrr",
        "arr",
        "mrr_previous",
        "mrr_new",
        "mrr_churn",
        "invoiced_net",
        "invoiced_tax",
        "collected",
        "overdue_amount",
        "open_expansion_pipeline",
    ):
        assert row[column] == zero, column
    for column in (
        "csat_responses_3m",
        "touches_3m",
        "tickets_opened",
        "open_tickets",
        "open_high_priority_tickets",
        "nps_detractors_12m",
    ):
        assert row[column] == 0, column
    for column in ("revenue_trend_3m", "invoiced_net_mom", "invoiced_net_yoy", "csat_3m", "days_since_last_touch"):
        assert row[column] is None, column
    assert row["is_customer"] is False
    # the January promoter is still inside February's 12-month window
    assert (row["nps_12m"], row["nps_responses_12m"], row["nps_promoters_12m"]) == (100.0, 1, 1)
    assert row["days_to_renewal"] == 306  # 2024-12-31 - 2024-02-29


def test_account_b_later_months(result: AccountMonthlyResult) -> None:
    assert _of(result, "b", "touches_3m") == [0, 0, 0, 1, 1, 1]
    assert _of(result, "b", "days_since_last_touch") == [None, None, None, 27, 58, 88]
    assert _of(result, "b", "invoiced_net") == _money(0, 0, 0, 80, 0, 0)
    assert _of(result, "b", "overdue_amount") == _money(0, 0, 0, 0, 80, 80)  # due 1 May


def test_inputs_are_not_changed(result: AccountMonthlyResult) -> None:
    assert SUBSCRIPTIONS.height == 4 and INVOICES.height == 4
    assert SUBSCRIPTIONS["mrr"].to_list() == _money(100, 50, 999, 10)
    assert result.frame.get_column("account_id").is_sorted()


def test_first_data_months_ignore_drafts_voids_and_the_future() -> None:
    firsts = first_data_months(
        subscriptions=SUBSCRIPTIONS,
        invoices=INVOICES,
        responses=RESPONSES,
        activities=ACTIVITIES,
        tickets=TICKETS,
        opportunities=OPPORTUNITIES,
        last_month=date(2024, 6, 1),
    )
    assert firsts.rows() == [("a", date(2024, 1, 1)), ("b", date(2024, 1, 1))]


def test_empty_inputs_give_an_empty_frame_of_the_right_schema() -> None:
    empty = {name: frame.head(0) for name, frame in INPUTS.items()}
    out = build_account_monthly(**empty, reporting_month=date(2024, 6, 1), reporting_currency="USD")
    assert out.frame.is_empty() and out.frame.schema == ACCOUNT_MONTHLY
    assert out.rejects.is_empty() and out.rejects.schema == QUARANTINE


@pytest.mark.parametrize("per_part", [1, 2])
def test_slices_of_accounts_build_the_same_mart(result: AccountMonthlyResult, per_part: int) -> None:
    """Every KPI of an account reads only its own records (and the shared exchange rates),
    which is what lets the asset compute a slice of accounts at a time
    (pipeline.store.mart_slices): every account's months, sums and trailing windows, and
    the quarantined record (account a's gbp subscription) are the same."""
    ids = sorted(INPUTS["accounts"]["account_id"].unique())
    assert len(ids) > per_part  # more than one slice is built
    slices = [
        build_account_monthly(
            **{
                name: frame if name == "fx_rates" else frame.filter(pl.col("account_id").is_in(ids[i : i + per_part]))
                for name, frame in INPUTS.items()
            },
            reporting_month=date(2024, 6, 1),
            reporting_currency="USD",
        )
        for i in range(0, len(ids), per_part)
    ]
    assert_frame_equal(pl.concat([s.frame for s in slices]), result.frame)
    assert_frame_equal(pl.concat([s.rejects for s in slices]), result.rejects)
