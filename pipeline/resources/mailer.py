"""The mailer: SMTP when ``settings.smtp_url`` is set, else ``.eml`` files in the outbox.

``smtp_url`` looks like ``smtp://user:pass@host:587?starttls=true`` (``smtps://`` for
TLS from the first byte; user and password URL-encoded). STARTTLS and AUTH are
supported. The password never appears in a log line, a metadata value or an error
message: every text leaving this module goes through ``redact``; only
``SmtpTarget.redacted()`` (``smtp://user:***@host:587``) is ever shown.

The URL comes from the settings (``PIPELINE_SMTP_URL``), not from the resource's
config, so it never shows in Dagster's run config either.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, quote, unquote, urlsplit

from dagster import ConfigurableResource
from pydantic import Field

from pipeline.files import atomic_write
from pipeline.reporting.naming import ensure_inside, safe_name
from pipeline.settings import Settings

log = logging.getLogger(__name__)


class MailerError(ValueError):
    """The SMTP settings are unusable; the message names the setting (never the password)."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    implicit_tls: bool = False

    def redacted(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        auth = f"{quote(self.username, safe='')}:***@" if self.username else ""
        tls = "?starttls=true" if self.starttls else ""
        return f"{scheme}://{auth}{self.host}:{self.port}{tls}"

    def secrets(self) -> list[str]:
        if not self.password:
            return []
        return sorted({self.password, quote(self.password, safe=""), quote(self.password)}, key=len, reverse=True)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_smtp_url(url: str) -> SmtpTarget:
    """Parse ``PIPELINE_SMTP_URL``; errors say what is wrong without echoing the URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise MailerError(
            "PIPELINE_SMTP_URL is not a valid URL (expected smtp://user:pass@host:587?starttls=true)"
        ) from None
    if parts.scheme not in ("smtp", "smtps"):
        raise MailerError(f"PIPELINE_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme or 'nothing'}://")
    if not parts.hostname:
        raise MailerError("PIPELINE_SMTP_URL names no host (expected smtp://user:pass@host:587)")
    query = {k.lower(): v[-1].strip().lower() for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    unknown = set(query) - {"starttls"}
    if unknown:
        raise MailerError(f"PIPELINE_SMTP_URL has unknown options: {', '.join(sorted(unknown))} (known: starttls)")
    implicit = parts.scheme == "smtps"
    port = port or (465 if implicit else 587)
    raw_tls = query.get("starttls")
    if raw_tls is None:
        starttls = not implicit and port == 587
    elif raw_tls in _TRUE:
        starttls = True
    elif raw_tls in _FALSE:
        starttls = False
    else:
        raise MailerError("PIPELINE_SMTP_URL: starttls must be true or false")
    if starttls and implicit:
        raise MailerError("PIPELINE_SMTP_URL: smtps:// is already TLS; drop starttls=true")
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        starttls=starttls,
        implicit_tls=implicit,
    )


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    error: str | None = None


class Mailer(Protocol):
    channel: str
    description: str

    def send(self, message: EmailMessage, recipient: str, key: str, folder: str) -> SendOutcome: ...

    def close(self) -> None: ...


class SmtpMailer:
    """Sends over one SMTP connection per batch (reconnecting once if it drops)."""

    channel = "smtp"

    def __init__(self, target: SmtpTarget, timeout: float = 30.0, tls_context: ssl.SSLContext | None = None):
        self.target = target
        self.timeout = timeout
        self.tls_context = tls_context or ssl.create_default_context()
        self.description = target.redacted()
        self._conn: smtplib.SMTP | None = None

    def _error(self, what: str, exc: BaseException) -> str:
        detail: BaseException | str = exc
        if isinstance(exc, smtplib.SMTPResponseException):
            msg = (
                exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            )
            detail = f"{exc.smtp_code} {msg}"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            detail = "; ".join(
                f"{code} {(m.decode('utf-8', 'replace') if isinstance(m, bytes) else m)}"
                for code, m in exc.recipients.values()
            )
        text = f"{what} via {self.description}: {type(exc).__name__}: {detail}"
        return redact(" ".join(text.split()), self.target.secrets())

    def _connect(self) -> smtplib.SMTP:
        t = self.target
        if t.implicit_tls:
            conn: smtplib.SMTP = smtplib.SMTP_SSL(t.host, t.port, timeout=self.timeout, context=self.tls_context)
        else:
            conn = smtplib.SMTP(t.host, t.port, timeout=self.timeout)
        try:
            conn.ehlo()
            if t.starttls:
                conn.starttls(context=self.tls_context)
                conn.ehlo()
            if t.username:
                try:
                    conn.login(t.username, t.password or "")
                except UnicodeError:  # its exception would carry the password: drop it
                    raise smtplib.SMTPAuthenticationError(
                        0, "the user name or password in PIPELINE_SMTP_URL is not ASCII, which SMTP AUTH cannot send"
                    ) from None
        except BaseException:
            conn.close()
            raise
        log.info("connected to %s", self.description)
        return conn

    def send(self, message: EmailMessage, recipient: str, key: str, folder: str) -> SendOutcome:
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self._connect()
                refused = self._conn.send_message(message, to_addrs=[recipient])
                if refused:
                    return SendOutcome(False, self._error("recipient refused", smtplib.SMTPRecipientsRefused(refused)))
                return SendOutcome(True)
            except smtplib.SMTPServerDisconnected as exc:
                self._conn = None
                if attempt == 2:
                    return SendOutcome(False, self._error("connection lost", exc))
            except smtplib.SMTPRecipientsRefused as exc:
                self._reset()
                return SendOutcome(False, self._error("recipient refused", exc))
            except smtplib.SMTPAuthenticationError as exc:
                self.close()
                return SendOutcome(False, self._error("authentication failed", exc))
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                return SendOutcome(False, self._error("sending failed", exc))
        return SendOutcome(False, "sending failed")  # pragma: no cover

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


class OutboxMailer:
    """Writes each message as an ``.eml`` file: ``outbox/<folder>/<recipient>-<key>.eml``."""

    channel = "outbox"

    def __init__(self, outbox_dir: Path):
        self.root = Path(outbox_dir)
        self.description = f"outbox {self.root}"

    def path_for(self, recipient: str, key: str, folder: str) -> Path:
        parts = [p for p in folder.split("/") if p]
        if not parts or any(p in (".", "..") or p.startswith(".") for p in parts):
            raise ValueError(f"outbox folder {folder!r} is not a safe relative path")
        name = f"{safe_name(recipient, 'recipient')}-{key[:12]}.eml"
        return ensure_inside(self.root, self.root.joinpath(*parts) / name)

    def send(self, message: EmailMessage, recipient: str, key: str, folder: str) -> SendOutcome:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            atomic_write([(self.path_for(recipient, key, folder), message.as_bytes())])
            return SendOutcome(True)
        except (OSError, ValueError) as exc:
            return SendOutcome(False, f"writing to the outbox failed: {type(exc).__name__}: {exc}")

    def find_sent(self, recipient: str, key: str, folder: str) -> str | None:
        """The Message-ID ('' if none) of this delivery's message if it is in the outbox
        (files are written whole or not at all), else None."""
        try:
            with open(self.path_for(recipient, key, folder), "rb") as f:
                return str(BytesHeaderParser().parse(f).get("Message-ID") or "")
        except FileNotFoundError:
            return None

    def close(self) -> None:
        return None


class MailerResource(ConfigurableResource):
    """Sends report e-mails: over SMTP when PIPELINE_SMTP_URL is set, else to the outbox.

    The SMTP URL (with its password) is read from the settings at run time, never from
    this resource's config, so it does not appear in Dagster's UI.
    """

    timeout_seconds: float = Field(default=30.0, description="SMTP connect and command timeout.")

    def get(self, settings: Settings) -> Mailer:
        if settings.smtp_url:
            return SmtpMailer(parse_smtp_url(settings.smtp_url), timeout=self.timeout_seconds)
        return OutboxMailer(settings.outbox_dir)
