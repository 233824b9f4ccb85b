"""Promise 5 (isolation and safety under attack): every hostile payload in every text
field of every source (derived from pipeline.contract), through staging, the marts, the
client reports (HTML and PDF), the leadership pack (HTML and PDF) and the e-mails.

Builds on tests/integration/test_reports_injection.py (a few payloads in a few fields,
and a template asking for outside URLs): here the fields come from the contract, each
(account, field) carries its own marker so a test can tell which field reached which
output, and each client is checked to see none of the other clients' markers.

One module fixture renders 14 clients (a clean victim, an account whose recipient list
holds a CR/LF injection, and one account per payload) and the pack, once.
"""

from __future__ import annotations

import csv
import email
import hashlib
import io
import re
import sys
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import polars as pl
import pytest
from pypdf import PdfReader

import pipeline
from pipeline.contract import SOURCES, Kind
from pipeline.landing import LandingFile, LandingFileError, file_sha256, read_landing_file
from pipeline.publish.deliveries import deliver_leadership_pack
from pipeline.reporting.mail import ReportMail, address_problem, build_message, parse_recipients
from pipeline.resources.mailer import OutboxMailer
from pipeline.resources.renderer.fetcher import RefusedURL, make_url_fetcher, resolve_template_url
from pipeline.resources.renderer.pool import Renderer
from pipeline.resources.renderer.worker import TEMPLATES_DIR
from pipeline.store.records import delivery_log, read_manifest
from pipeline.transforms.staging import stage_source
from tests.support.security_helpers import (
    CRLF_ACCOUNT,
    MARCH,
    MARKUP,
    PAYLOADS,
    TEXT_FIELDS,
    VICTIM,
    VICTIM_NAME,
    account_tag,
    elements,
    files_outside,
    hostile_book,
    html_text,
    marker,
    owner_field,
    pdf_text,
    produce_all,
    read_eml,
    squash,
)

# one worker renders the module's hostile month once (with --dist loadgroup under -n)
pytestmark = pytest.mark.xdist_group("injection")


@pytest.fixture(autouse=True)
def test_instance():
    """These tests use no Dagster instance in this process; skip the folder's per-test one,
    which costs a second or more each."""
    yield None


PERIOD = "2024-03"
OUTPUTS = ("client html", "client pdf", "pack html", "pack pdf", "e-mail")
# Fields a client report must show (the others may or may not appear; none may be live markup).
CLIENT_SHOWS = {
    ("accounts", "account_name"),
    ("account_managers", "name"),
    ("tickets", "subject"),
    ("responses", "comment"),
    ("subscriptions", "product"),
    ("invoices", "number"),
}
PACK_SHOWS = {("accounts", "account_name"), ("account_managers", "name"), ("health_overrides", "reason")}
HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version", "content-type"}
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
FORBIDDEN_TAGS = {"script", "link", "iframe", "object", "embed", "base", "frame", "form", "input", "a"}


def shown_form(payload: str) -> str:
    """What a payload looks like as text in a report (whitespace collapsed, controls dropped)."""
    return CONTROL.sub("", " ".join(payload.split()))


def assert_inert_html(html: str, what: str, allowed_tags: set[str] | None = None) -> None:
    """No element, attribute or URL of the document came from the data."""
    tags = elements(html)
    names = [t for t, _ in tags]
    assert not FORBIDDEN_TAGS & set(names), (what, FORBIDDEN_TAGS & set(names))
    if allowed_tags is not None:
        assert set(names) <= allowed_tags, (what, set(names) - allowed_tags)
    assert names.count("style") == 1 and names.count("h1") == 1, what
    attrs = [(k, v) for _, a in tags for k, v in a]
    assert not [k for k, _ in attrs if k.startswith("on")], what
    urls = [v or "" for k, v in attrs if k in ("src", "href", "data", "action", "xlink:href", "srcset", "poster")]
    assert all(u.startswith(("data:", "#")) for u in urls), (what, urls)
    styles = [v or "" for k, v in attrs if k == "style"]
    assert not [s for s in styles if "url(" in s or "@import" in s], (what, styles)
    assert "<script" not in html.lower(), what  # as text it is &lt;script
    for name in MARKUP:
        assert PAYLOADS[name] not in html, (what, name)
    assert not CONTROL.search(html), (what, CONTROL.findall(html)[:5])


