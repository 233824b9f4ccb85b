"""What a month's client reports are built from: frames the store fills in, sliced per account.

Pure: ``pipeline.store.report_inputs`` reads the warehouse into a ``ReportInputs``;
everything from here on works on frames only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import polars as pl


@dataclass(frozen=True)
class ReportInputs:
    """The frames a month's client reports are built from (all accounts, or one)."""

    accounts: pl.DataFrame
    contacts: pl.DataFrame
    monthly: pl.DataFrame
    health: pl.DataFrame
    subscriptions: pl.DataFrame
    invoices: pl.DataFrame
    tickets: pl.DataFrame
    responses: pl.DataFrame
    activities: pl.DataFrame
    # Looking ahead (reporting month only): the goals shown to clients and the forecast row.
    goals: pl.DataFrame = field(default_factory=pl.DataFrame)
    forecast: pl.DataFrame = field(default_factory=pl.DataFrame)

    def for_account(self, account_id: str) -> ReportInputs:
        """The same frames holding only this account's rows (nothing of any other client).

        The frames are split by account once (on first use) rather than filtered per
        report: thousands of reports would otherwise scan every frame thousands of times."""
        index = self.__dict__.get("_by_account")
        if index is None:
            index = {f.name: by_account(getattr(self, f.name)) for f in fields(self)}
            object.__setattr__(self, "_by_account", index)
        return ReportInputs(
            **{f.name: index[f.name].get(account_id, getattr(self, f.name).clear()) for f in fields(self)}
        )


def by_account(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """A frame's rows per account id, in their order; {} for a frame without account_id."""
    if "account_id" not in frame.columns or frame.is_empty():
        return {}
    return {key[0]: part for key, part in frame.partition_by("account_id", as_dict=True, maintain_order=True).items()}
