"""The job queue (forum/jobs): mail jobs run by a real consumer on an SQLite queue, retries with
backoff, failed jobs kept and listed for the sysop (console and command line) and retried, a job
interrupted mid-run queued again without mailing twice, the nightly clean-up."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from forum import jobs
from forum.db import transaction
from forum.extensions import db
from forum.jobs.commands import make_consumer, worker_command
from forum.jobs.models import FailedJob, HeldJob, SentMail
from forum.mail import send_mail

from .mailbox import mails

ROOT = Path(__file__).resolve().parent.parent

# What the test jobs below did, across runs (the consumer's threads append to it).
RUNS: list[str] = []


@jobs.job(retries=2, retry_delay=0)
def flaky(label: str, failures: int) -> None:
    """Fails its first `failures` runs."""
    RUNS.append(label)
    if RUNS.count(label) <= failures:
        raise RuntimeError(f"{label} failed on run {RUNS.count(label)}")


@jobs.job(retries=3, retry_delay=30, backoff=2.0)
def always_failing() -> None:
    RUNS.append("always")
    raise RuntimeError("still broken")


@jobs.job()
def mail_then_stop(label: str) -> None:
    """Sends its mail, then (the first time only) is stopped as a consumer's Ctrl+C would."""
    RUNS.append(label)
    send_mail("ada@example.com", "Once only", "Sent once, whatever happens.", key=f"t:{label}")
    if RUNS.count(label) == 1:
        raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def fresh_runs() -> None:
    RUNS.clear()


def failed_rows() -> list[FailedJob]:
    db.session.expire_all()
    return list(db.session.scalars(select(FailedJob).order_by(FailedJob.id)))


def test_a_failing_job_is_retried_then_runs(app):
    jobs.enqueue(flaky, "twice", 2)
    assert RUNS == ["twice", "twice", "twice"]
    assert failed_rows() == []


def test_a_job_that_fails_for_good_is_logged_and_kept(app, caplog):
    with caplog.at_level("ERROR", logger="forum.jobs"):
        jobs.enqueue(flaky, "never", 99)
    assert RUNS == ["never"] * 3  # the run and its two retries
    (row,) = failed_rows()
    assert row.name == "tests.test_jobs.flaky"
    assert row.summary == "'never', 99"
    assert "never failed on run 3" in row.error and "RuntimeError" in row.traceback
    assert "failed for good" in caplog.text


