"""`flask forum mail-in` (one message on stdin) and `flask forum mail-in-server` (LMTP)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click
from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from ..cli import forum_cli
from . import services

# sysexits.h: what an MTA's pipe understands.
EX_OK = 0
EX_NOUSER = 67  # bounced by the MTA: not an address of ours
EX_TEMPFAIL = 75  # the MTA tries again later


def _header_recipients(message: Any) -> list[str]:
    for header in ("Delivered-To", "X-Original-To", "Envelope-To"):
        values = message.get_all(header) or []
        if values:
            return [str(value) for value in values]
    return [str(message.get("To") or "")]


@forum_cli.command("mail-in")
@click.option(
    "--recipient",
    "recipients",
    multiple=True,
    help="The envelope recipient (Postfix: ${original_recipient}); else Delivered-To or To.",
)
@click.option("--sender", default=None, help="The envelope sender (Postfix: ${sender}).")
def mail_in(recipients: tuple[str, ...], sender: str | None) -> None:
    """Read one mail on standard input (an MTA's pipe) and act on it: a reply by mail is
    posted, a bounce counted. Exits 67 for an address that is not the forum's (the MTA bounces
    it) and 75 when the database is away (the MTA tries again)."""
    raw = sys.stdin.buffer.read()
    wanted = list(recipients) or _header_recipients(services.parse(raw))
    try:
        deliveries = services.receive(raw, wanted, sender)
    except SQLAlchemyError as exc:
        current_app.logger.error("mail-in: the database is away: %r", exc)
        sys.exit(EX_TEMPFAIL)
    for delivery in deliveries:
        click.echo(f"{delivery.recipient}: {delivery.outcome}")
    if not any(delivery.accepted for delivery in deliveries):
        sys.exit(EX_NOUSER)


@forum_cli.command("mail-in-server")
@click.option("--host", default=None, help="Address to listen on (MAILIN_LMTP_HOST).")
@click.option("--port", default=None, type=int, help="Port (MAILIN_LMTP_PORT).")
def mail_in_server(host: str | None, port: int | None) -> None:
    """Listen for mail over LMTP (the MTA's transport for the reply domain) until stopped."""
    from .lmtp import start

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    host = host or str(app.config["MAILIN_LMTP_HOST"])
    port = port or int(app.config["MAILIN_LMTP_PORT"])
    controller = start(app, host, port)
    click.echo(f"mail-in: LMTP on {host}:{port}")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
