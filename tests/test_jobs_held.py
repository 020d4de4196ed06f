"""A job the queue refuses (Redis down, the SQLite queue's file unwritable) is held in the
database (`held_jobs`) and put back by the consumer, once, oldest first; only when the database
refuses it too is it lost, and logged. Sysops see the held jobs in /admin/jobs and `flask forum
jobs`; a held notification mail and the sweep of lost mail send it once between them."""

from __future__ import annotations

import logging
import os
import queue as stdlib_queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum import jobs
from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.jobs import services
from forum.jobs.commands import make_consumer, put_back_on_start
from forum.jobs.models import HeldJob
from forum.jobs.services import HOLD_HOURS, put_back_held_jobs
from forum.notifications.mail import send_notification_mail, sweep_lost_mail
from forum.notifications.models import Notification
from forum.timeutil import utcnow

from .mailbox import mails
from .test_database_faults import _read_only_app

RESET = "forum.accounts.services.mail_password_reset"
REGISTER = "forum.accounts.services.mail_registration"
NOTIFY = "forum.notifications.mail.send_notification_mail"

# What count_run did (a job whose effect is not idempotent: each run counts).
RUNS: list[str] = []


@jobs.job()
def count_run(label: str) -> None:
    RUNS.append(label)


@jobs.job()
def stopped_once(label: str) -> None:
    """Stopped the first time, as a consumer's Ctrl+C or SIGTERM stops a running job."""
    RUNS.append(label)
    if RUNS.count(label) == 1:
        raise KeyboardInterrupt


def held_rows() -> list[HeldJob]:
    db.session.rollback()  # a fresh snapshot: the queuing thread wrote in a session of its own
    db.session.expire_all()
    return list(db.session.scalars(select(HeldJob).order_by(HeldJob.id)))


def put_back() -> int:
    """The periodic put-back, as the consumer runs it (a transaction of its own)."""
    db.session.rollback()
    try:
        return put_back_held_jobs()
    finally:
        db.session.rollback()
        db.session.expire_all()


