"""The sample portfolio in the shapes other systems export it (``pipeline sample --format``).

Pure conversions, Polars in and out, from the generator's contract-shaped tables:

* ``expressible(tables, systems, as_of)``: the same tables with only what the systems'
  exports can carry (see the table below). A contract-shaped sample written from these
  tables and a vendor-shaped one must give the same marts, row for row
  (tests/integration/test_vendor_sample.py).
* ``salesforce_exports``, ``hubspot_exports``, ``stripe_exports``, ``zendesk_exports``:
  one system's export files (file name -> frame of text columns with the vendor's
  headers), as the built-in profiles (pipeline/profiles/*.toml) read them.
* ``split_for_vendors(tables, systems)``: every export file to write, and the
  contract-shaped rows that no selected system exports (fx rates, invoice lines, NPS
  responses, goals, health overrides, aliases, ...).

What a vendor export cannot carry, and what ``expressible`` does about it:

========== =================================================================================
salesforce contacts: no ``is_primary`` (false). Tasks (calls, e-mails): ``ActivityDate`` is a
           date, so their ``occurred_at`` is midnight UTC of the day. Cases (when Zendesk
           does not export the tickets): no first response (empty).
hubspot    owners are named by their full name: ``manager_id`` is the manager's name.
           Contacts: no ``is_primary``. Tickets (without Zendesk): no first response.
stripe     ``Ended At`` is only known once a subscription has ended: a fixed-term end after
           the sample's last day is left out (the subscription is open-ended).
zendesk    times to the minute (``Created at``, ``Solved at``), first response in whole
           minutes; at most one CSAT response per ticket, Good (5) or Bad (1): scores 4-5
           become 5, 1-3 become 1, dated when the ticket was solved, id
           ``zendesk-csat-<ticket id>``, from the ticket's requester. Organizations are found
           through ``crm/account_aliases`` (system zendesk, the account's name).
========== =================================================================================
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from datetime import date

import polars as pl

SYSTEMS = ("contract", "salesforce", "hubspot", "stripe", "zendesk")
CRM_SYSTEMS = ("salesforce", "hubspot")
SALESFORCE_ZIP = "WE_00D5g000000SAMP_1.ZIP"  # the weekly Data Export, as it arrives
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed, so the same arguments give the same bytes

Tables = Mapping[str, pl.DataFrame]


def parse_format(text: str) -> tuple[str, ...]:
    """``salesforce+stripe+zendesk`` -> ('salesforce', 'stripe', 'zendesk'); ``contract`` -> ().
    Raises ValueError naming what is wrong."""
    parts = [p.strip().lower() for p in text.split("+") if p.strip()]
    if not parts:
        raise ValueError("the format is empty; use contract, or systems joined by '+' (e.g. salesforce+stripe+zendesk)")
    unknown = [p for p in parts if p not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown format {', '.join(unknown)}; use contract or {', '.join(SYSTEMS[1:])} joined by '+'")
    if all(c in parts for c in CRM_SYSTEMS):
        raise ValueError("salesforce and hubspot are both CRMs; pick one")
    return tuple(dict.fromkeys(p for p in SYSTEMS[1:] if p in parts))


# --------------------------------------------------------------------------- helpers


def _instant(name: str) -> pl.Expr:
    """The generator's ISO 8601 text (``Z``, an offset, or none meaning UTC) as a UTC datetime."""
    e = pl.col(name)
    return pl.coalesce(
        e.str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", strict=False, time_zone="UTC"),
        e.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False).dt.replace_time_zone("UTC"),
    )


def _iso(e: pl.Expr) -> pl.Expr:
    return e.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sf_time(e: pl.Expr) -> pl.Expr:
    """Salesforce's Data Export style: 2026-11-02T14:03:00.000Z."""
    return e.dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _day(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Date).dt.strftime("%Y-%m-%d")


