"""The job queue's verbs: list and retry failed jobs, put back held ones, the nightly clean-up."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update

from .. import permissions
from ..db import on_commit, transaction
from ..errors import NotFound
from ..extensions import db
from ..timeutil import utcnow
from . import SPECS, WAKE_KEY, crontab, periodic, queue_of, said
from .models import FailedJob, HeldJob, SentMail

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


# How many held jobs a put-back reads at a time. It takes batch after batch until none is left
# or PUT_BACK_SECONDS have passed (then the next minute's run goes on, oldest first): an outage
# over the hourly digest round holds a job per member, and what was held after the round must
# not wait a minute per batch behind it (a served forum put back 500 in 2 s, SQLite).
HELD_BATCH = 500
PUT_BACK_SECONDS = 40
# How long a held job waits for the queue before it is dropped (with a log line). A day covers a
# night's outage until a sysop is up; what a job held longer would do is a day old: a
# registration or a password reset the member has asked again for by then (their links are
# valid a day, an hour), a notification the member has long seen on the site (the sweep of lost
# notification mail looks back 6 hours), a digest of yesterday. And a queue down for a day must
# not grow the table without end. A job of a kind that is no use sooner says so (`@job(
# stale_after=SETTING)`): notification mail and digests after NOTIFY_MAIL_MAX_AGE, a password
# reset after PASSWORD_RESET_MAX_AGE (_drop_stale).
HOLD_HOURS = 24


def held_jobs(actor: permissions.Actor | None, limit: int = 200) -> list[HeldJob]:
    """The jobs waiting in the database for the queue, oldest first (the order they go back)."""
    if actor is not None:
        permissions.require_global_sysop(actor)
    return list(
        db.session.scalars(select(HeldJob).order_by(HeldJob.held_at, HeldJob.id).limit(limit))
    )


def held_count() -> int:
    return db.session.scalar(select(func.count()).select_from(HeldJob)) or 0


@periodic(crontab(minute="*"))
def put_back_held_jobs() -> int:
    """Every minute (and when the worker starts): move the jobs the queue refused onto it,
    oldest first, HELD_BATCH at a time until none is left or PUT_BACK_SECONDS have passed. Each
    row is deleted in the transaction that queues it (DELETE … RETURNING: of two consumers only
    one gets the row, the other waits for its commit and finds it gone), so no job goes twice;
    when the queue refuses again the row stays, its attempts counted, and the rest wait for the
    next run. Jobs held longer than HOLD_HOURS, or than their kind's `stale_after`, are
    dropped first, each with a log line. A put after an outage queues a run at once
    (JobQueue.wake_put_back), which clears the key that says so here, as it starts.
    Returns how many were put back."""
    queue = queue_of()
    try:
        queue.huey.delete(WAKE_KEY)
    except Exception:  # noqa: BLE001, S110 - the queue is away: the put-backs below say so
        pass
    _drop_stale(utcnow())
    deadline = time.monotonic() + PUT_BACK_SECONDS
    put = 0
    while True:
        ids = _oldest_held()
        for held_id in ids:
            try:
                put += _put_back_one(queue, held_id)
            except Exception as exc:  # noqa: BLE001 - the queue refused again: next minute
                with transaction() as session:
                    session.execute(
                        update(HeldJob)
                        .where(HeldJob.id == held_id)
                        .values(attempts=HeldJob.attempts + 1, error=said(exc)[:1000])
                    )
                log.warning("held jobs: the queue refused one again (%s); %d put back",
                            said(exc), put)  # fmt: skip
                return put
        if len(ids) < HELD_BATCH or time.monotonic() >= deadline:
            break
    if put:
        log.info("held jobs: %d put back on the queue", put)
    return put


def _oldest_held() -> list[int]:
    """The ids of the next HELD_BATCH held jobs, oldest first."""
    return list(
        db.session.scalars(
            select(HeldJob.id).order_by(HeldJob.held_at, HeldJob.id).limit(HELD_BATCH)
        )
    )


def _put_back_one(queue: Any, held_id: int) -> int:
    """Queue one held job and delete its row, in one transaction: 1, or 0 when another consumer
    put it back first or it cannot be read (then dropped, logged). Raises what the queue raised
    (the row stays)."""
    with transaction() as session:
        row = session.execute(
            delete(HeldJob).where(HeldJob.id == held_id).returning(HeldJob.name, HeldJob.data)
        ).first()
        if row is None:
            return 0  # another consumer put it back
        try:
            task = queue.huey.deserialize_task(row.data)
        except Exception as exc:  # noqa: BLE001 - it can never go: its job is gone
            log.error("held job %s dropped: it cannot be read (%s)", row.name, said(exc))
            return 0
        queue.huey.enqueue(task)
    return 1


def _drop_stale(now: Any) -> None:
    """Drop the jobs held longer than HOLD_HOURS (an ERROR line each: the queue was away a day),
    then those of a kind held longer than its `stale_after` setting (a WARNING each: what
    they would do is no use that late; a notification stays on the site)."""
    with transaction() as session:
        dropped = session.execute(
            delete(HeldJob)
            .where(HeldJob.held_at < now - timedelta(hours=HOLD_HOURS))
            .returning(HeldJob.name, HeldJob.summary, HeldJob.held_at)
        ).all()
    for name, summary, held_at in dropped:
        log.error("held job %s(%s) dropped: held since %s, longer than %d h",
                  name, summary[:200], f"{held_at:%Y-%m-%d %H:%M}", HOLD_HOURS)  # fmt: skip
    config = current_app.config
    by_setting: dict[str, list[str]] = {}
    for spec in list(SPECS.values()):
        if spec.stale_after:
            by_setting.setdefault(spec.stale_after, []).append(spec.name)
    for setting, names in sorted(by_setting.items()):
        seconds = float(config[setting])
        with transaction() as session:
            dropped = session.execute(
                delete(HeldJob)
                .where(
                    HeldJob.name.in_(names),
                    HeldJob.held_at < now - timedelta(seconds=seconds),
                )
                .returning(HeldJob.name, HeldJob.summary, HeldJob.held_at)
            ).all()
        for name, summary, held_at in dropped:
            log.warning("held job %s(%s) dropped: held since %s, longer than %s (%g h): "
                        "too late to be of use", name, summary[:200],
                        f"{held_at:%Y-%m-%d %H:%M}", setting, seconds / 3600)  # fmt: skip


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
