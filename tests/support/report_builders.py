"""Hand-built warehouse rows for the report tests (no sample generator).

``Book`` collects staging and mart rows with sensible defaults, ``write`` puts them in
a DuckDB warehouse through the Warehouse class, typed by pipeline.schemas, with every
staging table of the contract present (empty when no row was given).

Two accounts are ready-made: ``acme`` (monthly, USD, a product added in March 2024)
and ``globex`` (quarterly, billed in EUR). Their numbers are hand-computed in the
golden test's docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from pipeline.contract import SOURCES, source
from pipeline.reporting.periods import add_months
from pipeline.resources.warehouse import Warehouse
from pipeline.schemas import ACCOUNT_MONTHLY, MONEY, staging_schema

LOADED_AT = datetime(2024, 4, 2, 6, 0, tzinfo=UTC)

HEALTH = pl.Schema(
    {
        "account_id": pl.String(),
        "month": pl.Date(),
        "score": pl.Float64(),
        "band": pl.String(),
        "computed_band": pl.String(),
        "drivers": pl.String(),
        "score_change": pl.Float64(),
    }
)


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def ts(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=UTC)


def monthly_row(account_id: str, month: date, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in ACCOUNT_MONTHLY.names()}
    money = [n for n, t in ACCOUNT_MONTHLY.items() if t == MONEY]
    counts = [
        "tickets_opened",
        "open_tickets",
        "open_high_priority_tickets",
        "touches_3m",
        "nps_responses_12m",
        "csat_responses_3m",
    ]
    row.update({n: D(0) for n in money})
    row.update({n: 0 for n in counts})
    row.update(
        account_id=account_id, month=month, tier="key", segment="mid_market", account_manager_id="M1", is_customer=True
    )
    for k, v in values.items():
        if k not in row:
            raise KeyError(f"account_monthly has no column {k}")
        row[k] = D(v) if k in money and v is not None else v
    if "arr" not in values and row["mrr"] is not None:
        row["arr"] = row["mrr"] * 12
    return row


@dataclass
class Book:
    """Rows per table: staging.<source> by source name, plus 'account_monthly' and 'account_health'."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _counter: int = 0

    def add(self, table: str, **values: Any) -> Book:
        self._counter += 1
        if table in {s.name for s in SOURCES}:
            values.setdefault("_file", f"{table}.csv")
            values.setdefault("_row", self._counter)
            values.setdefault("_loaded_at", LOADED_AT)
        self.rows.setdefault(table, []).append(values)
        return self

    def monthly(self, account_id: str, month: date, **values: Any) -> Book:
        self.rows.setdefault("account_monthly", []).append(monthly_row(account_id, month, **values))
        return self

    def frame(self, table: str) -> pl.DataFrame:
        if table == "account_monthly":
            schema = ACCOUNT_MONTHLY
        elif table == "account_health":
            schema = HEALTH
        else:
            schema = staging_schema(source(table))
        rows = []
        for r in self.rows.get(table, []):
            full = {name: None for name in schema.names()}
            for k, v in r.items():
                if k not in full:
                    raise KeyError(f"{table} has no column {k}")
                full[k] = D(v) if isinstance(schema[k], pl.Decimal) and v is not None else v
            rows.append(full)
        return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)

    def write(self, warehouse: Warehouse) -> Warehouse:
        with warehouse.connect() as con:
            con.execute("BEGIN")
            for s in SOURCES:
                Warehouse.replace_table(con, f"staging.{s.name}", self.frame(s.name))
            Warehouse.replace_table(con, "marts.account_monthly", self.frame("account_monthly"))
            Warehouse.replace_table(con, "marts.account_health", self.frame("account_health"))
            con.execute("COMMIT")
        return warehouse


# --------------------------------------------------------------------------- accounts


def add_manager(
    book: Book,
    manager_id: str = "M1",
    name: str = "Dana Whitfield",
    email: str = "dana.whitfield@northwind.example",
    team: str = "Key accounts",
) -> Book:
    return book.add("account_managers", manager_id=manager_id, name=name, email=email, team=team)


