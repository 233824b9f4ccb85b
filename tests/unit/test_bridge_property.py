"""The MRR bridge holds for any set of subscriptions, and MRR matches the day-level rule.

For every account-month: mrr = mrr_previous + new + reactivation + expansion
- contraction - churn, exactly (Decimal), and exactly one movement is non-zero when MRR
changed (none when it did not). MRR itself is checked against a brute-force reading of
docs/metrics.md (active on end(M): start_date <= end(M) < end_date), and new versus
reactivation against the account's whole history.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.schemas import MONEY
from pipeline.transforms.calendar import add_months, month_end, month_range, month_spine
from pipeline.transforms.recurring_revenue import MOVEMENTS, monthly_mrr
from tests.support.budgets import examples

BASE = date(2024, 1, 1)
LAST = date(2025, 12, 1)  # 24 months
ACCOUNTS = ("a", "b", "c")

subscription = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.integers(min_value=0, max_value=740),  # start: days after BASE
    st.one_of(st.none(), st.integers(min_value=1, max_value=400)),  # length in days
    st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False),
)


def _frame(subs: list[tuple[str, int, int | None, Decimal]]) -> pl.DataFrame:
    rows = []
    for account, start, length, mrr in subs:
        start_date = BASE + timedelta(days=start)
        end_date = None if length is None else start_date + timedelta(days=length)
        rows.append((account, start_date, end_date, mrr))
    return pl.DataFrame(
        rows,
        schema={"account_id": pl.String(), "start_date": pl.Date(), "end_date": pl.Date(), "mrr": MONEY},
        orient="row",
    )


def _oracle(frame: pl.DataFrame) -> dict[tuple[str, date], Decimal]:
    """MRR per (account, month) for BASE-1 .. LAST, straight from the day-level rule."""
    months = month_range(add_months(BASE, -1), LAST)
    mrr = {(a, m): Decimal("0") for a in ACCOUNTS for m in months}
    for account, start, end, amount in frame.iter_rows():
        for m in months:
            d = month_end(m)
            if start <= d and (end is None or d < end):
                mrr[account, m] += amount
    return mrr


@settings(max_examples=examples(100), deadline=None)
@given(
    subs=st.lists(subscription, min_size=1, max_size=12),
    spine_delay=st.integers(min_value=0, max_value=6),
)
def test_bridge_identity_and_one_movement(subs: list[tuple[str, int, int | None, Decimal]], spine_delay: int) -> None:
    frame = _frame(subs)
    # Rows start at the first subscription month, or up to six months later (as if the
    # account's report rows began later): the movements must not depend on that.
    firsts = frame.group_by("account_id").agg(pl.col("start_date").min().alias("first_month"))
    firsts = firsts.with_columns(pl.col("first_month").dt.offset_by(f"{spine_delay}mo"))
    out = monthly_mrr(frame, month_spine(firsts, LAST))
    oracle = _oracle(frame)
    zero = Decimal("0")
    for row in out.iter_rows(named=True):
        prev, curr = row["mrr_previous"], row["mrr"]
        bridge = (
            prev
            + row["mrr_new"]
            + row["mrr_reactivation"]
            + row["mrr_expansion"]
            - row["mrr_contraction"]
            - row["mrr_churn"]
        )
        assert curr == bridge, row
        moved = [m for m in MOVEMENTS if row[m] != zero]
        assert len(moved) == (1 if curr != prev else 0), row
        assert all(row[m] >= zero for m in MOVEMENTS), row
        assert row["arr"] == 12 * curr
        assert row["is_customer"] == (curr > zero)

        # MRR and the previous month's MRR from the day-level rule
        account, month = row["account_id"], row["month"]
        assert curr == oracle[account, month], row
        assert prev == oracle[account, add_months(month, -1)], row
        if prev == zero and curr > zero:
            earlier = month_range(BASE, add_months(month, -1))
            had = any(oracle[account, m] > zero for m in earlier)
            assert row["mrr_reactivation" if had else "mrr_new"] == curr, row
