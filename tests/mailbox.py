"""Reading mail in tests: the development outbox (`outbox` fixture), and what a real SMTP server
on loopback received (`inbox` fixture)."""

from __future__ import annotations

import email
import email.message
import socket
from email import policy
from pathlib import Path
from typing import Any


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    """The messages in `outbox`, oldest first (empty when nothing was sent)."""
    if not outbox.exists():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]


class SmtpInbox:
    """What a real SMTP server on loopback (aiosmtpd, the `inbox` fixture) received: one parsed
    message per DATA, with its envelope."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.senders: list[str] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.senders.append(envelope.mail_from)
        self.recipients.append(list(envelope.rcpt_tos))
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        """The messages whose envelope names `address`."""
        return [m for m, r in zip(self.messages, self.recipients, strict=True) if address in r]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())