def test_retries_wait_longer_each_time(app, job_queue):
    """30 s, then 60, then 120 (retry_delay 30, backoff 2), then it is kept as failed."""
    jobs.enqueue(always_failing)
    assert job_queue.run_pending() == 1
    waits = []
    for _ in range(3):
        (retry,) = job_queue.scheduled()
        waits.append((retry.eta.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds())
        assert job_queue.run_due(retry.eta.replace(tzinfo=UTC) - timedelta(seconds=5)) == 0
        assert job_queue.run_due(retry.eta.replace(tzinfo=UTC) + timedelta(seconds=1)) == 1
    assert [round(w / 10) * 10 for w in waits] == [30, 60, 120], waits
    assert RUNS == ["always"] * 4 and job_queue.scheduled() == []
    (row,) = failed_rows()
    assert row.name == "tests.test_jobs.always_failing"


def test_a_job_queued_in_a_transaction_waits_for_the_commit(app, job_queue):
    with pytest.raises(RuntimeError), transaction():
        jobs.enqueue(flaky, "rolled back", 0)
        assert job_queue.queued() == []
        raise RuntimeError("roll back")
    assert job_queue.queued() == []
    with transaction():
        jobs.enqueue(flaky, "committed", 0)
        assert job_queue.queued() == []
    (task,) = job_queue.queued()
    assert task.args == ("committed", 0)


def test_the_sysop_sees_failed_jobs_and_retries_one(app, client, f):
    f.sysop("root")
    f.user("ada")
    jobs.enqueue(flaky, "fixed later", 3)
    (row,) = failed_rows()
    client.login("ada")
    assert client.get("/admin/jobs/").status_code in (403, 404)
    assert client.form(f"/admin/jobs/{row.id}/retry").status_code in (403, 404)
    assert len(failed_rows()) == 1
    client.logout()
    client.login("root")
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "flaky" in page and "fixed later" in page and "failed on run 3" in page
    response = client.form(f"/admin/jobs/{row.id}/retry", follow_redirects=True)
    assert "The job is queued again." in response.get_data(as_text=True)
    assert RUNS == ["fixed later"] * 4  # three failures, then the retry ran (and succeeded)
    assert failed_rows() == []
    assert "No job has failed." in client.get("/admin/jobs/").get_data(as_text=True)
    assert client.form("/admin/jobs/999/retry").status_code == 404


def test_the_command_lists_queued_scheduled_and_failed_jobs_and_retries(app, job_queue):
    jobs.enqueue(always_failing, delay=600)
    job_queue.run_pending()  # as a consumer's worker does: the delayed job goes to the schedule
    jobs.enqueue(flaky, "waiting", 0)
    runner = app.test_cli_runner()
    # A failure, recorded as the consumer records it.
    task = job_queue.task("tests.test_jobs.flaky").s("broken", 9)
    task.retries = 0
    job_queue._failed("error", task, RuntimeError("boom"))
    result = runner.invoke(args=["forum", "jobs"])
    assert result.exit_code == 0, result.output
    assert "Queued (1):" in result.output and "flaky('waiting', 0)" in result.output
    assert "Scheduled (1):" in result.output and "always_failing()" in result.output
    assert "Failed (1):" in result.output and "RuntimeError('boom')" in result.output
    (row,) = failed_rows()
    result = runner.invoke(args=["forum", "jobs", "retry", str(row.id)])
    assert result.exit_code == 0 and "Queued tests.test_jobs.flaky again." in result.output
    assert [t.args for t in job_queue.queued()] == [("waiting", 0), ("broken", 9)]
    assert failed_rows() == []
    result = runner.invoke(args=["forum", "jobs", "retry", "12345"])
    assert result.exit_code != 0 and "No failed job #12345" in result.output


def test_a_mail_with_a_key_is_sent_once(app, outbox):
    assert send_mail("ada@example.com", "Hello", "Body", key="k1") is True
    assert send_mail("ada@example.com", "Hello", "Body", key="k1") is False
    assert send_mail("ada@example.com", "Hello", "Body", key="k2") is True
    assert len(mails(outbox)) == 2
    assert db.session.scalar(select(func.count()).select_from(SentMail)) == 2


def test_a_real_consumer_reruns_an_interrupted_job_without_mailing_twice(app, job_queue, outbox):
    """A consumer (threads, on the SQLite queue) is stopped while a job runs, after its mail
    went out: the job is queued again, runs again, and the mail is not sent a second time."""
    consumer = make_consumer(app, workers=1)
    consumer._set_signal_handlers = lambda: None  # the test's process keeps its own
    jobs.enqueue(mail_then_stop, "one")
    consumer.start()
    try:
        deadline = time.monotonic() + 20
        while RUNS.count("one") < 2 or job_queue.huey.pending_count():
            assert time.monotonic() < deadline, RUNS
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        consumer.stop(graceful=True)
    assert RUNS == ["one", "one"]
    assert [m["Subject"] for m in mails(outbox)] == ["Once only"]
    assert failed_rows() == []


def test_the_clean_up_forgets_old_keys_and_old_failures(app, job_queue):
    from forum.jobs.services import clean_up

    old = datetime.now(UTC) - timedelta(days=400)
    with transaction() as session:
        session.add_all([SentMail(key="old", sent_at=old), SentMail(key="new")])
        session.add_all(
            [
                FailedJob(task_id="1", name="x", data=b"", failed_at=old),
                FailedJob(task_id="2", name="y", data=b""),
            ]
        )
    clean_up()
    db.session.expire_all()
    assert db.session.scalars(select(SentMail.key)).all() == ["new"]
    assert [r.name for r in failed_rows()] == ["y"]
    # The consumer's scheduler runs it nightly.
    at_night = datetime(2026, 12, 5, 4, 23)
    assert "clean_up" in [t.name for t in job_queue.huey.read_periodic(at_night)]
    assert "clean_up" not in [
        t.name for t in job_queue.huey.read_periodic(at_night.replace(hour=5))
    ]


@pytest.mark.slow
def test_the_worker_command_sends_what_a_request_queued(app, client, f, tmp_path, database_url):
    """`flask forum jobs worker`, a process of its own, on the SQLite queue a request wrote."""
    queue_path = tmp_path / "jobs.db"
    outbox = tmp_path / "outbox"
    app.config.update(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(queue_path))
    app.config["OUTBOX_DIR"] = str(outbox)
    app.extensions["forum.jobs"] = jobs.JobQueue(app)
    f.user("ada")
    client.form("/password/forgot", {"email": "ada@example.com"})
    assert mails(outbox) == []
    env = {
        **os.environ,
        "FORUM_DATABASE_URL": database_url,
        "FORUM_JOBS_SQLITE_PATH": str(queue_path),
        "FORUM_OUTBOX_DIR": str(outbox),
        "FORUM_INDEX_DIR": str(tmp_path / "index"),
        "FORUM_INSTANCE_PATH": str(tmp_path / "instance"),
        "FORUM_SEARCH_SYNC_ON_START": "false",
        "FORUM_SECRET_KEY": app.config["SECRET_KEY"],
    }
    env.pop("FORUM_REDIS_URL", None)
    worker = subprocess.Popen(
        worker_command("--workers", "1"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not mails(outbox):
            assert worker.poll() is None, worker.communicate()[0]
            assert time.monotonic() < deadline, "the worker sent nothing"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)  # systemd's stop: graceful
        output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output
    (message,) = mails(outbox)
    assert message["To"] == "ada@example.com" and "/password/reset/" in message.get_content()
    assert "jobs worker: 1 threads on" in output and str(queue_path) in output


@pytest.mark.slow
def test_a_process_that_ends_right_after_queuing_a_job_in_redis_hands_it_over_first(
    app, tmp_path, base_config
):
    """With the queue in Redis a job is handed to the process's queuing thread, a daemon, off
    the request. A one-off command ends right after it queues one (Postfix's pipe to `forum
    mail-in`, a process per mail, queues the reply's notification mail): the process waits at
    exit until what it handed over is in Redis (or logged as lost), instead of cutting the
    thread off and losing the job without a word. The put is made slow to widen the moment."""
    from .serverkit import RedisServer, run_forum_script

    redis_server = RedisServer(tmp_path)
    redis_server.start()
    name = f"forum-test-exit-{os.getpid()}"
    script = f"""
import time
from forum import create_app, jobs
from forum.notifications.mail import send_notification_mail
app = create_app({{"DATABASE_URL": {base_config["DATABASE_URL"]!r}, "SECRET_KEY": "x" * 32,
    "INDEX_DIR": {str(tmp_path / "index")!r}, "SEARCH_SYNC_ON_START": False,
    "REDIS_URL": {redis_server.url!r}, "JOBS_IMMEDIATE": False, "JOBS_QUEUE_NAME": {name!r}}})
queue = jobs.queue_of(app)
put = queue.put
def slow_put(*args):
    time.sleep(1)
    put(*args)
queue.put = slow_put
with app.app_context():
    jobs.enqueue(send_notification_mail, 42)
print("queued", flush=True)
"""
    try:
        run_forum_script(script, printed="queued")
        app.config.update(JOBS_IMMEDIATE=False, REDIS_URL=redis_server.url, JOBS_QUEUE_NAME=name)
        queue = jobs.JobQueue(app)
        assert [(t.name, t.args) for t in queue.queued()] == [("send_notification_mail", (42,))]
    finally:
        redis_server.kill()


@pytest.mark.slow
def test_with_redis_the_queue_lives_there_and_a_dead_redis_fails_no_request(
    app, client, f, tmp_path, caplog
):
    """FORUM_REDIS_URL puts the queue in Redis (what production runs); while Redis is gone a
    request that queues mail still answers the same, and the job is held in the database and
    logged (tests/test_jobs_held.py puts it back)."""
    from .serverkit import RedisServer

    redis_server = RedisServer(tmp_path)
    redis_server.start()
    outbox = tmp_path / "outbox"
    try:
        app.config.update(
            JOBS_IMMEDIATE=False,
            REDIS_URL=redis_server.url,
            JOBS_QUEUE_NAME=f"forum-test-{os.getpid()}",
            OUTBOX_DIR=str(outbox),
        )
        queue = app.extensions["forum.jobs"] = jobs.JobQueue(app)
        assert type(queue.huey.storage).__name__ == "RedisStorage"
        f.user("ada")
        assert client.form("/password/forgot", {"email": "ada@example.com"}).status_code == 302
        assert queue.wait_until_handed_over()  # queued off the request, by the queuing thread
        (task,) = queue.queued()
        assert task.name == "mail_password_reset"
        assert queue.run_pending() == 1
        assert [m["To"] for m in mails(outbox)] == ["ada@example.com"]
        redis_server.kill()
        with caplog.at_level("WARNING", logger="forum.jobs"):
            response = client.form("/password/forgot", {"email": "ada@example.com"})
            assert queue.wait_until_handed_over()
        assert response.status_code == 302
        assert "job forum.accounts.services.mail_password_reset could not be queued" in caplog.text
        assert "held in the database" in caplog.text
        db.session.rollback()
        (held,) = db.session.scalars(select(HeldJob)).all()
        assert held.name == "forum.accounts.services.mail_password_reset"
    finally:
        redis_server.kill()
