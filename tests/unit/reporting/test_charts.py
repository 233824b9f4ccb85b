"""Charts are matplotlib SVG, inline-safe: no external reference, ids prefixed, deterministic."""

from __future__ import annotations

import re
from datetime import date

from pipeline.reporting.charts import clean_svg
from pipeline.reporting.client.charts import billing_chart, mrr_chart, voice_chart
from pipeline.reporting.periods import add_months

MONTHS = [add_months(date(2023, 4, 1), k) for k in range(12)]


def test_mrr_chart_is_clean_svg_and_deterministic() -> None:
    data = {"months": MONTHS, "values": [None] * 3 + [1000.0] * 9, "highlight": [False] * 11 + [True]}
    a = mrr_chart(data, "usd", "#1f3a5f")
    assert a == mrr_chart(data, "usd", "#1f3a5f")
    assert a.startswith("<svg") and 'role="img"' in a and "aria-label=" in a
    assert "<?xml" not in a and "<!--" not in a and "<script" not in a
    assert not re.search(r'href="(?!#)', a) and "url(#" not in a.replace("url(#mrr-", "")
    ids = re.findall(r'\bid="([^"]+)"', a)
    assert ids and all(i.startswith("mrr-") for i in ids)


def test_no_data_no_chart() -> None:
    assert mrr_chart({"months": MONTHS, "values": [None] * 12, "highlight": [False] * 12}, "usd", "#000") is None
    assert (
        billing_chart({"months": MONTHS, "invoiced": [0.0] * 12, "collected": [None] * 12}, "usd", "#000", "#111")
        is None
    )
    assert voice_chart({"months": MONTHS, "nps": [None] * 12, "csat": [None] * 12}, "#000", "#111") is None
    assert voice_chart({"months": MONTHS, "nps": [None] * 11 + [40.0], "csat": [None] * 12}, "#000", "#111")


def test_clean_svg_refuses_external_references() -> None:
    import pytest

    for bad in (
        '<svg><image href="http://x/y.png"/></svg>',
        "<svg><script>1</script></svg>",
        '<svg><rect style="fill:url(http://x)"/></svg>',
    ):
        with pytest.raises(ValueError):
            clean_svg(bad, "c", "label")
