"""Promise 6: the SMTP credentials come from the environment (PIPELINE_SMTP_URL, the only
secret setting in pipeline/settings.py) and never show anywhere: the CLI's stdout and
stderr, the Dagster event log, run config, tags, asset and check metadata, the files of
the Dagster home, the ops tables of the warehouse, the outbox, the repr/str of the
settings, the resources and the mailer, and the exceptions and error messages, whether
the SMTP server accepts the login, rejects it, or cannot be reached.

The runs are real `pipeline run --select report_deliveries` processes against an
aiosmtpd server on 127.0.0.1 requiring AUTH, on a month rendered beforehand in-process.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import warnings
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipeline.resources.config import SettingsResource
from pipeline.resources.mailer import MailerError, MailerResource, SmtpMailer, parse_smtp_url
from pipeline.settings import SettingsError, load_settings
from tests.support.report_builders import rendered_march

# one worker holds the module's SMTP server and runs (with --dist loadgroup under -n)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("secrets")]

PASSWORD = f"S3cr3t-Pa55-{secrets.token_hex(6)}"
WRONG = f"Wr0ng-Pa55-{secrets.token_hex(6)}"
USER = "reports"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_url(password: str, port: int) -> str:
    return f"smtp://{USER}:{quote(password, safe='')}@127.0.0.1:{port}?starttls=false"


def needles(*passwords: str) -> list[str]:
    """Every form a password could leak in: as is, URL-encoded, and the whole URL's userinfo."""
    out = []
    for p in passwords:
        out += [p, quote(p, safe=""), f"{USER}:{p}", p[-12:]]
    return out


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def smtp_server():
    inbox = Inbox()
    port = free_port()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == USER.encode()
            and auth_data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        controller = Controller(
            inbox,
            hostname="127.0.0.1",
            port=port,
            authenticator=authenticator,
            auth_required=True,
            auth_require_tls=False,
        )
        controller.start()
    yield inbox, port
    controller.stop()


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def runs(smtp_server, tmp_path_factory: pytest.TempPathFactory):
    """Through the CLI: a delivery run whose login the server rejects, a resend to an
    unreachable server, a delivery run whose login works, and a resend with a malformed
    URL holding the password; the warehouse is dumped after each."""
    inbox, port = smtp_server
    root = tmp_path_factory.mktemp("secrets")
    rendered = rendered_march(
        {"ACME-1": "cfo@acme.example", "GLOBEX-9": "finance@globex.example"}, tmp_path_factory.getbasetemp()
    )
    shutil.copytree(rendered, root / "data")
    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    repo = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PIPELINE_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "home"),
        "PIPELINE_FIRST_MONTH": "2024-01",
        "PYTHONPATH": str(repo),
    }
    for k in ("PIPELINE_DEBUG", "PIPELINE_REQUIRE_APPROVAL", "PIPELINE_LEADERSHIP_RECIPIENTS"):
        env.pop(k, None)
    deliver = ["run", "--month", "2024-03", "--select", "report_deliveries"]
    resend = ["resend", "--account", "ACME-1", "--month", "2024-03", "--by", "Ada"]
    steps = {  # an unreachable server is tried by the resend (no Dagster run needed for it)
        "auth rejected": (deliver, smtp_url(WRONG, port)),
        "resend unreachable": (resend, smtp_url(PASSWORD, free_port())),
        "delivered": (deliver, smtp_url(PASSWORD, port)),
        "bad url": (resend, f"smtp://{USER}:{PASSWORD}@127.0.0.1:notaport"),
    }
    outs, snapshots = {}, {}
    for name, (args, url) in steps.items():
        outs[name] = cli(args, {**env, "PIPELINE_SMTP_URL": url}, root)
        snapshots[name] = dump_warehouse(root / "data" / "warehouse.duckdb")
    return root, outs, inbox, snapshots


