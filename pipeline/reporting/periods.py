"""Report periods and cadence: which period (if any) a reporting month produces.

The reporting month drives everything. A ``monthly`` account gets a report for every
month; a ``quarterly`` account gets one only when the month closes a calendar quarter
(March, June, September, December), covering that quarter's three months; ``none``
never gets one. A backfill of an older month produces the period that month closed,
so re-running 2023-06 renders Q2 2023 as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# The month arithmetic is calendar's; it is imported here for the modules that take it
# from this one. Every month a period holds is a month start, which add_months keeps.
from pipeline.transforms.calendar import add_months, month_end, month_start

CADENCES = ("monthly", "quarterly", "none")
QUARTER_END_MONTHS = (3, 6, 9, 12)
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Period:
    """A report period: one month, or the calendar quarter a month closes."""

    kind: str  # "month" or "quarter"
    months: tuple[date, ...]  # first days of the months covered, oldest first

    @property
    def start(self) -> date:
        return self.months[0]

    @property
    def last_month(self) -> date:
        return self.months[-1]

    @property
    def end(self) -> date:
        """The last day of the period (a month-end snapshot is taken on it)."""
        return month_end(self.months[-1])

    @property
    def end_exclusive(self) -> date:
        return add_months(self.months[-1], 1)

    @property
    def reporting_month(self) -> str:
        """The folder key of the month that closes the period: ``2024-03``."""
        return self.last_month.strftime("%Y-%m")

    @property
    def key(self) -> str:
        """``2024-03`` for a month, ``2024-Q1`` for a quarter."""
        if self.kind == "quarter":
            return f"{self.last_month.year}-Q{(self.last_month.month - 1) // 3 + 1}"
        return self.reporting_month

    @property
    def label(self) -> str:
        """``March 2024`` or ``Q1 2024``."""
        if self.kind == "quarter":
            return f"Q{(self.last_month.month - 1) // 3 + 1} {self.last_month.year}"
        return f"{MONTH_NAMES[self.last_month.month - 1]} {self.last_month.year}"

    @property
    def span_label(self) -> str:
        """``1 – 31 March 2024`` or ``January – March 2024``."""
        if self.kind == "quarter":
            return (
                f"{MONTH_NAMES[self.start.month - 1]} – {MONTH_NAMES[self.last_month.month - 1]} {self.last_month.year}"
            )
        return f"1 – {self.end.day} {MONTH_NAMES[self.end.month - 1]} {self.end.year}"

    @property
    def noun(self) -> str:
        """``month`` or ``quarter``, for sentences ("this quarter")."""
        return self.kind

    def shifted(self, months: int) -> Period:
        return Period(self.kind, tuple(add_months(m, months) for m in self.months))

    def previous(self) -> Period:
        return self.shifted(-len(self.months))

    def year_ago(self) -> Period:
        return self.shifted(-12)


def month_period(month: date) -> Period:
    return Period("month", (month_start(month),))


def quarter_period(last_month: date) -> Period:
    last = month_start(last_month)
    return Period("quarter", tuple(add_months(last, k) for k in (-2, -1, 0)))


def report_period(cadence: str | None, month: date) -> Period | None:
    """The period a report covers for this cadence in this reporting month, or None.

    An empty cadence is ``monthly`` (the contract's default). An unknown cadence raises,
    naming the value, because staging only holds valid codes.
    """
    c = (cadence or "monthly").strip().lower()
    if c == "monthly":
        return month_period(month)
    if c == "quarterly":
        return quarter_period(month) if month.month in QUARTER_END_MONTHS else None
    if c == "none":
        return None
    raise ValueError(f"unknown report_cadence {cadence!r}; expected one of {', '.join(CADENCES)}")
