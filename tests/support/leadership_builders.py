"""Hand-built mart rows for the leadership pack tests (no sample generator).

Every builder fills the columns a test does not name with the neutral value of its kind
(money 0, counts 0, rates and scores null), typed by the marts' schemas, so a test
states only the numbers it is about.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from pipeline.reporting.pack.inputs import TABLE_STATS_SCHEMA, LeadershipInputs
from pipeline.reporting.periods import add_months
from pipeline.schemas import ACCOUNT_MONTHLY, MONEY, PORTFOLIO_MONTHLY
from pipeline.settings import HealthSettings
from pipeline.transforms.health import account_health_schema

MONTH = date(2026, 10, 1)
PREV = add_months(MONTH, -1)
YEAR_AGO = add_months(MONTH, -12)
HEALTH = account_health_schema(HealthSettings())
LOADED_AT = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def D(x: Any) -> Decimal:
    return Decimal(str(x))


def _neutral(schema: pl.Schema) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, dtype in schema.items():
        if dtype == MONEY:
            row[name] = D(0)
        elif dtype == pl.Int64():
            row[name] = 0
        else:
            row[name] = None
    return row


def _fill(schema: pl.Schema, base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    row = {**_neutral(schema), **base}
    for k, v in values.items():
        if k not in schema:
            raise KeyError(f"no column {k}")
        row[k] = D(v) if schema[k] == MONEY and v is not None else v
    return row


def portfolio_row(month: date, grouping: str = "all", group_value: str = "all", **values: Any) -> dict[str, Any]:
    row = _fill(PORTFOLIO_MONTHLY, {"month": month, "grouping": grouping, "group_value": group_value}, values)
    if "arr_end" not in values:
        row["arr_end"] = row["mrr_end"] * 12
    return row


def portfolio(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=PORTFOLIO_MONTHLY)


def health_row(
    account_id: str, month: date, band: str | None, score: float | None = None, **values: Any
) -> dict[str, Any]:
    base = {
        "account_id": account_id,
        "month": month,
        "tier": "key",
        "score": score,
        "band": band,
        "computed_band": band,
        "missing_measures": [],
        "drivers": "",
        "drivers_detail": [],
    }
    return _fill(HEALTH, base, values)


def health(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=HEALTH)


def driver(measure: str, sentence: str, label: str | None = None, score: float = 0.0) -> dict[str, Any]:
    return {
        "measure": measure,
        "label": label or measure,
        "value": 0.0,
        "score": score,
        "shortfall": 1.0,
        "sentence": sentence,
    }


def monthly_row(account_id: str, month: date, mrr: Any = 0, **values: Any) -> dict[str, Any]:
    base = {
        "account_id": account_id,
        "month": month,
        "tier": "key",
        "segment": "mid_market",
        "account_manager_id": "M1",
        "is_customer": D(mrr) > 0,
    }
    row = _fill(ACCOUNT_MONTHLY, base, {"mrr": mrr, **values})
    row["arr"] = row["mrr"] * 12
    return row


def monthly(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=ACCOUNT_MONTHLY)


def accounts(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    """(account_id, account_name, manager_id, manager_name) rows."""
    return pl.DataFrame(
        [
            {"account_id": a, "account_name": n, "renewal_date": None, "account_manager_id": m, "manager_name": mn}
            for a, n, m, mn in rows
        ],
        schema={
            "account_id": pl.String,
            "account_name": pl.String,
            "renewal_date": pl.Date,
            "account_manager_id": pl.String,
            "manager_name": pl.String,
        },
    )


def managers(*rows: tuple[str, str, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"manager_id": i, "name": n, "team": t} for i, n, t in rows],
        schema={"manager_id": pl.String, "name": pl.String, "team": pl.String},
    )


def table_stats(*rows: tuple[str, int | None, int | None, str | None, date | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"source": s, "raw_rows": r, "staging_rows": st, "date_column": c, "newest_date": d}
            for s, r, st, c, d in rows
        ],
        schema=TABLE_STATS_SCHEMA,
    )


def loads(*rows: tuple[str, int, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"source": s, "files": f, "rows_loaded": r, "last_loaded_at": LOADED_AT} for s, f, r in rows],
        schema={
            "source": pl.String,
            "files": pl.Int64,
            "rows_loaded": pl.Int64,
            "last_loaded_at": pl.Datetime("us", "UTC"),
        },
    )


def quarantine(*rows: tuple[str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"source": s, "stage": st, "rows_quarantined": n} for s, st, n in rows],
        schema={"source": pl.String, "stage": pl.String, "rows_quarantined": pl.Int64},
    )


def reasons(*rows: tuple[str, str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"source": s, "reason": r, "rows_quarantined": n} for s, r, n in rows],
        schema={"source": pl.String, "reason": pl.String, "rows_quarantined": pl.Int64},
    )


def inputs(
    month: date = MONTH,
    portfolio_frame: pl.DataFrame | None = None,
    health_frame: pl.DataFrame | None = None,
    monthly_frame: pl.DataFrame | None = None,
    accounts_frame: pl.DataFrame | None = None,
    managers_frame: pl.DataFrame | None = None,
    stats: pl.DataFrame | None = None,
    first_month: date | None = None,
) -> LeadershipInputs:
    return LeadershipInputs(
        month=month,
        portfolio=portfolio_frame if portfolio_frame is not None else portfolio(),
        health=health_frame if health_frame is not None else health(),
        monthly=monthly_frame if monthly_frame is not None else monthly(),
        accounts=accounts_frame if accounts_frame is not None else accounts(),
        managers=managers_frame if managers_frame is not None else managers(),
        table_stats=stats
        if stats is not None
        else table_stats(
            ("accounts", 3, 3, None, None),
            ("subscriptions", 5, 4, "start_date", date(2026, 10, 20)),
        ),
        loads=loads(("accounts", 1, 3), ("subscriptions", 1, 5)),
        quarantine=quarantine(("subscriptions", "staging", 1)),
        reasons=reasons(("subscriptions", "missing required value", 1)),
        first_month=first_month if first_month is not None else YEAR_AGO,
    )
