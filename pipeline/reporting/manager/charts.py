"""The book's chart: recurring revenue of the manager's accounts over 13 months.

Drawn with the client report's MRR chart (``pipeline.reporting.client.charts``): only
month names and formatted amounts, never a string from the data.
"""

from __future__ import annotations

from typing import Any

from pipeline.reporting.client.charts import mrr_chart


def book_charts(ctx: dict[str, Any]) -> dict[str, str | None]:
    return {"mrr": mrr_chart(ctx["charts"]["mrr"], ctx["currency"], ctx["provider"]["primary_color"])}
