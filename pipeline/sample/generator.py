"""Deterministic, vectorised sample landing data (``pipeline sample``).

``write_sample`` writes one CSV per source of the contract (pipeline/contract.py) into
``out_dir/<folder>/<pattern>.csv`` plus a few ``*_zz_broken.csv`` files with deliberately
bad rows (see pipeline/sample/broken.py). The same arguments give byte-identical files.

How the data is built, so that every metric in docs/metrics.md has something to show:

* Each account has one or two *lifetime segments* (a second one when it churns and
  later reactivates). A segment has a "Core Platform" subscription, sometimes replaced
  mid-way by one with a higher (expansion) or lower (contraction) MRR, plus add-ons that
  start later (expansion) and may end early (contraction). When a segment ends (churn),
  every subscription of it ends. A few segments get a pilot that starts and ends inside
  one month (never visible in month-end MRR).
* About half the accounts exist before the window (their billing starts on the first
  day of the window, their ``customer_since`` is years earlier); the rest start
  throughout the window.
* Invoices: one per account and month with any active subscription, one line per such
  subscription (prorated for partial months); amounts are computed in integer cents so
  lines add up to the invoice exactly.
* Activities, tickets and survey responses are Poisson counts per active account-month,
  with tier-dependent rates, per-account variation and a few neglected stretches.
* A handful of fixed accounts (the first eight) are forced into scenarios that the
  tests rely on: a churn followed by a reactivation, an expansion, a contraction, a
  one-month pilot, a neglected strategic account with an open urgent ticket and open
  upsell pipeline, an account with no survey responses.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from pipeline.contract import (
    ACTIVITY_TYPES,
    SOURCES,
    SOURCES_BY_NAME,
    Source,
)
from pipeline.sample import names as N
from pipeline.sample.broken import SampleContext, broken_files

__all__ = ["SampleSummary", "WrittenFile", "write_sample"]

# Value of one unit of a currency in USD, used as the centre of the fx random walk.
FX_USD_VALUE = {
    "usd": 1.0,
    "eur": 1.08,
    "gbp": 1.27,
    "cad": 0.74,
    "chf": 1.12,
    "aud": 0.66,
    "nzd": 0.61,
    "jpy": 0.0068,
    "sek": 0.095,
    "nok": 0.094,
    "dkk": 0.145,
    "sgd": 0.74,
}
BILLING_CURRENCIES = ("usd", "eur", "gbp", "cad")
BILLING_CURRENCY_P = (0.68, 0.14, 0.10, 0.08)
# Local price level: list prices in each currency relative to the USD list price.
PRICE_SCALE = np.array([1.0, 0.93, 0.8, 1.35])

# Files written with a UTF-8 byte-order mark (survey tools like to add one).
BOM_SOURCES = frozenset({"responses"})

TIER_P = (0.06, 0.26, 0.68)  # strategic, key, transactional
CHURN_HAZARD = np.array([0.003, 0.008, 0.018])  # per month
CORE_MRR_USD = np.array([15000.0, 4000.0, 600.0])
ADDON_P = np.array([0.6, 0.4, 0.15])
ACTIVITY_RATE = np.array([11.0, 5.5, 2.8])  # per active month
TICKET_RATE = np.array([2.0, 1.0, 0.4])
UPSELL_OPP_RATE = np.array([0.12, 0.06, 0.02])

ACTIVITY_TYPE_P = np.array(
    [  # call, email, meeting, qbr, visit, other
        [0.22, 0.35, 0.20, 0.06, 0.10, 0.07],
        [0.25, 0.42, 0.18, 0.05, 0.04, 0.06],
        [0.25, 0.60, 0.08, 0.01, 0.01, 0.05],
    ]
)
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_P = (0.30, 0.45, 0.18, 0.07)
PRIORITY_P_TROUBLE = (0.15, 0.35, 0.33, 0.17)
FIRST_RESPONSE_HOURS = np.array([20.0, 6.0, 2.0, 0.5])  # medians by priority
RESOLUTION_HOURS = np.array([90.0, 40.0, 16.0, 4.0])

# Forced scenarios (account index -> role); applied only when the window is long enough.
FORCE_MIN_MONTHS = 8
FORCE_ACCOUNTS = 8  # the forced scenarios use accounts 0..7
NEGLECTED, UPPER_KEY, SILENT, CHURN_REACT, EXPANSION, CONTRACTION, PILOT, CHURN_ONLY = range(8)


@dataclass(frozen=True)
class WrittenFile:
    """One CSV written by ``write_sample``; ``path`` is relative to the landing folder."""

    path: str
    source: str
    rows: int
    broken_rows: int = 0


@dataclass(frozen=True)
class SampleSummary:
    """What ``write_sample`` wrote, for the CLI to print."""

    out_dir: Path
    first_month: date
    end_month: date
    accounts: int
    months: int
    seed: int
    reporting_currency: str
    files: tuple[WrittenFile, ...]

    @property
    def rows(self) -> dict[str, int]:
        """Rows per source over all its files (broken files included)."""
        out: dict[str, int] = {}
        for f in self.files:
            out[f.source] = out.get(f.source, 0) + f.rows
        return out

    @property
    def broken_rows(self) -> dict[str, int]:
        """Deliberately broken rows per file (only files that have some)."""
        return {f.path: f.broken_rows for f in self.files if f.broken_rows}

    @property
    def total_rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def total_broken_rows(self) -> int:
        return sum(f.broken_rows for f in self.files)

    def format(self) -> str:
        """A plain-text table for the CLI."""
        lines = [
            f"Sample data in {self.out_dir}: {self.accounts} accounts, {self.months} months "
            f"({self.first_month:%Y-%m} .. {self.end_month:%Y-%m}), seed {self.seed}, "
            f"reporting currency {self.reporting_currency.upper()}",
        ]
        width = max(len(f.path) for f in self.files)
        for f in self.files:
            extra = f"  ({f.broken_rows} deliberately broken)" if f.broken_rows else ""
            lines.append(f"  {f.path:<{width}}  {f.rows:>9,} rows{extra}")
        lines.append(
            f"  {'total':<{width}}  {self.total_rows:>9,} rows  ({self.total_broken_rows} deliberately broken)"
        )
        return "\n".join(lines)


def default_end_month(today: date | None = None) -> date:
    """The first day of the last complete calendar month before ``today``."""
    today = today or date.today()
    first = today.replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def write_sample(
    out_dir: Path,
    accounts: int = 200,
    months: int = 36,
    seed: int = 7,
    end_month: date | None = None,
    reporting_currency: str = "usd",
    format: str = "contract",
    values_of: str | None = None,
    broken: bool = True,
) -> SampleSummary:
    """Write a realistic, deterministic sample landing folder and say what was written.

    ``end_month`` is (a day in) the last month covered; default: the last complete
    calendar month before today. The data covers ``months`` months ending with it; no
    date or timestamp is later than the last day of ``end_month``, except expected
    future dates (due dates, renewal dates, open opportunities' close dates, fixed-term
    subscription ends, health-override expiry). Existing files of the same names are
    overwritten; other files in ``out_dir`` are left alone.

    ``format``: ``contract`` (one CSV per source in crm/, surveys/, billing/), or systems
    joined by ``+`` (``salesforce+stripe+zendesk``; ``hubspot`` in place of salesforce):
    the same portfolio as those systems export it, in ``<system>/`` (Salesforce as its
    weekly Data Export ZIP), and contract-shaped files for what none of them exports
    (pipeline.sample.vendors). The data is then only what those exports can carry; so is
    a contract-shaped sample with ``values_of`` naming the same systems, which gives the
    same marts. ``broken``: also write the deliberately broken files (beside vendor
    exports, only those of contract-shaped sources).
    """
    from pipeline.sample import vendors

    systems = vendors.parse_format(format)
    narrow = vendors.parse_format(values_of) if values_of else systems
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    rep = reporting_currency.strip().lower()
    if rep not in FX_USD_VALUE:
        raise ValueError(
            f"reporting currency {reporting_currency!r} is not supported by the sample "
            f"generator; use one of {', '.join(sorted(FX_USD_VALUE))}"
        )
    end = (end_month or default_end_month()).replace(day=1)
    out_dir = Path(out_dir)

    builder = _Builder(accounts, months, seed, end, rep)
    tables = builder.build()
    bad = broken_files(builder.context()) if broken else []
    as_of = builder.as_of.astype(object)
    if narrow:
        tables = vendors.expressible(tables, narrow, as_of)

    written: list[WrittenFile] = []
    exports, contract = vendors.split_for_vendors(tables, systems, as_of, end) if systems else ({}, tables)
    written.extend(_write_exports(out_dir, exports))
    for src in SOURCES:
        if src.name not in contract:
            continue
        df = _conform(contract[src.name], src)
        rel = f"{src.folder}/{src.pattern}.csv"
        _write_frame(out_dir / rel, df, bom=src.name in BOM_SOURCES)
        written.append(WrittenFile(rel, src.name, df.height))
    left_out = vendors.broken_files_left_out(systems)
    for bf in bad:
        if bf.source in left_out:
            continue
        src = SOURCES_BY_NAME[bf.source]
        rel = f"{src.folder}/{bf.file_name}"
        _write_rows(out_dir / rel, src.column_names, bf.records)
        written.append(WrittenFile(rel, src.name, len(bf.rows), bf.broken_rows))

    first = builder.first_month
    return SampleSummary(
        out_dir=out_dir,
        first_month=first,
        end_month=end,
        accounts=accounts,
        months=months,
        seed=seed,
        reporting_currency=rep,
        files=tuple(written),
    )


# --------------------------------------------------------------------------- writing


def _conform(df: pl.DataFrame, src: Source) -> pl.DataFrame:
    """Exactly the contract's columns, in its order; a column the generator does not
    know yet (added to the contract later) is written empty."""
    missing = [c for c in src.column_names if c not in df.columns]
    if missing:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
    return df.select(src.column_names)


def _write_frame(path: Path, df: pl.DataFrame, bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = df.write_csv(line_terminator="\n", date_format="%Y-%m-%d")
    data = text.encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def _write_rows(path: Path, header: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        unknown = set(r) - set(header)
        if unknown:  # pragma: no cover - a bug in broken.py
            raise KeyError(f"{path.name}: columns not in the contract: {sorted(unknown)}")
        w.writerow([r.get(c, "") for c in header])
    path.write_bytes(buf.getvalue().encode("utf-8"))


# Which contract sources each export file feeds (for the summary).
_EXPORT_SOURCES = {
    "User.csv": "account_managers",
    "Account.csv": "accounts",
    "Contact.csv": "contacts",
    "Opportunity.csv": "opportunities",
    "Case.csv": "tickets",
    "Task.csv": "activities",
    "Event.csv": "activities",
    "users": "account_managers",
    "companies": "accounts",
    "contacts": "contacts",
    "deals": "opportunities",
    "tickets": "tickets",
    "subscriptions": "subscriptions",
    "invoices": "invoices",
}


def _export_source(rel: str) -> str:
    if rel.startswith("zendesk/"):
        return "tickets+responses"
    name = rel.rsplit("/", 1)[-1]
    return next((v for k, v in _EXPORT_SOURCES.items() if k in name), "?")


def _write_exports(out_dir: Path, exports: dict[str, pl.DataFrame]) -> list[WrittenFile]:
    """Vendor exports as CSVs under ``<system>/``; Salesforce's as one Data Export ZIP."""
    from pipeline.sample.vendors import SALESFORCE_ZIP, salesforce_zip

    written: list[WrittenFile] = []
    salesforce = {rel.split("/", 1)[1]: df for rel, df in exports.items() if rel.startswith("salesforce/")}
    if salesforce:
        path = out_dir / "salesforce" / SALESFORCE_ZIP
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(salesforce_zip(salesforce))
        for name, df in salesforce.items():
            rel = f"salesforce/{SALESFORCE_ZIP}/{name}"
            written.append(WrittenFile(rel, _export_source(rel), df.height))
    for rel, df in exports.items():
        if rel.startswith("salesforce/"):
            continue
        _write_frame(out_dir / rel, df)
        written.append(WrittenFile(rel, _export_source(rel), df.height))
    return written


