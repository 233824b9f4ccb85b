"""The sample-data generator: deterministic, contract-shaped, realistic, with known bad rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipeline.contract import SOURCES, SOURCES_BY_NAME, Kind, Source
from pipeline.sample import SampleSummary, write_sample
from pipeline.sample import broken as B
from pipeline.sample.generator import default_end_month

ACCOUNTS, MONTHS, SEED = 30, 14, 7
END = date(2024, 6, 1)
AS_OF = date(2024, 6, 30)  # last day of END
AS_OF_END = datetime(2024, 7, 1, tzinfo=UTC)
FIRST = date(2023, 5, 1)  # END - 13 months
NON_REPORTING = ("eur", "gbp", "cad")

MONEY_RE = r"^-?\d+(\.\d{1,2})?$"
INT_RE = r"^-?\d+$"
NUMBER_RE = r"^-?\d+(\.\d+)?$"
EMAIL_RE = r"^[^@\s;]+@[^@\s;]+\.[a-z]+$"
RESERVED_EMAIL_RE = r"^[a-z0-9.\-]+@example\.(com|org|net)$"
TS_OFFSET_RE = r"([+-]\d\d:\d\d|Z)$"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    out = tmp_path_factory.mktemp("landing")
    return write_sample(out, accounts=ACCOUNTS, months=MONTHS, seed=SEED, end_month=END)


def read(path: Path) -> pl.DataFrame:
    """All columns as text; empty fields are null."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return pl.read_csv(data, infer_schema=False)


def main_file(s: SampleSummary, source: str) -> pl.DataFrame:
    src = SOURCES_BY_NAME[source]
    return read(s.out_dir / src.folder / f"{src.pattern}.csv")


def files_of(s: SampleSummary, src: Source) -> list[Path]:
    return sorted((s.out_dir / src.folder).glob(src.glob))


def to_utc(col: str) -> pl.Expr:
    """Parse the three timestamp styles (Z, +hh:mm, no offset = UTC) to UTC; bad -> null."""
    c = pl.col(col)
    norm = (
        pl.when(c.str.ends_with("Z"))
        .then(c.str.replace(r"Z$", "+00:00"))
        .when(c.str.contains(r"[+-]\d\d:\d\d$"))
        .then(c)
        .otherwise(c + "+00:00")
    )
    return norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_zone="UTC")


def to_date(col: str) -> pl.Expr:
    return pl.col(col).str.to_date("%Y-%m-%d", strict=False)


# --------------------------------------------------------------------------- a validator
# A small, independent reading of the contract, so the tests do not depend on the
# pipeline's own validation (which is someone else's part). Returns the failing row
# indexes (0-based data rows) per file.


def _column_failures(df: pl.DataFrame, src: Source) -> pl.Series:
    bad = pl.lit(False)
    for c in src.columns:
        v = pl.col(c.name)
        present = v.is_not_null() & (v.str.strip_chars() != "")
        if c.required:
            bad = bad | ~present
        if c.kind is Kind.CODE and c.codes:
            bad = bad | (present & ~v.str.to_lowercase().is_in(list(c.codes)))
        elif c.kind is Kind.CURRENCY:
            bad = bad | (present & ~v.str.contains(r"^[A-Za-z]{3}$"))
        elif c.kind is Kind.DATE:
            bad = bad | (present & to_date(c.name).is_null())
        elif c.kind is Kind.MONTH:
            bad = bad | (present & (v + "-01").str.to_date("%Y-%m-%d", strict=False).is_null())
        elif c.kind is Kind.TIMESTAMP:
            bad = bad | (present & to_utc(c.name).is_null())
        elif c.kind in (Kind.MONEY, Kind.NUMBER, Kind.INTEGER):
            rx = {Kind.MONEY: MONEY_RE, Kind.INTEGER: INT_RE}.get(c.kind, NUMBER_RE)
            ok = v.str.contains(rx)
            bad = bad | (present & ~ok)
            num = pl.when(ok).then(v.cast(pl.Float64, strict=False))
            if c.min_value is not None:
                bad = bad | (present & ok & (num < c.min_value))
            if c.max_value is not None:
                bad = bad | (present & ok & (num > c.max_value))
        elif c.kind is Kind.BOOLEAN:
            bad = bad | (present & ~v.str.to_lowercase().is_in(["true", "false"]))
        elif c.kind is Kind.EMAIL:
            bad = bad | (present & ~v.str.contains(EMAIL_RE))
        elif c.kind is Kind.EMAIL_LIST:
            parts_ok = v.str.split(";").list.eval(pl.element().str.contains(EMAIL_RE)).list.all()
            bad = bad | (present & ~parts_ok)
    rules = {
        "resolved_after_opened": to_utc("resolved_at") < to_utc("opened_at"),
        "score_in_survey_range": (pl.col("survey_type").str.to_lowercase() == "csat")
        & (pl.col("score").cast(pl.Int64, strict=False) < 1),
        "end_after_start": to_date("end_date") <= to_date("start_date"),
        "due_not_before_issued": to_date("due_on") < to_date("issued_on"),
        "rate_positive": pl.col("rate").cast(pl.Float64, strict=False) <= 0,
        "due_not_before_start": pl.col("due_month") < pl.col("start_month"),  # YYYY-MM sorts as text
    }
    for r in src.row_rules:
        bad = bad | rules[r].fill_null(False)
    return df.select(bad.alias("bad"))["bad"]


