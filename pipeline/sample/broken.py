"""Deliberately broken rows in the sample landing folder.

Each file below has the normal header and sits next to the clean file of its source,
so it is picked up by the same glob. Every kind of breach of the input contract
(``pipeline/contract.py``) is present at least once, plus a few valid rows that must
load. Keys use an ``X`` prefix (ACCX, SUBX, ...) and never collide with keys in the main
files; the only repeated keys are the ones repeated on purpose inside one file. Line numbers
count the header as line 1. ``<valid account>`` is the first account of the main
accounts file (ACC00001). A conflicting duplicate is two rows; both are listed.

Broken rows (file, line, key: what is wrong):

crm/accounts_zz_broken.csv line 2 (ACCX001): missing required value: account_name is empty
crm/accounts_zz_broken.csv line 3 (ACCX002): unknown code: tier is "gold"
crm/accounts_zz_broken.csv line 4 (ACCX003): unparseable date: customer_since is "31/01/2024"
crm/accounts_zz_broken.csv line 5 (ACCX004): unknown reference: account_manager_id "AM999" is not a manager
crm/accounts_zz_broken.csv line 6 (ACCX005): duplicate key with conflicting values (1 of 2): name and tier differ from line 7
crm/accounts_zz_broken.csv line 7 (ACCX005): duplicate key with conflicting values (2 of 2): name and tier differ from line 6
crm/accounts_zz_broken.csv line 8 (ACCX006): valid: upper-case tier "Strategic", must load
crm/accounts_zz_broken.csv line 9 (ACCX007): valid: a subsidiary of <valid account>, must load
crm/activities_zz_broken.csv line 2 (ACTX001): unknown code: type is "lunch"
crm/activities_zz_broken.csv line 3 (ACTX002): unparseable timestamp: occurred_at is "31/01/2024 10:00"
crm/activities_zz_broken.csv line 4 (ACTX003): missing required value: account_id is empty
crm/activities_zz_broken.csv line 5 (ACTX004): unknown account: account_id "ACC00000" exists nowhere
crm/activities_zz_broken.csv line 6 (ACTX005): duplicate key with conflicting values (1 of 2): type and subject differ from line 7
crm/activities_zz_broken.csv line 7 (ACTX005): duplicate key with conflicting values (2 of 2): type and subject differ from line 6
crm/activities_zz_broken.csv line 8 (ACTX006): valid: a call with <valid account>, must load
crm/activities_zz_broken.csv line 9 (ACTX007): valid: identical to line 10 (a re-export), must load once, not quarantined
crm/activities_zz_broken.csv line 10 (ACTX007): valid: identical to line 9 (a re-export), must load once, not quarantined
crm/tickets_zz_broken.csv line 2 (TKTX001): unknown code: priority is "critical"
crm/tickets_zz_broken.csv line 3 (TKTX002): row rule: resolved_at is before opened_at
crm/tickets_zz_broken.csv line 4 (TKTX003): unparseable timestamp: opened_at is "2024-13-45T10:00:00Z"
crm/tickets_zz_broken.csv line 5 (TKTX004): valid: an open normal-priority ticket, must load
surveys/responses_zz_broken.csv line 2 (RSPX001): unparseable number: score is "abc"
surveys/responses_zz_broken.csv line 3 (RSPX002): out of range: nps score 11 (nps is 0-10)
surveys/responses_zz_broken.csv line 4 (RSPX003): out of range: csat score 0 (csat is 1-5)
surveys/responses_zz_broken.csv line 5 (RSPX004): unknown code: survey_type is "ces"
surveys/responses_zz_broken.csv line 6 (RSPX005): unknown account: account_id "ACC00000" exists nowhere
surveys/responses_zz_broken.csv line 7 (RSPX006): unparseable timestamp: responded_at is "2024-13-45T09:30:00Z"
surveys/responses_zz_broken.csv line 8 (RSPX007): duplicate key with conflicting values (1 of 2): score differs from line 9
surveys/responses_zz_broken.csv line 9 (RSPX007): duplicate key with conflicting values (2 of 2): score differs from line 8
surveys/responses_zz_broken.csv line 10 (RSPX008): valid: an nps 9 from a contact of <valid account>, must load
billing/subscriptions_zz_broken.csv line 2 (SUBX001): unparseable number: mrr is "12,5O"
billing/subscriptions_zz_broken.csv line 3 (SUBX002): unparseable date: start_date is "2024-13-45"
billing/subscriptions_zz_broken.csv line 4 (SUBX003): row rule: end_date is before start_date
billing/subscriptions_zz_broken.csv line 5 (SUBX004): missing required value: product is empty
billing/subscriptions_zz_broken.csv line 6 (SUBX005): unknown account: account_id "ACC00000" exists nowhere
billing/subscriptions_zz_broken.csv line 7 (SUBX006): out of range: mrr is -50.00 (must be >= 0)
billing/subscriptions_zz_broken.csv line 8 (SUBX007): duplicate key with conflicting values (1 of 2): mrr differs from line 9
billing/subscriptions_zz_broken.csv line 9 (SUBX007): duplicate key with conflicting values (2 of 2): mrr differs from line 8
billing/subscriptions_zz_broken.csv line 10 (SUBX008): valid: a one-off onboarding package inside one month, must load (no MRR effect)
billing/invoices_zz_broken.csv line 2 (INVX001): unparseable number: subtotal is "12,5O"
billing/invoices_zz_broken.csv line 3 (INVX002): unknown code: status is "pending_payment"
billing/invoices_zz_broken.csv line 4 (INVX003): unknown account: account_id "ACC00000" exists nowhere
billing/invoices_zz_broken.csv line 5 (INVX004): missing required value: issued_on is empty
billing/invoices_zz_broken.csv line 6 (INVX005): row rule: due_on is before issued_on
billing/invoices_zz_broken.csv line 7 (INVX006): unparseable date: due_on is "2024-02-30"
billing/invoices_zz_broken.csv line 8 (INVX007): duplicate key with conflicting values (1 of 2): total differs from line 9
billing/invoices_zz_broken.csv line 9 (INVX007): duplicate key with conflicting values (2 of 2): total differs from line 8
billing/invoices_zz_broken.csv line 10 (INVX008): valid: an open invoice of <valid account>, must load
billing/invoice_lines_zz_broken.csv line 2 (LINX001): unknown reference: invoice_id "INV0000000" exists nowhere
billing/invoice_lines_zz_broken.csv line 3 (LINX002): unparseable number: amount is "abc"
billing/invoice_lines_zz_broken.csv line 4 (LINX003): valid: the line of INVX008, must load
crm/account_goals_zz_broken.csv line 2 (GOALX001): unknown code: metric is "revenue", not a column of marts.account_monthly
crm/account_goals_zz_broken.csv line 3 (GOALX002): row rule: due_month is before start_month
crm/account_goals_zz_broken.csv line 4 (GOALX003): unknown account: account_id "ACC00000" exists nowhere
crm/account_goals_zz_broken.csv line 5 (GOALX004): valid: an internal NPS goal of <valid account>, must load

Valid upper-case codes in the main files (must load, lower-cased): tier "Key" on the
second account in crm/accounts.csv, survey_type "NPS" on the first NPS response in
surveys/responses.csv, status "Paid" on the first paid invoice in billing/invoices.csv.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Kinds of breach (None = a valid row).
MISSING = "missing required value"
NUMBER = "unparseable number"
DATE = "unparseable date"
TIMESTAMP = "unparseable timestamp"
CODE = "unknown code"
ACCOUNT = "unknown account"
REFERENCE = "unknown reference"
DUPLICATE = "duplicate key with conflicting values"
RULE = "row rule"
RANGE = "out of range"
KINDS = (MISSING, NUMBER, DATE, TIMESTAMP, CODE, ACCOUNT, REFERENCE, DUPLICATE, RULE, RANGE)


@dataclass(frozen=True)
class SampleContext:
    """What the broken rows need to know about the main sample data."""

    first_month: date
    end_month: date
    account_ids: tuple[str, ...]
    account_currencies: tuple[str, ...]
    manager_ids: tuple[str, ...]
    contact_emails: tuple[str, ...]  # of the first account
    account_id_width: int

    @property
    def unknown_account(self) -> str:
        return "ACC" + "0" * self.account_id_width


@dataclass(frozen=True)
class BrokenRow:
    key: str
    kind: str | None  # None: a valid row
    what: str
    values: dict[str, str]


@dataclass(frozen=True)
class BrokenFile:
    source: str  # contract source name
    folder: str
    file_name: str
    rows: tuple[BrokenRow, ...]

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.file_name}"

    @property
    def broken_rows(self) -> int:
        return sum(1 for r in self.rows if r.kind is not None)

    @property
    def records(self) -> list[dict[str, str]]:
        return [r.values for r in self.rows]


def _d(d: date) -> str:
    return d.isoformat()


def broken_files(ctx: SampleContext) -> list[BrokenFile]:
    """The broken files for a sample whose main data is described by ``ctx``."""
    acc = ctx.account_ids[0]
    cur = ctx.account_currencies[0]
    mgr = ctx.manager_ids[0]
    ghost = ctx.unknown_account
    email = ctx.contact_emails[0] if ctx.contact_emails else ""
    end = ctx.end_month
    day = lambda n: _d(end + timedelta(days=n))  # noqa: E731  (a day inside end_month)
    prev = (end - timedelta(days=1)).replace(day=1)
    pday = lambda n: _d(prev + timedelta(days=n))  # noqa: E731
    ts = lambda n, hm="10:00:00Z": f"{day(n)}T{hm}"  # noqa: E731

    def account(i: str, **kw: str) -> dict[str, str]:
        base = dict(account_id=i, account_name=f"Broken Sample {i[-3:]} Ltd", tier="key",
                    segment="mid_market", industry="Retail", region="EMEA",
                    account_manager_id=mgr, customer_since=_d(ctx.first_month), renewal_date="",
                    currency="usd", report_cadence="monthly", report_recipients="")  # fmt: skip
        base.update(kw)
        return base

    accounts = BrokenFile("accounts", "crm", "accounts_zz_broken.csv", (
        BrokenRow("ACCX001", MISSING, "account_name is empty", account("ACCX001", account_name="")),
        BrokenRow("ACCX002", CODE, 'tier is "gold"', account("ACCX002", tier="gold")),
        BrokenRow("ACCX003", DATE, 'customer_since is "31/01/2024"',
                  account("ACCX003", customer_since="31/01/2024")),
        BrokenRow("ACCX004", REFERENCE, 'account_manager_id "AM999" is not a manager',
                  account("ACCX004", account_manager_id="AM999")),
        BrokenRow("ACCX005", DUPLICATE, "name and tier differ from line 7",
                  account("ACCX005", account_name="Doublet Trading Ltd", tier="key")),
        BrokenRow("ACCX005", DUPLICATE, "name and tier differ from line 6",
                  account("ACCX005", account_name="Doublet Trading Group", tier="strategic")),
        BrokenRow("ACCX006", None, 'upper-case tier "Strategic", must load',
                  account("ACCX006", tier="Strategic", segment="enterprise")),
        BrokenRow("ACCX007", None, "a subsidiary of <valid account>, must load",
                  account("ACCX007", parent_account_id=acc, tier="transactional", segment="smb",
                          report_recipients="finance@example.net;ops@example.net")),
    ))  # fmt: skip

    def activity(i: str, **kw: str) -> dict[str, str]:
        base = dict(activity_id=i, account_id=acc, manager_id=mgr, type="call",
                    occurred_at=ts(3), subject="Check-in call")  # fmt: skip
        base.update(kw)
        return base

    same = activity("ACTX007", type="email", occurred_at=ts(4, "08:15:00"), subject="Re: renewal")
    activities = BrokenFile("activities", "crm", "activities_zz_broken.csv", (
        BrokenRow("ACTX001", CODE, 'type is "lunch"', activity("ACTX001", type="lunch")),
        BrokenRow("ACTX002", TIMESTAMP, 'occurred_at is "31/01/2024 10:00"',
                  activity("ACTX002", occurred_at="31/01/2024 10:00")),
        BrokenRow("ACTX003", MISSING, "account_id is empty", activity("ACTX003", account_id="")),
        BrokenRow("ACTX004", ACCOUNT, f'account_id "{ghost}" exists nowhere',
                  activity("ACTX004", account_id=ghost)),
        BrokenRow("ACTX005", DUPLICATE, "type and subject differ from line 7",
                  activity("ACTX005", type="meeting", subject="Roadmap review")),
        BrokenRow("ACTX005", DUPLICATE, "type and subject differ from line 6",
                  activity("ACTX005", type="visit", subject="On-site visit")),
        BrokenRow("ACTX006", None, "a call with <valid account>, must load", activity("ACTX006")),
        BrokenRow("ACTX007", None,
                  "identical to line 10 (a re-export), must load once, not quarantined", same),
        BrokenRow("ACTX007", None,
                  "identical to line 9 (a re-export), must load once, not quarantined", dict(same)),
    ))  # fmt: skip

    def ticket(i: str, **kw: str) -> dict[str, str]:
        base = dict(ticket_id=i, account_id=acc, opened_at=ts(5), first_response_at=ts(5, "11:00:00Z"),
                    resolved_at=ts(6), priority="normal", status="solved", subject="Export fails")  # fmt: skip
        base.update(kw)
        return base

    tickets = BrokenFile("tickets", "crm", "tickets_zz_broken.csv", (
        BrokenRow("TKTX001", CODE, 'priority is "critical"', ticket("TKTX001", priority="critical")),
        BrokenRow("TKTX002", RULE, "resolved_at is before opened_at",
                  ticket("TKTX002", opened_at=ts(8), first_response_at="", resolved_at=ts(7))),
        BrokenRow("TKTX003", TIMESTAMP, 'opened_at is "2024-13-45T10:00:00Z"',
                  ticket("TKTX003", opened_at="2024-13-45T10:00:00Z")),
        BrokenRow("TKTX004", None, "an open normal-priority ticket, must load",
                  ticket("TKTX004", resolved_at="", status="open")),
    ))  # fmt: skip

    def response(i: str, **kw: str) -> dict[str, str]:
        base = dict(response_id=i, account_id=acc, contact_email=email, survey_type="nps",
                    score="8", responded_at=ts(9, "14:30:00+02:00"), comment="")  # fmt: skip
        base.update(kw)
        return base

    responses = BrokenFile("responses", "surveys", "responses_zz_broken.csv", (
        BrokenRow("RSPX001", NUMBER, 'score is "abc"', response("RSPX001", score="abc")),
        BrokenRow("RSPX002", RANGE, "nps score 11 (nps is 0-10)", response("RSPX002", score="11")),
        BrokenRow("RSPX003", RANGE, "csat score 0 (csat is 1-5)",
                  response("RSPX003", survey_type="csat", score="0")),
        BrokenRow("RSPX004", CODE, 'survey_type is "ces"', response("RSPX004", survey_type="ces")),
        BrokenRow("RSPX005", ACCOUNT, f'account_id "{ghost}" exists nowhere',
                  response("RSPX005", account_id=ghost, contact_email="")),
        BrokenRow("RSPX006", TIMESTAMP, 'responded_at is "2024-13-45T09:30:00Z"',
                  response("RSPX006", responded_at="2024-13-45T09:30:00Z")),
        BrokenRow("RSPX007", DUPLICATE, "score differs from line 9",
                  response("RSPX007", score="3", comment="Slow, \"again\"")),
        BrokenRow("RSPX007", DUPLICATE, "score differs from line 8", response("RSPX007", score="10")),
        BrokenRow("RSPX008", None, "an nps 9 from a contact of <valid account>, must load",
                  response("RSPX008", score="9", comment="Très bien, merci")),
    ))  # fmt: skip

    def sub(i: str, **kw: str) -> dict[str, str]:
        base = dict(subscription_id=i, account_id=acc, product="Premium Support", start_date=pday(0),
                    end_date="", mrr="250.00", currency=cur)  # fmt: skip
        base.update(kw)
        return base

    subscriptions = BrokenFile("subscriptions", "billing", "subscriptions_zz_broken.csv", (
        BrokenRow("SUBX001", NUMBER, 'mrr is "12,5O"', sub("SUBX001", mrr="12,5O")),
        BrokenRow("SUBX002", DATE, 'start_date is "2024-13-45"', sub("SUBX002", start_date="2024-13-45")),
        BrokenRow("SUBX003", RULE, "end_date is before start_date",
                  sub("SUBX003", start_date=pday(10), end_date=pday(2))),
        BrokenRow("SUBX004", MISSING, "product is empty", sub("SUBX004", product="")),
        BrokenRow("SUBX005", ACCOUNT, f'account_id "{ghost}" exists nowhere',
                  sub("SUBX005", account_id=ghost, currency="usd")),
        BrokenRow("SUBX006", RANGE, "mrr is -50.00 (must be >= 0)", sub("SUBX006", mrr="-50.00")),
        BrokenRow("SUBX007", DUPLICATE, "mrr differs from line 9", sub("SUBX007", mrr="100.00")),
        BrokenRow("SUBX007", DUPLICATE, "mrr differs from line 8", sub("SUBX007", mrr="1000.00")),
        BrokenRow("SUBX008", None,
                  "a one-off onboarding package inside one month, must load (no MRR effect)",
                  sub("SUBX008", product="Onboarding Package", start_date=pday(3), end_date=pday(20),
                      mrr="500.00")),
    ))  # fmt: skip

    def invoice(i: str, **kw: str) -> dict[str, str]:
        base = dict(invoice_id=i, account_id=acc, number=f"X-{i[-3:]}", issued_on=day(9),
                    due_on=day(39), currency=cur, subtotal="100.00", tax="20.00", total="120.00",
                    status="open", paid_on="")  # fmt: skip
        base.update(kw)
        return base

    invoices = BrokenFile("invoices", "billing", "invoices_zz_broken.csv", (
        BrokenRow("INVX001", NUMBER, 'subtotal is "12,5O"', invoice("INVX001", subtotal="12,5O")),
        BrokenRow("INVX002", CODE, 'status is "pending_payment"', invoice("INVX002", status="pending_payment")),
        BrokenRow("INVX003", ACCOUNT, f'account_id "{ghost}" exists nowhere',
                  invoice("INVX003", account_id=ghost, currency="usd")),
        BrokenRow("INVX004", MISSING, "issued_on is empty", invoice("INVX004", issued_on="")),
        BrokenRow("INVX005", RULE, "due_on is before issued_on", invoice("INVX005", due_on=day(1))),
        BrokenRow("INVX006", DATE, 'due_on is "2024-02-30"', invoice("INVX006", due_on="2024-02-30")),
        BrokenRow("INVX007", DUPLICATE, "total differs from line 9", invoice("INVX007")),
        BrokenRow("INVX007", DUPLICATE, "total differs from line 8",
                  invoice("INVX007", subtotal="1000.00", tax="200.00", total="1200.00")),
        BrokenRow("INVX008", None, "an open invoice of <valid account>, must load", invoice("INVX008")),
    ))  # fmt: skip

    def line(i: str, **kw: str) -> dict[str, str]:
        base = dict(line_id=i, invoice_id="INVX008", product="Premium Support",
                    description="Premium Support, one-off", quantity="1", unit_amount="100.00",
                    amount="100.00", tax_amount="20.00", period_start=day(9), period_end=day(20))  # fmt: skip
        base.update(kw)
        return base

    ghost_invoice = "INV" + "0" * 7
    lines = BrokenFile("invoice_lines", "billing", "invoice_lines_zz_broken.csv", (
        BrokenRow("LINX001", REFERENCE, f'invoice_id "{ghost_invoice}" exists nowhere',
                  line("LINX001", invoice_id=ghost_invoice)),
        BrokenRow("LINX002", NUMBER, 'amount is "abc"', line("LINX002", amount="abc")),
        BrokenRow("LINX003", None, "the line of INVX008, must load", line("LINX003")),
    ))  # fmt: skip

    month = end.strftime("%Y-%m")
    before = prev.strftime("%Y-%m")

    def goal(i: str, **kw: str) -> dict[str, str]:
        base = dict(goal_id=i, account_id=acc, metric="nps_12m", target="40", direction="at_least",
                    start_month=before, due_month=month, owner="", description="Reach an NPS of 40",
                    visible_to_client="true")  # fmt: skip
        base.update(kw)
        return base

    goals = BrokenFile("account_goals", "crm", "account_goals_zz_broken.csv", (
        BrokenRow("GOALX001", CODE, 'metric is "revenue", not a column of marts.account_monthly',
                  goal("GOALX001", metric="revenue")),
        BrokenRow("GOALX002", RULE, "due_month is before start_month",
                  goal("GOALX002", start_month=month, due_month=before)),
        BrokenRow("GOALX003", ACCOUNT, f'account_id "{ghost}" exists nowhere', goal("GOALX003", account_id=ghost)),
        BrokenRow("GOALX004", None, "an internal NPS goal of <valid account>, must load",
                  goal("GOALX004", visible_to_client="false", description="Internal: NPS of 40")),
    ))  # fmt: skip

    return [accounts, activities, tickets, responses, subscriptions, invoices, lines, goals]


def describe(files: list[BrokenFile]) -> str:
    """One line per row, as in this module's docstring."""
    out = []
    for f in files:
        for i, r in enumerate(f.rows):
            label = "valid" if r.kind is None else r.kind
            if r.kind == DUPLICATE:
                n = sum(1 for x in f.rows[: i + 1] if x.key == r.key)
                label = f"{r.kind} ({n} of 2)"
            out.append(f"{f.path} line {i + 2} ({r.key}): {label}: {r.what}")
    return "\n".join(out)
