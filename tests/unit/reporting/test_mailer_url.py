"""The SMTP URL: parsed, and never shown with its password."""

from __future__ import annotations

import pytest

from pipeline.resources.mailer import MailerError, parse_smtp_url, redact


def test_parse_with_starttls_and_auth() -> None:
    t = parse_smtp_url("smtp://report%40bot:s3cr%3At@mail.example:587?starttls=true")
    assert (t.host, t.port, t.username, t.password, t.starttls, t.implicit_tls) == (
        "mail.example",
        587,
        "report@bot",
        "s3cr:t",
        True,
        False,
    )
    assert t.redacted() == "smtp://report%40bot:***@mail.example:587?starttls=true"
    assert "s3cr" not in repr(t) and "s3cr" not in t.redacted()


def test_defaults() -> None:
    assert parse_smtp_url("smtp://mail.example").port == 587 and parse_smtp_url("smtp://mail.example").starttls
    plain = parse_smtp_url("smtp://127.0.0.1:2525")
    assert (plain.port, plain.starttls, plain.username) == (2525, False, None)
    tls = parse_smtp_url("smtps://u:p@mail.example")
    assert (tls.port, tls.implicit_tls, tls.starttls) == (465, True, False)


@pytest.mark.parametrize(
    "url",
    [
        "http://u:hunter2@mail.example",
        "smtp://u:hunter2@",
        "smtp://u:hunter2@mail.example:587?starttls=maybe",
        "smtp://u:hunter2@mail.example:587?tls=1",
        "smtps://u:hunter2@mail.example?starttls=true",
        "smtp://u:hunter2@mail.example:99999",
    ],
)
def test_errors_never_echo_the_password(url: str) -> None:
    with pytest.raises(MailerError) as info:
        parse_smtp_url(url)
    assert "hunter2" not in str(info.value)


def test_redact() -> None:
    t = parse_smtp_url("smtp://u:p%40ss%20word@h:25")
    text = "535 bad credentials for p@ss word / p%40ss%20word"
    assert redact(text, t.secrets()) == "535 bad credentials for *** / ***"
