"""Notification mail whose job was lost: the queue (Redis, or a full disk under the SQLite one)
could not take the job when the notification was stored, nor the database hold it (or the
process died before it handed the job over), so `put_or_log` logged it as lost. The
sweep queues it again once its normal job (and every retry) would have run, within a bounded
window: mailed exactly once, never a second time for what was mailed, read or is wanted in the
digest; a page is not held back by the usual delay; a second sweep queues nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from forum import jobs
from forum.db import transaction
from forum.extensions import db
from forum.notifications import services as notifications
from forum.notifications.mail import (
    SWEEP_BATCH,
    send_notification_mail,
    sweep_lost_mail,
    sweep_window,
)
from forum.notifications.models import Notification
from forum.timeutil import utcnow

from .mailbox import mails, text_of

SEND = f"{send_notification_mail.__module__}.send_notification_mail"


@pytest.fixture
def world(app: Any, f: Any, job_queue: Any, outbox: Any) -> dict[str, Any]:
    """ada and bob in a SIG, bob's topic; a real queue (jobs wait until run) and an outbox."""
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    return {"ada": ada, "bob": bob, "sig": sig, "topic": f.topic(bob, sig, "Amiga sound")}


@contextmanager
def queue_down(queue: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The queue's store refuses every job (Redis down, the disk full), and the database refuses
    to hold it (tests/test_jobs_held.py: what it holds is not lost): put_or_log logs each as
    lost, and the request goes on."""

    def refuse(*_args: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def refuse_to_hold(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO held_jobs"):
            raise OperationalError(statement, None, Exception("database or disk is full"))

    with monkeypatch.context() as patched:
        patched.setattr(queue, "put", refuse)
        event.listen(db.engine, "before_cursor_execute", refuse_to_hold)
        try:
            yield
        finally:
            event.remove(db.engine, "before_cursor_execute", refuse_to_hold)


def lost_mention(
    f: Any, world: dict[str, Any], job_queue: Any, monkeypatch: Any, caplog: Any, lost: bool = True
) -> int:
    """bob mentions ada while the queue is down: her mail's job is lost (when she wants it now)."""
    with caplog.at_level("ERROR", logger="forum.jobs"), queue_down(job_queue, monkeypatch):
        f.reply(world["bob"], world["topic"], "Hey @ada, Paula has four channels.")
    assert (f"job {SEND} could not be queued" in caplog.text) is lost
    caplog.clear()
    assert job_queue.scheduled() == [] and job_queue.queued() == []
    return int(
        db.session.scalar(
            select(Notification.id)
            .where(Notification.kind == "mention", Notification.user_id == world["ada"].id)
            .order_by(Notification.id.desc())
            .limit(1)
        )
    )


def settle() -> None:
    """End the test's read transaction: a job runs in a session of its own (its app context's),
    and the test's snapshot would not show what it wrote."""
    db.session.rollback()
    db.session.expire_all()


def sweep(now: datetime) -> list[int]:
    """The sweep at `now`, as the consumer runs it (in a transaction of its own)."""
    settle()
    try:
        return sweep_lost_mail(now)
    finally:
        settle()


def run_jobs(queue: Any) -> int:
    """Run what is queued, as a consumer's worker would (a job not yet due goes to the schedule,
    counted too)."""
    count = int(queue.run_pending())
    settle()
    return count


def after(minutes: float) -> datetime:
    return utcnow() + timedelta(minutes=minutes)


def test_the_window_waits_for_every_retry_of_the_job_and_ends_hours_back(app):
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    oldest, newest, newest_page = sweep_window(now)
    retries = 60 + 120 + 240 + 480 + 960  # send_notification_mail's 5 retries, backoff 2
    assert jobs.retry_span(send_notification_mail) == retries
    assert newest_page == now - timedelta(seconds=retries) - timedelta(minutes=10)
    assert newest == newest_page - timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"])
    assert oldest == now - timedelta(seconds=app.config["NOTIFY_MAIL_MAX_AGE"])
    assert app.config["NOTIFY_MAIL_MAX_AGE"] == 6 * 3600
    spec = jobs.SPECS[f"{sweep_lost_mail.__module__}.sweep_lost_mail"]
    assert spec.schedule is not None
    assert spec.schedule(datetime(2026, 12, 7, 12, 20)) is True
    assert spec.schedule(datetime(2026, 12, 7, 12, 21)) is False


def test_a_lost_mail_is_queued_again_and_sent_exactly_once(
    app, f, world, job_queue, outbox, monkeypatch, caplog
):
    lost = lost_mention(f, world, job_queue, monkeypatch, caplog)
    assert sweep(after(30)) == []  # its job (and its retries) might still run
    with caplog.at_level("INFO", logger="forum.notifications.mail"):
        assert sweep(after(50)) == [lost]
    assert "notification mail: 1 whose job was lost queued again" in caplog.text
    assert run_jobs(job_queue) == 1
    (message,) = mails(outbox)
    assert message["To"] == "ada@example.com"
    assert "Paula has four channels." in text_of(message)
    assert db.session.get(Notification, lost).mail_key is not None
    # Claimed: a second sweep queues nothing, and nothing is mailed again.
    caplog.clear()
    with caplog.at_level("INFO", logger="forum.notifications.mail"):
        assert sweep(after(60)) == []
    assert "queued again" not in caplog.text
    assert run_jobs(job_queue) == 0
    assert len(mails(outbox)) == 1


def test_running_the_sweep_twice_before_its_jobs_run_still_mails_once(
    app, f, world, job_queue, outbox, monkeypatch, caplog
):
    """A backlog: the first sweep's job has not run when the next sweep comes. Each sweep's job
    has a key of its own, so only the one whose claim wins sends."""
    lost = lost_mention(f, world, job_queue, monkeypatch, caplog)
    assert sweep(after(50)) == [lost]
    assert sweep(after(60)) == [lost]
    assert run_jobs(job_queue) == 2
    assert len(mails(outbox)) == 1
    assert sweep(after(70)) == []


def test_a_mail_sent_normally_is_not_sent_again(app, f, world, job_queue, outbox):
    f.reply(world["bob"], world["topic"], "Hey @ada, Paula.")
    assert run_jobs(job_queue) == 1  # not due yet: into the schedule
    assert len(job_queue.scheduled()) == 1
    assert job_queue.run_due(datetime.now(UTC) + timedelta(minutes=6)) == 1
    assert len(mails(outbox)) == 1
    assert sweep(after(50)) == []
    assert len(mails(outbox)) == 1


def test_the_normal_job_coming_after_the_sweep_sends_nothing_more(app, f, world, job_queue, outbox):
    """The original job was only late (a consumer stopped for an hour): the sweep's job claims
    first, and the original, run after it, finds the notification in another job's mail."""
    f.reply(world["bob"], world["topic"], "Hey @ada, Paula.")
    now = after(50)
    (lost,) = sweep(now)
    assert run_jobs(job_queue) == 2  # the sweep's job mails; the original is not due: scheduled
    assert len(mails(outbox)) == 1
    key = db.session.get(Notification, lost).mail_key  # (settled by run_jobs)
    assert key == f"notify:{world['ada'].id}:{lost}:r{int(now.timestamp())}"
    assert job_queue.run_due(datetime.now(UTC) + timedelta(minutes=51)) == 1
    assert len(mails(outbox)) == 1


def test_a_notification_read_meanwhile_is_not_mailed(
    app, f, world, job_queue, outbox, monkeypatch, caplog
):
    lost = lost_mention(f, world, job_queue, monkeypatch, caplog)
    notifications.mark_read(world["ada"], lost)
    assert sweep(after(50)) == []
    assert run_jobs(job_queue) == 0
    assert mails(outbox) == []


def test_a_notification_older_than_the_window_is_left_alone(
    app, f, world, job_queue, outbox, monkeypatch, caplog
):
    lost_mention(f, world, job_queue, monkeypatch, caplog)
    assert sweep(after(app.config["NOTIFY_MAIL_MAX_AGE"] / 60 + 1)) == []
    assert run_jobs(job_queue) == 0
    assert mails(outbox) == []


def test_a_member_who_wants_a_digest_instead_is_not_mailed(
    app, f, world, job_queue, outbox, monkeypatch, caplog
):
    notifications.set_mail_preferences(world["ada"], {"mention": "digest"})
    lost_mention(f, world, job_queue, monkeypatch, caplog, lost=False)
    assert sweep(after(50)) == []
    # Nor one who turned it off, or whose address bounced.
    notifications.set_mail_preferences(world["ada"], {"mention": "off"})
    assert sweep(after(50)) == []
    notifications.set_mail_preferences(world["ada"], {"mention": "now"})
    with transaction():
        world["ada"].mail_disabled_at = utcnow()
    assert sweep(after(50)) == []
    assert run_jobs(job_queue) == 0
    assert mails(outbox) == []


def test_a_page_is_not_held_back_by_the_mail_delay(app, f, world, job_queue, monkeypatch, caplog):
    """A page's job runs at once (no NOTIFY_MAIL_DELAY): the sweep takes it NOTIFY_MAIL_DELAY
    sooner than a mention lost at the same moment."""
    grace = f.user("grace")
    mention = lost_mention(f, world, job_queue, monkeypatch, caplog)
    with caplog.at_level("ERROR", logger="forum.jobs"), queue_down(job_queue, monkeypatch):
        with transaction():
            (page,) = notifications.notify_page([grace.id], 1, world["sig"].id, world["ada"].id)
    assert f"job {SEND} could not be queued" in caplog.text
    retries = jobs.retry_span(send_notification_mail) / 60
    assert sweep(after(retries + 11)) == [page.id]
    assert [t.name for t in job_queue.queued()] == ["send_notification_mail"]
    assert sweep(after(retries + 11 + app.config["NOTIFY_MAIL_DELAY"] / 60)) == [
        mention,  # oldest first
        page.id,  # (its job not run yet: queued again, with a key of its own)
    ]


def test_a_sweep_queues_at_most_a_batch(app, f, world, job_queue, monkeypatch):
    monkeypatch.setattr("forum.notifications.mail.SWEEP_BATCH", 2)
    with queue_down(job_queue, monkeypatch):
        for n in range(3):
            f.reply(world["bob"], f.topic(world["bob"], world["sig"]), f"@ada number {n}")
    first = sweep(after(50))
    assert len(first) == 2 and SWEEP_BATCH > 2
    assert run_jobs(job_queue) == 2
    (last,) = sweep(after(51))
    assert last not in first
