"""A delivery is keyed by what the report says (its input hash), not by its bytes.

The same March reports are rendered again in another environment: a process where
WeasyPrint cannot use HarfBuzz-Subset and falls back to fontTools (what a machine without
``libharfbuzz-subset0`` does). The PDFs come out different, the input hashes do not, and
delivering the period again sends nothing. The same comparison shows why the renderer
requires HarfBuzz everywhere (``pipeline.resources.renderer.environment``): with it, two
renders of one document are byte-identical; with fontTools, two renders a second apart
are not (it stamps the time into each embedded font).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from pipeline.publish.deliveries import deliver_reports
from pipeline.resources.mailer import OutboxMailer
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings
from pipeline.store.ledger import forget_ledgers
from pipeline.store.records import delivery_log, read_manifest
from tests.support.report_builders import rendered_march

pytestmark = pytest.mark.slow
MARCH = date(2024, 3, 1)
REPO = Path(__file__).resolve().parents[2]
RECIPIENTS = {"ACME-1": "cfo@acme.example", "GLOBEX-9": "finance@globex.example"}

# Re-render March in a fresh process, optionally without HarfBuzz-Subset (WeasyPrint then
# subsets fonts with fontTools), in process (no pool), forcing every report to render.
RERENDER = r"""
import json, sys, time
from datetime import date
from pathlib import Path
without_harfbuzz = sys.argv[2] == "fonttools"
if without_harfbuzz:
    import weasyprint.pdf.fonts
    weasyprint.pdf.fonts.harfbuzz_subset = None          # as if libharfbuzz-subset0 were missing
    import pipeline.resources.renderer.worker as worker
    worker.require_harfbuzz_subset = lambda: None        # the product refuses this; the test needs it
from pipeline.publish.client_reports import produce_client_reports
from pipeline.resources.renderer.worker import TEMPLATES_DIR, DocumentRenderer
from pipeline.resources.warehouse import Warehouse
from pipeline.settings import Settings

class InProcess:
    templates_dir = TEMPLATES_DIR
    def __init__(self):
        self.renderer = DocumentRenderer(TEMPLATES_DIR)
    def render_many(self, jobs):
        for job in jobs:
            yield self.renderer.produce(job)

data = Path(sys.argv[1])
renderer = InProcess()
out = {}
for attempt in range(2):
    if attempt:
        time.sleep(1.2)
    s = produce_client_reports(Warehouse(data / "warehouse.duckdb"), Settings(data_dir=data), date(2024, 3, 1),
                               renderer, force=True)
    assert s.rendered == 2, s.failures
    out[attempt] = {r["account_id"]: [r["pdf_sha256"], r["html_sha256"], r["input_hash"]] for r in s.rows}
print(json.dumps(out))
"""


def rerender(data: Path, mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", RERENDER, str(data), mode], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def data(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(rendered_march(RECIPIENTS, tmp_path_factory.getbasetemp()), target)
    yield target
    forget_ledgers()


def test_a_rerender_with_other_font_subsetting_changes_the_pdf_but_sends_nothing(data: Path) -> None:
    wh, settings = Warehouse(data / "warehouse.duckdb"), Settings(data_dir=data)
    first = deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir))
    assert first.sent == 2
    before = {r["account_id"]: r for r in read_manifest(wh, "2024-03").iter_rows(named=True)}

    harfbuzz = rerender(data, "harfbuzz")
    fonttools = rerender(data, "fonttools")
    for account, (pdf, html, content) in harfbuzz["0"].items():
        # With HarfBuzz: the same bytes as the first render, and as each other.
        assert harfbuzz["1"][account] == [pdf, html, content]
        assert (pdf, content) == (before[account]["pdf_sha256"], before[account]["input_hash"])
        # With fontTools: the same HTML and input hash, another PDF, and another again a second later.
        tools_pdf, tools_html, tools_content = fonttools["0"][account]
        assert (tools_html, tools_content) == (html, content) and tools_pdf != pdf
        assert fonttools["1"][account][0] != tools_pdf
    after = {r["account_id"]: r for r in read_manifest(wh, "2024-03").iter_rows(named=True)}
    assert all(after[a]["pdf_sha256"] != before[a]["pdf_sha256"] for a in before)  # the fontTools PDFs now

    again = deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir))
    assert (again.sent, again.already_sent, again.failed) == (0, 2, 0)
    assert len(list(settings.outbox_dir.rglob("*.eml"))) == 2
    log = delivery_log(wh, "2024-03")
    assert set(log["content_hash"].to_list()) == {before[a]["input_hash"] for a in before}


def test_a_delivery_recorded_under_the_pdf_sha256_still_counts(data: Path) -> None:
    """Deliveries recorded before content keys (under the PDF's sha256, e.g. taken over from an
    older warehouse) are found under that alias: the same report is not sent again."""
    from pipeline.reporting.mail import delivery_key
    from pipeline.store.ledger import ledger_for

    wh, settings = Warehouse(data / "warehouse.duckdb"), Settings(data_dir=data)
    ledger = ledger_for(wh)
    for row in read_manifest(wh, "2024-03").iter_rows(named=True):
        recipient = RECIPIENTS[row["account_id"]]
        key = delivery_key("client", row["account_id"], "2024-03", recipient, row["pdf_sha256"])
        rec = {
            "key": key,
            "kind": "client",
            "account_id": row["account_id"],
            "period": "2024-03",
            "recipient": recipient,
            "sha256": row["pdf_sha256"],
            "content_hash": None,
            "channel": "outbox",
            "period_key": row["period_key"],
            "report_path": row["pdf_path"],
            "now": row["recorded_at"],
        }
        assert ledger.claim(rec)
        ledger.finish(key, "sent", "<old@x>", None, row["recorded_at"])
    summary = deliver_reports(wh, settings, MARCH, OutboxMailer(settings.outbox_dir))
    assert (summary.sent, summary.already_sent) == (0, 2)
