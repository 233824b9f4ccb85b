"""Shared pieces of the security tests (tests/reliability/test_injection.py,
test_pathological.py, test_secrets.py): the hostile payloads, the text fields of the
contract, a hand-built warehouse where every text field of every source carries a
payload, and the path from staging to reports, pack and e-mails with the real code.

The text fields are derived from ``pipeline.contract`` (every ``Kind.TEXT`` column of
every source), so a text column added to the contract is attacked without touching the
tests.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, replace
from datetime import date
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pipeline.contract import SOURCES, Kind
from pipeline.publish.client_reports import produce_client_reports
from pipeline.publish.deliveries import deliver_leadership_pack, deliver_reports
from pipeline.publish.leadership_pack import produce_leadership_pack
from pipeline.resources.mailer import OutboxMailer
from pipeline.resources.warehouse import Warehouse
from pipeline.schemas import ACCOUNT_MONTHLY, PORTFOLIO_MONTHLY
from pipeline.settings import Settings
from pipeline.store.loading import read_staging
from pipeline.transforms.account_monthly import build_account_monthly
from pipeline.transforms.health import account_health, account_health_schema
from pipeline.transforms.portfolio import portfolio_monthly
from tests.support.report_builders import Book, D, add_acme, ts

MARCH = date(2024, 3, 1)

# --------------------------------------------------------------------------- payloads

PAYLOADS: dict[str, str] = {
    "script": "<script>alert('pwned')</script><b>bold</b>",
    "attr_break": '"><img src=x onerror=alert(1)>',
    "link_file": "<link rel=attachment href=file:///etc/passwd>",
    "css_url": '<div style="background:url(file:///etc/passwd)">x</div>',
    "css_import": "<style>@import url(http://127.0.0.1:9/x.css);</style>",
    "jinja": "{{ 7*7 }}{% for x in range(3) %}J{% endfor %}{{ config.items() }}",
    "traversal": "../../etc/passwd",
    "nul_control": "a\x00b\x07c\x1b[31md\x7fe\x08f\x0bg\x0ch",
    "rtl_override": "invoice\u202egpj.exe",
    "homoglyph": "\u0410pple \u0406nc \u13f4\u13aaNK \uff46\uff55\uff4c\uff4c",  # Cyrillic A, I; Cherokee; fullwidth
    "crlf": "first\r\nBcc: evil@attacker.example\r\nX-Injected: yes",
    "long": "Long" + "x" * 4000 + " " + "word " * 400,
}
# Payloads that are markup: in an HTML output their raw form must never appear.
MARKUP = ("script", "attr_break", "link_file", "css_url", "css_import")

TEXT_FIELDS: tuple[tuple[str, str], ...] = tuple(
    (s.name, c.name) for s in SOURCES for c in s.columns if c.kind == Kind.TEXT
)
_FIELD_INDEX = {f: i for i, f in enumerate(TEXT_FIELDS)}
# The referencing text columns hold the referenced key (the same value), not their own.
_REFERENCES = {
    (s.name, c.name): tuple(c.references.split("."))
    for s in SOURCES
    for c in s.columns
    if c.kind == Kind.TEXT and c.references
}
_REFERENCES[("accounts", "parent_account_id")] = ("accounts", "account_id")
_REFERENCES[("activities", "manager_id")] = ("account_managers", "manager_id")


def marker(account: int, field: tuple[str, str]) -> str:
    """A short ASCII tag, unique per (account, field), that survives every output."""
    return f"zq{account:02d}f{_FIELD_INDEX[field]:02d}q"


def account_tag(account: int) -> str:
    return f"zq{account:02d}f"


def owner_field(field: tuple[str, str]) -> tuple[str, str]:
    """The field whose value a column holds (itself, or the key it references)."""
    return _REFERENCES.get(field, field)


# --------------------------------------------------------------------------- the hostile book

VICTIM = "VICTIM-0"
VICTIM_NAME = "Victim Clean Holdings"
CRLF_ACCOUNT = "CRLF-RCPT"
CRLF_RECIPIENTS = "ok@crlf.example\r\nBcc: evil@attacker.example"


@dataclass
class HostileData:
    book: Book
    payload_of: dict[int, str]  # account index -> payload name
    account_ids: dict[int, str]  # account index -> its (hostile) account_id
    recipients: dict[int, str]  # account index -> its one recipient


def hostile_book(payload_names: list[str] | None = None) -> HostileData:
    """One clean victim account (index 0), one account whose recipient list holds a CR/LF
    injection, and one account per payload (index 1..): every text field of every row of
    that account, in every source, is ``marker + payload``; ids stay consistent across
    sources (a referencing column holds the referenced, hostile, key)."""
    names = list(payload_names or PAYLOADS)
    book = Book()
    payload_of: dict[int, str] = {}
    recipients: dict[int, str] = {0: "victim@victim.example"}
    add_acme(book, account_id=VICTIM, name=VICTIM_NAME, recipients=recipients[0])
    _extras(book, VICTIM, "M0")
    book.rows["account_managers"][-1]["manager_id"] = "M0"
    add_acme(book, account_id=CRLF_ACCOUNT, name="Crlf Recipients Ltd", recipients=CRLF_RECIPIENTS)
    book.rows["account_managers"].pop()  # shares M1 with nobody: re-pointed below
    _extras(book, CRLF_ACCOUNT, "M0")
    for i, name in enumerate(names, start=1):
        payload_of[i] = name
        recipients[i] = f"client{i}@client{i}.example"
        add_acme(book, account_id=f"ACC{i}", name=f"Account {i}", recipients=recipients[i])
        book.rows["account_managers"][-1]["manager_id"] = f"M{i}"
        _extras(book, f"ACC{i}", f"M{i}")
    # Each account has its own manager (M0 for the clean ones).
    for row in book.rows["accounts"]:
        acct = row["account_id"]
        row["account_manager_id"] = "M0" if acct in (VICTIM, CRLF_ACCOUNT) else "M" + acct[3:]
    for row in book.rows["activities"]:
        acct = row["account_id"]
        row["manager_id"] = "M0" if acct in (VICTIM, CRLF_ACCOUNT) else "M" + acct[3:]
    book.rows.pop("account_monthly", None)  # the marts are computed by the real transforms

    # Which account owns each row, before the ids change.
    invoice_owner = {r["invoice_id"]: r["account_id"] for r in book.rows["invoices"]}

    def owner(source_name: str, row: dict[str, Any]) -> int | None:
        if source_name == "account_managers":
            acct = "ACC" + row["manager_id"][1:] if row["manager_id"] != "M0" else VICTIM
        elif source_name == "invoice_lines":
            acct = invoice_owner[row["invoice_id"]]
        else:
            acct = row.get("account_id")
        return int(acct[3:]) if acct and acct.startswith("ACC") else None

    def hostile(i: int, field: tuple[str, str]) -> str:
        return marker(i, field) + PAYLOADS[payload_of[i]]

    # Ids: one value map for the whole book, so references stay intact.
    id_map: dict[str, str] = {}
    for s in SOURCES:
        for row in book.rows.get(s.name, []):
            i = owner(s.name, row)
            if i is None:
                continue
            for k in s.key:
                if s.column(k).kind == Kind.TEXT and (s.name, k) not in _REFERENCES:
                    id_map[row[k]] = hostile(i, (s.name, k))
    for s in SOURCES:
        for row in book.rows.get(s.name, []):
            i = owner(s.name, row)
            for c in s.columns:
                if c.kind != Kind.TEXT:
                    continue
                if (s.name, c.name) in _REFERENCES or c.name in s.key:
                    if row.get(c.name) in id_map:
                        row[c.name] = id_map[row[c.name]]
                    elif i is not None and (s.name, c.name) == ("accounts", "parent_account_id"):
                        row[c.name] = hostile(i, ("accounts", "account_id"))
                elif i is not None:
                    row[c.name] = hostile(i, (s.name, c.name))
    account_ids = {i: id_map[f"ACC{i}"] for i in payload_of}
    account_ids[0] = VICTIM
    return HostileData(book, payload_of, account_ids, recipients)


def _extras(book: Book, account_id: str, manager_id: str) -> None:
    """Rows add_acme leaves out: an opportunity, a health override, invoice lines."""
    book.add(
        "opportunities",
        opportunity_id=f"{account_id}-O1",
        account_id=account_id,
        type="upsell",
        stage="Proposal",
        amount=D(500),
        currency="usd",
        created_on=date(2024, 2, 1),
        close_date=date(2024, 5, 1),
        is_closed=False,
        is_won=False,
    )
    book.add(
        "health_overrides",
        account_id=account_id,
        band="amber",
        reason="Renewal under negotiation",
        set_by="Dana Whitfield",
        expires_on=date(2024, 12, 31),
    )
    for inv in ("I301", "I302"):
        book.add(
            "invoice_lines",
            line_id=f"{account_id}-{inv}-L1",
            invoice_id=f"{account_id}-{inv}",
            product="Platform",
            description="Monthly platform fee",
            quantity=D(1),
            unit_amount=D(1000),
            amount=D(1000),
            tax_amount=D(200),
            period_start=date(2024, 3, 1),
            period_end=date(2024, 3, 31),
        )
    book.add(
        "activities",
        activity_id=f"{account_id}-A5",
        account_id=account_id,
        manager_id=manager_id,
        type="qbr",
        occurred_at=ts(2024, 3, 28),
        subject="Quarterly review",
    )


# --------------------------------------------------------------------------- the real path from staging


def compute_marts(wh: Warehouse, settings: Settings, month: date) -> None:
    """account_monthly, account_health and portfolio_monthly from staging, by the real
    transforms (what the mart assets run, without Dagster)."""
    names = ("accounts", "subscriptions", "invoices", "responses", "activities", "tickets", "opportunities", "fx_rates")
    staged = {n: read_staging(wh, n) for n in names}
    monthly = build_account_monthly(
        **staged, reporting_month=month, reporting_currency=settings.reporting_currency
    ).frame.cast(ACCOUNT_MONTHLY)
    health = account_health(monthly, read_staging(wh, "health_overrides"), settings.health)
    health = health.cast(account_health_schema(settings.health))
    first = wh.query("marts/first_billing_month")["first_month"][0]
    portfolio = portfolio_monthly(monthly, health, gross_margin=settings.gross_margin, first_billing_month=first).cast(
        PORTFOLIO_MONTHLY
    )
    with wh.connect() as con:
        con.execute("BEGIN")
        Warehouse.replace_table(con, "marts.account_monthly", monthly)
        Warehouse.replace_table(con, "marts.account_health", health)
        Warehouse.replace_table(con, "marts.portfolio_monthly", portfolio)
        con.execute("COMMIT")


@dataclass
class Produced:
    warehouse: Warehouse
    settings: Settings
    clients: Any  # ClientReportsSummary
    pack: Any  # PackResult
    deliveries: Any  # DeliverySummary
    pack_deliveries: Any


def produce_all(
    book: Book, data_dir: Path, renderer, leadership: tuple[str, ...] = ("ceo@northwind.example",), month: date = MARCH
) -> Produced:
    """Staging (the book) -> marts -> client reports -> leadership pack -> e-mails (outbox)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = replace(Settings(data_dir=data_dir), leadership_recipients=leadership)
    wh = book.write(Warehouse(data_dir / "warehouse.duckdb"))
    compute_marts(wh, settings, month)
    clients = produce_client_reports(wh, settings, month, renderer)
    pack = produce_leadership_pack(wh, settings, month, renderer, checks=[])
    deliveries = deliver_reports(wh, settings, month, OutboxMailer(settings.outbox_dir))
    pack_deliveries = deliver_leadership_pack(wh, settings, month, OutboxMailer(settings.outbox_dir))
    return Produced(wh, settings, clients, pack, deliveries, pack_deliveries)


# --------------------------------------------------------------------------- reading outputs


def elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every real element (tag, attributes) of a document, as a browser's parser sees it."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

        handle_startendtag = handle_starttag

    Collector().feed(html)
    return found


def html_text(html: str) -> str:
    """The text a reader sees (entities decoded), tags dropped."""
    parts: list[str] = []

    class Text(HTMLParser):
        def handle_data(self, data):
            parts.append(data)

    p = Text(convert_charrefs=True)
    p.feed(html)
    return "".join(parts)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    # pypdf decodes the text of some font subsets as UTF-16 (a NUL before every character);
    # the documents themselves hold no NUL (the reports drop control characters).
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages).replace("\x00", "")


def squash(text: str) -> str:
    """Text without whitespace (PDF extraction breaks lines anywhere)."""
    return re.sub(r"\s+", "", text)


def read_eml(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def files_outside(root: Path, allowed: list[Path]) -> list[Path]:
    """Files under ``root`` not inside any of ``allowed`` (folders or files)."""
    allowed_r = [a.resolve() for a in allowed]
    out = []
    for p in root.rglob("*"):
        if p.is_file() or p.is_symlink():
            r = p.resolve()
            if not any(r == a or a in r.parents for a in allowed_r):
                out.append(p)
    return out