def validate(s: SampleSummary) -> dict[str, set[int]]:
    frames: dict[str, list[tuple[str, pl.DataFrame]]] = {}
    for src in SOURCES:
        frames[src.name] = [(p.relative_to(s.out_dir).as_posix(), read(p)) for p in files_of(s, src)]
    failures: dict[str, set[int]] = {}
    keys: dict[str, set[str]] = {}
    for src in SOURCES:
        for rel, df in frames[src.name]:
            bad = _column_failures(df, src)
            failures[rel] = set(np.flatnonzero(bad.to_numpy()).tolist())
    # Known keys: rows that passed the column checks, over all files of a source.
    for src in SOURCES:
        k = src.key[0]
        keys[src.name] = set()
        for rel, df in frames[src.name]:
            ok = [i for i in range(df.height) if i not in failures[rel]]
            keys[src.name] |= set(df[k].gather(ok).to_list())
    for src in SOURCES:
        refs = [c for c in src.columns if c.references]
        for rel, df in frames[src.name]:
            for c in refs:
                target = keys[c.references.split(".")[0]]
                v = df[c.name]
                for i in np.flatnonzero((v.is_not_null() & ~v.is_in(list(target))).to_numpy()):
                    failures[rel].add(int(i))
    # Conflicting duplicates: the same key with different values, over all files.
    for src in SOURCES:
        rows = []
        for rel, df in frames[src.name]:
            rows.append(
                df.with_columns(_file=pl.lit(rel), _row=pl.int_range(pl.len()), _h=pl.struct(df.columns).hash())
            )
        allrows = pl.concat(rows)
        dup = allrows.filter(pl.col("_h").n_unique().over(list(src.key)) > 1)
        for rel, i in dup.select("_file", "_row").iter_rows():
            failures[rel].add(i)
    return failures


# --------------------------------------------------------------------------- tests


def test_deterministic_and_seed_sensitive(sample: SampleSummary, tmp_path: Path) -> None:
    again = write_sample(tmp_path / "a", accounts=ACCOUNTS, months=MONTHS, seed=SEED, end_month=END)
    assert [f.path for f in again.files] == [f.path for f in sample.files]
    for f in sample.files:
        assert (sample.out_dir / f.path).read_bytes() == (again.out_dir / f.path).read_bytes(), f.path
    other = write_sample(tmp_path / "b", accounts=ACCOUNTS, months=MONTHS, seed=SEED + 1, end_month=END)
    for name in ("billing/subscriptions.csv", "crm/activities.csv", "crm/accounts.csv"):
        assert (sample.out_dir / name).read_bytes() != (other.out_dir / name).read_bytes(), name


