"""The LMTP listener (aiosmtpd): the MTA hands over mail for the forum's addresses over LMTP
(Postfix: `mailbox_transport = lmtp:inet:127.0.0.1:8024` for the reply domain).

An address that is not one of the forum's signed ones is refused at RCPT (550), so the MTA
bounces it and the forum never answers a stranger. After DATA, LMTP answers once per
recipient (RFC 2033): 250 for what was posted, refused (a mail went back), counted or dropped.
The work runs in a thread of its own with an app context, off the listener's event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from flask import Flask

from . import services

log = logging.getLogger(__name__)


class MailInHandler:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def _known(self, address: str) -> bool:
        with self.app.app_context():
            return services.address_of(address) is not None

    def _receive(self, raw: bytes, recipients: list[str], sender: str) -> list[services.Delivery]:
        with self.app.app_context():
            return services.receive(raw, recipients, sender)

    async def handle_RCPT(  # noqa: N802  (aiosmtpd's hook names)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        loop = asyncio.get_running_loop()
        try:
            known = await loop.run_in_executor(None, self._known, address)
        except Exception:
            log.exception("mail-in: looking up %s failed", address)
            return "451 4.3.0 Try again later"
        if not known:
            return "550 5.1.1 No such address here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        loop = asyncio.get_running_loop()
        raw = envelope.original_content or b""
        recipients = list(envelope.rcpt_tos)
        try:
            deliveries = await loop.run_in_executor(
                None, self._receive, raw, recipients, envelope.mail_from or ""
            )
        except Exception:
            log.exception("mail-in: a message for %s failed", recipients)
            return "\r\n".join("451 4.3.0 Try again later" for _ in recipients)
        # One reply per recipient (LMTP): aiosmtpd writes the lines as they are given.
        return "\r\n".join(
            "250 2.0.0 OK" if d.accepted else "550 5.1.1 No such address here" for d in deliveries
        )


class LMTPController(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)


def start(app: Flask, host: str, port: int) -> LMTPController:
    """Start the listener in a thread of its own; `.stop()` ends it."""
    controller = LMTPController(MailInHandler(app), hostname=host, port=port)
    controller.start()
    return controller