def add_acme(
    book: Book,
    account_id: str = "ACME-1",
    name: str = "Acme Rockets Ltd",
    recipients: str = "cfo@acme.example; ops@acme.example",
    cadence: str = "monthly",
) -> Book:
    """A monthly USD client, 15 months of history to March 2024; hand-computed figures:

    MRR Feb 2024 = 1,000 (Platform); Analytics (+240) starts 2024-03-10 -> MRR Mar = 1,240,
    expansion 240, +24.0%. Mar 2023 MRR = 800 (year ago).
    Invoices issued in March: INV-301 net 1,000 tax 200 total 1,200 paid 2024-03-20;
    INV-302 net 240 tax 48 total 288 due 2024-04-09 (open, not yet due).
    Open at 2024-03-31 also INV-201 (Feb) total 1,200 due 2024-03-01 -> overdue 30 days.
    invoiced_net 1,240, tax 248, collected 1,200, overdue 1,200.
    Tickets: T1 opened 2024-03-04 09:00, first response 11:00 (2 h), resolved 2024-03-05 09:00 (24 h);
    T2 opened 2024-03-20 09:00, first response 2024-03-20 13:00 (4 h), high, still open;
    T0 opened 2024-02-10 09:00, resolved 2024-03-01 09:00 (20 days, 2024 is a leap year = 480 h), normal.
    -> opened 2, resolved 2, open 1 (high), median first response 3 h, median resolution 252 h.
    NPS 12m = 40 from 10 responses; CSAT 3m = 80.0 from 5; a year ago NPS 20.
    Touches in March: 2 meetings + 1 call = 3. Renewal 2024-06-30 -> 91 days after 2024-03-31.
    """
    add_manager(book)
    book.add(
        "accounts",
        account_id=account_id,
        account_name=name,
        tier="key",
        segment="mid_market",
        industry="Aerospace",
        region="EMEA",
        account_manager_id="M1",
        customer_since=date(2022, 1, 15),
        renewal_date=date(2024, 6, 30),
        currency="usd",
        report_cadence=cadence,
        report_recipients=recipients,
    )
    book.add(
        "contacts",
        contact_id=f"{account_id}-C1",
        account_id=account_id,
        name="Jordan Lee",
        email="jordan@acme.example",
        role="Finance Director",
        is_primary=True,
    )
    book.add(
        "subscriptions",
        subscription_id=f"{account_id}-S1",
        account_id=account_id,
        product="Platform",
        start_date=date(2022, 1, 15),
        end_date=None,
        mrr=D(1000),
        currency="usd",
    )
    book.add(
        "subscriptions",
        subscription_id=f"{account_id}-S2",
        account_id=account_id,
        product="Analytics",
        start_date=date(2024, 3, 10),
        end_date=None,
        mrr=D(240),
        currency="usd",
    )
    book.add(
        "invoices",
        invoice_id=f"{account_id}-I201",
        account_id=account_id,
        number="INV-201",
        issued_on=date(2024, 2, 1),
        due_on=date(2024, 3, 1),
        currency="usd",
        subtotal=D(1000),
        tax=D(200),
        total=D(1200),
        status="open",
        paid_on=None,
    )
    book.add(
        "invoices",
        invoice_id=f"{account_id}-I301",
        account_id=account_id,
        number="INV-301",
        issued_on=date(2024, 3, 1),
        due_on=date(2024, 3, 31),
        currency="usd",
        subtotal=D(1000),
        tax=D(200),
        total=D(1200),
        status="paid",
        paid_on=date(2024, 3, 20),
    )
    book.add(
        "invoices",
        invoice_id=f"{account_id}-I302",
        account_id=account_id,
        number="INV-302",
        issued_on=date(2024, 3, 10),
        due_on=date(2024, 4, 9),
        currency="usd",
        subtotal=D(240),
        tax=D(48),
        total=D(288),
        status="open",
        paid_on=None,
    )
    book.add(
        "tickets",
        ticket_id=f"{account_id}-T0",
        account_id=account_id,
        opened_at=ts(2024, 2, 10),
        first_response_at=ts(2024, 2, 10, 10),
        resolved_at=ts(2024, 3, 1),
        priority="normal",
        status="resolved",
        subject="Export to CSV times out",
    )
    book.add(
        "tickets",
        ticket_id=f"{account_id}-T1",
        account_id=account_id,
        opened_at=ts(2024, 3, 4),
        first_response_at=ts(2024, 3, 4, 11),
        resolved_at=ts(2024, 3, 5),
        priority="normal",
        status="resolved",
        subject="Password reset for a new user",
    )
    book.add(
        "tickets",
        ticket_id=f"{account_id}-T2",
        account_id=account_id,
        opened_at=ts(2024, 3, 20),
        first_response_at=ts(2024, 3, 20, 13),
        resolved_at=None,
        priority="high",
        status="open",
        subject="Dashboard shows stale launch data",
    )
    book.add(
        "responses",
        response_id=f"{account_id}-R1",
        account_id=account_id,
        contact_email="jordan@acme.example",
        survey_type="nps",
        score=9,
        responded_at=ts(2024, 3, 12),
        comment="Great support team, quick to help.",
    )
    book.add(
        "responses",
        response_id=f"{account_id}-R2",
        account_id=account_id,
        contact_email="ops@acme.example",
        survey_type="csat",
        score=4,
        responded_at=ts(2024, 3, 5),
        comment="",
    )
    for i, (kind, day) in enumerate((("meeting", 6), ("call", 14), ("meeting", 27))):
        book.add(
            "activities",
            activity_id=f"{account_id}-A{i}",
            account_id=account_id,
            manager_id="M1",
            type=kind,
            occurred_at=ts(2024, 3, day),
            subject="Check-in",
        )
    book.add(
        "activities",
        activity_id=f"{account_id}-A9",
        account_id=account_id,
        manager_id="M1",
        type="call",
        occurred_at=ts(2024, 2, 20),
        subject="Check-in",
    )

    start = date(2023, 1, 1)
    for k in range(15):  # 2023-01 .. 2024-03
        m = add_months(start, k)
        mrr = 800 if m < date(2023, 7, 1) else 1000
        prev = 800 if m <= date(2023, 7, 1) else 1000
        values: dict[str, Any] = dict(
            mrr=mrr,
            mrr_previous=prev if k else 0,
            mrr_new=800 if k == 0 else 0,
            mrr_expansion=200 if m == date(2023, 7, 1) else 0,
            invoiced_net=mrr,
            invoiced_tax=mrr * 0.2,
            collected=mrr * 1.2,
            nps_12m=20.0 + k * (20.0 / 14),
            nps_responses_12m=6 + k // 3,
            csat_3m=75.0 + (k % 3),
            csat_responses_3m=4,
            touches_3m=5,
            days_since_last_touch=4,
            tickets_opened=1,
            open_tickets=0,
        )
        if m == date(2024, 2, 1):
            values.update(
                invoiced_net=1000, invoiced_tax=200, collected=1200, overdue_amount=0, tickets_opened=1, open_tickets=1
            )
        if m == date(2024, 3, 1):
            values.update(
                mrr=1240,
                mrr_previous=1000,
                mrr_expansion=240,
                invoiced_net=1240,
                invoiced_tax=248,
                collected=1200,
                overdue_amount=1200,
                tickets_opened=2,
                open_tickets=1,
                open_high_priority_tickets=1,
                nps_12m=40.0,
                nps_responses_12m=10,
                csat_3m=80.0,
                csat_responses_3m=5,
                touches_3m=4,
                days_since_last_touch=4,
                days_to_renewal=91,
            )
        if m == date(2023, 3, 1):
            values.update(nps_12m=20.0)
        book.monthly(account_id, m, **values)
    return book


