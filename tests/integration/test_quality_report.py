"""The data-quality report lists every quarantined value, escaped, with file, row and reason."""

from __future__ import annotations

import dagster as dg

from pipeline.assets.ingest import build_raw_assets
from pipeline.assets.quality import build_quality_assets
from pipeline.assets.staging import build_staging_assets
from pipeline.partitions import monthly_partitions
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import WarehouseResource
from pipeline.settings import load_settings


def test_report_lists_quarantined_values_escaped(data_dir, write_csv):
    write_csv("crm/account_managers.csv", ["manager_id", "name", "email"], [["M1", "Ann", "ann@example.com"]])
    write_csv(
        "crm/accounts.csv",
        ["account_id", "account_name", "tier", "account_manager_id", "currency"],
        [["A1", "Acme", "key", "M1", "usd"], ["A2", "Evil", "<script>alert(1)</script>", "M1", "usd"]],
    )
    wanted = {"account_managers", "accounts"}
    assets = [a for a in [*build_raw_assets(), *build_staging_assets()] if a.key.path[-1] in wanted]
    resources = {"warehouse": WarehouseResource(), "settings": SettingsResource()}
    dg.materialize(assets, resources=resources)
    quality = build_quality_assets(monthly_partitions(load_settings().first_month))
    result = dg.materialize(quality, resources=resources, partition_key="2026-10-01", selection=quality)
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["rows_quarantined"].value == 1 and meta["problems"].value == 1

    html = (data_dir / "reports/2026-10/data-quality.html").read_text()
    assert "crm/accounts.csv" in html and "unknown tier" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    csv = (data_dir / "reports/2026-10/quarantine.csv").read_text().splitlines()
    assert csv[0] == "source,stage,file,row,column,value,reason"
    assert csv[1].startswith("accounts,staging,crm/accounts.csv,2,tier,<script>alert(1)</script>,")