def assert_no_attachment_or_link(pdf: Path, what: str) -> None:
    reader = PdfReader(pdf)
    root = reader.trailer["/Root"]
    assert reader.attachments == {} and "/EmbeddedFiles" not in root.get("/Names", {}) and "/AF" not in root, what
    uris = [
        str(a.get_object().get("/A", {}).get("/URI", "")) for page in reader.pages for a in (page.get("/Annots") or [])
    ]
    assert not [u for u in uris if u], (what, uris)


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("injection")
    hostile = hostile_book()
    out = produce_all(hostile.book, root / "a" / "b" / "data", Renderer(2))
    assert (out.clients.rendered, out.clients.failed) == (len(hostile.payload_of) + 2, 0), out.clients.failures
    assert out.pack.status == "rendered", out.pack.error
    manifest = {r["account_id"]: r for r in read_manifest(out.warehouse, PERIOD).iter_rows(named=True)}
    return root, hostile, out, manifest


def test_the_text_fields_come_from_the_contract() -> None:
    expected = sum(1 for s in SOURCES for c in s.columns if c.kind == Kind.TEXT)
    assert len(TEXT_FIELDS) == expected >= 39
    assert {("accounts", "account_name"), ("responses", "comment"), ("invoice_lines", "description")} <= set(
        TEXT_FIELDS
    )


# --------------------------------------------------------------------------- client reports


@pytest.mark.slow
def test_client_reports_show_payloads_as_inert_text_and_only_their_own_client(produced) -> None:
    _root, hostile, out, manifest = produced
    reports = out.settings.reports_dir
    victim_html = (reports / manifest[VICTIM]["html_path"]).read_text(encoding="utf-8")
    allowed = {t for t, _ in elements(victim_html)}
    assert_inert_html(victim_html, "victim")
    everyone = {**hostile.account_ids, -1: CRLF_ACCOUNT}
    cases = 0
    for i, account_id in everyone.items():
        html = (reports / manifest[account_id]["html_path"]).read_text(encoding="utf-8")
        pdf_path = reports / manifest[account_id]["pdf_path"]
        text, pdf = html_text(html), squash(pdf_text(pdf_path))
        assert_inert_html(html, account_id, allowed)
        assert_no_attachment_or_link(pdf_path, account_id)
        # Isolation: no other client's marker or name in this client's documents.
        for j in hostile.account_ids:
            if j != i:
                assert account_tag(j) not in html and account_tag(j) not in pdf, (i, j)
        if i != 0:
            assert VICTIM_NAME not in text and squash(VICTIM_NAME) not in pdf, i
        if i <= 0:
            continue
        payload = PAYLOADS[hostile.payload_of[i]]
        shown = {f for f in TEXT_FIELDS if marker(i, owner_field(f)) in text}
        assert shown >= CLIENT_SHOWS, (hostile.payload_of[i], CLIENT_SHOWS - shown)
        for f in shown:
            m = marker(i, owner_field(f))
            # The payload is there as text, exactly (up to the shortest field limit), in both files.
            assert m + shown_form(payload)[:25] in text, (f, hostile.payload_of[i])
            assert m in pdf, (f, hostile.payload_of[i])
            if hostile.payload_of[i] in MARKUP:
                assert squash(m + payload[:25]) in pdf, (f, hostile.payload_of[i])
        if hostile.payload_of[i] == "jinja":
            assert "{{ 7*7 }}" in text and not re.search(r"zq\d\df\d\dq49", text)
        cases += len(TEXT_FIELDS) * 2  # every field, html and pdf: shown as text or not at all
    assert cases == len(PAYLOADS) * len(TEXT_FIELDS) * 2
    assert out.clients.refused_urls == []  # the data never even made the renderer ask for a URL