# --------------------------------------------------------------------------- helpers


def _pick(values: tuple[str | None, ...] | list[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String).gather(np.asarray(idx, dtype=np.int64))


def _ids(prefix: str, n: int, width: int) -> pl.Series:
    width = max(width, len(str(n)))
    s = pl.Series(np.arange(1, n + 1, dtype=np.int64)).cast(pl.String).str.zfill(width)
    return (prefix + s).rename("id")


def _money(cents: np.ndarray) -> pl.Series:
    """Integer cents -> '1234.50' (exact, no float formatting)."""
    c = pl.Series(np.asarray(cents, dtype=np.int64))
    whole = (c // 100).cast(pl.String)
    frac = (c % 100).cast(pl.String).str.zfill(2)
    return whole + "." + frac


def _round_price(x: np.ndarray, step: float, rng: np.random.Generator, p99: float) -> np.ndarray:
    """Round to ``step`` currency units, in cents; a share ``p99`` ends in .99 instead."""
    units = np.maximum(np.round(x / step), 1) * step
    cents = (units * 100).astype(np.int64)
    return cents - (rng.random(len(cents)) < p99).astype(np.int64)


def _date_series(d: np.ndarray) -> pl.Series:
    return pl.Series(np.asarray(d, dtype="datetime64[D]"))


def _ts_strings(ts: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """UTC instants -> ISO 8601 text, mixed styles: 60% '...Z', 20% with a UTC offset
    (local time shown, same instant), 20% without offset (meaning UTC)."""
    n = len(ts)
    style = rng.choice(3, size=n, p=[0.6, 0.2, 0.2])
    offsets = np.array([120, 60, -300, 330, 540, -420], dtype=np.int64)  # minutes
    labels = ("+02:00", "+01:00", "-05:00", "+05:30", "+09:00", "-07:00")
    oi = rng.integers(0, len(offsets), n)
    off = np.where(style == 1, offsets[oi], 0)
    local = ts.astype("datetime64[s]") + off.astype("timedelta64[m]")
    text = pl.Series(local.astype("datetime64[ms]")).dt.strftime("%Y-%m-%dT%H:%M:%S")
    df = pl.DataFrame({"t": text, "style": style, "lab": _pick(labels, oi)})
    return df.select(
        pl.when(pl.col("style") == 0)
        .then(pl.col("t") + "Z")
        .when(pl.col("style") == 1)
        .then(pl.col("t") + pl.col("lab"))
        .otherwise(pl.col("t"))
    ).to_series()


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts per parent: (parent index per child, 0-based position within parent)."""
    counts = np.asarray(counts, dtype=np.int64)
    parent = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(len(parent)) - starts[parent]
    return parent, pos


# --------------------------------------------------------------------------- builder


class _Builder:
    def __init__(self, n: int, months: int, seed: int, end: date, rep: str) -> None:
        self.n = n
        self.M = months
        self.rep = rep
        self.end = end
        root = np.random.default_rng(seed)
        topics = (
            "accounts", "subs", "invoices", "contacts", "activities", "tickets",
            "responses", "opps", "fx", "overrides", "format", "managers",
            "booked", "goals",  # appended last: the streams above stay as they were
        )  # fmt: skip
        self.rng = dict(zip(topics, root.spawn(len(topics)), strict=True))

        w_end = np.datetime64(end, "M")
        self.W0 = w_end - (months - 1)
        self.ms = (self.W0 + np.arange(months + 1)).astype("datetime64[D]")  # month starts, +1
        self.dim = np.diff(self.ms).astype(np.int64)  # days in each month
        self.as_of = self.ms[months] - np.timedelta64(1, "D")  # last day of end_month
        self.as_of_end = self.ms[months].astype("datetime64[s]")  # exclusive
        self.first_month = self.ms[0].astype(object)
        self.force = months >= FORCE_MIN_MONTHS
        self.acc_width = max(5, len(str(n)))
        self.tables: dict[str, pl.DataFrame] = {}

    def forced(self, idx: int) -> bool:
        return self.force and idx < self.n

    def month_index(self, d: np.ndarray) -> np.ndarray:
        return (np.asarray(d, dtype="datetime64[D]").astype("datetime64[M]") - self.W0).astype(np.int64)

    # ------------------------------------------------------------------ orchestration

    def build(self) -> dict[str, pl.DataFrame]:
        self._managers()
        self._account_draws()
        self._subscriptions()
        self._lines_and_invoices()
        self._contacts()
        self._accounts_table()
        self._activities()
        self._tickets()
        self._responses()
        self._opportunities()
        self._overrides()
        self._fx()
        self._booked()
        self._goals()
        # Contract-shaped files carry CRM account ids everywhere, so no record needs an alias;
        # the sample still lists each account's (made-up) Stripe customer, as a team would.
        ids = self.tables["accounts"]["account_id"]
        self.tables["account_aliases"] = pl.DataFrame(
            {
                "account_id": ids,
                "system": pl.Series(["stripe"] * len(ids), dtype=pl.String),
                "external_id": "cus_" + ids,
                "note": pl.Series([None] * len(ids), dtype=pl.String),
            }
        )
        return self.tables

    def context(self) -> SampleContext:
        acc = self.tables["accounts"]
        con = self.tables["contacts"].filter(pl.col("email").is_not_null())
        return SampleContext(
            first_month=self.first_month,
            end_month=self.end,
            account_ids=tuple(acc["account_id"].to_list()),
            account_currencies=tuple(acc["currency"].to_list()),
            manager_ids=tuple(self.tables["account_managers"]["manager_id"].to_list()),
            contact_emails=tuple(con["email"].head(5).to_list()),
            account_id_width=self.acc_width,
        )

    # ------------------------------------------------------------------ managers

    def _managers(self) -> None:
        rng = self.rng["managers"]
        k = max(4, round(self.n / 22))
        nf, nl = len(N.FIRST_NAMES), len(N.LAST_NAMES)
        combo = rng.permutation(nf * nl)[np.arange(k) % (nf * nl)]
        fi, li = combo // nl, combo % nl
        first = [N.FIRST_NAMES[i] for i in fi]
        last = [N.LAST_NAMES[i] for i in li]
        emails = [
            f"{N.ascii_slug(given)}.{N.ascii_slug(family).replace('-', '')}{'' if j < nf * nl else j}@{N.COMPANY_DOMAIN}"
            for j, (given, family) in enumerate(zip(first, last, strict=True))
        ]
        self.n_mgr = k
        self.mgr_ids = _ids("AM", k, 3)
        self.mgr_emails = emails
        self.tables["account_managers"] = pl.DataFrame(
            {
                "manager_id": self.mgr_ids,
                "name": [f"{given} {family}" for given, family in zip(first, last, strict=True)],
                "email": emails,
                "team": _pick(N.MANAGER_TEAMS, np.arange(k) % len(N.MANAGER_TEAMS)),
            }
        )

    # ------------------------------------------------------------------ account draws

    def _account_draws(self) -> None:
        rng, n, M = self.rng["accounts"], self.n, self.M
        tier = rng.choice(3, size=n, p=TIER_P)
        for i in range(min(n, 3)):
            tier[i] = i  # all three tiers always present
        cur = rng.choice(len(BILLING_CURRENCIES), size=n, p=BILLING_CURRENCY_P)
        existing = rng.random(n) < 0.55
        sm = np.where(existing, 0, rng.integers(1, max(M, 2), n) if M > 1 else 0)
        sm = np.minimum(sm, M - 1)
        existing |= sm == 0
        sday = np.where(existing, 0, rng.integers(0, 28, n))
        em = sm + rng.geometric(CHURN_HAZARD[tier])
        em = np.minimum(em, M)  # M = still active at the end
        react = (em <= M - 2) & (rng.random(n) < 0.3)
        rm = em + rng.geometric(0.35, n)
        react &= rm <= M - 1
        rm = np.where(react, rm, M)

        if self.force:
            M3 = M // 3
            plan = {  # idx: (churn month or M, reactivation month or M)
                NEGLECTED: (M, M),
                UPPER_KEY: (M, M),
                SILENT: (M, M),
                CHURN_REACT: (M3, M3 + 2),
                EXPANSION: (M, M),
                CONTRACTION: (M, M),
                PILOT: (M, M),
                CHURN_ONLY: (M - 2, M),
            }
            for i, (c, r) in plan.items():
                if i < n:
                    existing[i], sm[i], sday[i], em[i], rm[i] = True, 0, 0, c, r
                    react[i] = r < M
        self.tier, self.cur, self.existing = tier, cur, existing
        self.mgr = rng.permutation(np.arange(n) % self.n_mgr)
        self.acc_ids = _ids("ACC", n, self.acc_width)

        # Segments: the first lifetime of every account, then reactivations.
        ra = np.flatnonzero(react)
        self.seg_acc = np.concatenate([np.arange(n), ra])
        self.seg_sm = np.concatenate([sm, rm[ra]])
        self.seg_em = np.concatenate([em, np.full(len(ra), M)])
        self.seg_react = np.concatenate([np.zeros(n, bool), np.ones(len(ra), bool)])
        ns = len(self.seg_acc)
        sd = np.concatenate([sday, rng.integers(0, 28, len(ra))])
        self.seg_S = self.ms[self.seg_sm] + sd.astype("timedelta64[D]")
        endday = rng.integers(0, 28, ns).astype("timedelta64[D]")
        self.seg_E = np.where(
            self.seg_em < M,
            self.ms[np.minimum(self.seg_em, M)] + endday,
            np.datetime64("NaT", "D"),
        )
        self.react_month = rm  # per account (M when none)

    # ------------------------------------------------------------------ subscriptions

    def _subscriptions(self) -> None:
        rng, M = self.rng["subs"], self.M
        acc, sm, em = self.seg_acc, self.seg_sm, self.seg_em
        S, E = self.seg_S, self.seg_E
        tier, cur = self.tier[acc], self.cur[acc]
        ns = len(acc)
        L = em - sm  # month-ends with MRR in the segment (>= 1)
        first_seg = ~self.seg_react

        base = CORE_MRR_USD[tier] * rng.lognormal(0.0, 0.45, ns) * PRICE_SCALE[cur]
        base *= np.where(self.seg_react, rng.uniform(0.6, 1.0, ns), 1.0)
        mrr0 = _round_price(base, 10.0, rng, 0.2)
        mrr0 = np.maximum(mrr0, 5000)

        change = (L >= 3) & (rng.random(ns) < 0.35)
        u = sm + 1 + np.floor(rng.random(ns) * np.maximum(L - 1, 1)).astype(np.int64)
        factor = np.where(rng.random(ns) < 0.65, rng.uniform(1.1, 1.6, ns), rng.uniform(0.55, 0.9, ns))
        addon_ok = np.ones(ns, bool)
        pilot = (L >= 2) & (rng.random(ns) < 0.03)
        pilot_m = sm + 1 + np.floor(rng.random(ns) * np.maximum(L - 1, 1)).astype(np.int64)
        if self.force:
            for i in (CHURN_REACT, EXPANSION, CONTRACTION, PILOT, CHURN_ONLY, SILENT):
                if i < self.n:
                    addon_ok[i] = False
                    change[i] = False
                    pilot[i] = False
            if self.n > EXPANSION:
                change[EXPANSION], u[EXPANSION], factor[EXPANSION] = True, M // 2, 1.3
            if self.n > CONTRACTION:
                change[CONTRACTION], u[CONTRACTION], factor[CONTRACTION] = True, M // 2, 0.7
            if self.n > PILOT:
                pilot[PILOT], pilot_m[PILOT] = True, M // 2
        u = np.minimum(u, np.maximum(em - 1, sm))
        D = self.ms[np.minimum(u, M)] + rng.integers(0, 28, ns).astype("timedelta64[D]")
        mrr1 = np.maximum(_round_price(mrr0 / 100 * factor, 10.0, rng, 0.2), 5000)
        mrr1 = np.where(mrr1 == mrr0, mrr0 + np.where(factor > 1, 1000, -1000), mrr1)

        parts: list[dict[str, np.ndarray]] = []
        # Core: the first (or only) core subscription of each segment.
        parts.append(
            dict(seg=np.arange(ns), prod=np.zeros(ns, np.int64), start=S,
                 end=np.where(change, D, E), mrr=mrr0)
        )  # fmt: skip
        ci = np.flatnonzero(change)
        parts.append(dict(seg=ci, prod=np.zeros(len(ci), np.int64), start=D[ci], end=E[ci], mrr=mrr1[ci]))
        self.core_change = dict(seg=ci, date=D[ci], delta=mrr1[ci] - mrr0[ci])

        # Add-ons.
        na = len(N.ADDON_PRODUCTS)
        has = rng.random((ns, na)) < (ADDON_P[tier] * np.where(self.seg_react, 0.5, 1.0))[:, None]
        has &= addon_ok[:, None]
        s_i, p_i = np.nonzero(has)
        k = len(s_i)
        a_s = sm[s_i] + np.floor(rng.random(k) * L[s_i]).astype(np.int64)
        a_start = np.maximum(self.ms[a_s] + rng.integers(0, 28, k).astype("timedelta64[D]"), S[s_i])
        kind = rng.choice(3, size=k, p=[0.55, 0.35, 0.10])  # open, ended, fixed-term
        a_e = a_s + 1 + rng.geometric(0.08, k)
        ended_early = (kind == 1) & (a_e < em[s_i])
        a_end = np.where(
            ended_early,
            self.ms[np.minimum(a_e, M)] + rng.integers(0, 28, k).astype("timedelta64[D]"),
            E[s_i],
        )
        future = (kind == 2) & (em[s_i] >= M)
        a_end = np.where(future, self.ms[M] + rng.integers(10, 200, k).astype("timedelta64[D]"), a_end)
        share = np.array(N.ADDON_SHARE)[p_i] * rng.lognormal(0.0, 0.25, k)
        a_mrr = np.maximum(_round_price(mrr0[s_i] / 100 * share, 5.0, rng, 0.1), 2500)
        parts.append(dict(seg=s_i, prod=1 + p_i, start=a_start, end=a_end, mrr=a_mrr))
        # Cross-sells: add-ons that did not come with the account's first billing day.
        legacy = first_seg[s_i] & self.existing[acc[s_i]] & (a_start == self.ms[0])
        self.addon_sales = dict(seg=s_i[~legacy], date=a_start[~legacy], mrr=a_mrr[~legacy])

        # One-month pilots.
        pi = np.flatnonzero(pilot)
        pk = len(pi)
        p_start = self.ms[np.minimum(pilot_m[pi], M)] + rng.integers(1, 10, pk).astype("timedelta64[D]")
        p_end = p_start + rng.integers(3, 15, pk).astype("timedelta64[D]")
        p_mrr = np.maximum(_round_price(mrr0[pi] / 100 * 0.1, 5.0, rng, 0.0), 2500)
        trial_prod = 1 + N.ADDON_PRODUCTS.index(N.TRIAL_PRODUCT)
        parts.append(dict(seg=pi, prod=np.full(pk, trial_prod), start=p_start, end=p_end, mrr=p_mrr))

        seg = np.concatenate([p["seg"] for p in parts])
        prod = np.concatenate([p["prod"] for p in parts])
        start = np.concatenate([p["start"] for p in parts]).astype("datetime64[D]")
        end = np.concatenate([p["end"] for p in parts]).astype("datetime64[D]")
        mrr = np.concatenate([p["mrr"] for p in parts]).astype(np.int64)
        sub_acc = acc[seg]
        order = np.lexsort((prod, sub_acc, start))
        self.sub_seg, self.sub_acc = seg[order], sub_acc[order]
        self.sub_prod, self.sub_start, self.sub_end = prod[order], start[order], end[order]
        self.sub_mrr = mrr[order]
        self.seg_mrr0 = mrr0
        products = (N.CORE_PRODUCT, *N.ADDON_PRODUCTS)
        nsub = len(order)
        self.sub_ids = _ids("SUB", nsub, 6)
        self.tables["subscriptions"] = pl.DataFrame(
            {
                "subscription_id": self.sub_ids,
                "account_id": self.acc_ids.gather(self.sub_acc),
                "product": _pick(products, self.sub_prod),
                "start_date": _date_series(self.sub_start),
                "end_date": _date_series(self.sub_end),
                "mrr": _money(self.sub_mrr),
                "currency": _pick(BILLING_CURRENCIES, self.cur[self.sub_acc]),
            }
        )

    # ------------------------------------------------------------------ invoices

    def _lines_and_invoices(self) -> None:
        rng, M, n = self.rng["invoices"], self.M, self.n
        fm = self.month_index(self.sub_start)
        last_day = np.where(np.isnat(self.sub_end), self.ms[M], self.sub_end) - np.timedelta64(1, "D")
        lm = np.minimum(self.month_index(last_day), M - 1)
        sub, pos = _expand(lm - fm + 1)
        m = fm[sub] + pos
        lo = np.maximum(self.sub_start[sub], self.ms[m])
        end = np.where(np.isnat(self.sub_end[sub]), self.ms[M], self.sub_end[sub])
        hi = np.minimum(end, self.ms[m + 1])
        days = (hi - lo).astype(np.int64)
        full = days == self.dim[m]
        amount = np.where(full, self.sub_mrr[sub], np.rint(self.sub_mrr[sub] * days / self.dim[m]))
        amount = np.maximum(amount.astype(np.int64), 1)
        acc = self.sub_acc[sub]

        # Month-end MRR per account (account currency, cents) and activity masks.
        at_end = hi == self.ms[m + 1]
        mrr_end = np.zeros((n, M), np.int64)
        np.add.at(mrr_end, (acc[at_end], m[at_end]), self.sub_mrr[sub][at_end])
        active = np.zeros((n, M), bool)
        active[acc, m] = True
        self.mrr_end, self.active = mrr_end, active

        # Tax rates per account: about 10-20%, by billing currency.
        tax_choices = np.array([[0.10, 0.0825, 0.13, 0.15], [0.20, 0.19, 0.21, 0.10],
                                [0.20, 0.20, 0.20, 0.20], [0.13, 0.13, 0.15, 0.12]])  # fmt: skip
        tax_rate = tax_choices[self.cur, rng.integers(0, 4, n)]
        tax = np.rint(amount * tax_rate[acc]).astype(np.int64)

        key = acc * M + m
        lorder = np.lexsort((sub, key))
        key_s = key[lorder]
        bounds = np.flatnonzero(np.r_[True, key_s[1:] != key_s[:-1]])
        inv_acc = acc[lorder][bounds]
        inv_m = m[lorder][bounds]
        subtotal = np.add.reduceat(amount[lorder], bounds)
        inv_tax = np.add.reduceat(tax[lorder], bounds)
        first_lo = np.minimum.reduceat(lo[lorder].astype(np.int64), bounds).astype("datetime64[D]")
        ni = len(bounds)
        issued = np.maximum(self.ms[inv_m] + rng.integers(0, 3, ni).astype("timedelta64[D]"), first_lo)
        due = issued + np.timedelta64(30, "D")

        # Payment behaviour: prompt, slow and bad payers.
        payer = rng.choice(3, size=n, p=[0.75, 0.18, 0.07])
        if n > NEGLECTED:
            payer[NEGLECTED] = 0
        pc = payer[inv_acc]
        lag = np.select(
            [pc == 0, pc == 1],
            [2 + rng.gamma(2.0, 5.0, ni), 15 + rng.gamma(2.0, 12.0, ni)],
            40 + rng.gamma(2.0, 40.0, ni),
        )
        never = rng.random(ni) < 0.008
        lag = np.where(never, 10_000, np.rint(lag)).astype(np.int64)
        paid_on = issued + lag.astype("timedelta64[D]")
        void = rng.random(ni) < 0.012
        draft = (inv_m == M - 1) & (rng.random(ni) < 0.08) & ~void
        paid = ~void & ~draft & (paid_on <= self.as_of)
        unpaid = ~void & ~draft & ~paid
        uncollectible = unpaid & ((self.as_of - issued).astype(np.int64) > 150)
        status = np.select(
            [void, draft, paid, uncollectible], [3, 0, 2, 4], 1
        )  # index into INVOICE_STATUSES order below
        paid_on = np.where(paid, paid_on, np.datetime64("NaT", "D"))

        iorder = np.lexsort((inv_acc, issued))
        rank = np.empty(ni, np.int64)
        rank[iorder] = np.arange(ni)
        inv_ids = _ids("INV", ni, 7)
        statuses = ("draft", "open", "paid", "void", "uncollectible")
        status_s = _pick(statuses, status[iorder])
        if ni:  # one valid upper-case code: a status written "Paid"
            first_paid = int(np.flatnonzero(status[iorder] == 2)[0]) if (status == 2).any() else -1
            if first_paid >= 0:
                status_s = status_s.scatter(first_paid, "Paid")
        issued_s = _date_series(issued[iorder])
        self.inv_issued, self.inv_acc, self.inv_m = issued[iorder], inv_acc[iorder], inv_m[iorder]
        self.inv_status = status[iorder]
        self.tables["invoices"] = pl.DataFrame(
            {
                "invoice_id": inv_ids,
                "account_id": self.acc_ids.gather(inv_acc[iorder]),
                "number": issued_s.dt.year().cast(pl.String)
                + "-"
                + pl.Series(np.arange(1, ni + 1)).cast(pl.String).str.zfill(6),
                "issued_on": issued_s,
                "due_on": _date_series(due[iorder]),
                "currency": _pick(BILLING_CURRENCIES, self.cur[inv_acc[iorder]]),
                "subtotal": _money(subtotal[iorder]),
                "tax": _money(inv_tax[iorder]),
                "total": _money(subtotal[iorder] + inv_tax[iorder]),
                "status": status_s,
                "paid_on": _date_series(paid_on[iorder]),
            }
        )

        # Lines, in invoice order then subscription order.
        line_inv = np.repeat(np.arange(ni), np.diff(np.r_[bounds, len(key_s)]))
        line_inv_rank = rank[line_inv]
        lsub = sub[lorder]
        fin = np.lexsort((lsub, line_inv_rank))
        lsub, line_inv_rank = lsub[fin], line_inv_rank[fin]
        l_lo, l_hi = lo[lorder][fin], hi[lorder][fin]
        l_amount, l_tax = amount[lorder][fin], tax[lorder][fin]
        l_days, l_full = days[lorder][fin], full[lorder][fin]
        l_dim = self.dim[m[lorder][fin]]
        nl = len(lsub)
        products = (N.CORE_PRODUCT, *N.ADDON_PRODUCTS)
        prod_s = _pick(products, self.sub_prod[lsub])
        period_start = _date_series(l_lo)
        qty = np.where(l_full, 1.0, np.round(l_days / l_dim, 4))
        self.tables["invoice_lines"] = pl.DataFrame(
            {
                "line_id": _ids("LIN", nl, 8),
                "invoice_id": inv_ids.gather(line_inv_rank),
                "product": prod_s,
                "description": prod_s
                + ", "
                + period_start.dt.strftime("%B %Y")
                + pl.Series(np.where(l_full, "", " (prorated)")),
                "quantity": pl.Series(qty),
                "unit_amount": _money(self.sub_mrr[lsub]),
                "amount": _money(l_amount),
                "tax_amount": _money(l_tax),
                "period_start": period_start,
                "period_end": _date_series(l_hi - np.timedelta64(1, "D")),
            }
        )

    # ------------------------------------------------------------------ contacts

    def _contacts(self) -> None:
        rng, n = self.rng["contacts"], self.n
        lo = np.array([3, 2, 1])[self.tier]
        hi = np.array([5, 4, 3])[self.tier]
        cnt = rng.integers(lo, hi + 1)
        acc, pos = _expand(cnt)
        k = len(acc)
        fi = rng.integers(0, len(N.FIRST_NAMES), k)
        li = rng.integers(0, len(N.LAST_NAMES), k)
        first_slug = [N.ascii_slug(x) for x in N.FIRST_NAMES]
        last_slug = [N.ascii_slug(x).replace("-", "") for x in N.LAST_NAMES]
        # Account name parts (drawn here so names and e-mails agree).
        na = len(N.COMPANY_FIRST) * len(N.COMPANY_SECOND) * len(N.LEGAL_FORMS)
        combo = self.rng["accounts"].permutation(na)[np.arange(n) % na]
        c1 = combo // (len(N.COMPANY_SECOND) * len(N.LEGAL_FORMS))
        c2 = (combo // len(N.LEGAL_FORMS)) % len(N.COMPANY_SECOND)
        c3 = combo % len(N.LEGAL_FORMS)
        dup = np.arange(n) // na
        suffix = [f" {d + 1}" if d else "" for d in dup]
        self.acc_names = [
            f"{N.COMPANY_FIRST[a]} {N.COMPANY_SECOND[b]} {N.LEGAL_FORMS[c]}{s}"
            for a, b, c, s in zip(c1, c2, c3, suffix, strict=True)
        ]
        acc_slug = [N.ascii_slug(x) for x in self.acc_names]
        tld = rng.integers(0, len(N.EMAIL_DOMAINS), n)
        emails = pl.Series(
            [
                f"{first_slug[given]}.{last_slug[family]}.{acc_slug[a]}@{N.EMAIL_DOMAINS[tld[a]]}"
                for given, family, a in zip(fi, li, acc, strict=True)
            ],
            dtype=pl.String,
        )
        no_email = (pos > 0) & (rng.random(k) < 0.05)
        emails = pl.select(pl.when(pl.Series(no_email)).then(None).otherwise(emails)).to_series()
        role = rng.integers(0, len(N.CONTACT_ROLES) + 1, k)  # last value = no role
        role_s = _pick((*N.CONTACT_ROLES, ""), role)
        self.tables["contacts"] = pl.DataFrame(
            {
                "contact_id": _ids("CON", k, 6),
                "account_id": self.acc_ids.gather(acc),
                "name": _pick(N.FIRST_NAMES, fi) + " " + _pick(N.LAST_NAMES, li),
                "email": emails.rename("email"),
                "role": pl.select(pl.when(role_s == "").then(None).otherwise(role_s)).to_series(),
                "is_primary": pl.Series(pos == 0),
            }
        )
        self.con_acc, self.con_pos = acc, pos
        self.con_offset = np.cumsum(cnt) - cnt
        self.con_count = cnt
        self.con_email = emails

    # ------------------------------------------------------------------ accounts

    def _accounts_table(self) -> None:
        rng, n, M = self.rng["accounts"], self.n, self.M
        tier = self.tier
        seg_p = np.array([[1.0, 0.0, 0.0], [0.4, 0.6, 0.0], [0.0, 0.3, 0.7]])
        u = rng.random(n)
        segment = (u[:, None] > np.cumsum(seg_p[tier], axis=1)).sum(axis=1)
        segment = np.where(rng.random(n) < 0.07, 3, np.minimum(segment, 2))  # 3 = empty
        industry = np.where(rng.random(n) < 0.03, len(N.INDUSTRIES), rng.integers(0, len(N.INDUSTRIES), n))
        region = np.empty(n, dtype=object)
        for ci, c in enumerate(BILLING_CURRENCIES):
            idx = np.flatnonzero(self.cur == ci)
            regs, w = zip(*N.REGIONS_BY_CURRENCY[c], strict=True)
            region[idx] = np.array(regs, dtype=object)[rng.choice(len(regs), len(idx), p=w)]
        # Parents: a few accounts belong to a strategic or key account.
        big = np.flatnonzero(tier <= 1)
        parent = np.full(n, -1)
        child = (rng.random(n) < 0.04) & (tier >= 1)
        if len(big):
            parent = np.where(child, big[rng.integers(0, len(big), n)], -1)
            parent = np.where(parent == np.arange(n), -1, parent)
        since = np.where(
            self.existing,
            self.ms[0] - rng.integers(30, 365 * 8, n).astype("timedelta64[D]"),
            self.seg_S[:n],
        )
        # Renewal: the next anniversary of the current lifetime's start after end_month.
        anchor = np.where(self.react_month < M, self._react_start_or(since), since)
        self.anchor_M = anchor.astype("datetime64[M]")
        self.anchor_day = np.minimum((anchor - self.anchor_M.astype("datetime64[D]")).astype(np.int64), 27)
        asof_M = self.as_of.astype("datetime64[M]")
        k = ((asof_M - self.anchor_M).astype(np.int64) // 12 + 1) * 12
        renewal = (self.anchor_M + k).astype("datetime64[D]") + self.anchor_day.astype("timedelta64[D]")
        active_end = self.mrr_end[:, M - 1] > 0
        unknown = rng.random(n) < 0.08
        renewal = np.where(active_end & ~unknown, renewal, np.datetime64("NaT", "D"))
        self.renewal = renewal
        cad = rng.choice(4, size=n, p=[0.72, 0.14, 0.05, 0.09])  # monthly, quarterly, none, empty
        if n > SILENT and self.force:
            cad[SILENT] = 2
        # Recipients: the first 1-3 contacts with an e-mail address.
        want = rng.integers(1, 4, n)
        con = pl.DataFrame({"acc": self.con_acc, "email": self.con_email, "want": want[self.con_acc]}).filter(
            pl.col("email").is_not_null()
        )
        con = con.with_columns(r=pl.int_range(pl.len()).over("acc")).filter(pl.col("r") < pl.col("want"))
        rec = con.group_by("acc", maintain_order=True).agg(pl.col("email").str.join(";"))
        recipients = pl.Series([None] * n, dtype=pl.String).scatter(rec["acc"], rec["email"])
        no_rec = rng.random(n) < 0.04
        recipients = pl.select(pl.when(pl.Series(no_rec)).then(None).otherwise(recipients)).to_series()

        tier_s = _pick(("strategic", "key", "transactional"), tier)
        if self.n > UPPER_KEY and tier[UPPER_KEY] == 1:  # a valid upper-case code
            tier_s = tier_s.scatter(UPPER_KEY, "Key")
        self.tables["accounts"] = pl.DataFrame(
            {
                "account_id": self.acc_ids,
                "account_name": pl.Series(self.acc_names, dtype=pl.String),
                "tier": tier_s,
                "segment": _pick(("enterprise", "mid_market", "smb", None), segment),
                "industry": _pick((*N.INDUSTRIES, None), industry),
                "region": pl.Series(list(region), dtype=pl.String),
                "account_manager_id": self.mgr_ids.gather(self.mgr),
                "parent_account_id": pl.select(
                    pl.when(pl.Series(parent >= 0)).then(self.acc_ids.gather(np.maximum(parent, 0))).otherwise(None)
                ).to_series(),
                "customer_since": _date_series(since),
                "renewal_date": _date_series(renewal),
                "currency": _pick(BILLING_CURRENCIES, self.cur),
                "report_cadence": _pick(("monthly", "quarterly", "none", None), cad),
                "report_recipients": recipients,
            }
        )

    def _react_start_or(self, fallback: np.ndarray) -> np.ndarray:
        """Per account: the start of its reactivation segment, else ``fallback``."""
        out = fallback.copy()
        rs = np.flatnonzero(self.seg_react)
        out[self.seg_acc[rs]] = self.seg_S[rs]
        return out

    # ------------------------------------------------------------------ activities

    def _activities(self) -> None:
        rng, n, M = self.rng["activities"], self.n, self.M
        # Mean 1, with a long low tail: some accounts are touched far less than their tier expects.
        lam = ACTIVITY_RATE[self.tier] * np.clip(rng.lognormal(-0.5, 1.0, n), 0.03, 5.0)
        neglect = np.zeros((n, M), bool)
        who = np.flatnonzero(rng.random(n) < 0.10)
        ns = rng.integers(0, M, len(who))
        nl = rng.integers(2, 7, len(who))
        for a, s, length in zip(who, ns, nl, strict=True):
            neglect[a, s : s + length] = True
        if self.forced(NEGLECTED):
            neglect[NEGLECTED] = False
            neglect[NEGLECTED, M - 2 :] = True
        rate = lam[:, None] * (self.active & ~neglect)
        counts = rng.poisson(rate)
        a_idx, m_idx = np.nonzero(counts)
        row, _ = _expand(counts[a_idx, m_idx])
        acc, m = a_idx[row], m_idx[row]
        k = len(acc)
        day = np.floor(rng.random(k) * self.dim[m]).astype(np.int64)
        secs = 7 * 3600 + rng.integers(0, 11 * 3600, k)
        ts = self.ms[m].astype("datetime64[s]") + (day * 86400 + secs).astype("timedelta64[s]")
        cum = np.cumsum(ACTIVITY_TYPE_P, axis=1)
        typ = (rng.random(k)[:, None] > cum[self.tier[acc]]).sum(axis=1)
        typ = np.minimum(typ, len(ACTIVITY_TYPES) - 1)
        subj_flat = [s for t in ACTIVITY_TYPES for s in N.ACTIVITY_SUBJECTS[t]]
        subj_len = np.array([len(N.ACTIVITY_SUBJECTS[t]) for t in ACTIVITY_TYPES])
        subj_off = np.cumsum(subj_len) - subj_len
        subj = subj_off[typ] + np.floor(rng.random(k) * subj_len[typ]).astype(np.int64)
        mgr = self.mgr[acc].copy()
        other = rng.random(k) < 0.04
        mgr[other] = rng.integers(0, self.n_mgr, int(other.sum()))
        no_mgr = rng.random(k) < 0.03
        order = np.lexsort((acc, ts))
        mgr_s = self.mgr_ids.gather(mgr[order])
        mgr_s = pl.select(pl.when(pl.Series(no_mgr[order])).then(None).otherwise(mgr_s)).to_series()
        self.tables["activities"] = pl.DataFrame(
            {
                "activity_id": _ids("ACT", k, 8),
                "account_id": self.acc_ids.gather(acc[order]),
                "manager_id": mgr_s,
                "type": _pick(ACTIVITY_TYPES, typ[order]),
                "occurred_at": _ts_strings(ts[order], self.rng["format"]),
                "subject": _pick(subj_flat, subj[order]),
            }
        ).filter(pl.Series(~self._newly_quiet(acc[order], ts[order])))

    def _newly_quiet(self, acc: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Activities to leave out so that one key customer goes quiet in the last month
        (gone_quiet: no touch for more than 2 x 30 days at its end, but not a month
        earlier): its touches after 66 days before the end, when it had one between 88 and
        66 days before. Draws nothing, so every other row and file stays as it was; the
        forced accounts are left alone."""
        drop = np.zeros(len(acc), bool)
        M = self.M
        if M < 3 or self.n <= FORCE_ACCOUNTS:
            return drop
        end = self.as_of_end
        cut, floor = end - np.timedelta64(66, "D"), end - np.timedelta64(88, "D")
        steady = (self.tier == 1) & (self.mrr_end[:, M - 1] > 0) & (self.mrr_end[:, M - 2] > 0)
        steady[:FORCE_ACCOUNTS] = False
        for a in np.flatnonzero(steady):
            mine = acc == a
            if ((ts[mine] >= floor) & (ts[mine] < cut)).any() and (ts[mine] >= cut).any():
                return mine & (ts >= cut)
        return drop

    # ------------------------------------------------------------------ tickets

    def _tickets(self) -> None:
        rng, n, M = self.rng["tickets"], self.n, self.M
        lam = TICKET_RATE[self.tier] * rng.lognormal(-0.18, 0.6, n)
        # Trouble windows: for 4-12 months an account has more, more severe and lingering
        # tickets (and answers surveys less kindly, see _responses).
        trouble = np.zeros((n, M), bool)
        who = np.flatnonzero(rng.random(n) < 0.15)
        ts_ = rng.integers(0, M, len(who))
        tl = rng.integers(4, 13, len(who))
        for a, s, length in zip(who, ts_, tl, strict=True):
            trouble[a, s : s + length] = True
        self.trouble = trouble
        counts = rng.poisson(lam[:, None] * self.active * np.where(trouble, 2.5, 1.0))
        a_idx, m_idx = np.nonzero(counts)
        row, _ = _expand(counts[a_idx, m_idx])
        acc, m = a_idx[row], m_idx[row]
        k = len(acc)
        opened = self.ms[m].astype("datetime64[s]") + np.floor(rng.random(k) * self.dim[m] * 86400).astype(
            "timedelta64[s]"
        )
        hot = trouble[acc, m]
        prio = np.where(hot, rng.choice(4, size=k, p=PRIORITY_P_TROUBLE), rng.choice(4, size=k, p=PRIORITY_P))
        fr_h = rng.lognormal(np.log(FIRST_RESPONSE_HOURS[prio]), 1.0)
        res_h = rng.lognormal(np.log(RESOLUTION_HOURS[prio]), 1.1)
        stuck = rng.random(k) < np.where(hot & (prio >= 2), 0.3, 0.03)
        res_h = res_h + np.where(stuck, rng.uniform(10, 120, k) * 24, 0.0)
        # Forced: open urgent and high tickets for the neglected strategic account.
        if self.forced(NEGLECTED):
            base = self.as_of_end - np.timedelta64(5 * 86400 - 3 * 3600, "s")
            opened = np.r_[opened, base, base + np.timedelta64(86400, "s")]
            acc = np.r_[acc, NEGLECTED, NEGLECTED]
            prio = np.r_[prio, 3, 2]
            fr_h = np.r_[fr_h, 1.0, 3.0]
            res_h = np.r_[res_h, 1e6, 1e6]
            k += 2
        fr = opened + np.rint(fr_h * 3600).astype("timedelta64[s]")
        res = fr + np.rint(np.minimum(res_h, 1e6) * 3600).astype("timedelta64[s]")
        no_fr = fr >= self.as_of_end
        unresolved = res >= self.as_of_end
        nat = np.datetime64("NaT", "s")
        fr = np.where(no_fr, nat, fr)
        res = np.where(unresolved, nat, res)
        u = rng.random(k)
        week = np.timedelta64(7 * 86400, "s")
        status = np.where(
            unresolved,
            np.where(no_fr | (u < 0.6), 0, 1),  # open, pending
            np.where((res < self.as_of_end - week) & (u < 0.9), 3, 2),  # closed, solved
        )
        order = np.lexsort((acc, opened))
        self.tk_acc, self.tk_res = acc[order], res[order]
        self.tk_long = ((res - opened) > np.timedelta64(5 * 86400, "s"))[order]
        fmt = self.rng["format"]
        self.tk_ids = _ids("TKT", k, 7)
        self.tables["tickets"] = pl.DataFrame(
            {
                "ticket_id": self.tk_ids,
                "account_id": self.acc_ids.gather(acc[order]),
                "opened_at": _ts_strings(opened[order], fmt),
                "first_response_at": _ts_strings(fr[order], fmt),
                "resolved_at": _ts_strings(res[order], fmt),
                "priority": _pick(PRIORITIES, prio[order]),
                "status": _pick(("open", "pending", "solved", "closed"), status[order]),
                "subject": _pick(N.TICKET_SUBJECTS, rng.integers(0, len(N.TICKET_SUBJECTS), k)[order]),
            }
        )

    # ------------------------------------------------------------------ responses

    def _responses(self) -> None:
        rng, n, M = self.rng["responses"], self.n, self.M
        mood = np.array([9.0, 8.0, 6.5, 4.5])[rng.choice(4, size=n, p=[0.35, 0.3, 0.2, 0.15])]
        slope = rng.normal(0.0, 0.05, n)  # drift per month
        silent = rng.random(n) < 0.15
        if self.forced(SILENT):
            silent[SILENT] = True
        p_resp = np.where(silent, 0.0, rng.uniform(0.15, 0.5, n))
        phase = rng.integers(0, 3, n)
        survey = ((np.arange(M)[None, :] % 3) == phase[:, None]) & (self.mrr_end > 0)
        cnt = rng.binomial(self.con_count[:, None] * survey, p_resp[:, None])
        a_idx, m_idx = np.nonzero(cnt)
        row, _ = _expand(cnt[a_idx, m_idx])
        n_acc, n_m = a_idx[row], m_idx[row]
        k1 = len(n_acc)
        n_ts = self.ms[n_m].astype("datetime64[s]") + np.floor(rng.random(k1) * self.dim[n_m] * 86400).astype(
            "timedelta64[s]"
        )
        mu = mood[n_acc] + slope[n_acc] * (n_m - M / 2) - 2.5 * self.trouble[n_acc, n_m]
        n_score = np.clip(np.rint(rng.normal(mu, 1.6)), 0, 10).astype(np.int64)

        # CSAT after about 30% of resolved tickets.
        resolved = ~np.isnat(self.tk_res)
        take = resolved & (rng.random(len(self.tk_res)) < 0.3) & ~silent[self.tk_acc]
        c_acc = self.tk_acc[take]
        k2 = len(c_acc)
        c_ts = self.tk_res[take] + rng.integers(1800, 72 * 3600, k2).astype("timedelta64[s]")
        keep = c_ts < self.as_of_end
        c_acc, c_ts = c_acc[keep], c_ts[keep]
        c_ticket = np.flatnonzero(take)[keep]  # the ticket each CSAT response rates
        long = self.tk_long[take][keep]
        k2 = len(c_acc)
        c_mu = 1 + mood[c_acc] / 2.5 - 0.8 * long
        c_score = np.clip(np.rint(rng.normal(c_mu, 0.9)), 1, 5).astype(np.int64)

        acc = np.r_[n_acc, c_acc]
        ts = np.r_[n_ts, c_ts]
        score = np.r_[n_score, c_score]
        typ = np.r_[np.zeros(k1, np.int64), np.ones(k2, np.int64)]
        k = len(acc)
        contact = self.con_offset[acc] + np.floor(rng.random(k) * self.con_count[acc]).astype(np.int64)
        # Sentiment: 0 negative, 1 neutral, 2 positive
        sent = np.where(
            typ == 0, np.select([score >= 9, score >= 7], [2, 1], 0), np.select([score >= 4, score == 3], [2, 1], 0)
        )
        pools = (N.COMMENTS_NEGATIVE, N.COMMENTS_NEUTRAL, N.COMMENTS_POSITIVE)
        flat = [c for p in pools for c in p]
        plen = np.array([len(p) for p in pools])
        poff = np.cumsum(plen) - plen
        ci = poff[sent] + np.floor(rng.random(k) * plen[sent]).astype(np.int64)
        has_comment = rng.random(k) < 0.4
        order = np.lexsort((acc, ts))
        comment = _pick(flat, ci[order])
        comment = pl.select(pl.when(pl.Series(has_comment[order])).then(comment).otherwise(None)).to_series()
        rated = pl.concat([pl.Series([None] * k1, dtype=pl.String), self.tk_ids.gather(c_ticket)])
        typ_s = _pick(("nps", "csat"), typ[order])
        first_nps = np.flatnonzero(typ[order] == 0)
        if len(first_nps):  # a valid upper-case code
            typ_s = typ_s.scatter(int(first_nps[0]), "NPS")
        self.tables["responses"] = pl.DataFrame(
            {
                "response_id": _ids("RSP", k, 7),
                "account_id": self.acc_ids.gather(acc[order]),
                "contact_email": self.con_email.gather(contact[order]),
                "survey_type": typ_s,
                "score": pl.Series(score[order], dtype=pl.Int64),
                "responded_at": _ts_strings(ts[order], self.rng["format"]),
                "comment": comment,
                # Not a contract column (never written): the ticket a CSAT response rates,
                # for the vendor-shaped sample (Zendesk rates tickets, pipeline.sample.vendors).
                "ticket_id": rated.gather(order),
            }
        )

    # ------------------------------------------------------------------ opportunities

    def _opportunities(self) -> None:
        rng, n, M = self.rng["opps"], self.n, self.M
        D = lambda a: np.asarray(a).astype("timedelta64[D]")  # noqa: E731
        rows: list[dict[str, np.ndarray]] = []

        def add(acc, typ, amount, created, close, closed, won):
            k = len(acc)
            rows.append(
                dict(acc=np.asarray(acc, np.int64), typ=np.full(k, typ) if np.isscalar(typ) else typ,
                     amount=np.asarray(amount, np.int64), created=np.asarray(created, "datetime64[D]"),
                     close=np.asarray(close, "datetime64[D]"), closed=np.full(k, closed) if np.isscalar(closed) else closed,
                     won=np.full(k, won) if np.isscalar(won) else won)
            )  # fmt: skip

        def annual(cents):  # 12 x MRR rounded to whole currency units
            return (np.rint(np.asarray(cents) * 12 / 100) * 100).astype(np.int64)

        # New business: every lifetime that starts inside the window (incl. win-backs).
        sel = np.flatnonzero(~(self.existing[self.seg_acc] & ~self.seg_react))
        close = self.seg_S[sel] - D(rng.integers(0, 8, len(sel)))
        add(self.seg_acc[sel], 0, annual(self.seg_mrr0[sel]), close - D(rng.integers(14, 120, len(sel))),
            close, True, True)  # fmt: skip
        # Upsell won: core expansions; cross-sell won: add-ons.
        cc = self.core_change
        up = cc["delta"] > 0
        close = cc["date"][up] - D(rng.integers(0, 8, int(up.sum())))
        add(self.seg_acc[cc["seg"][up]], 1, annual(cc["delta"][up]),
            close - D(rng.integers(14, 90, len(close))), close, True, True)  # fmt: skip
        asl = self.addon_sales
        close = asl["date"] - D(rng.integers(0, 8, len(asl["seg"])))
        add(self.seg_acc[asl["seg"]], 2, annual(asl["mrr"]), close - D(rng.integers(14, 90, len(close))),
            close, True, True)  # fmt: skip
        # Renewals won on each anniversary while active; lost when a lifetime ends.
        abs_m = self.W0 + np.arange(M)
        anchor_M = np.broadcast_to(self.anchor_M[:, None], (n, M)).copy()
        first_anchor = np.where(self.existing, self.anchor_M, self.seg_S[:n].astype("datetime64[M]"))
        before_react = np.arange(M)[None, :] < self.react_month[:, None]
        anchor_M = np.where(before_react, first_anchor[:, None], anchor_M)
        diff = (abs_m[None, :] - anchor_M).astype(np.int64)
        ann = (diff > 0) & (diff % 12 == 0) & (self.mrr_end > 0)
        a_i, m_i = np.nonzero(ann)
        close = self.ms[m_i] + D(self.anchor_day[a_i]) - D(rng.integers(0, 15, len(a_i)))
        add(a_i, 3, annual(self.mrr_end[a_i, m_i]), close - D(rng.integers(30, 90, len(a_i))),
            close, True, True)  # fmt: skip
        ch = np.flatnonzero(self.seg_em < M)
        close = self.seg_E[ch] - D(rng.integers(0, 10, len(ch)))
        close = np.maximum(close, self.seg_S[ch])
        last_mrr = self.mrr_end[self.seg_acc[ch], np.maximum(self.seg_em[ch] - 1, 0)]
        add(self.seg_acc[ch], 3, annual(np.maximum(last_mrr, 100)), close - D(rng.integers(30, 90, len(ch))),
            close, True, False)  # fmt: skip
        # Open renewals for renewal dates in the next 120 days.
        soon = np.flatnonzero(~np.isnat(self.renewal) & ((self.renewal - self.as_of).astype(np.int64) <= 120))
        created = self.as_of - D(rng.integers(5, 60, len(soon)))
        add(soon, 3, annual(self.mrr_end[soon, M - 1]), created, self.renewal[soon], False, False)
        # Other upsell / cross-sell: created on active months, lost or still open.
        cnt = rng.poisson(UPSELL_OPP_RATE[self.tier][:, None] * (self.mrr_end > 0))
        a_idx, m_idx = np.nonzero(cnt)
        row, _ = _expand(cnt[a_idx, m_idx])
        acc, m = a_idx[row], m_idx[row]
        k = len(acc)
        created = self.ms[m] + D(np.floor(rng.random(k) * self.dim[m]).astype(np.int64))
        close = created + D(rng.integers(20, 150, k))
        share = rng.uniform(0.1, 0.4, k)
        amount = (np.maximum(np.rint(self.mrr_end[acc, m] * 12 * share / 10000), 1) * 10000).astype(np.int64)
        typ = 1 + (rng.random(k) < 0.5)
        is_closed = close <= self.as_of
        add(acc, typ, amount, created, close, is_closed, np.zeros(k, bool))
        if self.forced(NEGLECTED):
            created = np.array([self.as_of - np.timedelta64(20, "D")])
            amount = annual(self.mrr_end[[NEGLECTED], M - 1] * 0.25)
            add([NEGLECTED], 1, amount, created, created + np.timedelta64(75, "D"), False, False)

        acc = np.concatenate([r["acc"] for r in rows])
        typ = np.concatenate([r["typ"] for r in rows]).astype(np.int64)
        amount = np.concatenate([r["amount"] for r in rows])
        created = np.concatenate([r["created"] for r in rows])
        close = np.concatenate([r["close"] for r in rows])
        closed = np.concatenate([r["closed"] for r in rows]).astype(bool)
        won = np.concatenate([r["won"] for r in rows]).astype(bool)
        k = len(acc)
        stage = np.where(closed, np.where(won, 0, 1), 2 + rng.integers(0, len(N.OPEN_STAGES), k))
        no_close = ~closed & (rng.random(k) < 0.15)
        close = np.where(no_close, np.datetime64("NaT", "D"), close)
        order = np.lexsort((typ, acc, created))
        self.opp_created = created
        self.tables["opportunities"] = pl.DataFrame(
            {
                "opportunity_id": _ids("OPP", k, 7),
                "account_id": self.acc_ids.gather(acc[order]),
                "type": _pick(("new_business", "upsell", "cross_sell", "renewal"), typ[order]),
                "stage": _pick((N.STAGE_WON, N.STAGE_LOST, *N.OPEN_STAGES), stage[order]),
                "amount": _money(amount[order]),
                "currency": _pick(BILLING_CURRENCIES, self.cur[acc[order]]),
                "created_on": _date_series(created[order]),
                "close_date": _date_series(close[order]),
                "is_closed": pl.Series(closed[order]),
                "is_won": pl.Series(won[order]),
            }
        )

    # ------------------------------------------------------------------ health overrides

    def _overrides(self) -> None:
        rng, n, M = self.rng["overrides"], self.n, self.M
        k = int(rng.integers(2, 5))
        pool = np.flatnonzero(self.mrr_end[:, M - 1] > 0)
        if len(pool) == 0:
            pool = np.arange(n)
        who = rng.choice(pool, size=min(k, len(pool)), replace=False)
        k = len(who)
        expires = np.where(
            np.arange(k) == 0,
            self.as_of + rng.integers(20, 90, k).astype("timedelta64[D]"),
            self.as_of - rng.integers(10, 200, k).astype("timedelta64[D]"),
        )
        bands, reasons = zip(*N.OVERRIDE_REASONS, strict=True)
        self.tables["health_overrides"] = pl.DataFrame(
            {
                "account_id": self.acc_ids.gather(who),
                "band": list(bands[:k]),
                "reason": list(reasons[:k]),
                "set_by": [self.mgr_emails[self.mgr[a]] for a in who],
                "expires_on": _date_series(expires),
            },
            schema_overrides={"band": pl.String, "reason": pl.String, "set_by": pl.String},
        )

    # ------------------------------------------------------------------ looking ahead

    def _usd_mrr(self, acc: np.ndarray, m: np.ndarray | int) -> np.ndarray:
        """Month-end MRR in the reporting currency, roughly (at the generator's base rates)."""
        value = np.array([FX_USD_VALUE[c] for c in BILLING_CURRENCIES])[self.cur[acc]] / FX_USD_VALUE[self.rep]
        return self.mrr_end[acc, m] / 100 * value

    def _booked(self) -> None:
        """Subscriptions already on file for after the last month: booked add-ons of about
        one customer in eight (starting within six months) and scheduled cancellations of
        about one in fifteen (an open-ended subscription given an end date within nine
        months; the core one for a full churn). Added after every other table, so nothing
        billed in the window changes."""
        rng, M = self.rng["booked"], self.M
        subs = self.tables["subscriptions"]
        customers = np.flatnonzero(self.mrr_end[:, M - 1] > 0)
        if len(customers) == 0:
            return
        after = self.ms[M]  # the first day after the window
        book = customers[rng.random(len(customers)) < 0.12]
        k = len(book)
        start = after + (rng.integers(0, 6, k) * 30 + rng.integers(0, 28, k)).astype("timedelta64[D]")
        prod = rng.integers(0, len(N.ADDON_PRODUCTS) - 1, k)  # not the trial
        core = self.mrr_end[book, M - 1]
        share = np.array(N.ADDON_SHARE)[prod] * rng.lognormal(0.0, 0.25, k)
        mrr = np.maximum(_round_price(core / 100 * share, 5.0, rng, 0.1), 2500)
        first = subs.height + 1
        ids = pl.Series(np.arange(first, first + k, dtype=np.int64)).cast(pl.String).str.zfill(6)
        booked = pl.DataFrame(
            {
                "subscription_id": ("SUB" + ids).rename("subscription_id"),
                "account_id": self.acc_ids.gather(book),
                "product": _pick(N.ADDON_PRODUCTS, prod),
                "start_date": _date_series(start),
                "end_date": pl.Series([None] * k, dtype=pl.Date),
                "mrr": _money(mrr),
                "currency": _pick(BILLING_CURRENCIES, self.cur[book]),
            }
        )
        # Scheduled cancellations: open-ended subscriptions of customers not booking more.
        leaving = np.setdiff1d(customers[rng.random(len(customers)) < 0.07], book)
        open_ended = subs.with_row_index("_i").filter(
            pl.col("end_date").is_null() & pl.col("account_id").is_in(self.acc_ids.gather(leaving).implode())
        )
        # One per account: the core subscription (a churn) for a third, else an add-on if any.
        picks = (
            open_ended.with_columns(
                _core=pl.col("product") == N.CORE_PRODUCT,
                _u=pl.Series(rng.random(open_ended.height)),
            )
            .sort("account_id", "_core", "_u")
            .group_by("account_id", maintain_order=True)
            .agg(
                pl.col("_i").last().alias("_core_i"),
                pl.col("_i").first().alias("_first_i"),
                pl.col("_core").all().alias("_only_core"),
            )
        )
        churn = pl.Series(rng.random(picks.height) < 0.33)
        rows = picks.select(
            pl.when(churn | pl.col("_only_core")).then(pl.col("_core_i")).otherwise(pl.col("_first_i"))
        ).to_series()
        ends = after + (rng.integers(0, 9, len(rows)) * 30 + rng.integers(1, 28, len(rows))).astype("timedelta64[D]")
        end_col = subs["end_date"].scatter(rows.cast(pl.Int64), pl.Series(ends.astype("datetime64[D]")))
        subs = subs.with_columns(end_date=end_col)
        self.tables["subscriptions"] = pl.concat([subs, booked.cast(subs.schema)])

    def _goals(self) -> None:
        """Goals agreed with about a third of the customers, set so that the last month shows
        every status: met (a target already reached), missed (due by now, not reached),
        behind and on track (due later, below or on the straight line), and a few that are
        internal (visible_to_client false)."""
        rng, M = self.rng["goals"], self.M
        customers = np.flatnonzero(self.mrr_end[:, M - 1] > 0)
        who = np.sort(rng.choice(customers, size=min(len(customers), max(1, self.n // 3)), replace=False))
        last = self.W0 + (M - 1)  # the end month, datetime64[M]
        rows: list[dict[str, str]] = []
        cur_sym = {"usd": "$", "eur": "€", "gbp": "£", "cad": "C$"}.get(self.rep, self.rep.upper() + " ")

        def month(offset: int) -> str:
            return str(last + offset)

        for j, a in enumerate(who):
            kind = j % 6
            now = self._usd_mrr(np.array([a]), M - 1)[0]
            start_m = max(M - 1 - int(rng.integers(3, 8)), 0)
            then = self._usd_mrr(np.array([a]), start_m)[0] or now
            grew = now >= then * 1.08
            if kind == 0:  # met: no high-priority ticket left open
                goal = (
                    "open_high_priority_tickets",
                    "0",
                    "at_most",
                    start_m - (M - 1),
                    int(rng.integers(1, 4)),
                    "Keep every high-priority support ticket resolved",
                )
            elif kind == 1:  # missed: due this month, out of reach
                target = round(then * 1.6, -1)
                goal = (
                    "mrr",
                    f"{target:.0f}",
                    "at_least",
                    start_m - (M - 1),
                    0,
                    f"Grow recurring revenue to {cur_sym}{target:,.0f} a month",
                )
            elif kind == 2:  # behind: due later, far above a flat value
                target = round(max(now, then) * 1.5, -1)
                goal = (
                    "mrr",
                    f"{target:.0f}",
                    "at_least",
                    start_m - (M - 1),
                    int(rng.integers(2, 7)),
                    f"Grow recurring revenue to {cur_sym}{target:,.0f} a month",
                )
            elif kind == 3 and grew:  # on track: a target a little above where the account got to
                target = round(now * 1.05, -1)
                goal = (
                    "mrr",
                    f"{target:.0f}",
                    "at_least",
                    start_m - (M - 1),
                    int(rng.integers(4, 10)),
                    f"Grow recurring revenue to {cur_sym}{target:,.0f} a month",
                )
            elif kind == 3:  # on track: agreed this month, the line starts where the account is
                target = round(now * 1.2, -1)
                goal = (
                    "mrr",
                    f"{target:.0f}",
                    "at_least",
                    0,
                    int(rng.integers(6, 12)),
                    f"Grow recurring revenue to {cur_sym}{target:,.0f} a month",
                )
            elif kind == 4:  # satisfaction: often behind or missed, sometimes met
                goal = (
                    "nps_12m",
                    "50",
                    "at_least",
                    start_m - (M - 1),
                    int(rng.integers(-1, 6)),
                    "Reach a Net Promoter Score of 50",
                )
            else:  # an internal goal: a touch at least every month
                goal = (
                    "touches_3m",
                    "3",
                    "at_least",
                    start_m - (M - 1),
                    int(rng.integers(0, 6)),
                    "Internal: at least one touch a month",
                )
            metric, target_text, direction, start_off, due_off, description = goal
            rows.append(
                {
                    "goal_id": f"GOAL{len(rows) + 1:04d}",
                    "account_id": self.acc_ids[int(a)],
                    "metric": metric,
                    "target": target_text,
                    "direction": direction if direction != "at_least" or j % 4 else "",
                    "start_month": month(start_off),
                    "due_month": month(max(due_off, start_off)),
                    "owner": self.mgr_emails[self.mgr[a]],
                    "description": description,
                    "visible_to_client": "false" if kind == 5 else "true",
                }
            )
        rows += self._goal_falling_behind(len(rows), set(int(a) for a in who))
        self.tables["account_goals"] = pl.DataFrame(
            rows, schema={c: pl.String for c in SOURCES_BY_NAME["account_goals"].column_names}
        )

    def _goal_falling_behind(self, count: int, taken: set[int]) -> list[dict[str, str]]:
        """One goal on track last month and behind in the last one (the goal_behind alert):
        agreed last month, double the recurring revenue in six months, on a customer whose
        revenue stayed flat. Draws nothing; the forced accounts are left alone."""
        M = self.M
        if M < 3 or self.n <= FORCE_ACCOUNTS:
            return []
        flat = (self.mrr_end[:, M - 1] > 0) & (self.mrr_end[:, M - 1] == self.mrr_end[:, M - 2])
        flat[:FORCE_ACCOUNTS] = False
        free = [int(a) for a in np.flatnonzero(flat) if int(a) not in taken]
        if not free:
            return []
        a = free[0]
        last = self.W0 + (M - 1)
        target = round(self._usd_mrr(np.array([a]), M - 1)[0] * 2, -1)
        return [
            {
                "goal_id": f"GOAL{count + 1:04d}",
                "account_id": self.acc_ids[a],
                "metric": "mrr",
                "target": f"{target:.0f}",
                "direction": "at_least",
                "start_month": str(last - 1),
                "due_month": str(last + 5),
                "owner": self.mgr_emails[self.mgr[a]],
                "description": "Double recurring revenue within six months",
                "visible_to_client": "true",
            }
        ]

    # ------------------------------------------------------------------ fx rates

    def _fx(self) -> None:
        rng, M = self.rng["fx"], self.M
        money_dates = [self.sub_start.min(), self.ms[0]]
        if len(self.inv_issued):
            money_dates.append(self.inv_issued.min())
        if len(self.opp_created):
            money_dates.append(self.opp_created.min())
        first = min(money_dates).astype("datetime64[M]")
        months = np.arange(first, self.W0 + M)  # datetime64[M]
        starts = months.astype("datetime64[D]")
        mid = starts[rng.random(len(starts)) < 0.35] + np.timedelta64(14, "D")
        dates = np.sort(np.r_[starts, mid])
        # A mean-reverting random walk in log space for each currency's USD value.
        codes = sorted(set(BILLING_CURRENCIES) | {self.rep})
        walks = {}
        for c in codes:
            x = np.zeros(len(dates))
            eps = rng.normal(0.0, 0.012, len(dates))
            x[0] = rng.normal(0.0, 0.03)
            for i in range(1, len(dates)):
                x[i] = 0.92 * x[i - 1] + eps[i]
            walks[c] = FX_USD_VALUE[c] * np.exp(x if c != "usd" else 0.0 * x)
        frames = []
        for c in BILLING_CURRENCIES:
            if c == self.rep:
                continue
            frames.append(
                pl.DataFrame(
                    {
                        "date": _date_series(dates),
                        "currency": pl.Series([c] * len(dates), dtype=pl.String),
                        "rate": pl.Series(np.round(walks[c] / walks[self.rep], 6)),
                    }
                )
            )
        self.tables["fx_rates"] = pl.concat(frames).sort("date", "currency", maintain_order=True)