def _all_text(df: pl.DataFrame) -> pl.DataFrame:
    """Every column as text; an empty value stays null (written as nothing, as exports do)."""
    return df.select(pl.col(c).cast(pl.String) for c in df.columns)


def _first_name(name: str) -> pl.Expr:
    return pl.col(name).str.split_exact(" ", 1).struct.field("field_0")


def _last_name(name: str) -> pl.Expr:
    parts = pl.col(name).str.splitn(" ", 2)
    return parts.struct.field("field_1")


def _cents(name: str) -> pl.Expr:
    return (pl.col(name).cast(pl.Float64) * 100).round(0).cast(pl.Int64)


def _money(cents: pl.Expr) -> pl.Expr:
    return (cents // 100).cast(pl.String) + "." + (cents % 100).cast(pl.String).str.zfill(2)


def _crm_metadata_header(systems: tuple[str, ...]) -> str:
    if "hubspot" in systems:
        return "hubspot_company_id (metadata)"
    return "salesforce_account_id (metadata)" if "salesforce" in systems else "crm_account_id (metadata)"


# --------------------------------------------------------------------------- expressible


def expressible(tables: Tables, systems: tuple[str, ...], as_of: date) -> dict[str, pl.DataFrame]:
    """The tables with only what the exports of ``systems`` can carry (see the module's
    docstring); ``as_of`` is the sample's last day. Tables no system exports are as they were."""
    out = dict(tables)
    crm = next((s for s in systems if s in CRM_SYSTEMS), None)
    if crm is not None:
        out["contacts"] = out["contacts"].with_columns(pl.lit(False).alias("is_primary"))
        if "zendesk" not in systems:
            out["tickets"] = out["tickets"].with_columns(pl.lit(None, pl.String).alias("first_response_at"))
    if crm == "salesforce":
        task = pl.col("type").str.to_lowercase().is_in(["call", "email"])
        out["activities"] = out["activities"].with_columns(
            pl.when(task)
            .then(_iso(_instant("occurred_at").dt.truncate("1d")))
            .otherwise(pl.col("occurred_at"))
            .alias("occurred_at")
        )
    if crm == "hubspot":
        names = dict(zip(out["account_managers"]["manager_id"], out["account_managers"]["name"], strict=True))
        out["account_managers"] = out["account_managers"].with_columns(pl.col("name").alias("manager_id"))
        out["accounts"] = out["accounts"].with_columns(pl.col("account_manager_id").replace_strict(names))
        out["activities"] = out["activities"].with_columns(pl.col("manager_id").replace_strict(names, default=None))
    if "stripe" in systems:
        out["subscriptions"] = out["subscriptions"].with_columns(
            pl.when(pl.col("end_date").cast(pl.Date) > as_of).then(None).otherwise(pl.col("end_date")).alias("end_date")
        )
    if "zendesk" in systems:
        out.update(_zendesk_expressible(out))
    return out


def _zendesk_expressible(tables: Tables) -> dict[str, pl.DataFrame]:
    tickets = tables["tickets"].with_columns(
        _instant("opened_at").dt.truncate("1m").alias("_open"),
        _instant("first_response_at").alias("_fr"),
        _instant("resolved_at").dt.truncate("1m").alias("_res"),
    )
    minutes = ((pl.col("_fr") - pl.col("_open")).dt.total_seconds() / 60).round(0).cast(pl.Int64)
    tickets = tickets.with_columns(
        _iso(pl.col("_open")).alias("opened_at"),
        _iso(pl.col("_open") + pl.duration(minutes=minutes)).alias("first_response_at"),
        _iso(pl.col("_res")).alias("resolved_at"),
    )
    responses = tables["responses"]
    csat = pl.col("ticket_id").is_not_null()
    solved = tickets.select(pl.col("ticket_id"), pl.col("resolved_at").alias("_solved"))
    responses = (
        responses.join(solved, on="ticket_id", how="left")
        .with_columns(
            pl.when(csat)
            .then("zendesk-csat-" + pl.col("ticket_id"))
            .otherwise(pl.col("response_id"))
            .alias("response_id"),
            pl.when(csat)
            .then(pl.when(pl.col("score") >= 4).then(5).otherwise(1))
            .otherwise(pl.col("score"))
            .cast(pl.Int64)
            .alias("score"),
            pl.when(csat).then(pl.col("_solved")).otherwise(pl.col("responded_at")).alias("responded_at"),
        )
        .drop("_solved")
    )
    accounts = tables["accounts"]
    zendesk = pl.DataFrame(
        {
            "account_id": accounts["account_id"],
            "system": pl.Series(["zendesk"] * accounts.height, dtype=pl.String),
            "external_id": accounts["account_name"],
            "note": pl.Series(["Zendesk organization"] * accounts.height, dtype=pl.String),
        }
    )
    aliases = pl.concat([tables["account_aliases"].cast(pl.String), zendesk], how="vertical")
    return {
        "tickets": tickets.drop("_open", "_fr", "_res"),
        "responses": responses,
        "account_aliases": aliases,
    }


# --------------------------------------------------------------------------- salesforce


# Segment labels as both CRMs ship them in their picklists.
_SEGMENT_LABEL = {"enterprise": "Enterprise", "mid_market": "Mid-Market", "smb": "SMB"}
_SF_OPP_TYPE = {
    "new_business": "New Customer",
    "upsell": "Existing Customer - Upgrade",
    "cross_sell": "Cross-Sell",
    "renewal": "Renewal",
}
_SF_PRIORITY = {"low": "Low", "normal": "Medium", "high": "High", "urgent": "Critical"}
_SF_EVENT_TYPE = {"meeting": "Meeting", "qbr": "QBR", "visit": "Visit", "other": "Other"}
_SF_TASK_TYPE = {"call": "Call", "email": "Email"}


def salesforce_exports(tables: Tables, tickets: bool = True) -> dict[str, pl.DataFrame]:
    """Salesforce Data Export CSVs (API field names): User, Account, Contact, Opportunity,
    Task (calls, e-mails), Event (meetings, QBRs, visits, other) and, with ``tickets``,
    Case."""
    managers = tables["account_managers"]
    accounts = tables["accounts"]
    out = {
        "User.csv": managers.select(
            pl.col("manager_id").alias("Id"),
            _first_name("name").alias("FirstName"),
            _last_name("name").alias("LastName"),
            pl.col("name").alias("Name"),
            pl.col("email").alias("Email"),
            pl.col("team").alias("Department"),
            pl.lit("true").alias("IsActive"),
        ),
        "Account.csv": accounts.select(
            pl.col("account_id").alias("Id"),
            pl.col("account_name").alias("Name"),
            pl.col("parent_account_id").alias("ParentId"),
            pl.col("account_manager_id").alias("OwnerId"),
            pl.col("industry").alias("Industry"),
            pl.col("region").alias("BillingCountry"),
            pl.col("currency").str.to_uppercase().alias("CurrencyIsoCode"),
            _sf_time(pl.col("customer_since").cast(pl.Date).cast(pl.Datetime("us", "UTC"))).alias("CreatedDate"),
            pl.col("tier").str.to_titlecase().alias("Tier__c"),
            pl.col("segment").replace_strict(_SEGMENT_LABEL, default=None).alias("Segment__c"),
            _day("renewal_date").alias("Renewal_Date__c"),
            pl.col("report_cadence").str.to_titlecase().alias("Report_Cadence__c"),
            pl.col("report_recipients").alias("Report_Recipients__c"),
            pl.lit("false").alias("IsDeleted"),
        ),
        "Contact.csv": tables["contacts"].select(
            pl.col("contact_id").alias("Id"),
            pl.col("account_id").alias("AccountId"),
            _first_name("name").alias("FirstName"),
            _last_name("name").alias("LastName"),
            pl.col("email").alias("Email"),
            pl.col("role").alias("Title"),
        ),
        "Opportunity.csv": tables["opportunities"].select(
            pl.col("opportunity_id").alias("Id"),
            pl.col("account_id").alias("AccountId"),
            pl.col("type").replace_strict(_SF_OPP_TYPE).alias("Type"),
            pl.col("stage").alias("StageName"),
            pl.col("amount").alias("Amount"),
            pl.col("currency").str.to_uppercase().alias("CurrencyIsoCode"),
            _sf_time(pl.col("created_on").cast(pl.Date).cast(pl.Datetime("us", "UTC"))).alias("CreatedDate"),
            _day("close_date").alias("CloseDate"),
            pl.col("is_closed").cast(pl.String).str.to_lowercase().alias("IsClosed"),
            pl.col("is_won").cast(pl.String).str.to_lowercase().alias("IsWon"),
        ),
    }
    acts = tables["activities"].with_columns(_instant("occurred_at").alias("_at"), pl.col("type").str.to_lowercase())
    task = pl.col("type").is_in(list(_SF_TASK_TYPE))
    out["Task.csv"] = acts.filter(task).select(
        pl.col("activity_id").alias("Id"),
        pl.col("account_id").alias("AccountId"),
        pl.col("manager_id").alias("OwnerId"),
        pl.col("type").replace_strict(_SF_TASK_TYPE).alias("TaskSubtype"),
        pl.col("type").replace_strict(_SF_TASK_TYPE).alias("Type"),
        pl.col("_at").dt.strftime("%Y-%m-%d").alias("ActivityDate"),
        pl.col("subject").alias("Subject"),
        pl.lit("Completed").alias("Status"),
        _sf_time(pl.col("_at")).alias("CreatedDate"),
    )
    out["Event.csv"] = acts.filter(~task).select(
        pl.col("activity_id").alias("Id"),
        pl.col("account_id").alias("AccountId"),
        pl.col("manager_id").alias("OwnerId"),
        pl.col("type").replace_strict(_SF_EVENT_TYPE).alias("Type"),
        pl.lit("Event").alias("EventSubtype"),
        _sf_time(pl.col("_at")).alias("ActivityDateTime"),
        pl.col("_at").dt.strftime("%Y-%m-%d").alias("ActivityDate"),
        pl.col("subject").alias("Subject"),
    )
    if tickets:
        out["Case.csv"] = tables["tickets"].select(
            pl.col("ticket_id").alias("Id"),
            pl.col("account_id").alias("AccountId"),
            _sf_time(_instant("opened_at")).alias("CreatedDate"),
            _sf_time(_instant("resolved_at")).alias("ClosedDate"),
            pl.col("priority").str.to_lowercase().replace_strict(_SF_PRIORITY).alias("Priority"),
            pl.col("status").str.to_titlecase().alias("Status"),
            pl.col("subject").alias("Subject"),
            pl.lit("Email").alias("Origin"),
        )
    return {name: _all_text(df) for name, df in out.items()}


def salesforce_zip(files: Mapping[str, pl.DataFrame]) -> bytes:
    """The Salesforce CSVs as the weekly Data Export ZIP (fixed times: same bytes every time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, df in files.items():
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, df.write_csv(line_terminator="\n"))
    return buf.getvalue()


# --------------------------------------------------------------------------- hubspot


_HS_DEAL_TYPE = {
    "new_business": "New Business",
    "upsell": "Existing Business",
    "cross_sell": "Cross-sell",
    "renewal": "Renewal",
}
_HS_PRIORITY = {"low": "LOW", "normal": "MEDIUM", "high": "HIGH", "urgent": "URGENT"}


def hubspot_exports(tables: Tables, tickets: bool = True) -> dict[str, pl.DataFrame]:
    """HubSpot CRM exports (users, companies, contacts, deals and, with ``tickets``,
    tickets), from tables where ``manager_id`` is the manager's full name (``expressible``)."""
    prefix = "hubspot-crm-exports-all-"
    managers = tables["account_managers"]
    out = {
        f"{prefix}users.csv": managers.select(
            _first_name("name").alias("First Name"),
            _last_name("name").alias("Last Name"),
            pl.col("email").alias("Email"),
            pl.col("team").alias("Primary team"),
        ),
        f"{prefix}companies.csv": tables["accounts"].select(
            pl.col("account_id").alias("Record ID"),
            pl.col("account_name").alias("Company name"),
            pl.col("tier").str.to_titlecase().alias("Tier"),
            pl.col("segment").replace_strict(_SEGMENT_LABEL, default=None).alias("Segment"),
            pl.col("industry").alias("Industry"),
            pl.col("region").alias("Country/Region"),
            pl.col("account_manager_id").alias("Company owner"),
            pl.col("parent_account_id").alias("Parent Company ID"),
            (_day("customer_since") + " 00:00").alias("Create Date"),
            _day("renewal_date").alias("Renewal date"),
            pl.col("currency").str.to_uppercase().alias("Currency"),
            pl.col("report_cadence").str.to_titlecase().alias("Report cadence"),
            pl.col("report_recipients").alias("Report recipients"),
        ),
        f"{prefix}contacts.csv": tables["contacts"].select(
            pl.col("contact_id").alias("Record ID"),
            _first_name("name").alias("First Name"),
            _last_name("name").alias("Last Name"),
            pl.col("email").alias("Email"),
            pl.col("role").alias("Job Title"),
            pl.col("account_id").alias("Associated Company ID"),
        ),
        f"{prefix}deals.csv": tables["opportunities"].select(
            pl.col("opportunity_id").alias("Record ID"),
            pl.col("type").replace_strict(_HS_DEAL_TYPE).alias("Deal Type"),
            pl.col("stage").alias("Deal Stage"),
            pl.col("amount").alias("Amount"),
            pl.col("currency").str.to_uppercase().alias("Currency"),
            (_day("created_on") + " 00:00").alias("Create Date"),
            _day("close_date").alias("Close Date"),
            pl.col("account_id").alias("Associated Company ID"),
        ),
    }
    if tickets:
        out[f"{prefix}tickets.csv"] = tables["tickets"].select(
            pl.col("ticket_id").alias("Ticket ID"),
            pl.col("subject").alias("Ticket name"),
            pl.col("status").str.to_titlecase().alias("Ticket status"),
            pl.col("priority").str.to_lowercase().replace_strict(_HS_PRIORITY).alias("Priority"),
            _instant("opened_at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("Create date"),
            _instant("resolved_at").dt.strftime("%Y-%m-%d %H:%M:%S").alias("Close date"),
            pl.col("account_id").alias("Associated Company ID"),
        )
    return {name: _all_text(df) for name, df in out.items()}


# --------------------------------------------------------------------------- stripe


def _alias_only(account: pl.Expr) -> pl.Expr:
    """Every fourth account's Stripe records carry no CRM id: they are found through
    crm/account_aliases (cus_<account id>), as records of a team that never set the metadata."""
    return account.str.extract(r"(\d+)$").cast(pl.Int64) % 4 == 0


def stripe_exports(tables: Tables, crm_header: str, as_of: date) -> dict[str, pl.DataFrame]:
    """Stripe Dashboard exports of subscriptions and invoices, amounts in currency units.
    Strategic accounts pay their Core Platform yearly (12 x MRR a year); everything else
    monthly. ``crm_header`` is the metadata column that carries the CRM account id."""
    names = tables["accounts"].select("account_id", pl.col("account_name").alias("Customer Name"), "tier")
    crm = pl.when(_alias_only(pl.col("account_id"))).then(None).otherwise(pl.col("account_id"))
    subs = tables["subscriptions"].join(names, on="account_id", how="left")
    yearly = (pl.col("tier").str.to_lowercase() == "strategic") & (pl.col("product") == "Core Platform")
    ended = pl.col("end_date").is_not_null() & (pl.col("end_date").cast(pl.Date) <= as_of)
    start = _day("start_date") + " 00:00"
    subscriptions = subs.select(
        pl.col("subscription_id").alias("id"),
        ("cus_" + pl.col("account_id")).alias("Customer ID"),
        pl.col("Customer Name"),
        (pl.col("product") + pl.when(yearly).then(pl.lit(" Annual")).otherwise(pl.lit(" Monthly"))).alias("Plan"),
        pl.col("product").alias("Product"),
        pl.lit("1").alias("Quantity"),
        pl.col("currency").str.to_lowercase().alias("Currency"),
        pl.when(yearly).then(pl.lit("year")).otherwise(pl.lit("month")).alias("Interval"),
        pl.when(yearly).then(_money(_cents("mrr") * 12)).otherwise(_money(_cents("mrr"))).alias("Amount"),
        pl.when(ended).then(pl.lit("canceled")).otherwise(pl.lit("active")).alias("Status"),
        start.alias("Created (UTC)"),
        start.alias("Start Date (UTC)"),
        pl.lit(None, pl.String).alias("Trial End (UTC)"),
        pl.when(ended).then(_day("end_date") + " 00:00").alias("Ended At (UTC)"),
        crm.alias(crm_header),
    )
    invoices = (
        tables["invoices"]
        .join(names, on="account_id", how="left")
        .select(
            pl.col("invoice_id").alias("id"),
            pl.col("number").alias("Number"),
            ("cus_" + pl.col("account_id")).alias("Customer"),
            pl.col("Customer Name"),
            pl.col("currency").str.to_lowercase().alias("Currency"),
            pl.col("subtotal").alias("Subtotal"),
            pl.col("tax").alias("Tax"),
            pl.col("total").alias("Total"),
            pl.col("status").str.to_lowercase().alias("Status"),
            (_day("issued_on") + " 00:00").alias("Date (UTC)"),
            (_day("due_on") + " 00:00").alias("Due Date (UTC)"),
            (_day("paid_on") + " 00:00").alias("Paid At (UTC)"),
            crm.alias(crm_header),
        )
    )
    return {"subscriptions.csv": _all_text(subscriptions), "invoices.csv": _all_text(invoices)}


# --------------------------------------------------------------------------- zendesk


_ZD_PRIORITY = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}


def zendesk_exports(tables: Tables, end_month: date) -> dict[str, pl.DataFrame]:
    """The Zendesk ticket export, from ``expressible`` tables: one row per ticket, its
    organization (the account's name), requester, times in UTC to the minute, and the
    satisfaction rating (Good/Bad) of the tickets with a CSAT response."""
    tickets = tables["tickets"]
    contacts = tables["contacts"].filter(pl.col("email").is_not_null())
    first_contact = contacts.group_by("account_id", maintain_order=True).agg(pl.col("email").first().alias("_email"))
    people = contacts.select(pl.col("email").alias("_req"), pl.col("name").alias("Requester")).unique(
        "_req", keep="first"
    )
    csat = tables["responses"].filter(pl.col("ticket_id").is_not_null())
    rated = csat.select(
        "ticket_id",
        pl.col("contact_email").alias("_rater"),
        pl.when(pl.col("score") >= 4).then(pl.lit("Good")).otherwise(pl.lit("Bad")).alias("Satisfaction Score"),
        pl.col("comment").alias("Satisfaction Comment"),
    )
    accounts = tables["accounts"].select("account_id", pl.col("account_name").alias("Organization"))
    frame = (
        tickets.join(accounts, on="account_id", how="left")
        .join(first_contact, on="account_id", how="left")
        .join(rated, on="ticket_id", how="left")
        .with_columns(
            pl.when(pl.col("_rater").is_not_null() | pl.col("Satisfaction Score").is_not_null())
            .then(pl.col("_rater"))
            .otherwise(pl.col("_email"))
            .alias("_req"),
            _instant("opened_at").alias("_open"),
            _instant("first_response_at").alias("_fr"),
            _instant("resolved_at").alias("_res"),
        )
        .join(people, on="_req", how="left")
    )
    minute = "%Y-%m-%d %H:%M"
    solved = pl.col("status").str.to_lowercase().is_in(["solved", "closed"])
    out = frame.select(
        pl.col("ticket_id").alias("Id"),
        pl.col("Requester"),
        pl.col("_req").alias("Requester email"),
        pl.col("Organization"),
        pl.col("subject").alias("Subject"),
        pl.col("status").str.to_lowercase().alias("Status"),
        pl.col("priority").str.to_lowercase().replace_strict(_ZD_PRIORITY, default="-").alias("Priority"),
        pl.col("_open").dt.strftime(minute).alias("Created at"),
        pl.coalesce(pl.col("_res"), pl.col("_fr"), pl.col("_open")).dt.strftime(minute).alias("Updated at"),
        pl.col("_res").dt.strftime(minute).alias("Solved at"),
        ((pl.col("_fr") - pl.col("_open")).dt.total_seconds() // 60)
        .cast(pl.String)
        .alias("First reply time in minutes"),
        pl.coalesce(
            pl.col("Satisfaction Score"),
            pl.when(solved).then(pl.lit("Offered")).otherwise(pl.lit("Unoffered")),
        ).alias("Satisfaction Score"),
        pl.col("Satisfaction Comment"),
    )
    return {f"export-{end_month:%Y-%m}-tickets.csv": _all_text(out)}


# --------------------------------------------------------------------------- all of them


def split_for_vendors(
    tables: Tables, systems: tuple[str, ...], as_of: date, end_month: date
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """(export files by path under the landing folder, e.g. ``stripe/subscriptions.csv``;
    the contract-shaped rows still to write, by source). A source every row of which a
    selected system exports is not in the second; NPS responses stay there beside
    Zendesk's CSAT. ``tables`` should be ``expressible(..., systems, as_of)``."""
    exports: dict[str, pl.DataFrame] = {}
    contract = dict(tables)
    zendesk = "zendesk" in systems
    crm_sources = ("account_managers", "accounts", "contacts", "opportunities")
    if "salesforce" in systems:
        for name, df in salesforce_exports(tables, tickets=not zendesk).items():
            exports[f"salesforce/{name}"] = df
        for s in (*crm_sources, "activities", "tickets"):
            contract.pop(s, None)
    if "hubspot" in systems:
        for name, df in hubspot_exports(tables, tickets=not zendesk).items():
            exports[f"hubspot/{name}"] = df
        for s in (*crm_sources, "tickets"):
            contract.pop(s, None)
    if "stripe" in systems:
        header = _crm_metadata_header(systems)
        for name, df in stripe_exports(tables, header, as_of).items():
            exports[f"stripe/{name}"] = df
        contract.pop("subscriptions", None)
        contract.pop("invoices", None)
    if zendesk:
        for name, df in zendesk_exports(tables, end_month).items():
            exports[f"zendesk/{name}"] = df
        contract.pop("tickets", None)
        contract["responses"] = tables["responses"].filter(pl.col("ticket_id").is_null())
    return exports, contract


def broken_files_left_out(systems: tuple[str, ...]) -> frozenset[str]:
    """Sources whose deliberately broken (contract-shaped) files are not written beside the
    exports: the sources the systems export, and invoice lines (their broken file names a
    broken invoice) with Stripe."""
    out: set[str] = set()
    if "salesforce" in systems:
        out |= {"account_managers", "accounts", "contacts", "opportunities", "activities", "tickets"}
    if "hubspot" in systems:
        out |= {"account_managers", "accounts", "contacts", "opportunities", "tickets"}
    if "stripe" in systems:
        out |= {"subscriptions", "invoices", "invoice_lines"}
    if "zendesk" in systems:
        out |= {"tickets", "responses"}
    return frozenset(out)