@pytest.mark.slow
def test_no_file_is_written_outside_the_reports_and_outbox_folders(produced) -> None:
    root, hostile, out, _manifest = produced
    data = out.settings.data_dir
    allowed = [
        out.settings.reports_dir,
        out.settings.outbox_dir,
        data / "warehouse.duckdb",
        data / "warehouse.duckdb.wal",
        data / "ledger.sqlite",  # the ledger of deliveries, beside the warehouse (and its WAL while open)
        data / "ledger.sqlite-wal",
        data / "ledger.sqlite-shm",
    ]
    assert files_outside(root, allowed) == []
    folders = sorted(p.name for p in (out.settings.reports_dir / PERIOD / "clients").iterdir())
    assert len(folders) == len(hostile.account_ids) + 1
    assert all(re.fullmatch(r"[a-z0-9-]+-[0-9a-f]{10}", f) for f in folders), folders
    for p in out.settings.outbox_dir.rglob("*"):
        assert re.fullmatch(r"[a-z0-9.-]+", p.name), p
    assert not Path("/etc/passwd").is_symlink()


# --------------------------------------------------------------------------- leadership pack


@pytest.mark.slow
def test_the_leadership_pack_shows_every_payload_as_inert_text(produced) -> None:
    _root, hostile, out, _manifest = produced
    html = out.pack.html_path.read_text(encoding="utf-8")
    text, pdf = html_text(html), squash(pdf_text(out.pack.pdf_path))
    assert_inert_html(html, "pack")
    assert_no_attachment_or_link(out.pack.pdf_path, "pack")
    assert out.pack.refused_urls == []
    for i, name in hostile.payload_of.items():
        shown = {f for f in TEXT_FIELDS if marker(i, owner_field(f)) in text}
        assert shown >= PACK_SHOWS, (name, PACK_SHOWS - shown)
        for f in shown:
            assert marker(i, owner_field(f)) in pdf, (f, name)
        m = marker(i, ("accounts", "account_name"))
        assert m + shown_form(PAYLOADS[name])[:25] in text, name
        if name in MARKUP:
            assert squash(m + PAYLOADS[name][:25]) in pdf, name


# --------------------------------------------------------------------------- e-mails


def header_names(raw: bytes) -> list[str]:
    """The header names of a message as a mail server parses them (unfolded)."""
    head = raw.split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    return [line.split(b":", 1)[0].decode().lower() for line in head.split(b"\n") if line and not line[:1].isspace()]


@pytest.mark.slow
def test_emails_carry_no_injected_header_and_only_their_own_client(produced) -> None:
    _root, hostile, out, manifest = produced
    emls = sorted(out.settings.outbox_dir.rglob("*.eml"))
    by_to: dict[str, list] = {}
    for path in emls:
        raw = path.read_bytes()
        assert sorted(header_names(raw)) == sorted(HEADERS), (path, header_names(raw))
        msg = read_eml(path)
        for name in HEADERS:
            assert "\n" not in str(msg[name]) and "\r" not in str(msg[name]), (path, name)
        by_to.setdefault(str(msg["To"]), []).append((path, msg))
    expected = {r: i for i, r in hostile.recipients.items()}
    assert set(by_to) == set(expected) | {"ceo@northwind.example"}, set(by_to)
    assert not {"evil@attacker.example", "ok@crlf.example"} & set(by_to)
    for recipient, i in expected.items():
        ((path, msg),) = by_to[recipient]
        assert str(msg["From"]) == "Northwind Account Services <reports@northwind.example>"
        body = msg.get_body(("plain",)).get_content()
        (attachment,) = list(msg.iter_attachments())
        assert re.fullmatch(r"[a-z0-9-]+\.pdf", attachment.get_filename()), attachment.get_filename()
        assert hashlib.sha256(attachment.get_content()).hexdigest() == manifest[hostile.account_ids[i]]["pdf_sha256"]
        for j in hostile.account_ids:
            if j != i:
                assert account_tag(j) not in str(msg["Subject"]) + body, (i, j)
        if i:
            name = hostile.payload_of[i]
            assert marker(i, ("accounts", "account_name")) in str(msg["Subject"])
            assert marker(i, ("accounts", "account_name")) in body
            assert not CONTROL.search(str(msg["Subject"]) + body), name
    # The CR/LF recipient list: nothing sent, rejected whole with its reason recorded.
    log = delivery_log(out.warehouse, PERIOD).filter(pl.col("account_id") == CRLF_ACCOUNT)
    assert log.select("recipient", "status").rows() == [("(recipient list)", "rejected")]
    assert "line break" in log["error"][0]
    assert out.deliveries.rejected == 1 and out.deliveries.sent == len(expected)


