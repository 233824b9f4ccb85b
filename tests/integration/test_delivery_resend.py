"""An operator's resend of one client's report: delivered again even though it was
sent, recorded in ops.deliveries as kind client_resend with who asked, once per request
(the same request id never sends twice; asking again is a new request and sends again),
and errors that say what to do. Also the resend_client_report Dagster job."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipeline.jobs import build_resend_job
from pipeline.publish.deliveries import RESEND, ResendError, deliver_reports, resend_report
from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.settings import Settings
from pipeline.store.records import delivery_log, read_manifest, replace_manifest
from tests.support.report_builders import Book, add_acme, add_globex, rendered_march

MARCH = date(2024, 3, 1)
T1 = datetime(2024, 4, 5, 10, 0, tzinfo=UTC)
T2 = datetime(2024, 4, 5, 10, 7, tzinfo=UTC)
# The outbox tests' recipients (so the rendered month is shared): Acme has one good and
# two bad addresses, Globex's list holds a line break.
RECIPIENTS = {
    "ACME-1": "cfo@acme.example; not an address; ops@acme",
    "GLOBEX-9": "finance@globex.example\r\nBcc: everyone@evil.example",
}
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance; skip the integration folder's per-test one."""
    yield None


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return rendered_march(RECIPIENTS, tmp_path_factory.getbasetemp())


@pytest.fixture
def data(rendered: Path, tmp_path: Path) -> tuple[Warehouse, Settings]:
    target = tmp_path / "data"
    shutil.copytree(rendered, target)
    return Warehouse(target / "warehouse.duckdb"), Settings(data_dir=target)


def outbox_files(settings: Settings) -> list[Path]:
    return sorted(settings.outbox_dir.rglob("*.eml")) if settings.outbox_dir.exists() else []


def resend(wh: Warehouse, settings: Settings, account_id: str = "ACME-1", month: date = MARCH, **kw):
    return resend_report(
        wh, settings, account_id, month, MailerResource().get(settings), kw.pop("by", "Ada Operator"), **kw
    )


def test_a_resend_delivers_again_and_is_recorded_as_a_resend(data) -> None:
    wh, settings = data
    assert deliver_reports(wh, settings, MARCH, MailerResource().get(settings)).sent == 1
    summary = resend(wh, settings, now=T1)
    assert (summary.sent, summary.rejected, summary.failed) == (1, 2, 0)
    assert len(outbox_files(settings)) == 2

    log = delivery_log(wh, "2024-03", RESEND)
    sent = log.filter(log["status"] == "sent")
    assert sent["recipient"].to_list() == ["cfo@acme.example"]
    assert set(sent["requested_by"].to_list()) == {"Ada Operator"}
    (acme,) = [r for r in read_manifest(wh, "2024-03").iter_rows(named=True) if r["account_id"] == "ACME-1"]
    assert set(sent["report_sha256"].to_list()) == {acme["pdf_sha256"]}  # the same report, sent again
    originals = delivery_log(wh, "2024-03")  # kind client: untouched, still one row per recipient
    assert set(originals["delivery_key"].to_list()).isdisjoint(log["delivery_key"].to_list())
    assert originals["requested_by"].is_null().all()
    # The scheduled run still has nothing new to send.
    assert deliver_reports(wh, settings, MARCH, MailerResource().get(settings)).sent == 0


def test_once_per_request_and_again_when_asked_again(data) -> None:
    wh, settings = data
    assert resend(wh, settings, request_id="run-1").sent == 1
    retry = resend(wh, settings, request_id="run-1")  # the same request retried: nothing new
    assert (retry.sent, retry.already_sent, retry.rejected) == (0, 1, 0)
    assert resend(wh, settings, now=T1).sent == 1  # a new request (by its time)
    assert resend(wh, settings, now=T1).sent == 0  # ... that same request again
    assert resend(wh, settings, now=T2).sent == 1  # asked again later: sent again
    assert len(outbox_files(settings)) == 3
    log = delivery_log(wh, "2024-03", RESEND)
    assert log["status"].value_counts().sort("status").rows() == [("rejected", 6), ("sent", 3)]


@pytest.mark.parametrize(
    ("account_id", "month", "message"),
    [
        ("NOPE-1", MARCH, "There is no account 'NOPE-1' in staging.accounts"),
        ("acme-1", MARCH, "Did you mean ACME-1?"),
        ("GLOBEX-9", date(2024, 2, 1), "GLOBEX-9 is on the quarterly cadence and 2024-02 does not close a quarter"),
        (
            "ACME-1",
            date(2024, 2, 1),
            "No client reports have been rendered for 2024-02; run the month first (pipeline run --month 2024-02)",
        ),
    ],
)
def test_errors_say_what_to_do(data, account_id: str, month: date, message: str) -> None:
    wh, settings = data
    with pytest.raises(ResendError, match=re.escape(message)):
        resend(wh, settings, account_id, month)
    assert outbox_files(settings) == [] and delivery_log(wh, month, RESEND).is_empty()


def test_errors_for_a_failed_render_no_recipients_no_approval_and_no_name(data) -> None:
    wh, settings = data
    with pytest.raises(ResendError, match="Name the person"):
        resend(wh, settings, by="  ")
    with pytest.raises(ResendError, match="waiting for an operator's approval"):
        resend(wh, replace(settings, require_approval=True))

    with pytest.raises(ResendError, match=r"GLOBEX-9 has no recipients to resend to: .*line break"):
        resend(wh, settings, "GLOBEX-9")
    manifest = read_manifest(wh, "2024-03")
    rows = [
        {**r, "status": "failed", "error": "the renderer crashed"} if r["account_id"] == "GLOBEX-9" else r
        for r in manifest.iter_rows(named=True)
    ]
    replace_manifest(wh, "2024-03", "client", rows)
    with pytest.raises(ResendError, match=r"report of GLOBEX-9 failed to render \(the renderer crashed\)"):
        resend(wh, settings, "GLOBEX-9")

    for recipients, why in (("", "report_recipients is empty"), ("ops@acme; a b@c.io", "no usable address")):
        book = Book()
        add_acme(book, recipients=recipients)
        add_globex(book)
        book.write(wh)
        with pytest.raises(ResendError, match=f"ACME-1 has no recipients to resend to: .*{why}"):
            resend(wh, settings)
    assert outbox_files(settings) == [] and delivery_log(wh, "2024-03", RESEND).is_empty()


def test_the_resend_job(data, monkeypatch: pytest.MonkeyPatch) -> None:
    wh, settings = data
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(settings.data_dir))
    job = build_resend_job()
    resources = {"warehouse": WarehouseResource(), "settings": SettingsResource(), "mailer": MailerResource()}

    def run(account_id: str, month: str = "2024-03"):
        config = {"account_id": account_id, "month": month, "requested_by": "Ada Operator"}
        return job.execute_in_process(
            run_config={"ops": {"resend_report_op": {"config": config}}}, resources=resources, raise_on_error=False
        )

    ok = run("ACME-1")
    assert ok.success
    (row,) = delivery_log(wh, "2024-03", RESEND).filter(pl.col("status") == "sent").iter_rows(named=True)
    assert (row["recipient"], row["requested_by"]) == ("cfo@acme.example", "Ada Operator")
    (event,) = [e for e in ok.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in event.step_output_data.metadata.items()}
    assert (metadata["sent"], metadata["period"], metadata["channel"]) == (1, "2024-03", "outbox")

    bad = run("NOPE-1")
    assert not bad.success
    (failure,) = [e for e in bad.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_failure_data.user_failure_data.description.startswith("There is no account 'NOPE-1'")
    assert not run("ACME-1", "March").success
