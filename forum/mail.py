"""Outgoing mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/outbox/.

Mail is sent by background jobs (forum.jobs), never in a request: a request that may send a mail
(registration, a forgotten password) queues the same job whatever the address, so neither its
answer nor its timing tells whether an address is registered, and a slow or failing mail server
never holds it up. A mail that cannot be sent raises MailNotSent, so its job is tried again
later. A mail sent with a `key` is sent once: the key is recorded (table sent_mails) as soon as
the server took the mail, and a job run again (a retry, a consumer restarted mid-job) skips it.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from .db import transaction, upsert
from .extensions import db
from .jobs.models import SentMail
from .timeutil import utcnow

log = logging.getLogger(__name__)

SMTP_SETTINGS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_USE_TLS")


class MailNotSent(Exception):
    """The mail server refused or could not be reached: the job tries again later."""


def already_sent(key: str) -> bool:
    return db.session.scalar(select(SentMail.key).where(SentMail.key == key)) is not None


def send_mail(
    to: str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    key: str | None = None,
) -> bool:
    """Send one mail now, from a job (forum.jobs), never from a request: plain text, with an
    HTML alternative if given. With a `key`, a mail already sent under it is not sent again.
    Returns whether it was sent."""
    if key is not None and already_sent(key):
        log.info("mail %s to %s was sent before: not sent again", key, to)
        return False
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")

    if config.get("MAIL_SERVER"):
        settings = {key: config.get(key) for key in SMTP_SETTINGS}
        try:
            _smtp_send(settings, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail to %s (%s) could not be sent: %r", to, subject, exc)
            raise MailNotSent(f"mail to {to} could not be sent: {exc!r}") from exc
    else:
        outbox = Path(config["OUTBOX_DIR"])
        outbox.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        path = outbox / f"{stamp}.eml"
        path.write_bytes(bytes(message))
        if config.get("BASE_URL"):
            # A served site (it has its address) without SMTP: its log must not carry the links
            # that sign in or reset a password; the outbox file (the instance folder's) has them.
            log.warning("no MAIL_SERVER: mail to %s (%s) written to %s", to, subject, path)
        else:  # development: the log is where the developer reads the link
            log.info("mail to %s (%s) written to %s:\n%s", to, subject, path, body)
    if key is not None:
        # Right after the server took it: a job killed between the two would send it again on
        # its next run (at least once, never lost), a window of one small write.
        with transaction():
            upsert(SentMail, {"key": key, "sent_at": utcnow()}, index_elements=["key"])
    return True


def _smtp_send(settings: dict[str, Any], message: EmailMessage) -> None:
    with smtplib.SMTP(settings["MAIL_SERVER"], int(settings["MAIL_PORT"]), timeout=20) as smtp:
        if settings.get("MAIL_USE_TLS"):
            smtp.starttls()
        if settings.get("MAIL_USERNAME"):
            smtp.login(settings["MAIL_USERNAME"], settings.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