@pytest.mark.slow
def test_a_leadership_list_with_a_line_break_is_rejected_with_its_reason(produced) -> None:
    _root, _hostile, out, _manifest = produced
    before = sorted(out.settings.outbox_dir.rglob("*.eml"))
    settings = replace(out.settings, leadership_recipients=("boss@northwind.example\r\nBcc: evil@attacker.example",))
    summary = deliver_leadership_pack(out.warehouse, settings, MARCH, OutboxMailer(settings.outbox_dir))
    assert (summary.sent, summary.rejected) == (0, 1)
    assert sorted(out.settings.outbox_dir.rglob("*.eml")) == before
    log = delivery_log(out.warehouse, PERIOD, "leadership").filter(pl.col("status") == "rejected")
    assert log["recipient"].to_list() == ["(recipient list)"]
    assert "PIPELINE_LEADERSHIP_RECIPIENTS contains a line break" in log["error"][0]


# --------------------------------------------------------------------------- headers and recipients, exhaustively

MAIL_FIELDS = ("account_name", "manager_name", "manager_email", "sender_name", "footer", "period_label")


def test_no_payload_in_any_mail_field_adds_a_header() -> None:
    cases = 0
    now = datetime(2024, 4, 2, tzinfo=UTC)
    for field in MAIL_FIELDS:
        for name, payload in PAYLOADS.items():
            values = dict(
                sender_name="Northwind",
                sender_email="reports@northwind.example",
                recipient="a@b.example",
                account_name="Acme",
                period_label="March 2024",
                pdf=b"%PDF-1.7",
                attachment_name="a.pdf",
                manager_name="Dana",
                manager_email="dana@northwind.example",
                footer="Thanks",
            )
            values[field] = "Tag " + payload
            raw = build_message(ReportMail(**values), now).as_bytes()
            assert sorted(header_names(raw)) == sorted(HEADERS), (field, name, header_names(raw))
            msg = read_eml_bytes(raw)
            assert str(msg["To"]) == "a@b.example" and "\n" not in str(msg["Subject"]), (field, name)
            cases += 1
    assert cases == len(MAIL_FIELDS) * len(PAYLOADS)


