"""The job queue's verbs: list and retry failed jobs, and the nightly clean-up."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select

from .. import permissions
from ..db import on_commit, transaction
from ..errors import NotFound
from ..extensions import db
from ..timeutil import utcnow
from . import crontab, periodic, queue_of
from .models import FailedJob, SentMail

log = logging.getLogger(__name__)


def failed_jobs(actor: permissions.Actor | None, limit: int = 200) -> list[FailedJob]:
    """The jobs that failed for good, newest first (the global sysop's; None: the command line)."""
    if actor is not None:
        permissions.require_global_sysop(actor)
    return list(
        db.session.scalars(
            select(FailedJob).order_by(FailedJob.failed_at.desc(), FailedJob.id.desc()).limit(limit)
        )
    )


def failed_count() -> int:
    return db.session.scalar(select(func.count()).select_from(FailedJob)) or 0


def retry_failed_job(actor: permissions.Actor | None, failed_id: int) -> FailedJob:
    """Queue a failed job again, with its retries renewed, and forget the failure (once the
    job is back in the queue: if it fails for good again, it is listed again)."""
    if actor is not None:
        permissions.require_global_sysop(actor)
    queue = queue_of()
    with transaction() as session:
        failed = session.get(FailedJob, failed_id)
        if failed is None:
            raise NotFound()
        data, name = failed.data, failed.name
        session.delete(failed)
        on_commit(lambda: queue.requeue(data))
    log.info("failed job %s (%s) queued again", failed_id, name)
    return failed


def _deleted(result: Any) -> int:
    """The rows a DELETE removed (a CursorResult's rowcount; Result does not type it)."""
    return int(result.rowcount)


@periodic(crontab(minute="23", hour="4"))
def clean_up() -> None:
    """Nightly: forget the keys of mail sent long ago (a job is never retried that late) and
    failed jobs older than JOBS_KEEP_FAILED_DAYS (a sysop saw them in the console meanwhile)."""
    config = current_app.config
    now = utcnow()
    sent_before = now - timedelta(days=int(config["JOBS_KEEP_SENT_DAYS"]))
    failed_before = now - timedelta(days=int(config["JOBS_KEEP_FAILED_DAYS"]))
    with transaction() as session:
        sent = _deleted(session.execute(delete(SentMail).where(SentMail.sent_at < sent_before)))
        failed = _deleted(
            session.execute(delete(FailedJob).where(FailedJob.failed_at < failed_before))
        )
    log.info("jobs clean-up: %s sent-mail keys, %s old failed jobs removed", sent, failed)
