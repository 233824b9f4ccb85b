"""Looking ahead on a hand-built portfolio: every forecast and goal value worked out by hand.

Issue 18, "done means": for a hand-built portfolio every new column of
marts.account_forecast, marts.band_retention, marts.account_goals and
marts.portfolio_monthly matches a hand computation from docs/metrics.md, the client
report shows a client its own visible goals, and the pack's looking-ahead page carries
the mart's numbers. Nothing here calls a product function to get an expected value; the
arithmetic is in the comments.

Reporting month R = 2026-06 (end 2026-06-30); data from 2025-01; usd only. Every account's
health band is pinned by an override that never expires, so the bands are known:

    acct tier           segment     mgr  band   subscriptions (usd, month-end MRR)
    A1   strategic      enterprise  M1   green  S1 1000 from 2025-01-01; S1c +100 from 2025-12-01;
                                                S1b +200 booked from 2026-08-10
    A2   key            mid_market  M1   green  S2 500 from 2025-01-01, scheduled end 2026-09-15
    A3   key            smb         M2   amber  S3 400 2025-01-01..2025-07-01 (churn 2025-07);
                                                S3b 300 from 2025-10-01 (reactivation)
    A4   transactional  smb         M2   red    S4 200 from 2025-04-01
    A5   transactional  smb         M2   –      S5 150 booked from 2026-07-05, nothing before:
                                                booked new business, no account_monthly row

Band retention at R, t = M-14 .. M-3 = 2025-04 .. 2026-03 (pairs with MRR(t) > 0):
    green  A1 Σ MRR(t) = 8×1000 + 4×1100 = 12400, Σ MRR(t+3) = 5×1000 + 7×1100 = 12700;
           A2 12×500 = 6000 and 6000: 24 pairs, rate 18700 / 18400 (its own, 24 >= 20)
    amber  A3 t = 2025-04..06 (400) and 2025-10..2026-03 (300): 9 pairs, 3000 -> 1800
           (0.6 of its own), pooled
    red    A4 12 pairs, 2400 -> 2400 (1.0 of its own), pooled
    low data: no pairs, pooled
    pooled = (18700 + 1800 + 2400) / (18400 + 3000 + 2400) = 22900 / 23800
At M-3 = 2026-03 (t = 2025-01 .. 2025-12): green (12400 + 6000) / (12100 + 6000) = 18400 / 18100;
pooled (18400 + 2100 + 1800) / (18100 + 3300 + 1800) = 22300 / 23200.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date
from decimal import ROUND_HALF_UP
from decimal import Decimal as D
from html import unescape
from pathlib import Path

import polars as pl
import pytest

from pipeline.reporting.client.context import build_client_context
from pipeline.reporting.pack.context import build_leadership_context
from pipeline.reporting.periods import report_period
from pipeline.resources.warehouse import Warehouse, fetch
from pipeline.runs import run_month
from pipeline.settings import load_settings
from pipeline.store.pack_inputs import load_leadership_inputs
from pipeline.store.report_inputs import load_report_inputs

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("forecast_marts")]

R = date(2026, 6, 1)
M3 = date(2026, 3, 1)
CENT = D("0.01")


def cents(value) -> D:
    return D(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def landing_files() -> dict[str, tuple[list[str], list[list[str]]]]:
    never = "2099-01-01"
    return {
        "crm/account_managers.csv": (
            ["manager_id", "name", "email", "team"],
            [["M1", "Maria Lopez", "maria@example.com", "East"], ["M2", "Sam Okafor", "sam@example.com", "West"]],
        ),
        "crm/accounts.csv": (
            ["account_id", "account_name", "tier", "segment", "account_manager_id", "renewal_date", "currency"],
            [
                ["A1", "Alpha", "strategic", "enterprise", "M1", "2026-08-15", "usd"],  # due, green
                ["A2", "Beta", "key", "mid_market", "M1", "2026-10-01", "usd"],  # after end(M+3)
                ["A3", "Gamma", "key", "smb", "M2", "2026-07-01", "usd"],  # due, amber: at risk
                ["A4", "Delta", "transactional", "smb", "M2", "2026-06-30", "usd"],  # = end(R): not due
                ["A5", "Epsilon", "transactional", "smb", "M2", "2026-09-30", "usd"],  # due, no MRR
            ],
        ),
        "crm/health_overrides.csv": (
            ["account_id", "band", "reason", "set_by", "expires_on"],
            [
                ["A1", "green", "pinned for the test", "t", never],
                ["A2", "green", "pinned for the test", "t", never],
                ["A3", "amber", "pinned for the test", "t", never],
                ["A4", "red", "pinned for the test", "t", never],
            ],
        ),
        "billing/subscriptions.csv": (
            ["subscription_id", "account_id", "product", "start_date", "end_date", "mrr", "currency"],
            [
                ["S1", "A1", "Core", "2025-01-01", "", "1000.00", "usd"],
                ["S1c", "A1", "Seats", "2025-12-01", "", "100.00", "usd"],
                ["S1b", "A1", "Analytics", "2026-08-10", "", "200.00", "usd"],
                ["S2", "A2", "Core", "2025-01-01", "2026-09-15", "500.00", "usd"],
                ["S3", "A3", "Core", "2025-01-01", "2025-07-01", "400.00", "usd"],
                ["S3b", "A3", "Core", "2025-10-01", "", "300.00", "usd"],
                ["S4", "A4", "Core", "2025-04-01", "", "200.00", "usd"],
                ["S5", "A5", "Core", "2026-07-05", "", "150.00", "usd"],
            ],
        ),
        "crm/opportunities.csv": (
            [
                "opportunity_id",
                "account_id",
                "type",
                "stage",
                "amount",
                "currency",
                "created_on",
                "close_date",
                "is_closed",
                "is_won",
            ],
            [
                ["O1", "A1", "upsell", "Won", "900.00", "usd", "2025-08-01", "2025-09-10", "true", "true"],
                ["O2", "A2", "cross_sell", "Lost", "300.00", "usd", "2025-12-01", "2026-02-01", "true", "false"],
                ["O3", "A3", "upsell", "Won", "100.00", "usd", "2026-05-01", "2026-06-30", "true", "true"],
                [
                    "O4",
                    "A4",
                    "upsell",
                    "Won",
                    "50.00",
                    "usd",
                    "2025-05-01",
                    "2025-06-30",
                    "true",
                    "true",
                ],  # before M-11
                ["O5", "A1", "upsell", "Proposal", "1000.00", "usd", "2026-05-01", "2026-09-30", "false", "false"],
                [
                    "O6",
                    "A2",
                    "renewal",
                    "Won",
                    "800.00",
                    "usd",
                    "2026-01-01",
                    "2026-03-01",
                    "true",
                    "true",
                ],  # not expansion
            ],
        ),
        "crm/account_goals.csv": (
            [
                "goal_id",
                "account_id",
                "metric",
                "target",
                "direction",
                "start_month",
                "due_month",
                "owner",
                "description",
                "visible_to_client",
            ],
            [
                [
                    "G1",
                    "A1",
                    "mrr",
                    "1300",
                    "",
                    "2025-10",
                    "2026-09",
                    "maria@example.com",
                    "Grow to 1,300 a month",
                    "true",
                ],
                ["G2", "A4", "overdue_amount", "0", "at_most", "2026-01", "2026-05", "", "Nothing overdue", "true"],
                [
                    "G3",
                    "A2",
                    "touches_3m",
                    "3",
                    "at_least",
                    "2026-04",
                    "2026-06",
                    "",
                    "Internal: three touches",
                    "false",
                ],
                ["G4", "A3", "nps_12m", "30", "at_least", "2026-05", "2026-12", "", "An NPS of 30", ""],
                ["G5", "A3", "MRR", "400", "AT_LEAST", "2026-06", "2026-12", "", "Grow to 400 a month", "true"],
                ["GX1", "A1", "revenue", "10", "at_least", "2026-01", "2026-06", "", "bad metric", "true"],
                ["GX2", "A1", "mrr", "10", "at_least", "2026-06", "2026-01", "", "due before start", "true"],
                ["GX3", "A9", "mrr", "10", "at_least", "2026-01", "2026-06", "", "unknown account", "true"],
            ],
        ),
    }


def write_landing(landing: Path) -> None:
    for rel, (header, rows) in landing_files().items():
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        path.write_bytes(buf.getvalue().encode("utf-8"))


@pytest.fixture(autouse=True)
def test_instance():
    """The shared run below uses its own DAGSTER_HOME; no per-test instance is needed."""
    yield None


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    """One run of the data stages for R on the hand-built landing folder, shared."""
    root = tmp_path_factory.mktemp("forecast")
    data = root / "data"
    (data / "landing").mkdir(parents=True)
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    write_landing(data / "landing")
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("PIPELINE_")]:
            mp.delenv(name)
        mp.chdir(root)
        mp.setenv("PIPELINE_DATA_DIR", str(data))
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("PIPELINE_FIRST_MONTH", "2025-01")
        assert run_month(R, select="group:ingest or group:staging or group:marts", quiet=True) == 0
        settings = load_settings()
        wh = Warehouse(data / "warehouse.duckdb")
        with wh.connect(read_only=True) as con:
            tables = {
                name: fetch(con, f"SELECT * FROM marts.{name} ORDER BY ALL")
                for name in ("account_forecast", "band_retention", "account_goals", "portfolio_monthly")
            }
            tables["quarantine"] = fetch(con, 'SELECT * FROM ops.quarantine ORDER BY source, "row"')
        report = load_report_inputs(wh, R, settings.reporting_currency, False)
        pack = load_leadership_inputs(wh, R)
        yield {"settings": settings, "report": report, "pack": pack, **tables}


def one(frame: pl.DataFrame, **keys) -> dict:
    rows = frame.filter(*[pl.col(k) == v for k, v in keys.items()]).rows(named=True)
    assert len(rows) == 1, f"expected one row for {keys}, got {len(rows)}"
    return rows[0]


# --------------------------------------------------------------------------- inputs


def test_bad_goals_are_quarantined_with_a_reason(run):
    q = run["quarantine"].filter(pl.col("source") == "account_goals")
    by_key = {r["record_key"]: r for r in q.iter_rows(named=True)}
    assert set(by_key) == {"GX1", "GX2", "GX3"}
    assert by_key["GX1"]["column"] == "metric" and "numeric column of marts.account_monthly" in by_key["GX1"]["reason"]
    assert by_key["GX2"]["column"] == "due_month" and "before start_month" in by_key["GX2"]["reason"]
    assert by_key["GX3"]["column"] == "account_id" and "unknown account 'A9'" in by_key["GX3"]["reason"]
    assert all(r["file"] == "crm/account_goals.csv" and r["stage"] == "staging" for r in by_key.values())


# --------------------------------------------------------------------------- band retention


def test_band_retention_at_r_and_at_m_minus_3(run):
    br = run["band_retention"]
    pooled = 22900 / 23800
    expected = {
        "green": (24, 18700 / 18400, 18700 / 18400, False),
        "amber": (9, 1800 / 3000, pooled, True),
        "red": (12, 1.0, pooled, True),
        "insufficient_data": (0, None, pooled, True),
    }
    for band, (pairs, own, rate, is_pooled) in expected.items():
        row = one(br, month=R, band=band)
        assert row["pairs"] == pairs, band
        assert (row["band_rate"] is None) == (own is None) and (own is None or abs(row["band_rate"] - own) < 1e-12)
        assert abs(row["rate"] - rate) < 1e-12 and row["pooled"] is is_pooled, band
        assert abs(row["pooled_rate"] - pooled) < 1e-12
    assert abs(one(br, month=M3, band="green")["rate"] - 18400 / 18100) < 1e-12
    assert abs(one(br, month=M3, band="red")["rate"] - 22300 / 23200) < 1e-12


# --------------------------------------------------------------------------- account forecast


def test_committed_mrr_per_account(run):
    af = run["account_forecast"]
    # cmrr_k = MRR of the subscriptions on file on end(R+k): Jul, Aug, Sep 2026, ...
    expected = {
        "A1": [1100] + [1300] * 11,  # S1b from 2026-08-10
        "A2": [500, 500] + [0] * 10,  # S2 ends 2026-09-15: not active on 2026-09-30
        "A3": [300] * 12,
        "A4": [200] * 12,
        "A5": [150] * 12,  # booked from 2026-07-05
    }
    for account, values in expected.items():
        row = one(af, account_id=account, month=R)
        assert [row[f"cmrr_{k}m"] for k in range(1, 13)] == [D(v) for v in values], account


def test_expected_mrr_band_retention_and_renewals_per_account(run):
    af = run["account_forecast"]
    green, pooled = 18700 / 18400, 22900 / 23800
    expected = {
        # account: (mrr, band, expected_mrr_3m, rate, pooled, renewal_due_3m)
        "A1": (1100, "green", 1100 * green, green, False, True),
        "A2": (500, "green", 500 * green, green, False, False),  # 2026-10-01 > end(2026-09)
        "A3": (300, "amber", 300 * pooled, pooled, True, True),
        "A4": (200, "red", 200 * pooled, pooled, True, False),  # 2026-06-30 = end(R): not after it
        "A5": (0, None, 150, None, None, True),  # booked new business: its cmrr_3m, no rate
    }
    for account, (mrr, band, exp, rate, is_pooled, due) in expected.items():
        row = one(af, account_id=account, month=R)
        assert row["mrr"] == D(mrr) and row["band"] == band, account
        assert cents(row["expected_mrr_3m"]) == cents(exp), account
        assert (row["band_retention_3m"] is None) == (rate is None), account
        if rate is not None:
            assert abs(row["band_retention_3m"] - rate) < 1e-12
        assert row["band_retention_pooled"] is is_pooled and row["renewal_due_3m"] is due, account
    assert one(af, account_id="A5", month=R)["tier"] == "transactional"  # from the CRM: no monthly row


# --------------------------------------------------------------------------- portfolio


def test_portfolio_forecast_columns_for_the_whole_portfolio(run):
    row = one(run["portfolio_monthly"], month=R, grouping="all", group_value="all")
    green, pooled = 18700 / 18400, 22900 / 23800
    assert row["cmrr_3m"] == D(1300 + 0 + 300 + 200 + 150)
    assert row["cmrr_12m"] == D(1300 + 0 + 300 + 200 + 150)
    assert cents(row["expected_mrr_3m"]) == cents(
        D("1117.9348") + D("508.1522") + D("288.6555") + D("192.4370") + D(150)
    )
    assert abs(float(row["expected_mrr_3m"]) - (1600 * green + 500 * pooled + 150)) < 0.001
    # The forecast made at 2026-03 for the customers then (A1..A4), against their MRR at R.
    g3, p3 = 18400 / 18100, 22300 / 23200
    made = 1100 * g3 + 500 * g3 + 300 * p3 + 200 * p3
    assert cents(row["forecast_expected_3m"]) == cents(made)
    assert row["forecast_actual_3m"] == D(1100 + 500 + 300 + 200)
    assert abs(row["forecast_error_3m"] - (float(row["forecast_expected_3m"]) - 2100) / 2100) < 1e-12
    assert abs(row["forecast_error_3m"] - (made - 2100) / 2100) < 1e-6
    assert row["forecast_abs_error_3m"] == abs(row["forecast_error_3m"])
    # Renewals in (2026-06-30, 2026-09-30]: A1 1100 (green), A3 300 (amber, at risk), A5 0.
    assert row["renewal_mrr_due_3m"] == D(1400) and row["renewal_mrr_at_risk_3m"] == D(300)
    # Win rate over close dates 2025-07 .. 2026-06: O1 won, O2 lost, O3 won (O4 too early,
    # O6 a renewal): 2 / 3; open expansion pipeline at R: O5 1000.
    assert abs(row["expansion_win_rate_12m"] - 2 / 3) < 1e-12
    assert row["weighted_expansion_pipeline"] == D("666.6667")


def test_portfolio_forecast_columns_per_grouping(run):
    pm = run["portfolio_monthly"]
    tiers = {
        r["group_value"]: r
        for r in pm.filter((pl.col("month") == R) & (pl.col("grouping") == "tier")).iter_rows(named=True)
    }
    assert tiers["strategic"]["cmrr_3m"] == D(1300)
    assert tiers["key"]["cmrr_3m"] == D(300)  # A2 0 + A3 300
    assert tiers["transactional"]["cmrr_3m"] == D(350)  # A4 200 + A5 150 (booked, from the CRM)
    managers = {
        r["group_value"]: r
        for r in pm.filter((pl.col("month") == R) & (pl.col("grouping") == "account_manager")).iter_rows(named=True)
    }
    assert managers["M1"]["renewal_mrr_due_3m"] == D(1100) and managers["M1"]["renewal_mrr_at_risk_3m"] == D(0)
    assert managers["M2"]["renewal_mrr_due_3m"] == D(300) and managers["M2"]["renewal_mrr_at_risk_3m"] == D(300)
    assert cents(managers["M1"]["expected_mrr_3m"]) == cents(D("1117.9348") + D("508.1522"))


def test_forecast_error_is_a_history_column(run):
    """Every month with a checkable forecast three months earlier has an error: the customers
    of M-3 need a rate, a rate needs a pair (a, t) with t + 3 <= M-3, and the first t is
    2025-01, so M-3 >= 2025-04 and M >= 2025-07: 2025-07 .. 2026-06, twelve months."""
    all_rows = run["portfolio_monthly"].filter(pl.col("grouping") == "all").sort("month")
    with_error = all_rows.filter(pl.col("forecast_error_3m").is_not_null())["month"].to_list()
    assert with_error == [date(2025 + (6 + k) // 12, (6 + k) % 12 + 1, 1) for k in range(12)]


# --------------------------------------------------------------------------- goals


def test_goal_rows_at_r(run):
    g = run["account_goals"]
    # G1: baseline MRR(2025-10) = 1000, span 2025-10..2026-09 = 11, elapsed 8:
    #     expected 1000 + 300 × 8/11 = 1218.181818; value 1100 < that -> behind.
    g1 = one(g, goal_id="G1", month=R)
    assert (g1["value"], g1["baseline"], g1["status"]) == (1100.0, 1000.0, "behind")
    assert g1["expected"] == round(1000 + 300 * 8 / 11, 6)
    # G2: overdue 0 <= 0 from the start: met; R is the month after due: status of the due month.
    assert one(g, goal_id="G2", month=R)["status"] == "met"
    # G3: no touches, due at R: missed (and hidden from the client).
    g3 = one(g, goal_id="G3", month=R)
    assert (g3["value"], g3["status"], g3["visible_to_client"]) == (0.0, "missed", False)
    # G4: no NPS answers: no_data. G5 (metric and direction upper-case on input): starts at R,
    #     baseline = value = 300, expected = baseline -> on_track.
    assert one(g, goal_id="G4", month=R)["status"] == "no_data"
    g5 = one(g, goal_id="G5", month=R)
    assert (g5["metric"], g5["direction"], g5["expected"], g5["status"]) == ("mrr", "at_least", 300.0, "on_track")
    assert set(g["status"].unique()) <= {"no_data", "met", "missed", "on_track", "behind"}
    assert g.filter(pl.col("goal_id").str.starts_with("GX")).is_empty()


# --------------------------------------------------------------------------- reports


def _client_html(run, account: str) -> tuple[dict, str]:
    from pipeline.resources.renderer.worker import DocumentRenderer

    ctx = build_client_context(run["report"], account, report_period("monthly", R), run["settings"])
    html = DocumentRenderer().render_html("client/report.html", ctx, "html", dict.fromkeys(("mrr", "billing", "voice")))
    return ctx, html


def test_client_report_shows_its_own_visible_goals_only(run):
    ctx, html = _client_html(run, "A1")
    assert [g["goal_id"] for g in ctx["goals"]] == ["G1"]
    assert (
        'id="goals-title"' in html
        and "Goals we agreed" in html
        and "Grow to 1,300 a month" in html
        and "Behind" in html
    )
    assert "Grow to 400 a month" not in html and "Nothing overdue" not in html  # other clients' goals
    # A2's only goal is internal: no goals section at all.
    ctx2, html2 = _client_html(run, "A2")
    assert ctx2["goals"] == [] and 'id="goals-title"' not in html2 and "Internal: three touches" not in html2
    # A3: two visible goals, soonest due first; statuses in words.
    ctx3, _ = _client_html(run, "A3")
    assert [g["status_words"] for g in ctx3["goals"]] == ["No data yet", "On track"]


def test_client_report_looks_ahead(run):
    ctx, html = _client_html(run, "A1")
    ahead = ctx["looking_ahead"]
    assert [m["mrr"] for m in ahead["months"]] == [D(1100), D(1300), D(1300)]
    assert ahead["renewal_date"] == date(2026, 8, 15)
    assert "Looking ahead" in html and "15 August 2026" in html and "$1,300 a month in August 2026" in html
    assert "Committed recurring revenue" in html  # the glossary explains it
    _, html2 = _client_html(run, "A2")
    assert "falls to $0 a month in September 2026" in html2


def test_pack_forecast_page_carries_the_marts_numbers(run):
    from pipeline.resources.renderer.worker import DocumentRenderer

    ctx = build_leadership_context(run["pack"], run["settings"])
    la = ctx["looking_ahead"]
    row = one(run["portfolio_monthly"], month=R, grouping="all", group_value="all")
    af = run["account_forecast"].filter(pl.col("month") == R)
    assert la["available"]
    assert la["committed"]["m3"] == row["cmrr_3m"] and la["committed"]["m12"] == row["cmrr_12m"]
    assert [m["value"] for m in la["committed"]["months"]] == [af[f"cmrr_{k}m"].sum() for k in range(1, 13)]
    assert la["expected"]["value"] == row["expected_mrr_3m"]
    assert (
        sum((r["expected"] for r in la["expected"]["rows"]), D(0)) + la["expected"]["booked_new"]
        == row["expected_mrr_3m"]
    )
    green = next(r for r in la["expected"]["rows"] if r["band"] == "green")
    assert (green["pairs"], green["customers"], green["mrr"]) == (24, 2, D(1600))
    last = la["accuracy"]["rows"][-1]
    assert (last["expected"], last["actual"], last["error"]) == (
        row["forecast_expected_3m"],
        row["forecast_actual_3m"],
        row["forecast_error_3m"],
    )
    r = la["renewals"]
    assert (r["count"], r["mrr_due"], r["mrr_at_risk"]) == (3, row["renewal_mrr_due_3m"], row["renewal_mrr_at_risk_3m"])
    assert [x["account_id"] for x in r["rows"]] == ["A3", "A1", "A5"]  # at risk first, then by MRR
    assert la["pipeline"]["weighted"] == row["weighted_expansion_pipeline"] and la["pipeline"]["open"] == D(1000)
    teams = {t["team"]: t for t in la["goals"]["rows"]}
    assert (teams["East"]["behind"], teams["East"]["missed"]) == (1, 1)  # G1 (A1), G3 (A2)
    assert (teams["West"]["met"], teams["West"]["on_track"], teams["West"]["no_data"]) == (1, 1, 1)
    assert any(s.startswith("Looking ahead:") for s in ctx["brief"])
    html = DocumentRenderer().render_html("leadership/pack.html", ctx, "html", {})
    assert 'id="ahead-title"' in html and la["accuracy"]["sentence"] in unescape(html)
    assert la["display"]["expected"] in html and "Forecast error" in html