@contextmanager
def queue_down(queue: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The queue's store refuses every job, as a Redis that is down does."""

    def refuse(*_args: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patched:
        patched.setattr(queue, "put", refuse)
        yield


@pytest.fixture
def redis_queue(app: Any, tmp_path: Any) -> Iterator[tuple[Any, Any]]:
    """The app's queue in a Redis of the test's own (which it may kill and start again)."""
    from .serverkit import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    app.config.update(
        JOBS_IMMEDIATE=False,
        REDIS_URL=server.url,
        REDIS_TIMEOUT=0.5,
        REDIS_RETRY_SECONDS=0.2,
        JOBS_QUEUE_NAME=f"forum-test-held-{os.getpid()}",
    )
    queue = app.extensions["forum.jobs"] = jobs.JobQueue(app)
    try:
        yield queue, server
    finally:
        server.kill()


def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_registration_during_a_redis_outage_is_held_then_mailed_once(
    app, client, inbox, redis_queue, caplog
):
    """Redis is down as a newcomer registers: the page answers as always, the confirmation is
    held in the database; once Redis is back the consumer's put-back queues it, and the mail
    arrives, once."""
    queue, server = redis_queue
    server.kill()
    with caplog.at_level("WARNING", logger="forum.jobs"):
        response = client.form("/register", {"username": "newcomer", "email": "new@example.com"})
        assert queue.wait_until_handed_over()
    assert response.status_code == 302
    assert f"job {REGISTER} could not be queued" in caplog.text
    assert "held in the database" in caplog.text and "it is lost" not in caplog.text
    (row,) = held_rows()
    assert row.name == REGISTER and "'newcomer', 'new@example.com'" in row.summary
    assert row.eta is None and row.attempts == 0
    assert "is not answering" in row.error and "Connection refused" in row.error
    task_id = row.task_id

    # Still down: the put-back keeps the row and counts the try.
    assert put_back() == 0
    (row,) = held_rows()
    assert row.attempts == 1 and row.error.startswith("Unavailable: ")

    server.start()  # the same port: the forum's client finds it again within a retry interval
    _until(lambda: put_back() == 1)
    assert held_rows() == []
    (task,) = queue.queued()
    assert task.name == "mail_registration" and task.id == task_id
    assert queue.run_pending() == 1
    (message,) = inbox.messages
    assert message["To"] == "new@example.com" and "Finish registering" in message["Subject"]
    # Nothing is put back or sent a second time.
    assert put_back() == 0 and queue.run_pending() == 0
    assert len(inbox.messages) == 1


def test_a_job_that_finds_the_queuing_thread_full_is_held(app, redis_queue, monkeypatch, caplog):
    """Redis hangs and 1,000 jobs wait for the queuing thread: the next is held at once."""
    queue, _server = redis_queue

    def full(_item: Any) -> None:
        raise stdlib_queue.Full

    with monkeypatch.context() as patched, caplog.at_level("WARNING", logger="forum.jobs"):
        patched.setattr(queue._outbox, "put_nowait", full)
        jobs.enqueue(send_notification_mail, 7)
    assert "(too many waiting for the queuing thread): held in the database" in caplog.text
    (row,) = held_rows()
    assert row.summary == "7" and row.error == "too many waiting for the queuing thread"
    assert put_back() == 1 and [t.args for t in queue.queued()] == [(7,)]


def test_a_process_that_ends_holds_what_its_queuing_thread_has_not_reached(
    app, redis_queue, monkeypatch, caplog
):
    """A one-off process queued more jobs than its queuing thread put in 5 s (the thread slow:
    Redis hung, or one hold after another; a served forum on PostgreSQL held 50 a second): at
    exit, what still waits is held in the database there, not dropped with the process (a
    digest round run by hand during an outage lost 600 of its 900 jobs without a line)."""
    queue, _server = redis_queue
    release = threading.Event()

    def stuck(*_args: Any) -> None:
        release.wait(10)  # a put that hangs as long as Redis does

    with monkeypatch.context() as patched, caplog.at_level("WARNING", logger="forum.jobs"):
        patched.setattr(queue, "_put_logged", stuck)
        for n in range(4):
            jobs.enqueue(send_notification_mail, n)
        assert not queue.wait_until_handed_over(timeout=0.3)
        queue.finish_at_exit(timeout=0.3)  # what atexit runs
        release.set()
    # The first was with the stuck thread; the other three are held, with why.
    assert sorted(r.summary for r in held_rows()) == ["1", "2", "3"]
    assert {r.error for r in held_rows()} == {"the process ended before the queuing thread put it"}
    assert caplog.text.count("held in the database") == 3
    assert queue._outbox.empty()


@pytest.mark.slow
def test_the_worker_logs_no_traceback_each_poll_while_redis_is_down(app, redis_queue, caplog):
    """Huey's consumer logs every failed poll of the queue (its threads, ~10 a second) and of the
    schedule (each second) with a traceback: a served forum's worker wrote 5,000 lines in a
    40 s outage, around the lines that say what was held and put back. The breaker has said once
    that Redis is down: those are dropped; a job's own failure is still logged."""
    queue, server = redis_queue
    consumer = make_consumer(app, 1)
    server.kill()
    worker, scheduler = consumer._create_worker(), consumer._create_scheduler()
    with caplog.at_level("INFO"):
        for _ in range(3):
            worker.loop()
        scheduler.loop()
        logging.getLogger("huey.consumer.Worker").error("Unhandled error", exc_info=OSError())
    assert "is not answering" in caplog.text  # the breaker's one line
    assert "Error reading from queue" not in caplog.text
    assert "Error reading schedule" not in caplog.text
    assert "Unhandled error" in caplog.text


def test_the_consumer_puts_back_every_minute_and_when_it_starts(app, job_queue, monkeypatch):
    every_minute = [datetime(2026, 12, 7, 13, m) for m in (0, 1, 37)]
    for when in every_minute:
        assert "put_back_held_jobs" in [t.name for t in job_queue.huey.read_periodic(when)]
    with queue_down(job_queue, monkeypatch):
        jobs.enqueue(send_notification_mail, 7)
    assert len(held_rows()) == 1
    put_back_on_start(app)  # what `flask forum jobs worker` does before its first job
    assert held_rows() == []
    assert [t.args for t in job_queue.queued()] == [(7,)]


def test_an_unwritable_sqlite_queue_holds_the_job(app, client, f, outbox, tmp_path, caplog):
    """The SQLite queue's file cannot be written (here: its folder is a file, as sqlite3 fails
    on a read-only or full volume): the job is held, and goes once the queue can be written."""
    blocked = tmp_path / "volume"
    blocked.write_text("not a folder")
    app.config.update(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(blocked / "jobs.db"))
    app.extensions["forum.jobs"] = jobs.JobQueue(app)
    f.user("ada")
    with caplog.at_level("WARNING", logger="forum.jobs"):
        assert client.form("/password/forgot", {"email": "ada@example.com"}).status_code == 302
    assert f"job {RESET} could not be queued (OperationalError): held" in caplog.text
    (row,) = held_rows()
    assert row.name == RESET and "'ada@example.com'" in row.summary
    assert row.error == "OperationalError: unable to open database file"
    assert put_back() == 0 and held_rows()[0].attempts == 1

    app.config["JOBS_SQLITE_PATH"] = str(tmp_path / "jobs.db")  # the volume is writable again
    queue = app.extensions["forum.jobs"] = jobs.JobQueue(app)
    assert put_back() == 1 and held_rows() == []
    assert queue.run_pending() == 1
    (message,) = mails(outbox)
    assert message["To"] == "ada@example.com" and "/password/reset/" in message.get_content()


def test_a_delayed_job_keeps_its_time(app, job_queue, monkeypatch):
    with queue_down(job_queue, monkeypatch):
        jobs.enqueue(send_notification_mail, 7, delay=600)
    (row,) = held_rows()
    eta = row.eta
    assert eta is not None and abs((eta - utcnow()).total_seconds() - 600) < 30
    assert put_back() == 1
    assert job_queue.run_pending() == 1  # not due yet: a worker moves it to the schedule
    (task,) = job_queue.scheduled()
    assert task.eta.replace(tzinfo=UTC) == eta


def test_when_the_database_refuses_too_the_job_is_logged_lost_and_the_request_succeeds(
    app, make_app, f, database_url, tmp_path, caplog
):
    """A server whose queue is unwritable and whose database takes no writes (read-only, or
    full): the request still answers; the job is lost, and one ERROR line says which."""
    f.user("ada")
    blocked = tmp_path / "volume"
    blocked.write_text("not a folder")
    other = _read_only_app(make_app, database_url)
    other.config.update(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(blocked / "jobs.db"))
    other.extensions["forum.jobs"] = jobs.JobQueue(other)
    with other.app_context():
        guest = other.test_client()
        with caplog.at_level("WARNING", logger="forum.jobs"):
            response = guest.form("/password/forgot", {"email": "ada@example.com"})
    assert response.status_code == 302
    lost = [r for r in caplog.records if "could not be queued" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelname == "ERROR"
    assert f"job {RESET} could not be queued" in lost[0].getMessage()
    assert "it is lost" in lost[0].getMessage() and "nor held" in lost[0].getMessage()
    assert held_rows() == []


def test_two_put_backs_racing_queue_each_job_once(app, job_queue, monkeypatch):
    """Two consumers put back at the same moment: each held job is queued exactly once."""
    with queue_down(job_queue, monkeypatch):
        for n in range(40):
            jobs.enqueue(send_notification_mail, n)
    held = {row.task_id for row in held_rows()}
    assert len(held) == 40
    storage = job_queue.huey.storage
    enqueue = storage.enqueue

    def slow_enqueue(data: bytes, priority: Any = None) -> None:
        time.sleep(0.002)  # the two interleave on the queue's side too
        enqueue(data, priority)

    monkeypatch.setattr(storage, "enqueue", slow_enqueue)
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def consumer() -> None:
        with app.app_context():
            try:
                start.wait()
                counts.append(put_back_held_jobs())
            except BaseException as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sum(counts) == 40, (counts, errors)
    queued = [task.id for task in job_queue.queued(1000)]
    assert sorted(queued) == sorted(held)  # each once
    assert held_rows() == []


def test_a_put_back_stops_when_the_queue_refuses_again_and_keeps_the_rest(
    app, job_queue, monkeypatch, caplog
):
    with queue_down(job_queue, monkeypatch):
        for n in range(3):
            jobs.enqueue(send_notification_mail, n)
    storage = job_queue.huey.storage
    enqueue = storage.enqueue
    calls: list[int] = []

    def second_refused(data: bytes, priority: Any = None) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("Redis went away again")
        enqueue(data, priority)

    monkeypatch.setattr(storage, "enqueue", second_refused)
    with caplog.at_level("WARNING", logger="forum.jobs"):
        assert put_back() == 1
    assert "the queue refused one again" in caplog.text
    assert [(r.summary, r.attempts) for r in held_rows()] == [("1", 1), ("2", 0)]  # oldest first
    assert [t.args for t in job_queue.queued()] == [(0,)]
    assert put_back() == 2
    assert [t.args for t in job_queue.queued()] == [(0,), (1,), (2,)]


def test_one_put_back_takes_batch_after_batch_until_none_is_left(app, job_queue, monkeypatch):
    """An outage over the hourly digest round holds a job per member: one put-back moves them
    all (batch after batch), not HELD_BATCH a minute, so what was held after the round does not
    wait minutes behind it (served forum, 910 held: the last mail 113 s after Redis was back);
    a run past PUT_BACK_SECONDS leaves the rest to the next minute's."""
    monkeypatch.setattr(services, "HELD_BATCH", 3)
    with queue_down(job_queue, monkeypatch):
        for n in range(8):
            jobs.enqueue(send_notification_mail, n)
    assert put_back() == 8
    assert held_rows() == [] and [t.args for t in job_queue.queued()] == [(n,) for n in range(8)]

    with queue_down(job_queue, monkeypatch):
        for n in range(8, 15):
            jobs.enqueue(send_notification_mail, n)
    monkeypatch.setattr(services, "PUT_BACK_SECONDS", 0)
    assert put_back() == 3  # its time is up after the first batch
    assert [r.summary for r in held_rows()] == ["11", "12", "13", "14"]


def test_a_job_held_longer_than_the_bound_is_dropped_with_a_log_line(
    app, job_queue, monkeypatch, caplog
):
    with queue_down(job_queue, monkeypatch):
        jobs.enqueue(send_notification_mail, 1)
        jobs.enqueue(send_notification_mail, 2)
    with transaction():
        old = db.session.get(HeldJob, held_rows()[0].id)
        old.held_at = utcnow() - timedelta(hours=HOLD_HOURS, minutes=1)
    with caplog.at_level("ERROR", logger="forum.jobs"):
        assert put_back() == 1
    assert "send_notification_mail(1) dropped: held since" in caplog.text
    assert f"longer than {HOLD_HOURS} h" in caplog.text
    assert [t.args for t in job_queue.queued()] == [(2,)] and held_rows() == []


@pytest.mark.slow
def test_sysops_see_the_held_jobs_while_redis_is_down(app, client, f, redis_queue):
    queue, server = redis_queue
    root = f.sysop("root")
    f.user("ada")
    server.kill()
    client.form("/password/forgot", {"email": "ada@example.com"})
    assert queue.wait_until_handed_over()
    (row,) = held_rows()
    client.login("root")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "The queue cannot be reached (Redis down?)" in page
    assert "1 job is held in the database" in page
    assert f'id="held-{row.id}"' in page and "mail_password_reset" in page
    assert "ada@example.com" in page
    for language, words in [
        ("de", ["Zurückgehaltene Jobs", "1 Job wartet in der Datenbank", "nicht erreichbar"]),
        ("es", ["Tareas retenidas", "1 tarea espera en la base de datos", "No se puede acceder"]),
    ]:
        with transaction():
            db.session.get(User, root.id).language = language
        page = client.get("/admin/jobs/").get_data(as_text=True)
        assert all(w in page for w in words), (language, page)
    result = app.test_cli_runner().invoke(args=["forum", "jobs"])
    assert result.exit_code == 0, result.output
    assert "The queue cannot be reached" in result.output
    assert "Held (1):" in result.output and f"#{row.id}  {RESET}('ada@example.com'" in result.output
    assert "puts them back on the queue every minute" in result.output


def test_with_nothing_held_the_console_says_so(app, client, f, job_queue):
    f.sysop("root")
    client.login("root")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "No job is held." in page and "Waiting: 0 queued, 0 scheduled" in page
    result = app.test_cli_runner().invoke(args=["forum", "jobs"])
    assert "Held (0):" in result.output


@pytest.fixture
def world(app: Any, f: Any, job_queue: Any, outbox: Any) -> dict[str, Any]:
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    return {"ada": ada, "bob": bob, "sig": sig, "topic": f.topic(bob, sig, "Amiga sound")}


def _naive(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize("first", ["held", "sweep"])
def test_a_held_notification_mail_and_the_sweep_send_one_mail(
    app, f, world, job_queue, outbox, monkeypatch, first
):
    """The queue was down long enough for the sweep of lost mail to take a mention for lost
    while its job was held: both jobs run, in either order, and the member gets one mail (the
    notification's claim: the job whose key it takes first sends, the other finds it taken)."""
    with queue_down(job_queue, monkeypatch):
        f.reply(world["bob"], world["topic"], "Hey @ada, Paula has four channels.")
    (held,) = held_rows()
    held_id = held.task_id
    mention = db.session.scalar(select(Notification.id).where(Notification.kind == "mention"))
    assert held.summary == repr(mention)
    later = utcnow() + timedelta(minutes=50)
    assert put_back() == 1
    db.session.rollback()
    assert sweep_lost_mail(later) == [mention]  # never claimed: the sweep queues its own job
    db.session.rollback()
    # (the sweep's put, the first since the hold, queued a put-back too: nothing left to do)
    tasks = [t for t in iter(job_queue.huey.dequeue, None) if t.name != "put_back_held_jobs"]
    assert len(tasks) == 2
    held_task = next(t for t in tasks if t.id == held_id)
    sweep_task = next(t for t in tasks if t is not held_task)
    assert sweep_task.args[0] == mention and sweep_task.args[1].startswith("r")
    order = [held_task, sweep_task] if first == "held" else [sweep_task, held_task]
    for task in order:
        job_queue.huey.execute(task, _naive(later))  # both due (the held one's delay passed)
        db.session.rollback()
    (message,) = mails(outbox)
    assert message["To"] == "ada@example.com"
    db.session.expire_all()
    key = db.session.get(Notification, mention).mail_key
    assert (key.endswith(sweep_task.args[1])) is (first == "sweep")
    assert job_queue.run_pending() == 0 and job_queue.run_due(later) == 0
    assert len(mails(outbox)) == 1


# --- The put-back, woken by the first put after an outage ----------------------------------------


def _names(queue: Any) -> list[str]:
    return [t.name for t in queue.queued(1000)]


def test_a_put_after_an_outage_wakes_the_put_back_once(app, job_queue, monkeypatch, caplog):
    """The queue takes jobs again: the first put of a process that held one queues a put-back
    at once (the consumer runs it within a second, not at the next minute). Another process that
    held too finds one queued and queues none (one at a time, however many web workers); the
    put-back, as it starts, lets the next outage wake one again."""
    with queue_down(job_queue, monkeypatch):
        jobs.enqueue(send_notification_mail, 1)
    other = jobs.JobQueue(app)  # another web worker on the same queue, which held one too
    with queue_down(other, monkeypatch), app.app_context():
        other.put_or_log(send_notification_mail, (2,), None)
    assert [r.summary for r in held_rows()] == ["1", "2"]
    assert _names(job_queue) == []

    with caplog.at_level("INFO", logger="forum.jobs"):
        jobs.enqueue(send_notification_mail, 3)  # the queue is back
    assert _names(job_queue) == ["send_notification_mail", "put_back_held_jobs"]
    assert "the put-back is queued" in caplog.text
    other.put_or_log(send_notification_mail, (4,), None)  # its first put: one is queued already
    jobs.enqueue(send_notification_mail, 5)  # this process's second: nothing held since
    assert _names(job_queue).count("put_back_held_jobs") == 1

    assert job_queue.run_pending() == 6  # 3, the put-back, 4, 5, then the two it put back
    db.session.rollback()
    assert held_rows() == []
    with queue_down(job_queue, monkeypatch):  # the next outage
        jobs.enqueue(send_notification_mail, 6)
    jobs.enqueue(send_notification_mail, 7)
    assert _names(job_queue) == ["send_notification_mail", "put_back_held_jobs"]


# --- One job, one run, when Redis took it and timed out -----------------------------------------


@pytest.mark.slow
def test_a_job_a_frozen_redis_took_and_the_database_held_runs_once(app, redis_queue, caplog):
    """Redis is frozen (SIGSTOP) as a job is queued: the client gives up after its timeout and
    the job is held, but Redis still has the command and queues it once it resumes. The held
    copy keeps the job's task id, so when it is put back and both are in the queue, the
    consumer runs the job once and skips the copy, logged."""
    queue, server = redis_queue
    RUNS.clear()
    queue.put_or_log(count_run, ("once",), None)  # a connection in the pool, as a worker has
    assert queue.wait_until_handed_over() and queue.run_pending() == 1 and RUNS == ["once"]
    RUNS.clear()
    server.pause()
    try:
        with caplog.at_level("WARNING", logger="forum.jobs"):
            jobs.enqueue(count_run, "frozen")
            assert queue.wait_until_handed_over()
    finally:
        server.resume()
    assert "(TimeoutError): held in the database" in caplog.text
    (row,) = held_rows()
    task_id = row.task_id
    _until(lambda: put_back() == 1)  # once the breaker finds Redis again
    copies = queue.queued()
    assert [t.id for t in copies] == [task_id, task_id]  # Redis had it after all
    with caplog.at_level("WARNING", logger="forum.jobs"):
        assert queue.run_pending() == 2
    assert RUNS == ["frozen"]
    assert f"({task_id}) ran already: this copy" in caplog.text
    # A retry is a run of its own: the same id, one try fewer.
    (task,) = [queue._task(count_run, ("retried",), None)]
    queue.huey.execute(task)
    task.retries -= 1
    queue.huey.execute(task)
    assert RUNS == ["frozen", "retried", "retried"]


@pytest.mark.slow
def test_a_job_stopped_mid_run_runs_again_on_redis(app, redis_queue):
    """A job a stop interrupted is queued again with its id and try (Huey's way): its claim is
    let go first, so it runs again and is not taken for a copy that ran."""
    queue, _server = redis_queue
    RUNS.clear()
    jobs.enqueue(stopped_once, "stopped")
    assert queue.wait_until_handed_over()
    assert queue.run_pending() == 2  # interrupted, queued again, run through
    assert RUNS == ["stopped", "stopped"]


# --- Held notification mail is dropped once it is too late to help ------------------------------


def test_held_mail_past_its_kind_s_age_is_dropped_and_the_rest_go(
    app, job_queue, monkeypatch, caplog
):
    """A notification mail (or digest) held longer than NOTIFY_MAIL_MAX_AGE (6 h) and a password
    reset held longer than its link lives (an hour) are dropped with a WARNING each; younger ones,
    and other jobs up to HOLD_HOURS, are put back."""
    assert app.config["NOTIFY_MAIL_MAX_AGE"] == 6 * 3600
    ages = {"n-late": 6 * 60 + 1, "n-fresh": 5 * 60, "reset-late": 61, "reset-fresh": 50,
            "register": 7 * 60, "other": 7 * 60}  # fmt: skip
    with queue_down(job_queue, monkeypatch):
        for label in ("n-late", "n-fresh"):
            jobs.enqueue(send_notification_mail, label)
        from forum.accounts.services import mail_password_reset, mail_registration

        for label in ("reset-late", "reset-fresh"):
            jobs.enqueue(mail_password_reset, label, None)
        jobs.enqueue(mail_registration, "register", "r@example.com", "", None)
        jobs.enqueue(count_run, "other")
    with transaction():
        for row in held_rows():
            label = row.summary.split(",")[0].strip("'")
            db.session.get(HeldJob, row.id).held_at = utcnow() - timedelta(minutes=ages[label])
    with caplog.at_level("WARNING", logger="forum.jobs"):
        assert put_back() == 4
    put = sorted(str(t.args[0]) for t in job_queue.queued())
    assert put == ["n-fresh", "other", "register", "reset-fresh"]
    assert held_rows() == []
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert {r.levelname for r in dropped} == {"WARNING"} and len(dropped) == 2
    text = caplog.text
    assert f"held job {NOTIFY}('n-late') dropped: held since" in text
    assert "longer than NOTIFY_MAIL_MAX_AGE (6 h): too late to be of use" in text
    assert f"held job {RESET}('reset-late', None) dropped" in text
    assert "longer than PASSWORD_RESET_MAX_AGE (1 h)" in text
    digest = jobs.SPECS["forum.notifications.digest.send_digest"]
    assert digest.stale_after == "NOTIFY_MAIL_MAX_AGE"


# --- What the consumer's scheduler and workers put on the queue is held too ----------------------


def _refusing(monkeypatch: pytest.MonkeyPatch, storage: Any, *methods: str) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for method in methods:
        monkeypatch.setattr(storage, method, refuse)


def test_the_scheduler_holds_a_periodic_run_the_queue_refuses_once_per_job(
    app, job_queue, monkeypatch, caplog
):
    """The queue refuses as the scheduler queues the periodic jobs (Redis down at :05): the runs
    are held, not dropped (Huey logged "Error enqueueing periodic task" and the hourly digest
    round was gone for the hour); each job once, however many minutes the outage lasts."""
    scheduler = make_consumer(app, 1)._create_scheduler()
    _refusing(monkeypatch, job_queue.huey.storage, "enqueue")
    with caplog.at_level("WARNING"):
        scheduler.enqueue_periodic_tasks(datetime(2026, 12, 7, 13, 5))
        scheduler.enqueue_periodic_tasks(datetime(2026, 12, 7, 13, 6))
    names = [r.name.rsplit(".", 1)[1] for r in held_rows()]
    assert "queue_digests" in names and "put_back_held_jobs" in names
    assert len(names) == len(set(names))  # 13:06's minute jobs: theirs already wait
    assert "Error enqueueing" not in caplog.text
    monkeypatch.undo()
    put_back()
    assert "queue_digests" in _names(job_queue)


def test_a_due_job_the_scheduler_cannot_queue_is_held_with_its_id(app, job_queue, monkeypatch):
    """The scheduler took a delayed job off the schedule and the queue refused it: held (its id
    and retries as they were), where Huey logged it and dropped it."""
    task = job_queue._task(count_run, ("due",), None)
    task.retries = 2
    job_queue.huey.add_schedule(task)  # due now
    scheduler = make_consumer(app, 1, periodic=False)._create_scheduler()
    _refusing(monkeypatch, job_queue.huey.storage, "enqueue")
    scheduler.loop()
    (row,) = held_rows()
    assert row.task_id == task.id and row.summary == "'due'"
    assert job_queue.huey.deserialize_task(row.data).retries == 2
    assert job_queue.huey.scheduled() == []


def test_a_delayed_job_or_a_retry_a_worker_cannot_schedule_is_held(app, job_queue, monkeypatch):
    """A worker moves a delayed job to the schedule, or schedules a failed job's retry: when the
    queue refuses that write the job is held, not dropped."""
    RUNS.clear()
    task = job_queue._task(count_run, ("later",), 600)
    _refusing(monkeypatch, job_queue.huey.storage, "add_to_schedule")
    job_queue.huey.execute(task)  # not due: to the schedule, refused
    (row,) = held_rows()
    assert row.task_id == task.id and row.eta is not None and RUNS == []


def test_a_job_a_stop_interrupted_is_held_when_the_queue_refuses_it_again(
    app, job_queue, monkeypatch
):
    """The consumer stops (SIGTERM, a restart) while a job runs, and the queue refuses the job
    as it is queued again (Redis down, the SQLite file unwritable): it is held, not lost in
    Huey's "Error occurred in receiver" line, and runs once put back."""
    RUNS.clear()
    task = job_queue._task(stopped_once, ("stopped-refused",), None)
    with monkeypatch.context() as patched:
        _refusing(patched, job_queue.huey.storage, "enqueue")
        job_queue.huey.execute(task)  # interrupted: queued again, refused
    (row,) = held_rows()
    assert row.task_id == task.id and row.summary == "'stopped-refused'"
    assert put_back() == 1
    assert job_queue.run_pending() == 1
    assert RUNS == ["stopped-refused", "stopped-refused"]


@pytest.mark.slow
def test_a_job_interrupted_while_redis_is_down_runs_once_redis_is_back(
    app, redis_queue, monkeypatch
):
    """Redis goes away while a job runs and the consumer stops: neither its claim can be let go
    nor the job queued again. It is held, and when put back it runs (its claim from the stopped
    try must not take it for a copy that ran)."""
    queue, _server = redis_queue
    RUNS.clear()
    jobs.enqueue(stopped_once, "stopped-redis-down")
    assert queue.wait_until_handed_over()
    task = queue.huey.dequeue()
    with monkeypatch.context() as patched:
        _refusing(patched, queue.huey.storage.conn, "delete")
        _refusing(patched, queue.huey.storage, "enqueue")
        queue.huey.execute(task)  # claimed, interrupted; the claim stays, the enqueue refused
    assert len(held_rows()) == 1
    assert put_back() == 1
    assert queue.run_pending() == 1
    assert RUNS == ["stopped-redis-down", "stopped-redis-down"]


def test_a_failed_job_a_sysop_retries_while_the_queue_refuses_is_held(app, job_queue, monkeypatch):
    """A sysop queues a failed job again (/admin/jobs, `flask forum jobs retry`) while the queue
    refuses: the failure's row is gone once the retry commits, so the job is held, not lost
    (nor the page a 500)."""
    from forum.jobs.models import FailedJob

    RUNS.clear()
    task = job_queue._task(count_run, ("retried-later",), None)
    task.retries = 0
    job_queue._failed("error", task, RuntimeError("boom"))  # as the consumer records it
    (failed,) = db.session.scalars(select(FailedJob)).all()
    with monkeypatch.context() as patched:
        _refusing(patched, job_queue.huey.storage, "enqueue")
        services.retry_failed_job(None, failed.id)
    (row,) = held_rows()
    assert row.summary == "'retried-later'" and row.task_id != task.id  # retries renewed
    assert db.session.scalars(select(FailedJob)).all() == []
    assert put_back() == 1 and job_queue.run_pending() == 1
    assert RUNS == ["retried-later"]