def test_default_end_month() -> None:
    assert default_end_month(date(2024, 3, 15)) == date(2024, 2, 1)
    assert default_end_month(date(2024, 1, 1)) == date(2023, 12, 1)
    assert default_end_month(date(2024, 3, 31)) == date(2024, 2, 1)


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="accounts"):
        write_sample(tmp_path, accounts=0)
    with pytest.raises(ValueError, match="months"):
        write_sample(tmp_path, months=0)
    with pytest.raises(ValueError, match="xyz"):
        write_sample(tmp_path, reporting_currency="xyz")


def test_files_headers_and_globs(sample: SampleSummary) -> None:
    written = {f.path for f in sample.files}
    for src in SOURCES:
        main = f"{src.folder}/{src.pattern}.csv"
        assert main in written
        for p in files_of(sample, src):
            rel = p.relative_to(sample.out_dir).as_posix()
            assert rel in written
            # The glob of one source never picks up another source's file.
            assert [f.source for f in sample.files if f.path == rel] == [src.name], rel
            first = p.read_bytes().decode("utf-8").lstrip("\ufeff").split("\n", 1)[0]
            assert first == ",".join(src.column_names), rel
    assert sum(len(files_of(sample, src)) for src in SOURCES) == len(sample.files)
    # Counts in the summary are the data rows in the files.
    for f in sample.files:
        assert read(sample.out_dir / f.path).height == f.rows, f.path
    assert sample.rows["accounts"] == ACCOUNTS + 8
    assert "crm/accounts.csv" in sample.format()


def test_main_files_satisfy_the_contract(sample: SampleSummary) -> None:
    failures = validate(sample)
    for src in SOURCES:
        rel = f"{src.folder}/{src.pattern}.csv"
        assert failures[rel] == set(), f"{rel}: invalid rows {sorted(failures[rel])[:10]}"
        df = main_file(sample, src.name)
        for c in src.required_columns:  # nothing forgotten (e.g. a column added to the contract)
            assert df[c].null_count() == 0, f"{rel}.{c}"


def test_broken_files_fail_exactly_where_documented(sample: SampleSummary) -> None:
    failures = validate(sample)
    files = B.broken_files(_ctx())
    assert sum(f.broken_rows for f in files) == sample.total_broken_rows
    for bf in files:
        expected = {i for i, r in enumerate(bf.rows) if r.kind is not None}
        assert failures[bf.path] == expected, bf.path
        assert sample.broken_rows[bf.path] == len(expected)
        assert 0 < len(bf.rows) <= 10
    kinds = {r.kind for f in files for r in f.rows}
    assert set(B.KINDS) <= kinds
    # Every conflicting duplicate is inside one file, with different values.
    for bf in files:
        dups = [r for r in bf.rows if r.kind == B.DUPLICATE]
        by_key: dict[str, list[dict[str, str]]] = {}
        for r in dups:
            by_key.setdefault(r.key, []).append(r.values)
        assert all(len(v) == 2 and v[0] != v[1] for v in by_key.values())


def test_broken_keys_do_not_collide_with_main_keys(sample: SampleSummary) -> None:
    for bf in B.broken_files(_ctx()):
        src = SOURCES_BY_NAME[bf.source]
        main_keys = set(main_file(sample, src.name)[src.key[0]].to_list())
        assert not main_keys & {r.key for r in bf.rows}, bf.path


def test_broken_rows_are_documented() -> None:
    doc = B.__doc__ or ""
    assert B.describe(B.broken_files(_ctx())) in doc


def _ctx() -> B.SampleContext:
    return B.SampleContext(
        first_month=FIRST,
        end_month=END,
        account_ids=("ACC00001",),
        account_currencies=("usd",),
        manager_ids=("AM001",),
        contact_emails=("a@example.com",),
        account_id_width=5,
    )


def test_upper_case_codes_present(sample: SampleSummary) -> None:
    assert "Key" in main_file(sample, "accounts")["tier"].to_list()
    assert "NPS" in main_file(sample, "responses")["survey_type"].to_list()
    assert "Paid" in main_file(sample, "invoices")["status"].to_list()


