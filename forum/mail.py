"""Outgoing mail: SMTP when MAIL_SERVER is set, otherwise the log and instance/outbox/.

Mail is written by jobs (`queue(job, *args)`) that run off the request, in one thread per
process: a request that may send a mail (registration, a forgotten password) does the same work
whatever the job will find, so neither its answer nor its timing tells whether an address is
registered, and a slow or failing mail server never holds it up.
"""

from __future__ import annotations

import logging
import os
import queue as queues
import smtplib
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from flask import Flask, Response, after_this_request, current_app, has_request_context

from .extensions import db
from .hooks import AppSlot
from .timeutil import utcnow

log = logging.getLogger(__name__)
# This process's mail thread, started on the first queued job.
_WORKER: AppSlot[MailWorker] = AppSlot("forum.mail_worker")

SMTP_SETTINGS = ("MAIL_SERVER", "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_USE_TLS")

Job = Callable[..., None]


def queue(job: Job, *args: Any) -> None:
    """Run `job(*args)` with an app context in this process's mail thread, once the answer to
    the request (if any) is made, and return at once.

    The arguments must be plain values (no database objects, nothing of the request). With
    MAIL_BACKGROUND off the job runs here and now instead (tests; a failure is still only
    logged)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("MAIL_BACKGROUND"):
        _run(job, args)
        return
    worker = _WORKER.setdefault(app, lambda: MailWorker(app))
    if not has_request_context():
        worker.put(job, args)
        return

    # Once the answer is made (not when it is sent: a WSGI server may skip the response's
    # close() when the client hangs up first, and the mail would be lost).
    @after_this_request
    def put_when_answered(response: Response) -> Response:
        worker.put(job, args)
        return response


def wait_until_idle(app: Flask, timeout: float = 10.0) -> bool:
    """Wait for the jobs queued so far to finish (tests, and a clean shutdown)."""
    worker = _WORKER.get(app)
    return worker is None or worker.wait_until_idle(timeout)


def _run(job: Job, args: tuple[Any, ...]) -> None:
    try:
        job(*args)
    except Exception:
        log.exception("mail job %s failed", getattr(job, "__name__", job))


class MailWorker:
    """One thread per process that runs the queued mail jobs in order."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._guard = threading.Lock()
        self._jobs: queues.Queue[tuple[Job, tuple[Any, ...]]] = queues.Queue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def put(self, job: Job, args: tuple[Any, ...]) -> None:
        with self._guard:
            # Started lazily, and again in a forked worker (threads do not survive a fork).
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._jobs = queues.Queue()
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="forum-mail", daemon=True)
                self._thread.start()
            self._jobs.put((job, args))

    def wait_until_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def _loop(self) -> None:
        jobs = self._jobs
        while True:
            job, args = jobs.get()
            try:
                with self.app.app_context():
                    try:
                        _run(job, args)
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - the thread must live on for the next job
                log.exception("mail job %s failed", getattr(job, "__name__", job))
            finally:
                jobs.task_done()


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one mail now: from a job (see queue), never from a request."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)

    if config.get("MAIL_SERVER"):
        settings = {key: config.get(key) for key in SMTP_SETTINGS}
        try:
            _smtp_send(settings, message)
        except Exception:
            log.exception("mail to %s (%s) could not be sent", message["To"], message["Subject"])
        return

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


def _smtp_send(settings: dict[str, Any], message: EmailMessage) -> None:
    with smtplib.SMTP(settings["MAIL_SERVER"], int(settings["MAIL_PORT"]), timeout=20) as smtp:
        if settings.get("MAIL_USE_TLS"):
            smtp.starttls()
        if settings.get("MAIL_USERNAME"):
            smtp.login(settings["MAIL_USERNAME"], settings.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
