"""Which account a vendor record belongs to: pure, Polars in and out.

A billing, support or survey record from another system carries the CRM's account id
(then nothing is looked up), or an id of its own system (a Stripe customer, a Zendesk
organization) to look up in crm/account_aliases, or, for survey responses, the
respondent's e-mail to look up among the contacts. Exactly one account must come back:
none, or two, and the record is quarantined with the id it carried and what to add, never
guessed. Run in staging (not at load), so an alias added after a run applies to the rows
already loaded.
"""

from __future__ import annotations

import polars as pl

from pipeline.contract import ACCOUNT, Source

PROBLEM = "_account_problem"


def account_lookups(source: Source) -> tuple[str, ...]:
    """The staged tables staging of ``source`` reads to find a vendor record's account."""
    if source.name == "account_aliases" or "account_id" not in source.column_names:
        return ()
    if source.column("account_id").references != ACCOUNT:
        return ()
    return ("account_aliases", "contacts") if source.name == "responses" else ("account_aliases",)


def _blank(e: pl.Expr) -> pl.Expr:
    return e.is_null() | (e.cast(pl.String).str.strip_chars() == "")


def resolve_accounts(raw: pl.DataFrame, aliases: pl.DataFrame, contacts: pl.DataFrame | None) -> pl.DataFrame:
    """``raw`` with ``account_id`` found for vendor rows that carry no CRM id, and
    ``_account_problem`` (null, or why no single account was found).

    ``raw`` has ``account_id``, ``_account_system`` ("system:label"), ``_account_ref``
    and ``_account_email``; ``aliases`` the staged account_aliases (account_id, system,
    external_id); ``contacts`` the staged contacts (account_id, email) or None."""
    if "_account_ref" not in raw.columns:
        return raw.with_columns(pl.lit(None, pl.String).alias(PROBLEM))
    need = _blank(pl.col("account_id")) & (
        pl.col("_account_ref").is_not_null() | pl.col("_account_email").is_not_null()
    )
    work = raw.with_row_index("_k").filter(need)
    if work.is_empty():
        return raw.with_columns(pl.lit(None, pl.String).alias(PROBLEM))
    parts = pl.col("_account_system").str.split_exact(":", 1)
    work = work.with_columns(
        parts.struct.field("field_0").alias("_system"),
        parts.struct.field("field_1").fill_null("id").alias("_label"),
    )
    al = aliases.select(
        pl.col("system").str.to_lowercase().alias("_system"),
        pl.col("external_id").str.strip_chars().str.to_lowercase().alias("_ext"),
        pl.col("account_id"),
    ).unique()
    by_alias = (
        work.select("_k", "_system", pl.col("_account_ref").str.strip_chars().str.to_lowercase().alias("_ext"))
        .join(al, on=["_system", "_ext"])
        .group_by("_k")
        .agg(pl.col("account_id").unique().sort().alias("_by_alias"))
    )
    work = work.join(by_alias, on="_k", how="left")
    if contacts is not None:
        people = contacts.select(
            pl.col("email").str.strip_chars().str.to_lowercase().alias("_em"), pl.col("account_id")
        ).filter(pl.col("_em").is_not_null())
        by_email = (
            work.select("_k", pl.col("_account_email").str.strip_chars().str.to_lowercase().alias("_em"))
            .join(people.unique(), on="_em")
            .group_by("_k")
            .agg(pl.col("account_id").unique().sort().alias("_by_email"))
        )
        work = work.join(by_email, on="_k", how="left")
    else:
        work = work.with_columns(pl.lit(None, pl.List(pl.String)).alias("_by_email"))
    n_alias = pl.col("_by_alias").list.len().fill_null(0)
    n_email = pl.col("_by_email").list.len().fill_null(0)
    what = pl.format("{} {} '{}'", pl.col("_system"), pl.col("_label"), pl.col("_account_ref"))
    fix = pl.format(
        "add {} {} {} to crm/account_aliases.csv (account_id, system, external_id)",
        pl.col("_system"),
        pl.col("_label"),
        pl.col("_account_ref"),
    )
    found = (
        pl.when(n_alias == 1)
        .then(pl.col("_by_alias").list.first())
        .when((n_alias == 0) & (n_email == 1))
        .then(pl.col("_by_email").list.first())
    )
    problem = (
        pl.when(n_alias > 1)
        .then(
            pl.format(
                "{} matches {} accounts in crm/account_aliases ({}); keep the alias of the right one",
                what,
                n_alias,
                pl.col("_by_alias").list.join(", "),
            )
        )
        .when((n_alias == 0) & (n_email > 1))
        .then(
            pl.format(
                "the e-mail '{}' belongs to contacts of {} accounts ({}); add the record's id to crm/account_aliases.csv",
                pl.col("_account_email"),
                n_email,
                pl.col("_by_email").list.join(", "),
            )
        )
        .when((n_alias == 0) & (n_email == 0) & pl.col("_account_ref").is_not_null())
        .then(
            pl.format("no account found for {}: {}", what, fix)
            + pl.when(pl.col("_account_email").is_not_null())
            .then(pl.format(", or add '{}' to a contact of the account", pl.col("_account_email")))
            .otherwise(pl.lit(""))
        )
        .when((n_alias == 0) & (n_email == 0))
        .then(
            pl.format(
                "no contact has the e-mail '{}': add it to a contact of the account, or give the record an id "
                "listed in crm/account_aliases.csv",
                pl.col("_account_email"),
            )
        )
    )
    decided = work.select(
        "_k",
        pl.coalesce(found, pl.col("_account_ref"), pl.col("_account_email")).alias("_found"),
        problem.alias(PROBLEM),
    )
    return (
        raw.with_row_index("_k")
        .join(decided, on="_k", how="left")
        .with_columns(pl.coalesce(pl.col("_found"), pl.col("account_id")).alias("account_id"))
        .drop("_k", "_found")
    )
