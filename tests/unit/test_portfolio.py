"""Portfolio rates on hand-built ACCOUNT_MONTHLY rows; every expected number is worked out by hand.

The main case, reporting month M = 2024-01 (M-12 = 2023-01):

    account tier          segment     manager  MRR(2023-01)  MRR(2023-12)  MRR(2024-01)  movement in 2024-01
    A       key           enterprise  m1            100           100            0       churn 100
    B       key           smb         m2            200           250          300       expansion 50
    C       strategic     (none)      m1            400           400          350       contraction 50
    D       transactional smb         m2        (no row)            0           80       new 80
    E       transactional enterprise  m2              0             0           60       reactivation 60
    F       strategic     enterprise  m1            500           500          500       none
    G       key           mid_market  m3              0             0            0       none (lapsed)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.schemas import ACCOUNT_MONTHLY, MONEY, PORTFOLIO_MONTHLY
from pipeline.transforms.portfolio import (
    ACCOUNT_MONTHLY_READ,
    bridge_violations,
    group_sums,
    portfolio_from_group_sums,
    portfolio_monthly,
)

Y23, M = date(2023, 1, 1), date(2024, 1, 1)
MOVEMENTS = ("mrr_new", "mrr_expansion", "mrr_contraction", "mrr_churn", "mrr_reactivation")
ADDITIVE = (
    "mrr_start",
    "mrr_end",
    "arr_end",
    *MOVEMENTS,
    "customers_start",
    "customers_end",
    "new_customers",
    "churned_customers",
    "reactivated_customers",
    "nps_responses_12m",
    "csat_responses_3m",
    "invoiced_net",
    "collected",
    "overdue_amount",
    "touches_3m",
    "accounts",
    "accounts_green",
    "accounts_amber",
    "accounts_red",
    "accounts_insufficient_data",
)
GROUPS = dict(
    A=("key", "enterprise", "m1"),
    B=("key", "smb", "m2"),
    C=("strategic", None, "m1"),
    D=("transactional", "smb", "m2"),
    E=("transactional", "enterprise", "m2"),
    F=("strategic", "enterprise", "m1"),
    G=("key", "mid_market", "m3"),
)


def row(account: str, month: date, prev, curr, **extra) -> dict:
    """One ACCOUNT_MONTHLY row; the movement columns are given in ``extra`` (default 0)."""
    tier, segment, manager = GROUPS.get(account, ("key", "smb", "m1"))
    r = {name: None for name in ACCOUNT_MONTHLY.names()}
    for c, dt in ACCOUNT_MONTHLY.items():
        if dt == MONEY:
            r[c] = "0"
    r.update(
        account_id=account,
        month=month,
        tier=tier,
        segment=segment,
        account_manager_id=manager,
        mrr_previous=prev,
        mrr=curr,
    )
    r.update(extra)
    for c, dt in ACCOUNT_MONTHLY.items():
        if dt == MONEY and r[c] is not None:
            r[c] = Decimal(str(r[c]))
    r["arr"] = r["mrr"] * 12
    r["is_customer"] = r["mrr"] > 0
    return r


def frame(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ACCOUNT_MONTHLY)


def main_case() -> pl.DataFrame:
    return frame(
        # 2023-01: no movement, MRR(M-12) of the cohort
        row("A", Y23, 100, 100),
        row("B", Y23, 200, 200),
        row("C", Y23, 400, 400),
        row("E", Y23, 0, 0),
        row("F", Y23, 500, 500),
        row("G", Y23, 0, 0),
        # 2024-01
        row("A", M, 100, 0, mrr_churn=100, overdue_amount="100"),
        row(
            "B",
            M,
            250,
            300,
            mrr_expansion=50,
            invoiced_net="300",
            touches_3m=3,
            nps_promoters_12m=9,
            nps_detractors_12m=1,
            nps_responses_12m=10,
            nps_12m=80.0,
            csat_satisfied_3m=3,
            csat_responses_3m=4,
            csat_3m=75.0,
        ),
        row(
            "C",
            M,
            400,
            350,
            mrr_contraction=50,
            touches_3m=2,
            nps_promoters_12m=1,
            nps_detractors_12m=0,
            nps_responses_12m=2,
            nps_12m=50.0,
        ),
        row("D", M, 0, 80, mrr_new=80, csat_satisfied_3m=0, csat_responses_3m=1, csat_3m=0.0),
        row("E", M, 0, 60, mrr_reactivation=60),
        row(
            "F",
            M,
            500,
            500,
            invoiced_net="500",
            collected="450",
            nps_promoters_12m=0,
            nps_detractors_12m=1,
            nps_responses_12m=1,
            nps_12m=-100.0,
        ),
        row("G", M, 0, 0),
    )


def run(
    am: pl.DataFrame,
    health: pl.DataFrame | None = None,
    gross_margin: float = 0.8,
    first_billing_month: date | None = Y23,
) -> pl.DataFrame:
    return portfolio_monthly(am, health, gross_margin=gross_margin, first_billing_month=first_billing_month)


def get(result: pl.DataFrame, grouping: str, value: str, month: date = M) -> dict:
    rows = result.filter(
        (pl.col("month") == month) & (pl.col("grouping") == grouping) & (pl.col("group_value") == value)
    ).to_dicts()
    assert len(rows) == 1, (grouping, value, month)
    return rows[0]


def d(text: str) -> Decimal:
    return Decimal(text)


def test_the_columns_the_asset_reads_are_all_it_needs():
    """The asset reads only ACCOUNT_MONTHLY_READ of account_monthly."""
    am = main_case()
    assert set(ACCOUNT_MONTHLY_READ) < set(am.columns)
    assert run(am.select(ACCOUNT_MONTHLY_READ)).equals(run(am))


def test_schema_and_rows():
    out = run(main_case())
    assert out.schema == PORTFOLIO_MONTHLY
    keys = out.filter(pl.col("month") == M).select("grouping", "group_value").rows()
    assert keys == [
        ("all", "all"),
        ("tier", "key"),
        ("tier", "strategic"),
        ("tier", "transactional"),
        ("segment", "enterprise"),
        ("segment", "mid_market"),
        ("segment", "smb"),
        ("segment", "unassigned"),
        ("account_manager", "m1"),
        ("account_manager", "m2"),
        ("account_manager", "m3"),
    ]
    assert out["month"].unique().sort().to_list() == [Y23, M]


def test_all_money_counts_and_bridge():
    a = get(run(main_case()), "all", "all")
    # mrr_start = 100 + 250 + 400 + 0 + 0 + 500 + 0 = 1250; mrr_end = 0 + 300 + 350 + 80 + 60 + 500 + 0 = 1290
    assert a["mrr_start"] == d("1250") and a["mrr_end"] == d("1290") and a["arr_end"] == d("15480")
    assert (a["mrr_new"], a["mrr_reactivation"], a["mrr_expansion"], a["mrr_contraction"], a["mrr_churn"]) == (
        d("80"),
        d("60"),
        d("50"),
        d("50"),
        d("100"),
    )
    # 1250 + 80 + 60 + 50 - 50 - 100 = 1290
    assert (
        a["mrr_start"]
        + a["mrr_new"]
        + a["mrr_reactivation"]
        + a["mrr_expansion"]
        - a["mrr_contraction"]
        - a["mrr_churn"]
        == a["mrr_end"]
    )
    # start: A B C F; end: B C D E F
    assert (a["customers_start"], a["customers_end"]) == (4, 5)
    assert (a["new_customers"], a["churned_customers"], a["reactivated_customers"]) == (1, 1, 1)
    assert a["accounts"] == 7
    assert (a["invoiced_net"], a["collected"], a["overdue_amount"], a["touches_3m"]) == (
        d("800"),
        d("450"),
        d("100"),
        5,
    )


def test_one_month_rates():
    a = get(run(main_case()), "all", "all")
    assert a["logo_retention_1m"] == pytest.approx(0.75)  # (4 - 1) / 4
    assert a["nrr_1m"] == pytest.approx(0.92)  # (1250 + 50 - 50 - 100) / 1250 = 1150 / 1250
    assert a["grr_1m"] == pytest.approx(0.88)  # (1250 - 50 - 100) / 1250 = 1100 / 1250
    assert a["expansion_rate_1m"] == pytest.approx(0.04)  # 50 / 1250
    assert a["arpa"] == d("258")  # 1290 / 5
    key = get(run(main_case()), "tier", "key")  # A, B, G
    # start 100 + 250 = 350, customers A B -> end B
    assert key["logo_retention_1m"] == pytest.approx(0.5)  # (2 - 1) / 2
    assert key["nrr_1m"] == pytest.approx(300 / 350)  # (350 + 50 - 0 - 100) / 350
    assert key["grr_1m"] == pytest.approx(250 / 350)  # (350 - 0 - 100) / 350
    assert key["arpa"] == d("300")  # 300 / 1


def test_arpa_is_a_rounded_decimal():
    out = run(
        frame(
            row("x", M, 0, "100", mrr_new="100"),
            row("y", M, 0, "100", mrr_new="100"),
            row("z", M, 0, "0.01", mrr_new="0.01"),
        )
    )
    # 200.01 / 3 = 66.67 exactly at 4 decimals: 66.6700
    assert get(out, "all", "all")["arpa"] == d("66.6700")


def test_zero_denominators_give_null():
    out = run(main_case())
    transactional = get(out, "tier", "transactional")  # D new, E reactivated: nobody at start
    assert transactional["customers_start"] == 0 and transactional["mrr_start"] == d("0")
    for rate in (
        "logo_retention_1m",
        "nrr_1m",
        "grr_1m",
        "expansion_rate_1m",
        "logo_retention_12m",
        "nrr_12m",
        "grr_12m",
        "customer_churn_rate_6m",
        "ltv",
    ):
        assert transactional[rate] is None, rate
    assert transactional["arpa"] == d("70")  # (80 + 60) / 2
    m3 = get(out, "account_manager", "m3")  # G only: no customers at start or end, no responses
    assert m3["customers_end"] == 0 and m3["arpa"] is None
    assert m3["nps_12m"] is None and m3["csat_3m"] is None
    assert m3["accounts"] == 1


def test_twelve_month_cohort():
    a = get(run(main_case()), "all", "all")
    # C = customers at end of 2023-01: A 100, B 200, C 400, F 500 (E had 0, D had no row); Σ = 1200
    assert a["nrr_12m"] == pytest.approx(1150 / 1200)  # (0 + 300 + 350 + 500) / 1200; D and E not counted
    assert a["grr_12m"] == pytest.approx(1050 / 1200)  # min: 0 + 200 + 350 + 500
    assert a["logo_retention_12m"] == pytest.approx(0.75)  # B C F of A B C F
    m1 = get(run(main_case()), "account_manager", "m1")  # A C F: then 1000, now 850, min 850
    assert m1["nrr_12m"] == pytest.approx(0.85) and m1["grr_12m"] == pytest.approx(0.85)
    assert m1["logo_retention_12m"] == pytest.approx(2 / 3)
    m2 = get(run(main_case()), "account_manager", "m2")  # B 200 -> 300 (D, E not in the cohort)
    assert m2["nrr_12m"] == pytest.approx(1.5) and m2["grr_12m"] == pytest.approx(1.0)
    assert m2["logo_retention_12m"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("first", "available"),
    [
        (date(2023, 1, 1), True),  # M-12 = 2023-01 is the first month: available
        (date(2023, 1, 15), True),  # only the month of first_billing_month counts
        (date(2023, 2, 1), False),  # M-12 = 2023-01 is before the first month of billing data
        (None, False),  # first month unknown
    ],
)
def test_twelve_month_rates_null_before_the_first_billing_month(first, available):
    out = run(main_case(), first_billing_month=first)
    a = get(out, "all", "all")
    for rate in ("nrr_12m", "grr_12m", "logo_retention_12m"):
        assert (a[rate] is not None) == available, rate
        # the 2023-01 rows (M-12 = 2022-01) never have a 12-month rate
        assert out.filter(pl.col("month") == Y23)[rate].null_count() == out.filter(pl.col("month") == Y23).height
    # the 1-month rates do not depend on it
    assert a["nrr_1m"] == pytest.approx(0.92)


def test_customer_churn_rate_6m_and_ltv():
    months = [date(2024, m, 1) for m in range(1, 8)]
    jan, feb, mar, apr, may, jun, jul = months
    rows = []

    def month(m: date, staying: int, churning: int, tier: str = "key"):
        for i in range(staying):
            rows.append(row(f"{tier}-stays-{i}", m, 100, 100) | {"tier": tier})
        for i in range(churning):
            rows.append(row(f"{tier}-churns-{m.month}-{i}", m, 100, 0, mrr_churn=100) | {"tier": tier})

    month(jan, 1, 1)  # customers_start 2, churned 1
    # February: no rows at all (counts 0)
    month(mar, 3, 0)  # 3, 0
    month(apr, 2, 0)  # 2, 0
    month(may, 3, 1)  # 4, 1
    month(jun, 4, 0)  # 4, 0
    month(jul, 4, 1)  # 5, 1
    for m in months[:1] + months[2:]:
        month(m, 2, 0, tier="strategic")  # never churns: rate 0, ltv null
    out = run(frame(*rows), gross_margin=0.9)

    key = {r["month"]: r for r in out.filter(grouping="tier", group_value="key").iter_rows(named=True)}
    assert key[mar]["customer_churn_rate_6m"] == pytest.approx(1 / 5)  # Oct..Mar: (1 + 0) / (2 + 0 + 3)
    assert key[apr]["customer_churn_rate_6m"] == pytest.approx(1 / 7)  # Nov..Apr: 1 / (2 + 3 + 2)
    assert key[jun]["customer_churn_rate_6m"] == pytest.approx(2 / 15)  # Jan..Jun: (1+1) / (2+0+3+2+4+4)
    assert key[jul]["customer_churn_rate_6m"] == pytest.approx(2 / 18)  # Feb..Jul: (1+1) / (0+3+2+4+4+5); Jan dropped
    # July: 4 customers at 100 -> arpa 100; ltv = 100 * 0.9 / (2/18) = 810
    assert key[jul]["arpa"] == d("100")
    assert key[jul]["ltv"] == pytest.approx(810.0)
    # June: arpa 400/4 = 100; ltv = 100 * 0.9 / (2/15) = 675
    assert key[jun]["ltv"] == pytest.approx(675.0)
    assert feb not in key

    strategic = out.filter(grouping="tier", group_value="strategic")
    assert strategic["customer_churn_rate_6m"].to_list() == [0.0] * 6
    assert strategic["ltv"].null_count() == 6  # rate 0: null, not infinite


def test_groupings_add_up_to_all():
    health = pl.DataFrame(
        {
            "account_id": list("ABCDEF"),
            "month": [M] * 6,
            "band": ["red", "green", "amber", "insufficient_data", "green", "green"],
        }
    )
    out = run(main_case(), health)
    totals = out.filter(grouping="all").select("month", *ADDITIVE).sort("month")
    for grouping in ("tier", "segment", "account_manager"):
        summed = (
            out.filter(grouping=grouping)
            .group_by("month")
            .agg([pl.col(c).sum().cast(out.schema[c]) for c in ADDITIVE])
            .select("month", *ADDITIVE)
            .sort("month")
        )
        assert summed.equals(totals), grouping


def test_pooled_voice_of_the_customer_is_response_weighted():
    out = run(main_case())
    a = get(out, "all", "all")
    # promoters 9 + 1 + 0 = 10, detractors 1 + 0 + 1 = 2, responses 10 + 2 + 1 = 13
    assert a["nps_responses_12m"] == 13
    assert a["nps_12m"] == pytest.approx(100 * 8 / 13)  # 61.54; the mean of 80, 50, -100 is 10
    # satisfied 3 + 0 = 3 of 4 + 1 = 5 responses
    assert a["csat_responses_3m"] == 5 and a["csat_3m"] == pytest.approx(60.0)  # mean of 75 and 0 is 37.5
    strategic = get(out, "tier", "strategic")  # C (1 promoter of 2) and F (1 detractor of 1)
    assert strategic["nps_12m"] == pytest.approx(0.0)  # 100 * (1 - 1) / 3; the mean of 50 and -100 is -25


def test_band_counts():
    health = pl.DataFrame(
        {
            "account_id": list("ABCDEF"),
            "month": [M] * 6,
            "band": ["red", "green", "amber", "insufficient_data", "green", "green"],
        }
    )  # G has no health row: counted in no band
    out = run(main_case(), health)
    a = get(out, "all", "all")
    assert (a["accounts_green"], a["accounts_amber"], a["accounts_red"], a["accounts_insufficient_data"]) == (
        3,
        1,
        1,
        1,
    )
    m1 = get(out, "account_manager", "m1")  # A red, C amber, F green
    assert (m1["accounts_green"], m1["accounts_amber"], m1["accounts_red"], m1["accounts_insufficient_data"]) == (
        1,
        1,
        1,
        0,
    )
    without = get(run(main_case(), None), "all", "all")
    assert (
        without["accounts_green"],
        without["accounts_amber"],
        without["accounts_red"],
        without["accounts_insufficient_data"],
    ) == (0, 0, 0, 0)


def test_bridge_violations():
    out = run(main_case())
    assert bridge_violations(out).height == 0
    broken = out.with_columns(
        mrr_end=pl.when((pl.col("grouping") == "all") & (pl.col("month") == M))
        .then(pl.col("mrr_end") + pl.lit(Decimal("0.01"), dtype=MONEY))
        .otherwise(pl.col("mrr_end"))
        .cast(MONEY)
    )
    v = bridge_violations(broken)
    assert v.select("month", "grouping", "group_value").rows() == [(M, "all", "all")]
    assert v["expected_mrr_end"].to_list() == [d("1290")] and v["difference"].to_list() == [d("0.01")]


def test_duplicate_account_months_are_refused():
    with pytest.raises(ValueError, match="share an account and month"):
        run(frame(row("A", M, 0, 10, mrr_new=10), row("A", M, 0, 10, mrr_new=10)))


def test_two_thousand_accounts_by_36_months_keep_the_bridge():

    import numpy as np

    n, months = 2_000, 36
    rng = np.random.default_rng(7)
    month_list = pl.date_range(date(2021, 1, 1), date(2023, 12, 1), "1mo", eager=True)
    mrr = pl.Series(rng.integers(0, 5000, n * months) * (rng.random(n * months) > 0.1)).cast(MONEY)
    base = pl.DataFrame(
        {
            "account_id": np.repeat([f"a{i:05d}" for i in range(n)], months),
            "month": pl.concat([month_list] * n),
            "tier": np.repeat(rng.choice(["strategic", "key", "transactional"], n), months),
            "segment": np.repeat(rng.choice(["enterprise", "mid_market", "smb"], n), months),
            "account_manager_id": np.repeat(rng.choice([f"m{i}" for i in range(40)], n), months),
            "mrr": mrr,
        }
    )
    prev = pl.col("mrr").shift(1).over("account_id").fill_null(Decimal(0)).cast(MONEY)
    am = base.with_columns(mrr_previous=prev).with_columns(
        mrr_new=pl.when((pl.col("mrr_previous") == 0) & (pl.col("mrr") > 0)).then(pl.col("mrr")).otherwise(0),
        mrr_churn=pl.when((pl.col("mrr_previous") > 0) & (pl.col("mrr") == 0))
        .then(pl.col("mrr_previous"))
        .otherwise(0),
        mrr_expansion=pl.when((pl.col("mrr_previous") > 0) & (pl.col("mrr") > pl.col("mrr_previous")))
        .then(pl.col("mrr") - pl.col("mrr_previous"))
        .otherwise(0),
        mrr_contraction=pl.when(
            (pl.col("mrr_previous") > 0) & (pl.col("mrr") > 0) & (pl.col("mrr") < pl.col("mrr_previous"))
        )
        .then(pl.col("mrr_previous") - pl.col("mrr"))
        .otherwise(0),
        mrr_reactivation=pl.lit(0),
    )
    am = am.select(
        [(pl.col(c) if c in am.columns else pl.lit(None)).cast(dt).alias(c) for c, dt in ACCOUNT_MONTHLY.items()]
    )
    out = run(am, None, first_billing_month=date(2021, 1, 1))
    assert out.filter(grouping="all").height == 36
    assert bridge_violations(out).height == 0

    # Summed a slice of accounts at a time (as the asset does), with bands on some
    # account-months: every number is the same, 12-month cohorts and 6-month windows too.
    health = am.filter(pl.col("mrr") > 2500).select(
        "account_id", "month", band=pl.when(pl.col("mrr") > 4000).then(pl.lit("green")).otherwise(pl.lit("red"))
    )
    ids = sorted(am["account_id"].unique())
    parts = [
        group_sums(
            am.filter(pl.col("account_id").is_in(ids[i : i + 700])),
            health.filter(pl.col("account_id").is_in(ids[i : i + 700])),
        )
        for i in range(0, n, 700)
    ]
    sliced = portfolio_from_group_sums(parts, gross_margin=0.8, first_billing_month=date(2021, 1, 1))
    assert len(parts) == 3
    assert_frame_equal(sliced, run(am, health, first_billing_month=date(2021, 1, 1)))
