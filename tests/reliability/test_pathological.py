"""Promise 5, pathological inputs: a 10 MB survey comment (and 10 MB ticket subject and
invoice-line description) and an account name of 10,000 nested ``<b><i>`` tags go through
the marts, the client report, the leadership pack and the e-mail in bounded time (a
generous subprocess timeout, not a timed assertion), and the output is sane: free text
is cut with an ellipsis (the report context's limits), the markup is text, the files
stay small.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.security_helpers import html_text, pdf_text, read_eml

# one worker renders the module's pathological month (with --dist loadgroup under -n)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pathological")]

TEN_MB = 10 * 1024 * 1024
NESTED = 10_000
BOUND_SECONDS = 600  # generous: the run takes well under a minute on a busy 2-core machine

SCRIPT = r"""
import json, sys
from pathlib import Path

def main():
    from pipeline.resources.renderer.pool import Renderer
    from tests.support.security_helpers import produce_all
    from tests.support.report_builders import Book, add_acme

    ten_mb, nested = int(sys.argv[2]), int(sys.argv[3])
    book = Book()
    name = "<b><i>" * nested + "Deep Name" + "</i></b>" * nested
    add_acme(book, account_id="DEEP-1", name=name, recipients="deep@deep.example")
    book.rows["responses"][0]["comment"] = "C" + ("comment " * (ten_mb // 8))[: ten_mb - 1]
    book.rows["tickets"][2]["subject"] = "S" + "s" * (ten_mb - 1)
    book.add("invoice_lines", line_id="L1", invoice_id="DEEP-1-I301", product="P" * 1000,
             description="D" + "<i>" * (ten_mb // 3), amount=1000)
    out = produce_all(book, Path(sys.argv[1]), Renderer(2))
    json.dump({
        "rendered": out.clients.rendered, "failed": out.clients.failed, "failures": out.clients.failures,
        "pack": out.pack.status, "pack_error": out.pack.error, "sent": out.deliveries.sent,
        "pack_sent": out.pack_deliveries.sent,
    }, sys.stdout)

if __name__ == "__main__":
    main()
"""


@pytest.fixture(scope="module")
def pathological(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("pathological")
    script = root / "run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(script), str(root / "data"), str(TEN_MB), str(NESTED)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS,
        env={**__import__("os").environ, "PYTHONPATH": str(repo)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "data", json.loads(out.stdout.strip().splitlines()[-1])


def test_the_client_report_of_a_10mb_comment_and_deep_markup_is_rendered_and_sane(pathological) -> None:
    data, summary = pathological
    assert (summary["rendered"], summary["failed"]) == (1, 0), summary["failures"]
    (html_path,) = (data / "reports").rglob("account-report-*.html")
    (pdf_path,) = (data / "reports").rglob("account-report-*.pdf")
    assert html_path.stat().st_size < 1_000_000 and pdf_path.stat().st_size < 2_000_000
    html = html_path.read_text(encoding="utf-8")
    assert "<i>" not in html and "<b><i>" not in html  # the name's markup is text, escaped
    text = html_text(html)
    assert "<b><i><b><i>" in text  # shown as text, cut
    assert "Deep Name" not in text  # 10,000 levels of tags are far beyond the name's limit
    assert "Ccomment comment" in text and "…" in text
    assert "comment " * 200 not in text  # the comment is cut
    assert "s" * 200 not in text
    pages = pdf_text(pdf_path)
    assert "<b><i>" in pages and pages.count("\n") < 2000


def test_the_leadership_pack_and_the_email_are_sane(pathological) -> None:
    data, summary = pathological
    assert summary["pack"] == "rendered", summary["pack_error"]
    (pack,) = (data / "reports").rglob("account-health-pack-*.html")
    assert pack.stat().st_size < 2_000_000
    html = pack.read_text(encoding="utf-8")
    assert "<b><i>" not in html and "&lt;b&gt;&lt;i&gt;" in html
    assert summary["sent"] == 1 and summary["pack_sent"] == 1
    (mail,) = [p for p in (data / "outbox").rglob("*.eml") if "deep" in p.name]
    msg = read_eml(mail)
    assert len(str(msg["Subject"])) <= 150 and "\n" not in str(msg["Subject"])
    assert mail.stat().st_size < 3_000_000