def add_globex(
    book: Book,
    account_id: str = "GLOBEX-9",
    name: str = "Globex Énergie SA",
    recipients: str = "finance@globex.example",
) -> Book:
    """A quarterly client billed in EUR (rate 1.10 USD per EUR), history from 2023-10.

    Q1 2024: MRR 2,200 USD (2,000 EUR) at every month end; invoices of 2,000 EUR net each
    month converted at 1.10 -> 2,200 USD net, 440 tax; all paid in the month.
    """
    add_manager(book, "M2", "Sam Okafor", "sam.okafor@northwind.example", "Enterprise")
    book.add(
        "accounts",
        account_id=account_id,
        account_name=name,
        tier="strategic",
        segment="enterprise",
        industry="Utilities",
        region="EMEA",
        account_manager_id="M2",
        customer_since=date(2023, 10, 1),
        renewal_date=date(2024, 9, 30),
        currency="eur",
        report_cadence="quarterly",
        report_recipients=recipients,
    )
    book.add("fx_rates", date=date(2023, 1, 1), currency="eur", rate=D("1.10"))
    book.add(
        "subscriptions",
        subscription_id=f"{account_id}-S1",
        account_id=account_id,
        product="Grid Insights",
        start_date=date(2023, 10, 1),
        end_date=None,
        mrr=D(2000),
        currency="eur",
    )
    for k, m in enumerate([date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]):
        book.add(
            "invoices",
            invoice_id=f"{account_id}-I{k}",
            account_id=account_id,
            number=f"GX-{k + 1:04d}",
            issued_on=m,
            due_on=m.replace(day=15),
            currency="eur",
            subtotal=D(2000),
            tax=D(400),
            total=D(2400),
            status="paid",
            paid_on=m.replace(day=12),
        )
    book.add(
        "tickets",
        ticket_id=f"{account_id}-T1",
        account_id=account_id,
        opened_at=ts(2024, 2, 2),
        first_response_at=ts(2024, 2, 2, 10),
        resolved_at=ts(2024, 2, 3),
        priority="low",
        status="resolved",
        subject="Invoice address change",
    )
    book.add(
        "activities",
        activity_id=f"{account_id}-A1",
        account_id=account_id,
        manager_id="M2",
        type="qbr",
        occurred_at=ts(2024, 2, 15),
        subject="QBR",
    )
    for k in range(6):  # 2023-10 .. 2024-03
        m = add_months(date(2023, 10, 1), k)
        book.monthly(
            account_id,
            m,
            tier="strategic",
            segment="enterprise",
            account_manager_id="M2",
            mrr=2200,
            mrr_previous=2200 if k else 0,
            mrr_new=2200 if k == 0 else 0,
            invoiced_net=2200 if m >= date(2024, 1, 1) else 0,
            invoiced_tax=440 if m >= date(2024, 1, 1) else 0,
            collected=2640 if m >= date(2024, 1, 1) else 0,
            nps_12m=None,
            csat_3m=None,
            tickets_opened=1 if m == date(2024, 2, 1) else 0,
            touches_3m=1,
            days_since_last_touch=10,
        )
    return book


# --------------------------------------------------------------------------- rendered month

_RENDERED: dict[str, Path] = {}


def rendered_march(recipients: dict[str, str], base: Path) -> Path:
    """A data folder (warehouse + reports) with March 2024 rendered for Acme and Globex,
    made once per test process for these recipients under ``base`` (pytest's basetemp);
    copy it before changing it."""
    import tempfile

    from pipeline.publish.client_reports import produce_client_reports
    from pipeline.resources.renderer.pool import Renderer
    from pipeline.settings import Settings

    key = repr(sorted(recipients.items()))
    if key not in _RENDERED:
        root = Path(tempfile.mkdtemp(prefix="rendered-march-", dir=base))
        book = Book()
        add_acme(book, recipients=recipients["ACME-1"])
        add_globex(book, recipients=recipients["GLOBEX-9"])
        wh = book.write(Warehouse(root / "warehouse.duckdb"))
        summary = produce_client_reports(wh, Settings(data_dir=root), date(2024, 3, 1), Renderer(2))
        assert summary.rendered == 2, summary.failures
        _RENDERED[key] = root
    return _RENDERED[key]
