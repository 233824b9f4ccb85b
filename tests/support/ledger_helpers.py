"""The ledger beside a test's warehouse (``data/ledger.sqlite``), read and reset the way an
operator could with ``sqlite3``: deliveries live there, ``ops.deliveries`` is its copy."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb


def clear_deliveries(data: Path) -> None:
    """Forget every delivery (the ledger's and the warehouse's copy), as if the month's
    reports were rendered but never delivered. The ledger itself stays (deleting it would
    make the next run hold the month until an operator confirms)."""
    con = sqlite3.connect(str(data / "ledger.sqlite"))
    try:
        con.execute("DELETE FROM pipeline_ledger_deliveries")
        con.commit()
    finally:
        con.close()
    wh = duckdb.connect(str(data / "warehouse.duckdb"))
    try:
        wh.execute("DELETE FROM ops.deliveries")
    finally:
        wh.close()


def ledger_deliveries(data: Path, where: str = "true") -> list[tuple]:
    """(delivery_key, kind, account_id, period, recipient, status) rows of the ledger."""
    con = sqlite3.connect(str(data / "ledger.sqlite"))
    try:
        return con.execute(
            "SELECT delivery_key, kind, account_id, period, recipient, status FROM pipeline_ledger_deliveries "
            f"WHERE {where} ORDER BY 2, 3, 4, 5, 1"
        ).fetchall()
    finally:
        con.close()
