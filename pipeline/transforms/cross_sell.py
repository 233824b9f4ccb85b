"""Cross-sell ideas: products a customer's peers have and it has not.

For a customer a at M (MRR > 0 at end(M)), its peers are the *other* customers at M with
the same tier and segment. With at least ``min_peers`` peers, every product that at
least ``min_peer_share`` of the peers have active at end(M), and a has not, is an idea,
with peer_share = holders / peers and peer_median_mrr = the median over the holders of
their MRR for that product. Ranked by peer_share (highest first), ties by product name;
at most ``max_ideas`` per customer and month.

Pure Polars in, Polars out. ``subscriptions`` must already be in the reporting
currency, converted at their start_date (``fx.convert`` / ``convert_or_quarantine``,
as ``account_monthly.build_account_monthly`` does): the same frame that feeds MRR, so
"customer" here is exactly mrr > 0 in ``marts.account_monthly``.

Rules this module settles where the definition of cross-sell ideas leaves a choice:

- "Active at end(M)" is the MRR rule: start_date <= end(M) and (end_date empty or
  end(M) < end_date). A product is *held* when at least one of the account's
  subscriptions of it is active, whatever its amount (a free add-on is held); its MRR
  for the product is the sum of those subscriptions.
- A customer is an account with Σ active MRR > 0; an account with only zero-amount
  subscriptions holds products but is no customer, so it is nobody's peer and gets no
  ideas.
- Products are compared as their exact text (staging keeps them as written).
- An account without a segment (or tier) has no peer group: "same segment" is unknown,
  so it gets no ideas and is nobody's peer.
- A product the account held earlier and no longer holds at end(M) can be an idea.
- peer_median_mrr is exact Decimal: the middle value for an odd count; for an even count
  (lo + hi) / 2 computed exactly and rounded once to 4 decimals half away from zero
  (the MONEY scale, as fx conversion rounds). Amounts with at most 3 decimals (cents)
  never need that rounding, so the median is exact to the cent.
- The 40% test is exact, in integers: holders × 5 >= peers × 2 for 0.4 (exactly 40% is
  an idea). peer_share is a float (holders / peers), for display and ranking only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import cast

import polars as pl

from pipeline.schemas import CROSS_SELL_IDEAS, MONEY
from pipeline.settings import CrossSellSettings
from pipeline.transforms.calendar import ACCOUNT, MONTH, month_end, month_start
from pipeline.transforms.fx import convert

__all__ = ["CROSS_SELL_IDEAS", "CrossSellSettings", "build_cross_sell_ideas", "cross_sell_ideas", "product_holdings"]

HOLDINGS = pl.Schema({"account_id": pl.String(), "month": pl.Date(), "product": pl.String(), "product_mrr": MONEY})

_EXACT = pl.Decimal(38, 10)
DEFAULT_SETTINGS = CrossSellSettings()


def product_holdings(subscriptions: pl.DataFrame, months: Iterable[date]) -> pl.DataFrame:
    """HOLDINGS: per account, month and product held at end(M), the product's MRR.

    ``subscriptions`` in the reporting currency (account_id, product, start_date,
    end_date, mrr). Active on end(M): start_date <= end(M) < end_date (or no end_date).
    """
    month_list = sorted({month_start(m) for m in months})
    ends = pl.DataFrame({MONTH: month_list}, schema={MONTH: pl.Date()}).with_columns(_end=pl.col(MONTH).dt.month_end())
    subs = subscriptions.select(
        pl.col(ACCOUNT).cast(pl.String),
        pl.col("product").cast(pl.String),
        pl.col("start_date").cast(pl.Date),
        pl.col("end_date").cast(pl.Date),
        pl.col("mrr").cast(MONEY),
    )
    return (
        subs.lazy()
        .join(ends.lazy(), how="cross")
        .filter(
            (pl.col("start_date") <= pl.col("_end"))
            & (pl.col("end_date").is_null() | (pl.col("_end") < pl.col("end_date")))
        )
        .group_by(ACCOUNT, MONTH, "product")
        .agg(pl.col("mrr").sum().cast(MONEY).alias("product_mrr"))
        .sort(ACCOUNT, MONTH, "product")
        .collect()
        .select([pl.col(c).cast(t) for c, t in HOLDINGS.items()])
    )


def _median(values: pl.Expr, count: pl.Expr) -> pl.Expr:
    """Exact median of a sorted list of MONEY values (see the module notes)."""
    lo = values.list.get((count - 1) // 2)
    hi = values.list.get(count // 2)
    half = pl.lit(Decimal("0.5"), dtype=pl.Decimal(38, 1))
    return ((lo.cast(_EXACT) + hi.cast(_EXACT)) * half).round(4, mode="half_away_from_zero").cast(MONEY)


def cross_sell_ideas(
    subscriptions: pl.DataFrame,
    accounts: pl.DataFrame,
    months: Iterable[date],
    settings: CrossSellSettings = DEFAULT_SETTINGS,
) -> pl.DataFrame:
    """CROSS_SELL_IDEAS for every customer and every month in ``months``.

    ``subscriptions`` in the reporting currency (see the module notes); ``accounts`` the
    staging accounts (account_id, tier, segment: each account's current values, as on
    every ACCOUNT_MONTHLY row). Sorted by month, account_id, rank.
    """
    settings.validate()
    share = Fraction(str(settings.min_peer_share)).limit_denominator(1_000_000)
    held = product_holdings(subscriptions, months)
    groups = accounts.select(
        pl.col(ACCOUNT).cast(pl.String), pl.col("tier").cast(pl.String), pl.col("segment").cast(pl.String)
    ).unique(ACCOUNT, keep="last", maintain_order=True)
    customers = (
        held.group_by(ACCOUNT, MONTH)
        .agg(pl.col("product_mrr").sum().alias("_mrr"))
        .filter(pl.col("_mrr") > 0)
        .join(groups, on=ACCOUNT, how="inner")
        .filter(pl.col("tier").is_not_null() & pl.col("segment").is_not_null())
        .drop("_mrr")
    )
    key = [MONTH, "tier", "segment"]
    sizes = customers.group_by(key).agg(pl.len().cast(pl.Int64).alias("_group_size"))
    # holders within each group: customers only (a non-customer is nobody's peer)
    by_product = (
        held.join(customers, on=[ACCOUNT, MONTH], how="inner")
        .group_by(*key, "product")
        .agg(
            pl.len().cast(pl.Int64).alias("peer_holders"),
            pl.col("product_mrr").sort().alias("_values"),
        )
        .with_columns(peer_median_mrr=_median(pl.col("_values"), pl.col("peer_holders")))
        .drop("_values")
    )
    # For a customer without the product, every holder in its group is another customer,
    # so the holders among its peers are the group's holders and its peers are the
    # group's size minus itself.
    ideas = (
        customers.join(sizes, on=key, how="inner")
        .with_columns(peers=pl.col("_group_size") - 1)
        .filter(pl.col("peers") >= settings.min_peers)
        .join(by_product, on=key, how="inner")
        .join(held.select(ACCOUNT, MONTH, "product"), on=[ACCOUNT, MONTH, "product"], how="anti")
        # holders / peers >= share, in integers: exact at the edge (4 of 10 is 40%)
        .filter(pl.col("peer_holders") * share.denominator >= pl.col("peers") * share.numerator)
        # one account-month has one peer count, so more holders is a higher share, exactly
        .sort([MONTH, ACCOUNT, "peer_holders", "product"], descending=[False, False, True, False])
        .with_columns(rank=(pl.int_range(pl.len()).over(ACCOUNT, MONTH) + 1).cast(pl.Int64))
        .filter(pl.col("rank") <= settings.max_ideas)
    )
    # Python's division, correctly rounded: Polars 2.1 divides by a column broadcast from
    # a join through its reciprocal (7 / 10 gave 0.7000000000000001).
    shares = [h / p for h, p in zip(ideas["peer_holders"], ideas["peers"], strict=True)]
    ideas = ideas.with_columns(peer_share=pl.Series(shares, dtype=pl.Float64))
    return ideas.select([pl.col(c).cast(t) for c, t in CROSS_SELL_IDEAS.items()]).sort(MONTH, ACCOUNT, "rank")


def build_cross_sell_ideas(
    *,
    subscriptions: pl.DataFrame,
    fx_rates: pl.DataFrame,
    accounts: pl.DataFrame,
    reporting_month: date,
    reporting_currency: str,
    settings: CrossSellSettings = DEFAULT_SETTINGS,
) -> pl.DataFrame:
    """CROSS_SELL_IDEAS for every month from the first subscription's to the reporting
    month, from staged subscriptions (converted here as for MRR: at start_date; one
    without a rate is left out, as it is of MRR, and already quarantined there)."""
    last = month_start(reporting_month)
    dated = subscriptions.filter(pl.col("start_date") <= month_end(last))
    converted, _missing = convert(dated, ("mrr",), "currency", "start_date", fx_rates, reporting_currency)
    if converted.is_empty():
        return pl.DataFrame(schema=CROSS_SELL_IDEAS)
    first = month_start(cast(date, converted["start_date"].min()))
    months = pl.date_range(first, last, interval="1mo", eager=True).to_list()
    return cross_sell_ideas(converted, accounts, months, settings)