def dump_warehouse(path: Path) -> dict[tuple[str, str], str]:
    """Every table of the warehouse as text (a later run overwrites a failed send's error)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        return {(s, t): repr(con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()) for s, t in tables}
    finally:
        con.close()


def test_the_runs_did_what_they_should(runs) -> None:
    _root, outs, inbox, _snapshots = runs
    for name in ("auth rejected", "delivered"):
        assert outs[name].returncode == 0, (name, outs[name].stderr)
    assert len(inbox.messages) == 2  # the two reports, once, after the login worked
    for name in ("resend unreachable", "bad url"):
        assert outs[name].returncode == 1 and outs[name].stderr.startswith("error: "), name
    assert "smtp://reports:***@127.0.0.1" in outs["resend unreachable"].stderr
    assert "PIPELINE_SMTP_URL is not a valid URL" in outs["bad url"].stderr


def test_no_password_in_cli_output(runs) -> None:
    _root, outs, _inbox, _snapshots = runs
    for name, out in outs.items():
        for needle in needles(PASSWORD, WRONG):
            assert needle not in out.stdout + out.stderr, (name, needle)
        assert "Traceback" not in out.stdout + out.stderr, name


def test_no_password_in_the_dagster_instance(runs) -> None:
    """Event log (logs, materializations with their metadata, check evaluations), run
    config and tags of every run, read from the instance; then every byte of the Dagster
    home (run and event databases, compute logs)."""
    from dagster import DagsterInstance
    from dagster._serdes import serialize_value

    root, _outs, _inbox, _snapshots = runs
    seen = {"events": 0, "materializations": 0, "runs": 0}
    with DagsterInstance.from_config(str(root / "home")) as instance:
        dagster_runs = instance.get_runs()
        assert len(dagster_runs) == 2
        texts = []
        for run in dagster_runs:
            seen["runs"] += 1
            texts += [repr(run.run_config), repr(run.tags), serialize_value(run)]
            for entry in instance.all_logs(run.run_id):
                seen["events"] += 1
                texts.append(serialize_value(entry))
                if entry.dagster_event and entry.dagster_event.is_step_materialization:
                    seen["materializations"] += 1
        blob = "\n".join(texts)
    assert seen["materializations"] == 2
    assert "authentication failed" in blob and "smtp://reports:***@127.0.0.1" in blob  # the errors are there
    for needle in needles(PASSWORD, WRONG):
        assert needle not in blob, needle
    for path in (root / "home").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in needles(PASSWORD, WRONG):
                assert needle.encode() not in data, (path, needle)


def test_no_password_in_the_warehouse_or_the_data_folder(runs) -> None:
    root, _outs, inbox, snapshots = runs
    assert all(("ops", "deliveries") in snap for snap in snapshots.values())
    blob = "\n".join(text for snap in snapshots.values() for text in snap.values())
    # The errors are recorded (redacted) after each failing run.
    assert "authentication failed via smtp://reports:***@127.0.0.1" in snapshots["auth rejected"][("ops", "deliveries")]
    assert "535" in snapshots["auth rejected"][("ops", "deliveries")]
    assert "ConnectionRefusedError" in snapshots["resend unreachable"][("ops", "deliveries")]
    for needle in needles(PASSWORD, WRONG):
        assert needle not in blob, needle
    for path in (root / "data").rglob("*"):
        if path.is_file():
            for needle in needles(PASSWORD, WRONG):
                assert needle.encode() not in path.read_bytes(), (path, needle)
    for raw in inbox.messages:  # nor in the e-mails themselves
        assert PASSWORD.encode() not in raw


def test_no_password_in_repr_str_or_exceptions(monkeypatch: pytest.MonkeyPatch) -> None:
    url = smtp_url(PASSWORD, 2525)
    monkeypatch.setenv("PIPELINE_SMTP_URL", url)
    settings = load_settings()
    assert settings.smtp_url == url  # it does come from the environment
    resource = SettingsResource()
    mailer = MailerResource(timeout_seconds=1).get(settings)
    assert isinstance(mailer, SmtpMailer)
    target = parse_smtp_url(url)
    shown = [
        repr(settings),
        str(settings),
        repr(resource),
        repr(resource.get()),
        repr(MailerResource()),
        repr(mailer),
        str(vars(mailer)),
        repr(target),
        str(target),
        target.redacted(),
        mailer.description,
        repr(settings.branding),
        repr(replace(settings, gross_margin=0.5)),
    ]
    # Invalid URLs and other invalid settings: their messages name the setting, never the password.
    for bad in (
        f"smtp://{USER}:{PASSWORD}@127.0.0.1:notaport",
        f"http://{USER}:{PASSWORD}@h:25",
        f"smtp://{USER}:{PASSWORD}@:25",
        f"smtp://{USER}:{PASSWORD}@h:25?starttls=maybe",
        f"smtp://{USER}:{PASSWORD}@h:25?tls=1",
        f"smtps://{USER}:{PASSWORD}@h:465?starttls=true",
    ):
        with pytest.raises(MailerError) as exc:
            parse_smtp_url(bad)
        shown += [str(exc.value), repr(exc.value), repr(exc.value.args)]
        # No chained exception (a ValueError of urllib could quote the URL) is shown with it.
        assert exc.value.__cause__ is None and (exc.value.__context__ is None or exc.value.__suppress_context__)
    monkeypatch.setenv("PIPELINE_GROSS_MARGIN", "7")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    shown += [str(exc.value), repr(exc.value)]
    blob = "\n".join(shown)
    for needle in needles(PASSWORD):
        assert needle not in blob, needle


def test_a_non_ascii_password_fails_the_delivery_with_a_reason_and_no_leak(smtp_server) -> None:
    """Regression: SMTP AUTH cannot send a non-ASCII password; smtplib raised a
    UnicodeEncodeError (holding the password) out of the mailer, crashing the delivery
    step and leaving the claim 'sending'. Now it is a failed send with a plain reason."""
    _inbox, port = smtp_server
    password = PASSWORD + "-\u00e4\u00df"
    mailer = SmtpMailer(parse_smtp_url(smtp_url(password, port)), timeout=5)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@b.example", "c@d.example", "x"
    message.set_content("x")
    outcome = mailer.send(message, "c@d.example", "key", "folder")
    assert not outcome.ok and "not ASCII" in outcome.error
    for needle in [*needles(password), password[-6:]]:
        assert needle not in outcome.error