def read_eml_bytes(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


@pytest.mark.parametrize(
    "raw",
    [
        "a@x.example\r\nBcc: evil@attacker.example",
        "a@x.example\nb@y.example",
        "a@x.example\rb@y.example",
        "a@x.example;\r\n",
        "\na@x.example",
    ],
)
def test_a_recipient_list_with_cr_or_lf_is_refused_whole(raw: str) -> None:
    r = parse_recipients(raw)
    assert r.valid == () and "line break" in r.list_error
    leadership = parse_recipients([raw], "PIPELINE_LEADERSHIP_RECIPIENTS", "the settings")
    assert leadership.valid == () and leadership.list_error.startswith("PIPELINE_LEADERSHIP_RECIPIENTS")


def test_addresses_with_other_hostile_characters_are_refused_one_by_one() -> None:
    for bad in (
        "a@x.example\u2028b@y.example",
        "a@x.example\x00",
        "\u202eelpmaxe.x@a",
        "a@x.example>Bcc:b@y.example",
        "../../etc/passwd@x.example",
        "a@x.example\x85Bcc",
    ):
        assert address_problem(bad), bad
    r = parse_recipients("good@x.example; a@x.example\x00; ../../etc/passwd@x.example")
    assert r.valid == ("good@x.example",) and len(r.invalid) == 2


# --------------------------------------------------------------------------- ingestion


def _base_value(column) -> str:
    """A valid value for a column (optional dates left empty, so no row rule trips)."""
    if not column.required and column.kind in (Kind.DATE, Kind.TIMESTAMP):
        return ""
    return {
        Kind.TEXT: "ok",
        Kind.CODE: (column.codes[0] if column.codes else "open"),
        Kind.CURRENCY: "usd",
        Kind.DATE: "2024-03-01",
        Kind.MONTH: "2024-03",
        Kind.TIMESTAMP: "2024-03-01T10:00:00Z",
        Kind.MONEY: "10.00",
        Kind.NUMBER: "1",
        Kind.INTEGER: "5",
        Kind.BOOLEAN: "true",
        Kind.EMAIL: "a@b.example",
        Kind.EMAIL_LIST: "a@b.example",
    }[column.kind]


def test_every_payload_in_every_text_field_is_loaded_exactly(tmp_path: Path) -> None:
    """Through the real CSV reader and staging: each (field, payload) row is staged with its
    value byte for byte (trimmed; line breaks inside a field arrive as \n, the reader's one
    line ending): nothing is quarantined, mangled or escaped on the way in (escaping is
    the outputs' job)."""
    cases = 0
    for source in SOURCES:
        fields = [c for c in source.columns if c.kind == Kind.TEXT]
        if not fields:
            continue
        rows: list[dict[str, str]] = []
        expected: dict[int, tuple[str, str]] = {}
        # Padding rows first: a NUL in the first 4 KB makes the file "binary" (tested below).
        for n in range(60):
            rows.append(
                {
                    c.name: f"PAD{n}-{c.name}-" + "p" * 40 if c.kind == Kind.TEXT else _base_value(c)
                    for c in source.columns
                }
            )
        for field in fields:
            for payload in PAYLOADS.values():
                n = len(rows)
                row = {c.name: f"K{n}-{c.name}" if c.kind == Kind.TEXT else _base_value(c) for c in source.columns}
                row[field.name] = f"zq{n:04d}" + payload
                expected[n + 1] = (field.name, row[field.name].replace("\r\n", "\n").replace("\r", "\n").strip())
                rows.append(row)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(source.column_names), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)
        path = tmp_path / f"{source.pattern}.csv"
        path.write_bytes(buf.getvalue().encode("utf-8"))
        frame, extra = read_landing_file(LandingFile(source.name, path, file_sha256(path), path.stat().st_size), source)
        assert frame.height == len(rows) and extra == []
        raw = frame.with_columns(
            pl.lit(f"x/{path.name}").alias("_file"), pl.lit(datetime(2024, 4, 1, tzinfo=UTC)).alias("_loaded_at")
        )
        known = {}
        for c in source.columns:
            if c.references:
                known[c.references] = pl.concat(
                    [known.get(c.references, pl.Series("k", [], pl.String)), frame[c.name].str.strip_chars()]
                )
        result = stage_source(source, raw, known)
        assert result.rows_in == result.rows_staged + result.rows_quarantined + result.rows_superseded
        assert result.rows_quarantined == 0, result.rejects.head(5).to_dicts()
        staged = {r["_row"]: r for r in result.frame.iter_rows(named=True)}
        for row_no, (column, value) in expected.items():
            assert staged[row_no][column] == value, (source.name, column, row_no)
            cases += 1
    assert cases == len(TEXT_FIELDS) * len(PAYLOADS)


