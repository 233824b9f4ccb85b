"""Cross-sell ideas on hand-built subscriptions; every expected number is worked out by hand.

The definition: peers of customer a at M are the other customers (MRR > 0 at end(M)) with the
same tier and segment; with at least 10 peers, each product that at least 40% of them
have active at end(M) and a has not is an idea, peer_share = holders / peers,
peer_median_mrr = the median of the holders' MRR for it (mean of the two middle values
for an even count); ranked by share, ties by product name; at most 3.
Subscriptions here are already in the reporting currency.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipeline.contract import source
from pipeline.schemas import MONEY, staging_schema
from pipeline.settings import SettingsError
from pipeline.transforms.cross_sell import CROSS_SELL_IDEAS, CrossSellSettings, cross_sell_ideas, product_holdings

FEB, MAR = date(2024, 2, 1), date(2024, 3, 1)  # end(FEB) = 29 Feb, end(MAR) = 31 Mar
START = date(2023, 6, 1)
SUB_SCHEMA = staging_schema(source("subscriptions"), lineage=False)
PEERS = [f"p{i:02d}" for i in range(1, 11)]  # p01 .. p10
SHOWN = ["account_id", "month", "product", "peer_share", "peer_median_mrr", "rank", "peers", "peer_holders"]


def subs(*rows: tuple) -> pl.DataFrame:
    """(account_id, product, mrr) or (account_id, product, mrr, start_date, end_date)."""
    out = []
    for i, r in enumerate(rows):
        account, product, mrr, start, end = (*r, START, None) if len(r) == 3 else r
        out.append(
            dict(
                subscription_id=f"s{i}",
                account_id=account,
                product=product,
                start_date=start,
                end_date=end,
                mrr=D(mrr),
                currency="usd",
            )
        )
    return pl.DataFrame(out, schema=SUB_SCHEMA)


def accounts(*groups: tuple[list[str], str, str | None]) -> pl.DataFrame:
    rows = [dict(account_id=a, tier=tier, segment=segment) for ids, tier, segment in groups for a in ids]
    return pl.DataFrame(rows, schema={"account_id": pl.String(), "tier": pl.String(), "segment": pl.String()})


def ideas(*rows: tuple) -> pl.DataFrame:
    """Expected rows: (account_id, month, product, peer_share, peer_median_mrr, rank, peers, peer_holders)."""
    return pl.DataFrame(
        [(*r[:4], D(r[4]), *r[5:]) for r in rows], schema={c: CROSS_SELL_IDEAS[c] for c in SHOWN}, orient="row"
    )


def core(ids: list[str], mrr: str = "500") -> list[tuple]:
    return [(a, "Core", mrr) for a in ids]


def test_ten_peers_give_ideas_nine_do_not():
    group = ["a", *PEERS]
    analytics = [("p01", "100"), ("p02", "150"), ("p03", "200"), ("p04", "250"), ("p05", "900")]
    s = subs(
        *core(group[:-1]),
        # p10's only subscription ends on 31 March: active on 29 Feb, not on 31 Mar
        ("p10", "Core", "500", START, date(2024, 3, 31)),
        *[(a, "Analytics", m) for a, m in analytics],
        ("x1", "Analytics", "300"),  # another tier: not a peer
        ("x2", "Analytics", "300"),  # another segment: not a peer
        ("x3", "Analytics", "0"),  # holds it, but MRR 0: no customer, no peer
    )
    acc = accounts(
        (group, "key", "mid_market"),
        (["x1"], "strategic", "mid_market"),
        (["x2"], "key", "smb"),
        (["x3"], "key", "mid_market"),
    )
    out = cross_sell_ideas(s, acc, [FEB, MAR])
    # February: 11 customers in the group, so 10 peers each; 5 of them hold Analytics
    # (median of 100, 150, 200, 250, 900 = 200). In March p10 is gone: 9 peers, no ideas.
    assert_frame_equal(
        out.select(SHOWN),
        ideas(*[(a, FEB, "Analytics", 0.5, "200", 1, 10, 5) for a in ["a", "p06", "p07", "p08", "p09", "p10"]]),
    )
    assert out.schema == CROSS_SELL_IDEAS


def test_ranked_by_share_ties_by_name_at_most_three():
    held = {
        "Extra": PEERS[:7],  # 0.7
        "Analytics": PEERS[:6],  # 0.6
        "Backup": PEERS[4:],  # 0.6: ties with Analytics, after it by name
        "Zeta": PEERS[:4],  # 0.4: exactly the threshold
        "Mail": PEERS[:3],  # 0.3: below it
    }
    s = subs(*core(["a", *PEERS]), *[(a, product, "10") for product, ids in held.items() for a in ids])
    acc = accounts((["a", *PEERS], "key", "enterprise"))
    out = cross_sell_ideas(s, acc, [FEB]).filter(pl.col("account_id") == "a")
    assert_frame_equal(
        out.select(SHOWN),
        ideas(
            ("a", FEB, "Extra", 0.7, "10", 1, 10, 7),
            ("a", FEB, "Analytics", 0.6, "10", 2, 10, 6),
            ("a", FEB, "Backup", 0.6, "10", 3, 10, 6),
        ),
    )
    five = cross_sell_ideas(s, acc, [FEB], CrossSellSettings(max_ideas=5)).filter(pl.col("account_id") == "a")
    assert five.select("product", "rank", "peer_share").rows() == [
        ("Extra", 1, 0.7),
        ("Analytics", 2, 0.6),
        ("Backup", 3, 0.6),
        ("Zeta", 4, 0.4),
    ]


def test_a_product_the_account_has_is_no_idea():
    s = subs(
        *core(["a", *PEERS]),
        ("a", "Analytics", "0"),  # a free add-on still counts as held
        ("a", "Backup", "40", START, date(2024, 2, 15)),  # ended before 29 Feb: no longer held
        *[(a, "Analytics", "50") for a in PEERS[:8]],
        *[(a, "Backup", "40") for a in PEERS[:5]],
    )
    acc = accounts((["a", *PEERS], "transactional", "smb"))
    out = cross_sell_ideas(s, acc, [FEB]).filter(pl.col("account_id") == "a")
    assert_frame_equal(out.select(SHOWN), ideas(("a", FEB, "Backup", 0.5, "40", 1, 10, 5)))


def test_even_count_median_is_the_exact_mean_of_the_middle_two():
    g1 = ["a", *PEERS]
    g2 = ["b", *[f"q{i:02d}" for i in range(1, 11)]]
    s = subs(
        *core(g1),
        *core(g2),
        # four holders (4 of 10 = 40%): 100.00, 150.01 + 50.00 = 200.01 (two subscriptions add up), 300, 1000
        ("p01", "Analytics", "100.00"),
        ("p02", "Analytics", "150.01"),
        ("p02", "Analytics", "50.00"),
        ("p03", "Analytics", "300.00"),
        ("p04", "Analytics", "1000.00"),
        # sub-cent amounts: (1.0001 + 2.0000) / 2 = 1.50005, rounded half away from zero to 1.5001
        ("q01", "Reports", "1.0000"),
        ("q02", "Reports", "1.0001"),
        ("q03", "Reports", "2.0000"),
        ("q04", "Reports", "9.0000"),
    )
    acc = accounts((g1, "key", "smb"), (g2, "key", "enterprise"))
    out = cross_sell_ideas(s, acc, [FEB]).filter(pl.col("account_id").is_in(["a", "b"]))
    assert_frame_equal(
        out.select(SHOWN),
        ideas(
            ("a", FEB, "Analytics", 0.4, "250.005", 1, 10, 4),  # (200.01 + 300.00) / 2
            ("b", FEB, "Reports", 0.4, "1.5001", 1, 10, 4),
        ),
    )


def test_an_account_without_a_segment_has_no_peers():
    s = subs(*core(["a", *PEERS]), *[(a, "Analytics", "10") for a in PEERS])
    acc = accounts((["a", *PEERS], "key", None))
    assert cross_sell_ideas(s, acc, [FEB]).height == 0


def test_holdings_follow_the_mrr_rule_on_month_ends():
    s = subs(
        ("a", "Core", "100", date(2024, 2, 29), None),  # starts on end(FEB): active
        ("a", "Core", "5", date(2024, 1, 10), date(2024, 3, 1)),  # ends the day after end(FEB): active in Feb
        ("a", "Mail", "7", date(2024, 3, 31), None),  # starts on end(MAR)
        ("a", "Late", "9", date(2024, 4, 1), None),  # after both months
    )
    out = product_holdings(s, [MAR, FEB])
    expected = pl.DataFrame(
        [("a", FEB, "Core", D("105")), ("a", MAR, "Core", D("100")), ("a", MAR, "Mail", D("7"))],
        schema={"account_id": pl.String(), "month": pl.Date(), "product": pl.String(), "product_mrr": MONEY},
        orient="row",
    )
    assert_frame_equal(out, expected)


def test_empty_input_and_settings():
    out = cross_sell_ideas(subs(), accounts(), [FEB])
    assert out.height == 0 and out.schema == CROSS_SELL_IDEAS
    for bad in (
        replace(CrossSellSettings(), min_peers=0),
        replace(CrossSellSettings(), min_peer_share=1.5),
        replace(CrossSellSettings(), max_ideas=0),
    ):
        with pytest.raises(SettingsError):
            bad.validate()
