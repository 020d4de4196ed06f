"""Outgoing mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/outbox/."""

from __future__ import annotations

import logging
import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import current_app

from .timeutil import utcnow

log = logging.getLogger(__name__)

SMTP_SETTINGS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_USE_TLS")


def send_mail(to: str, subject: str, body: str) -> None:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)

    if config.get("MAIL_SERVER"):
        settings = {key: config.get(key) for key in SMTP_SETTINGS}
        if config.get("MAIL_BACKGROUND"):
            # Off the request: a slow or failing mail server must not make the answer slower or
            # different (that would tell whether an address is registered).
            threading.Thread(
                target=_send_logged, args=(settings, message), name="forum-mail", daemon=True
            ).start()
        else:
            _smtp_send(settings, message)
        return

    outbox = Path(config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}.eml"
    path.write_bytes(bytes(message))
    log.info("mail to %s (%s) written to %s:\n%s", to, subject, path, body)


def _smtp_send(settings: dict[str, Any], message: EmailMessage) -> None:
    with smtplib.SMTP(settings["MAIL_SERVER"], int(settings["MAIL_PORT"]), timeout=20) as smtp:
        if settings.get("MAIL_USE_TLS"):
            smtp.starttls()
        if settings.get("MAIL_USERNAME"):
            smtp.login(settings["MAIL_USERNAME"], settings.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)


def _send_logged(settings: dict[str, Any], message: EmailMessage) -> None:
    try:
        _smtp_send(settings, message)
    except Exception:
        log.exception("mail to %s (%s) could not be sent", message["To"], message["Subject"])