def test_a_nul_in_the_first_kilobytes_refuses_the_file_with_a_plain_message(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(b"account_id,account_name,tier,account_manager_id,currency\nA1,Evil\x00Corp,key,M1,usd\n")
    source = next(s for s in SOURCES if s.name == "accounts")
    with pytest.raises(LandingFileError, match="looks binary"):
        read_landing_file(LandingFile("accounts", path, file_sha256(path), path.stat().st_size), source)


# --------------------------------------------------------------------------- the URL fetcher, directly


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.svg").write_text("<svg/>")
    (outside / "secret.css").write_text("body{}")
    sibling = tmp_path / "templates-evil"
    sibling.mkdir()
    (sibling / "x.svg").write_text("<svg/>")
    (root / "assets" / "dirlink").symlink_to(outside, target_is_directory=True)
    (root / "assets" / "filelink.css").symlink_to(outside / "secret.css")
    (root / "assets" / "uplink").symlink_to("../../outside")
    return root


def test_the_fetcher_refuses_every_way_out(templates: Path) -> None:
    base = templates.resolve().as_uri()
    refused = [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "File://localhost/etc/passwd",
        "file:/etc/passwd",
        "file:////etc/passwd",
        "file:///proc/self/environ",
        "file:///dev/zero",
        "http://127.0.0.1:9/x.css",
        "https://example.com/x.svg",
        "HTTP://example.com/x.svg",
        "//example.com/x.svg",
        " http://example.com/x.svg",
        "ftp://example.com/x.css",
        "gopher://example.com/",
        "jar:file:///x!/y",
        "data:text/css,body{background:red}",
        "DATA:image/svg+xml;base64,PHN2Zy8+",
        "javascript:alert(1)",
        f"{base}/../outside/secret.svg",
        f"{base}/assets/../../outside/secret.svg",
        f"{base}/assets/%2e%2e/%2e%2e/outside/secret.svg",
        f"{base}/assets/%252e%252e/%252e%252e/outside/secret.svg",
        f"{base}/assets/..%2f..%2foutside/secret.svg",
        f"{base}/assets/logo.svg%00.css",
        f"{base}/assets\\..\\..\\outside\\secret.svg",
        f"{base}-evil/x.svg",
        f"{base}/assets/dirlink/secret.svg",
        f"{base}/assets/filelink.css",
        f"{base}/assets/uplink/secret.css",
        f"{base}/assets/logo.svg?x=1",
        "file://evil.example" + str(templates / "assets" / "logo.svg"),
        "../outside/secret.svg",
        "assets/logo.svg",
    ]
    for url in refused:
        with pytest.raises(RefusedURL):
            resolve_template_url(url, templates)
    assert resolve_template_url(f"{base}/assets/logo.svg", templates).name == "logo.svg"

    fetcher = make_url_fetcher(templates)
    for url in refused:
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)
    import urllib.request

    with pytest.raises(RefusedURL):  # urllib's entry point goes through the same check
        fetcher.open(urllib.request.Request("http://127.0.0.1:9/x.css"))
    assert fetcher.refused == [*refused, "http://127.0.0.1:9/x.css"]
    assert fetcher.fetch(f"{base}/assets/logo.svg").read().startswith(b"<svg")


