"""A free port on 127.0.0.1 and an aiosmtpd handler that records what it accepts."""

from __future__ import annotations

import email
import socket
from email import policy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Records every accepted message; refuses listed recipients once (550)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse_once: set[str] = set()
        self.refused: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_once:
            self.refuse_once.discard(address)
            self.refused.append(address)
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def to(self, recipient: str) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=policy.default) for rcpts, raw in self.messages if recipient in rcpts
        ]
