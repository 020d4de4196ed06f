"""Outgoing mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/outbox/.

Mail is sent by background jobs (forum.jobs), never in a request: a request that may send a mail
(registration, a forgotten password) queues the same job whatever the address, so neither its
answer nor its timing tells whether an address is registered, and a slow or failing mail server
never holds it up. A mail that cannot be sent raises MailNotSent, so its job is tried again
later. A mail sent with a `key` is sent once: the key is recorded (table sent_mails) as soon as
the server took the mail, and a job run again (a retry, a consumer restarted mid-job) skips it.

Mail to members can carry two signed addresses of the forum's mail domain (MAIL_REPLY_DOMAIN,
else MAIL_SENDER's): `reply+<member>-<topic>-<signature>` (the Reply-To of notification mail
about a topic: what is sent there is posted as that member's reply, forum.mailin) and
`bounce+<member>-<signature>` (the envelope sender: bounces and spam complaints about that
member's address come back there). The signature is an HMAC of the secret key, short enough for
a local part (64 characters), in lower case (some mail servers fold case).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
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
    envelope_from: str | None = None,
) -> bool:
    """Send one mail now, from a job (forum.jobs), never from a request: plain text, with an
    HTML alternative if given. With a `key`, a mail already sent under it is not sent again.
    `envelope_from` is the SMTP sender (where bounces go; MAIL_SENDER when None).
    Returns whether it was sent."""
    if key is not None and already_sent(key):
        log.info("mail %s to %s was sent before: not sent again", key, to)
        return False
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    if envelope_from:
        message["Return-Path"] = f"<{envelope_from}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")

    if config.get("MAIL_SERVER"):
        settings = {key: config.get(key) for key in SMTP_SETTINGS}
        try:
            _smtp_send(settings, message, envelope_from)
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


def _smtp_send(
    settings: dict[str, Any], message: EmailMessage, envelope_from: str | None = None
) -> None:
    with smtplib.SMTP(settings["MAIL_SERVER"], int(settings["MAIL_PORT"]), timeout=20) as smtp:
        if settings.get("MAIL_USE_TLS"):
            smtp.starttls()
        if settings.get("MAIL_USERNAME"):
            smtp.login(settings["MAIL_USERNAME"], settings.get("MAIL_PASSWORD") or "")
        if envelope_from:
            # The receiving server writes Return-Path from the envelope; the header is ours.
            del message["Return-Path"]
            smtp.send_message(message, from_addr=envelope_from)
        else:
            smtp.send_message(message)


# --- the forum's own addresses: reply by mail, bounces ----------------------------------------
REPLY = "reply"
BOUNCE = "bounce"


@dataclass(frozen=True)
class ForumAddress:
    """What a signed address of the forum names."""

    kind: str  # REPLY or BOUNCE
    user_id: int
    topic_id: int | None = None


def mail_in_enabled() -> bool:
    """Whether the reply and bounce addresses lead back to the forum (MAIL_IN)."""
    return bool(current_app.config.get("MAIL_IN", True))


def member_envelope(user_id: int, email: str) -> str | None:
    """The envelope sender of mail to a member: their bounce address, or None (MAIL_SENDER)
    without MAIL_IN."""
    return bounce_address(user_id, email) if mail_in_enabled() else None


def mail_domain() -> str:
    """The domain of the reply and bounce addresses."""
    configured = current_app.config.get("MAIL_REPLY_DOMAIN")
    if configured:
        return str(configured).strip().lower()
    sender = parseaddr(str(current_app.config["MAIL_SENDER"]))[1]
    return sender.rpartition("@")[2].lower() or "localhost"


def _signature(*parts: object) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, ":".join(map(str, parts)).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()  # 80 bits, 16 characters


def reply_address(user_id: int, topic_id: int) -> str:
    """The address whose mail is posted as `user_id`'s reply to the topic."""
    return f"{REPLY}+{user_id}-{topic_id}-{_signature(REPLY, user_id, topic_id)}@{mail_domain()}"


def bounce_address(user_id: int, email: str) -> str:
    """The envelope sender of mail to the member: a bounce there counts against this address
    only (one sent to an address the member has changed since does not count)."""
    signature = _signature(BOUNCE, user_id, email.strip().lower())
    return f"{BOUNCE}+{user_id}-{signature}@{mail_domain()}"


def read_address(address: str, email_of: Any = None) -> ForumAddress | None:
    """What a reply or bounce address names, or None when it is not one of ours (a forged or
    mistyped signature, another domain). `email_of(user_id)` gives a member's address now, to
    check a bounce address's signature."""
    local, _, domain = parseaddr(address)[1].strip().lower().rpartition("@")
    if domain != mail_domain():
        return None
    kind, plus, token = local.partition("+")
    if not plus:
        return None
    parts = token.split("-")
    if kind == REPLY and len(parts) == 3 and parts[0].isdecimal() and parts[1].isdecimal():
        user_id, topic_id = int(parts[0]), int(parts[1])
        if hmac.compare_digest(parts[2], _signature(REPLY, user_id, topic_id)):
            return ForumAddress(REPLY, user_id, topic_id)
    if kind == BOUNCE and len(parts) == 2 and parts[0].isdecimal() and email_of is not None:
        user_id = int(parts[0])
        email = email_of(user_id)
        if email and hmac.compare_digest(
            parts[1], _signature(BOUNCE, user_id, str(email).strip().lower())
        ):
            return ForumAddress(BOUNCE, user_id)
    return None
