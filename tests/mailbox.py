"""Reading the development outbox: the mail a test's app wrote to its `outbox` folder."""

from __future__ import annotations

import email
import email.message
from email import policy
from pathlib import Path


def mails(outbox: Path) -> list[email.message.EmailMessage]:
    """The messages in `outbox`, oldest first (empty when nothing was sent)."""
    if not outbox.exists():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(outbox.glob("*.eml"))
    ]