@pytest.mark.slow
def test_a_real_render_of_hostile_data_opens_no_socket_and_no_outside_file(tmp_path: Path) -> None:
    """Render a hostile client report and the pack in this process with an audit hook
    watching every file open and every socket: nothing outside the templates, the output
    folder and the Python/font installation is opened; no socket, no subprocess."""
    from pipeline.publish.client_reports import produce_client_reports
    from pipeline.publish.leadership_pack import produce_leadership_pack
    from pipeline.resources.renderer.worker import DocumentRenderer
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import Settings
    from tests.support.report_builders import Book, add_acme
    from tests.support.security_helpers import compute_marts

    book = Book()
    add_acme(book, name="Evil " + "".join(PAYLOADS[n] for n in MARKUP))
    for k, name in enumerate(MARKUP):
        book.rows["tickets"][k % 3]["subject"] = PAYLOADS[name]
    book.rows["responses"][0]["comment"] = PAYLOADS["link_file"] + PAYLOADS["css_import"]
    settings = Settings(data_dir=tmp_path / "data")
    wh = book.write(Warehouse(tmp_path / "data" / "warehouse.duckdb"))
    compute_marts(wh, settings, MARCH)
    renderer = DocumentRenderer()

    class InProcess:
        templates_dir = renderer.templates_dir

        def render_many(self, jobs):
            return [renderer.render(j) for j in jobs]

    events: list[tuple[str, str]] = []
    state = {"on": False}

    def hook(event: str, args: tuple) -> None:
        if not state["on"]:
            return
        if event == "open" and args and isinstance(args[0], (str, bytes, Path)):
            events.append(("open", str(args[0])))
        elif event.startswith(("socket.", "urllib.", "subprocess.", "os.system", "os.exec", "os.posix_spawn")):
            events.append((event, repr(args)[:200]))

    sys.addaudithook(hook)  # cannot be removed: it only records while state["on"]
    state["on"] = True
    try:
        clients = produce_client_reports(wh, settings, MARCH, InProcess())
        pack = produce_leadership_pack(wh, settings, MARCH, InProcess(), checks=[])
    finally:
        state["on"] = False
    assert (clients.rendered, clients.failed, pack.status) == (1, 0, "rendered"), clients.failures
    network = [e for e in events if e[0] != "open"]
    assert network == [], network
    import site
    import tempfile

    allowed = [
        TEMPLATES_DIR.resolve(),
        (tmp_path / "data").resolve(),
        Path(sys.prefix).resolve(),
        Path(pipeline.__file__).resolve().parent,  # our own modules, imported lazily
        Path(pipeline.__file__).resolve().parents[1] / "sql",
        Path("/usr/share/zoneinfo"),
        Path(sys.base_prefix).resolve(),
        *(Path(p).resolve() for p in site.getsitepackages()),
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        Path("/etc/fonts"),
        Path("/var/cache/fontconfig"),
        Path.home() / ".cache",
        Path.home() / ".config" / "matplotlib",
        Path(tempfile.gettempdir()) / "matplotlib",
        Path("/dev/urandom"),
        Path("/proc/self"),
    ]
    opened = {p for kind, p in events if kind == "open" and not p.isdigit()}
    weasyprint_tmp = Path(tempfile.gettempdir()).resolve()  # WeasyPrint's own temporary font files
    outside = sorted(
        p
        for p in opened
        if not (
            Path(p).resolve().parent.name.startswith("weasyprint-")
            and Path(p).resolve().parent.parent == weasyprint_tmp
        )
        and not any(Path(p).resolve() == a or a in Path(p).resolve().parents for a in allowed)
    )
    assert outside == [], outside
    assert not [p for p in opened if "passwd" in p or p.startswith("/etc/hosts")]


def test_text_shown_in_reports_drops_control_and_bidi_override_characters() -> None:
    """Regression: NUL, ESC, DEL and the like reached the HTML (and the PDF title) as is,
    and U+202E in a name reversed the report's own footer text after it in the PDF."""
    from pipeline.reporting.client import context
    from pipeline.reporting.pack import context as leadership

    for shown in (context._text, leadership._text):
        assert shown(PAYLOADS["nul_control"]) == "abc[31mdef g h"
        assert shown(PAYLOADS["rtl_override"]) == "invoicegpj.exe"
        assert (
            shown("\u2067isolated\u2069 \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627")
            == "isolated שלום مرحبا"
        )
        assert shown(PAYLOADS["crlf"]) == "first Bcc: evil@attacker.example X-Injected: yes"