def test_formats(sample: SampleSummary) -> None:
    acts = main_file(sample, "activities")["occurred_at"]
    assert acts.str.ends_with("Z").any()
    assert acts.str.contains(r"[+-]\d\d:\d\d$").any()
    assert (~acts.str.contains(TS_OFFSET_RE)).any()
    for name, col in (("subscriptions", "mrr"), ("invoices", "total"), ("invoice_lines", "amount")):
        assert main_file(sample, name)[col].str.contains(r"^\d+\.\d\d$").all(), name
    emails = pl.concat(
        [
            main_file(sample, "contacts")["email"].drop_nulls(),
            main_file(sample, "account_managers")["email"],
            main_file(sample, "accounts")["report_recipients"].drop_nulls().str.split(";").explode(),
        ]
    )
    assert emails.str.contains(RESERVED_EMAIL_RE).all()
    assert (sample.out_dir / "surveys/responses.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (sample.out_dir / "crm/accounts.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_row_rules_in_main_files(sample: SampleSummary) -> None:
    subs = main_file(sample, "subscriptions").with_columns(s=to_date("start_date"), e=to_date("end_date"))
    assert subs.filter(pl.col("e") <= pl.col("s")).height == 0
    assert subs["s"].min() >= FIRST
    # Only booked subscriptions start after the window: open-ended add-ons within 6 months.
    booked = subs.filter(pl.col("s") > AS_OF)
    assert booked["e"].null_count() == booked.height and booked["s"].max() <= date(2024, 12, 31)
    assert not booked["product"].is_in(["Core Platform", "Pilot"]).any()
    inv = main_file(sample, "invoices").with_columns(
        i=to_date("issued_on"), d=to_date("due_on"), p=to_date("paid_on"), st=pl.col("status").str.to_lowercase()
    )
    assert inv.filter(pl.col("d") < pl.col("i")).height == 0
    assert inv["i"].max() <= AS_OF and inv["p"].max() <= AS_OF
    assert inv.filter((pl.col("st") == "paid") != pl.col("p").is_not_null()).height == 0
    assert inv.filter(pl.col("p") < pl.col("i")).height == 0
    for r in inv.iter_rows(named=True):
        assert Decimal(r["subtotal"]) + Decimal(r["tax"]) == Decimal(r["total"]), r["invoice_id"]
    lines = main_file(sample, "invoice_lines")
    sums = (
        lines.with_columns(
            a=pl.col("amount").str.replace(".", "", literal=True).cast(pl.Int64),
            t=pl.col("tax_amount").str.replace(".", "", literal=True).cast(pl.Int64),
        )
        .group_by("invoice_id")
        .agg(pl.col("a").sum(), pl.col("t").sum(), n=pl.len())
    )
    joined = inv.with_columns(
        sub=pl.col("subtotal").str.replace(".", "", literal=True).cast(pl.Int64),
        tx=pl.col("tax").str.replace(".", "", literal=True).cast(pl.Int64),
    ).join(sums, on="invoice_id", how="left")
    assert joined["n"].null_count() == 0  # every invoice has lines
    assert (joined["a"] == joined["sub"]).all() and (joined["t"] == joined["tx"]).all()
    ps, pe = to_date("period_start"), to_date("period_end")
    assert lines.filter(pe < ps).height == 0

    tk = main_file(sample, "tickets").with_columns(
        o=to_utc("opened_at"), f=to_utc("first_response_at"), r=to_utc("resolved_at")
    )
    assert (
        tk.filter((pl.col("r") < pl.col("o")) | (pl.col("f") < pl.col("o")) | (pl.col("r") < pl.col("f"))).height == 0
    )
    assert tk["o"].max() < AS_OF_END and tk["r"].max() < AS_OF_END
    unresolved = tk.filter(pl.col("r").is_null())["status"].unique().to_list()
    assert set(unresolved) <= {"open", "pending"}
    rsp = main_file(sample, "responses").with_columns(
        t=pl.col("survey_type").str.to_lowercase(), sc=pl.col("score").cast(pl.Int64), ts=to_utc("responded_at")
    )
    assert rsp.filter((pl.col("t") == "nps") & ~pl.col("sc").is_between(0, 10)).height == 0
    assert rsp.filter((pl.col("t") == "csat") & ~pl.col("sc").is_between(1, 5)).height == 0
    assert rsp["ts"].max() < AS_OF_END
    # Respondents are contacts of the same account.
    con = main_file(sample, "contacts").select("account_id", contact_email="email")
    strangers = rsp.filter(pl.col("contact_email").is_not_null()).join(
        con, on=["account_id", "contact_email"], how="anti"
    )
    assert strangers.height == 0
    assert main_file(sample, "activities").select(to_utc("occurred_at").max()).item() < AS_OF_END
    opp = main_file(sample, "opportunities").with_columns(c=to_date("created_on"), d=to_date("close_date"))
    assert opp["c"].max() <= AS_OF
    assert opp.filter(pl.col("d") < pl.col("c")).height == 0
    assert opp.filter((pl.col("is_won") == "true") & (pl.col("is_closed") == "false")).height == 0


def month_end_mrr(sample: SampleSummary) -> tuple[list[str], np.ndarray]:
    subs = main_file(sample, "subscriptions").with_columns(
        s=to_date("start_date"), e=to_date("end_date"), mrr=pl.col("mrr").cast(pl.Float64)
    )
    ends = []
    for k in range(1, MONTHS + 1):  # the first day of the next month, minus one day
        y, m = divmod(FIRST.month - 1 + k, 12)
        ends.append(date(FIRST.year + y, m + 1, 1) - timedelta(days=1))
    months = pl.DataFrame({"m": list(range(MONTHS)), "d": ends})
    active = subs.join(months, how="cross").filter(
        (pl.col("s") <= pl.col("d")) & (pl.col("e").is_null() | (pl.col("d") < pl.col("e")))
    )
    accs = main_file(sample, "accounts")["account_id"].to_list()
    idx = {a: i for i, a in enumerate(accs)}
    mat = np.zeros((len(accs), MONTHS))
    agg = active.group_by("account_id", "m").agg(pl.col("mrr").sum())
    for a, m, v in agg.iter_rows():
        mat[idx[a], m] = v
    return accs, mat


def test_mrr_scenarios(sample: SampleSummary) -> None:
    _, mrr = month_end_mrr(sample)
    prev, curr = mrr[:, :-1], mrr[:, 1:]
    had_before = np.maximum.accumulate(mrr > 0, axis=1)[:, :-1]
    churn = (prev > 0) & (curr == 0)
    react = (prev == 0) & (curr > 0) & had_before
    expansion = (prev > 0) & (curr > prev)
    contraction = (prev > 0) & (curr > 0) & (curr < prev)
    new = (prev == 0) & (curr > 0) & ~had_before
    for name, flags in (("churn", churn), ("reactivation", react), ("expansion", expansion),
                        ("contraction", contraction), ("new", new)):  # fmt: skip
        assert flags.any(), name
    subs = main_file(sample, "subscriptions").with_columns(s=to_date("start_date"), e=to_date("end_date"))
    assert subs["e"].null_count() > 0  # open-ended
    one_month = subs.filter(
        (pl.col("s").dt.truncate("1mo") == pl.col("e").dt.truncate("1mo")) & (pl.col("e") > pl.col("s"))
    )
    assert one_month.height > 0
    # Overlapping products on one account.
    assert subs.group_by("account_id").agg(pl.col("product").n_unique())["product"].max() >= 2
    # New accounts start throughout the window.
    first_start = subs.group_by("account_id").agg(pl.col("s").min())["s"]
    assert (first_start > FIRST).sum() >= 3


def test_fx_rates_cover_every_money_date(sample: SampleSummary) -> None:
    fx = main_file(sample, "fx_rates").with_columns(d=to_date("date"), r=pl.col("rate").cast(pl.Float64))
    assert set(fx["currency"].unique()) == set(NON_REPORTING)  # never the reporting currency
    assert fx.filter(pl.col("d").dt.day() != 1).height > 0  # some mid-month rates
    first_rate = fx.group_by("currency").agg(pl.col("d").min())
    dates = pl.concat(
        [
            main_file(sample, "subscriptions").select(to_date("start_date").alias("d")),
            main_file(sample, "invoices").select(to_date("issued_on").alias("d")),
            main_file(sample, "opportunities").select(to_date("created_on").alias("d")),
        ]
    )
    assert first_rate["d"].max() <= dates["d"].min()
    # One rate on the first of every month from the first rate to END.
    for cur in NON_REPORTING:
        firsts = fx.filter((pl.col("currency") == cur) & (pl.col("d").dt.day() == 1))["d"]
        assert firsts.len() == firsts.n_unique()
        assert firsts.max() == END
        expected = (END.year - firsts.min().year) * 12 + END.month - firsts.min().month + 1
        assert firsts.len() == expected
        r = fx.filter(pl.col("currency") == cur)["r"]
        assert r.min() > 0.5 and r.max() < 1.6


def test_other_reporting_currency(tmp_path: Path) -> None:
    s = write_sample(tmp_path, accounts=8, months=3, seed=1, end_month=END, reporting_currency="EUR")
    fx = read(s.out_dir / "billing/fx_rates.csv")
    assert set(fx["currency"].unique()) == {"usd", "gbp", "cad"}
    usd = fx.filter(pl.col("currency") == "usd")["rate"].cast(pl.Float64)
    assert usd.is_between(0.8, 1.05).all()  # one dollar is a bit less than a euro


def test_realism(sample: SampleSummary) -> None:
    acc = main_file(sample, "accounts").with_columns(tier=pl.col("tier").str.to_lowercase())
    assert set(acc["tier"]) == {"strategic", "key", "transactional"}
    counts = acc["tier"].value_counts().sort("count")["tier"].to_list()
    assert counts[0] == "strategic" and counts[-1] == "transactional"
    assert acc["segment"].null_count() > 0
    assert acc["renewal_date"].null_count() > 0
    renew = acc.with_columns(d=to_date("renewal_date"))["d"].drop_nulls()
    assert ((renew > AS_OF) & (renew <= AS_OF + timedelta(days=90))).any()
    assert acc["parent_account_id"].drop_nulls().is_in(acc["account_id"].to_list()).all()
    assert acc["parent_account_id"].drop_nulls().len() > 0 or ACCOUNTS < 50
    assert len(main_file(sample, "account_managers")) >= 4
    assert "usd" in set(acc["currency"]) and acc["currency"].n_unique() >= 2
    recipients = acc["report_recipients"].drop_nulls().str.split(";").list.len()
    assert recipients.min() >= 1 and recipients.max() <= 3

    con = main_file(sample, "contacts")
    per = con.group_by("account_id").agg(n=pl.len(), p=(pl.col("is_primary") == "true").sum())
    assert per.height == ACCOUNTS and per["n"].is_between(1, 5).all() and (per["p"] == 1).all()

    rsp = main_file(sample, "responses").with_columns(
        t=pl.col("survey_type").str.to_lowercase(), sc=pl.col("score").cast(pl.Int64)
    )
    nps = rsp.filter(pl.col("t") == "nps")["sc"]
    assert (nps >= 9).any() and nps.is_between(7, 8).any() and (nps <= 6).any()
    assert rsp.filter(pl.col("t") == "csat").height > 0
    assert rsp["account_id"].n_unique() < ACCOUNTS  # some accounts never answer
    comments = rsp["comment"].drop_nulls()
    assert comments.str.contains(",").any() and comments.str.contains('"').any()
    assert comments.str.contains(r"[^\x00-\x7f]").any()

    act = main_file(sample, "activities")
    per_tier = act.join(acc.select("account_id", "tier"), on="account_id").group_by("tier").len()
    rate = {t: n / acc.filter(pl.col("tier") == t).height for t, n in per_tier.iter_rows()}
    assert rate["strategic"] > rate["transactional"]
    assert set(act["type"].str.to_lowercase()) == {"call", "email", "meeting", "qbr", "visit", "other"}

    tk = main_file(sample, "tickets").with_columns(r=to_utc("resolved_at"))
    assert set(tk["priority"]) == {"low", "normal", "high", "urgent"}
    open_end = tk.filter(pl.col("r").is_null())
    assert open_end.filter(pl.col("priority").is_in(["high", "urgent"])).height > 0
    assert {"open", "solved", "closed"} <= set(tk["status"])

    opp = main_file(sample, "opportunities")
    assert set(opp["type"]) == {"new_business", "upsell", "cross_sell", "renewal"}
    assert opp.filter((pl.col("is_closed") == "true") & (pl.col("is_won") == "false")).height > 0
    assert opp.filter(pl.col("is_won") == "true").height > 0
    assert opp.filter((pl.col("is_closed") == "false") & pl.col("type").is_in(["upsell", "cross_sell"])).height > 0

    inv = main_file(sample, "invoices").with_columns(
        st=pl.col("status").str.to_lowercase(), d=to_date("due_on"), p=to_date("paid_on")
    )
    assert {"paid", "open"} <= set(inv["st"])
    assert inv.filter(pl.col("p") > pl.col("d")).height > 0  # paid late
    assert inv.filter((pl.col("st") == "open") & (pl.col("d") < AS_OF)).height > 0  # overdue now
    tax_rate = inv.select(pl.col("tax").cast(pl.Float64) / pl.col("subtotal").cast(pl.Float64))
    assert tax_rate.to_series().is_between(0.07, 0.22).all()

    ov = main_file(sample, "health_overrides").with_columns(e=to_date("expires_on"))
    assert 2 <= ov.height <= 4 and (ov["e"] > AS_OF).sum() == 1 and (ov["e"] < END).any()


def test_statuses_over_a_bigger_sample(tmp_path: Path) -> None:
    """Rare codes (void, draft, uncollectible invoices; pending tickets) show up at 200 accounts."""
    s = write_sample(tmp_path, accounts=200, months=24, seed=3, end_month=END)
    inv = read(s.out_dir / "billing/invoices.csv")["status"].str.to_lowercase()
    assert set(inv) == {"draft", "open", "paid", "void", "uncollectible"}
    assert "pending" in set(read(s.out_dir / "crm/tickets.csv")["status"])
    cad = read(s.out_dir / "crm/accounts.csv")["report_cadence"]
    assert {"monthly", "quarterly", "none"} <= set(cad.drop_nulls()) and cad.null_count() > 0


def test_looking_ahead_data(sample: SampleSummary) -> None:
    """Booked expansions, scheduled cancellations, renewals over the coming year, and goals
    for about a third of the accounts (customers), some hidden from the client."""
    subs = main_file(sample, "subscriptions").with_columns(s=to_date("start_date"), e=to_date("end_date"))
    accounts = main_file(sample, "accounts").with_columns(r=to_date("renewal_date"))
    _, mrr = month_end_mrr(sample)
    ids = main_file(sample, "accounts")["account_id"].to_list()
    customers = {a for a, m in zip(ids, mrr[:, -1], strict=True) if m > 0}
    booked = subs.filter(pl.col("s") > AS_OF)
    assert booked.height >= 1 and set(booked["account_id"]) <= customers
    # Scheduled ends: subscriptions active at the end of the window with an end date after it.
    scheduled = subs.filter((pl.col("s") <= AS_OF) & (pl.col("e") > AS_OF))
    assert scheduled.height >= 2
    # Renewal dates fall in the coming year, spread over several months.
    renewals = accounts.filter(pl.col("r").is_not_null())["r"]
    assert renewals.min() > AS_OF and renewals.max() <= date(2025, 6, 30)
    assert renewals.dt.month().n_unique() >= 6
    goals = main_file(sample, "account_goals")
    assert ACCOUNTS // 3 <= goals.height <= ACCOUNTS // 3 + 2  # about a third (one more for the alerts)
    assert set(goals["account_id"]) <= customers and goals["goal_id"].is_unique().all()
    assert set(goals["metric"]) >= {"mrr", "open_high_priority_tickets", "nps_12m"}
    assert (goals["visible_to_client"] == "false").sum() >= 1
    assert (goals["due_month"] >= goals["start_month"]).all()
