"""Background jobs on Huey: what must not run in a request (mail) runs in a consumer process.

A feature marks a function as a job (`@jobs.job(...)`, or `@jobs.periodic(crontab)`) and queues
it with `jobs.enqueue(fn, *args)`: inside a `db.transaction()` only once it commits, so a job
never sees (nor acts on) what was rolled back. Arguments are plain values (ids, strings): they
are pickled into the queue.

The queue lives in an SQLite file in the instance folder (instance/jobs.db), so `make run` needs
no other server, or in Redis when FORUM_REDIS_URL is set. A job the queue refuses (Redis down
or hung, the SQLite file's disk full or read-only) is held in the forum's database (`held_jobs`)
and put back by the consumer every minute (services.put_back_held_jobs), and at once when a
process that held one finds the queue taking jobs again (JobQueue.wake_put_back); only when the
database refuses too is it lost, and logged. A held job keeps its task id, and on Redis the
consumer runs each id once (JobQueue._run_once). The consumer is `flask forum jobs worker`
(`make run` and `make serve` start it; systemd runs forum-jobs.service); what it fails to put on
the queue (a periodic run, a due or delayed job, a retry, a job a stop interrupted) it holds
too (backend.ForumHuey, JobQueue._interrupted).
Each job runs in an app context of its own. A job that raises is tried again with a growing
delay; when its retries are used up it is logged and kept in the `failed_jobs` table, which
`flask forum jobs` and /admin/jobs list and from which a sysop queues it again. With
JOBS_IMMEDIATE (the tests) a job runs at once, in the caller's thread, as Huey's immediate mode
does.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import queue
import sys
import threading
import time
import traceback as tracebacks
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask
from sqlalchemy import select

from ..extensions import db
from ..hooks import AppSlot

if TYPE_CHECKING:
    from huey import Huey
    from huey.api import Task, TaskWrapper

log = logging.getLogger(__name__)

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

__all__ = ["bp", "crontab", "enqueue", "job", "periodic", "queue_of", "retry_span"]


@dataclass(frozen=True)
class Spec:
    fn: Callable[..., Any]
    name: str
    retries: int
    retry_delay: float
    backoff: float
    schedule: Callable[[datetime], bool] | None = None
    # The setting (seconds) past which a held job of this kind is dropped instead of put back
    # (None: services.HOLD_HOURS, as every job).
    stale_after: str | None = None


# Every job of every feature, by name: registered on each app's queue (forum.jobs.JobQueue).
SPECS: dict[str, Spec] = {}


# Modules huey imports whenever they are installed and the forum never has it use: gevent, for
# its consumer's greenlets (ours runs threads: commands.make_consumer), and psycopg, for its
# PostgreSQL storage (ours is SQLite or Redis: backend.make_huey). A page worker that queued a
# job (a notification mail) loaded them: 13 MB (7.7 of heap, 5.4 of libraries), in whichever
# worker of `make bench`'s pairs a reply first queued a mail, up to 20 MB above its twin
# (docs/benchmarks.md, "Memory per page worker, ninth session").
HUEY_LEAVES_OUT = ("gevent", "psycopg")


def load_huey() -> None:
    """Import huey without HUEY_LEAVES_OUT, unless the process loaded them for itself (the
    socket server runs on gevent, a PostgreSQL forum's driver is psycopg): while huey is
    imported, importing them fails, which huey takes as "not installed"."""
    if "huey" in sys.modules:
        return
    held = [name for name in HUEY_LEAVES_OUT if name not in sys.modules]
    for name in held:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import huey  # noqa: F401
    finally:
        for name in held:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


class crontab:  # noqa: N801  (huey's name: `@periodic(crontab(minute="5"))` reads as Huey's docs)
    """huey.crontab (when a datetime matches the fields), made on its first call: features
    declare their periodic jobs at import, and huey is imported only when a queue is first used
    (JobQueue.huey)."""

    def __init__(self, **fields: str) -> None:
        self.fields = fields
        self._matches: Callable[[datetime], bool] | None = None

    def __call__(self, when: datetime) -> bool:
        if self._matches is None:
            load_huey()
            from huey import crontab as huey_crontab

            self._matches = huey_crontab(**self.fields)
        return self._matches(when)


def _name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def job(
    *,
    retries: int = 5,
    retry_delay: float = 30,
    backoff: float = 2.0,
    stale_after: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark `fn` as a job. A failing run is tried again `retries` times, after `retry_delay`
    seconds, then each time `backoff` times longer (30 s, 1, 2, 4, 8 min by default).
    `stale_after` names the setting (seconds) after which a job of it held for the queue is
    no use any more (a notification mail hours late, a link that has expired): the put-back
    drops it, logged, instead of running it late (services.put_back_held_jobs)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        SPECS[_name(fn)] = Spec(fn, _name(fn), retries, retry_delay, backoff, None, stale_after)
        return fn

    return mark


def retry_span(fn: Callable[..., Any]) -> float:
    """How many seconds after its first run a failing @job may still be tried again: the sum of
    its retry delays (huey waits retry_delay, then backoff times longer each time)."""
    spec = SPECS[_name(fn)]
    return sum(spec.retry_delay * spec.backoff**i for i in range(spec.retries))


def periodic(
    schedule: Callable[[datetime], bool], *, retries: int = 2, retry_delay: float = 60
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Mark `fn` as a job the consumer's scheduler runs when `schedule` (a huey.crontab) says."""

    def mark(fn: Callable[[], Any]) -> Callable[[], Any]:
        SPECS[_name(fn)] = Spec(fn, _name(fn), retries, retry_delay, 2.0, schedule)
        return fn

    return mark


_QUEUE: AppSlot[JobQueue] = AppSlot("forum.jobs")

# The put-back (services.put_back_held_jobs), which a put after an outage queues at once
# (JobQueue.wake_put_back), and the queue's key that says one is queued and has not started.
PUT_BACK = "forum.jobs.services.put_back_held_jobs"
WAKE_KEY = "forum.jobs.put-back-woken"
# How long the consumer on Redis remembers each task id (and try) it ran (JobQueue._run_once): a
# copy of a job held as Redis timed out comes back within services.HOLD_HOURS (24) of its hold,
# and the first copy ran by then or runs beside it. 8 MB of keys for 50,000 jobs a day.
RAN_SECONDS = 25 * 3600


def queue_of(app: Flask | None = None) -> JobQueue:
    return _QUEUE.require(app)


def enqueue(fn: Callable[..., Any], *args: Any, delay: float | None = None) -> None:
    """Queue `fn(*args)` (a @job): after the current transaction commits, or now outside one;
    to run in `delay` seconds if given. With JOBS_IMMEDIATE it runs here instead (a delayed job
    waits for JobQueue.run_due)."""
    from ..db import in_transaction, on_commit

    queue = queue_of()
    if in_transaction():
        on_commit(lambda: queue.put_or_log(fn, args, delay))
    else:
        queue.put_or_log(fn, args, delay)


class JobQueue:
    """One app's Huey instance with every job registered on it, run in that app's context."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._huey: Huey | None = None
        self._huey_lock = threading.Lock()
        self._outbox: queue.Queue[Task] = queue.Queue(maxsize=1000)
        # This process held a job since its last put (hold): the next put wakes the put-back.
        self._held_here = False
        self._thread_lock = threading.Lock()
        self._thread_pid = 0
        self.tasks: dict[str, TaskWrapper] = {}

    @property
    def huey(self) -> Huey:
        """The Huey instance, every job registered on it: made on first use (a job queued, the
        consumer, the console), since a worker may never queue a job, and huey imported without
        the gevent and psycopg it would load (load_huey)."""
        if self._huey is None:
            with self._huey_lock:
                if self._huey is None:
                    load_huey()
                    from huey import signals as S

                    from .backend import make_huey

                    huey = make_huey(self.app)
                    huey.signal(S.SIGNAL_ERROR)(self._failed)
                    huey.signal(S.SIGNAL_INTERRUPTED)(self._interrupted)
                    if not huey.immediate and self.app.config.get("REDIS_URL"):
                        huey.pre_execute("run_once")(self._run_once)
                    huey.refused = self.hold  # (backend.ForumHuey: a schedule write refused)
                    self.tasks = {name: self._register(huey, name) for name in list(SPECS)}
                    self._huey = huey
        return self._huey

    @property
    def immediate(self) -> bool:
        return bool(self.huey.immediate)

    def register_all(self) -> None:
        for spec in list(SPECS.values()):
            self.task(spec.name)

    def task(self, name: str) -> TaskWrapper:
        wrapper = self.tasks.get(name)
        if wrapper is None:
            huey = self.huey
            wrapper = self.tasks.get(name)  # (registered as the queue was made)
            if wrapper is None:
                wrapper = self.tasks[name] = self._register(huey, name)
        return wrapper

    def _register(self, huey: Huey, name: str) -> TaskWrapper:
        spec = SPECS[name]
        run = _in_app_context(self.app, spec.fn)
        options = {
            "retries": spec.retries,
            "retry_delay": spec.retry_delay,
            "retry_backoff": spec.backoff,
            "name": spec.fn.__qualname__,
        }
        if spec.schedule is not None:
            return huey.periodic_task(spec.schedule, **options)(run)
        return huey.task(**options)(run)

    def _task(self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None) -> Task:
        """The task of `fn(*args)`, with its eta `delay` seconds from now if given."""
        wrapper = self.task(_name(fn))
        return wrapper.s(*args, delay=delay) if delay else wrapper.s(*args)

    def put(self, task: Task) -> None:
        # Delayed, in immediate mode too: it waits in the schedule until run_due() (the tests).
        self.huey.enqueue(task)

    def put_or_log(
        self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None
    ) -> None:
        """put(), and when the queue cannot be reached (Redis down), the job held in the
        database instead of a failed request (hold); lost only when the database refuses it
        too, and then the log says which (never silently). The task is made here, once: the
        job keeps its Huey id whether it goes to the queue, is held, or both (a Redis that
        timed out after it took the job: the consumer runs one id once, _run_once)."""
        task = self._task(fn, args, delay)
        if self.immediate:
            self.put(task)  # a job's own failure is the test's to see
            return
        storage = self.huey.storage  # (huey loaded first, by load_huey)
        from huey.storage import RedisStorage

        if isinstance(storage, RedisStorage):
            # Off the request: a Redis that hangs would hold every reply that queues a mail
            # for a timeout (test_redis_down: reply p99 2.4x normal while Redis was frozen).
            self._handoff(task)
            return
        self._put_logged(task)

    def _put_logged(self, task: Task) -> None:
        try:
            self.put(task)
        except Exception as exc:  # noqa: BLE001 - one line, as every fault of a backing store
            self.hold(task, exc)
            return
        if self._held_here:
            # The queue takes jobs again and this process held some: have them put back now,
            # not at the consumer's next minute (test_a_put_after_an_outage_wakes_the_put_back).
            self._held_here = False
            self.wake_put_back()

    def wake_put_back(self) -> bool:
        """Queue a run of the put-back now, unless one is queued and has not started yet: of the
        processes that held jobs during an outage, the first to queue a job again after it
        queues the put-back, the others find WAKE_KEY taken (the put-back clears it as it
        starts). True when this call queued it."""
        try:
            if not self.huey.put_if_empty(WAKE_KEY, 1):
                return False
            self.huey.enqueue(self.task(PUT_BACK).s())
        except Exception as exc:  # noqa: BLE001 - the minute's run puts them back anyway
            log.warning("held jobs: the put-back could not be queued now (%s): it runs within "
                        "the minute", said(exc))  # fmt: skip
            return False
        log.info("held jobs: the queue takes jobs again; the put-back is queued")
        return True

    def hold(self, task: Task, refused: Any) -> None:
        """Keep a job the queue refused in `held_jobs`, serialized as Huey would queue it (its
        id, eta and retries left), for the consumer to put back (services.put_back_held_jobs). In
        a short transaction and a session of its own: this runs after the request's commit, in
        the queuing thread, or in the consumer's scheduler. A periodic job is held once: while
        one of its runs waits, the next minutes' runs are not held again (each run does the
        whole sweep; twenty after a 20-minute outage would do it twenty times). When the
        database refuses too, the job is lost: logged."""
        from huey.api import PeriodicTask

        from ..db import transaction
        from .models import HeldJob

        name = task_name(task)
        with self.app.app_context():
            try:
                with transaction() as session:
                    if isinstance(task, PeriodicTask) and session.scalar(
                        select(HeldJob.id).where(HeldJob.name == name).limit(1)
                    ):
                        return  # its run already waits
                    session.add(
                        HeldJob(
                            task_id=str(task.id),
                            name=name,
                            data=self.huey.serialize_task(task),
                            summary=describe_args(task)[:500],
                            eta=task.eta.replace(tzinfo=UTC) if task.eta else None,
                            error=said(refused)[:1000],
                        )
                    )
            except Exception as exc:  # noqa: BLE001 - the log line is then the only record
                log.error("job %s could not be queued (args %r): it is lost: %s (nor held: %s)",
                          name, task.args, said(refused), said(exc))  # fmt: skip
                return
            finally:
                db.session.remove()
        self._held_here = True
        # The refusal's class only: its words (held_jobs.error has them) would repeat, for every
        # job of an outage, what the store's own line said once (forum.redisconn).
        why = type(refused).__name__ if isinstance(refused, BaseException) else refused
        log.warning("job %s could not be queued (%s): held in the database", name, why)

    def _handoff(self, task: Task) -> None:
        """Give the put to this process's queuing thread, as live nudges are published: a job
        handed over is in Redis a moment later, or held in the database (Redis down; 1,000
        waiting: held here), or logged as lost (the database refusing too).
        A process that ends waits for that at exit (a one-off command such as `forum mail-in`
        ends right after it queues), up to 5 s, then holds what still waits itself
        (finish_at_exit); one killed in that moment loses what it held (the price of never
        waiting)."""
        try:
            self._outbox.put_nowait(task)
        except queue.Full:  # Redis hung: held in the database, here (after the commit)
            self.hold(task, "too many waiting for the queuing thread")
            return
        with self._thread_lock:
            if self._thread_pid != os.getpid():  # started lazily, and again after a fork
                self._thread_pid = os.getpid()
                threading.Thread(target=self._drain, name="jobs-enqueue", daemon=True).start()
                atexit.unregister(self.finish_at_exit)  # (once, if a parent registered)
                atexit.register(self.finish_at_exit)

    def _drain(self) -> None:
        while True:
            task = self._outbox.get()
            try:
                self._put_logged(task)
            finally:
                self._outbox.task_done()

    def wait_until_handed_over(self, timeout: float = 5.0) -> bool:
        """Wait until the jobs handed to the queuing thread are in Redis, held or logged as lost
        (tests, and at exit)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def finish_at_exit(self, timeout: float = 5.0) -> None:
        """At exit: wait for the queuing thread, then hold in the database what it has not
        reached (Redis hung, or more jobs than it held in `timeout`: a digest round run by hand
        during an outage queues one per member), so the process ends without dropping them."""
        if self.wait_until_handed_over(timeout):
            return
        while True:
            try:
                task = self._outbox.get_nowait()
            except queue.Empty:
                break
            try:
                self.hold(task, "the process ended before the queuing thread put it")
            finally:
                self._outbox.task_done()
        self.wait_until_handed_over(timeout)  # the one the thread has in hand

    def _ran_key(self, task: Task) -> str:
        # Per try: a retry (Huey counts `retries` down) runs under a key of its own.
        return f"{self.huey.name}.ran.{task.id}.{task.retries}"

    def _run_once(self, task: Task) -> None:
        """Huey's pre-execute hook on Redis: claim the task's id (and try) for RAN_SECONDS, and
        skip it when that was claimed already. A Redis that froze (SIGSTOP, a stall) can take
        a job after the client gave up on it: the job is then held too, and its copy put back
        later carries the same id (put_or_log makes the task once), so it is skipped here,
        whether the first copy ran already or waits behind it. Redis away between the dequeue
        and the claim: it runs (a double is rarer, and mail has keys, where a lost job is not).
        A worker killed mid-run (SIGKILL, the OOM killer) loses that try, as Huey on Redis always
        did, and with it such a twin held meanwhile: the claim outlives the worker."""
        from huey.exceptions import CancelExecution

        try:
            first = self.huey.storage.conn.set(self._ran_key(task), b"1", nx=True, ex=RAN_SECONDS)
        except Exception:  # noqa: BLE001 - see above: run it
            return
        if not first:
            log.warning("job %s (%s) ran already: this copy (held as the queue timed out, yet "
                        "queued) is skipped", task_name(task), task.id)  # fmt: skip
            raise CancelExecution(retry=False)

    def requeue(self, data: bytes) -> None:
        """Queue a serialized task again, with its retries renewed (a sysop's retry): held, as
        a page's job, when the queue refuses it (its failure's row is gone by then)."""
        task = self.huey.deserialize_task(data)
        wrapper = self.task(task.__module__ + "." + type(task).__name__)
        fresh = wrapper.s(*task.args, **task.kwargs)
        if self.immediate:
            self.put(fresh)
            return
        self._put_logged(fresh)

    # What the console and `flask forum jobs` list.
    def queued(self, limit: int = 100) -> list[Task]:
        return list(self.huey.pending(limit))

    def scheduled(self, limit: int = 100) -> list[Task]:
        return list(self.huey.scheduled(limit))

    def run_pending(self) -> int:
        """Run the queued jobs here, one after another, as a consumer's worker would (tests and
        a one-off drain). Returns how many ran."""
        count = 0
        while (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            count += 1
        return count

    def run_due(self, now: datetime | None = None) -> int:
        """Run the scheduled jobs whose time has come (how the tests stand in for the
        consumer's scheduler in immediate mode). Returns how many ran."""
        now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        due = self.huey.read_schedule(now)
        for task in due:
            self.huey.execute(task, now)
        return len(due)

    def _failed(self, _signal: str, task: Task, exc: BaseException | None = None) -> None:
        if task.retries:
            log.warning("job %s (%s) failed, will retry: %r", task.name, task.id, exc)
            return
        log.error("job %s (%s) failed for good: %r", task.name, task.id, exc)
        from ..db import transaction
        from .models import FailedJob

        text = "".join(tracebacks.format_exception(exc)) if exc is not None else ""
        with self.app.app_context():
            try:
                with transaction() as session:
                    session.add(
                        FailedJob(
                            task_id=str(task.id),
                            name=task_name(task),
                            data=self.huey.serialize_task(task),
                            summary=describe_args(task)[:500],
                            error=repr(exc)[:1000],
                            traceback=text[-20_000:],
                        )
                    )
            except Exception:  # the log line above is then the only record: say so loudly
                log.exception("job %s (%s) could not be recorded as failed", task.name, task.id)
            finally:
                db.session.remove()

    def _interrupted(self, _signal: str, task: Task) -> None:
        """The consumer stopped while the job ran (SIGTERM, SIGINT, a restart): queue it again,
        or hold it when the queue refuses (Redis down as the consumer stops). Jobs with side
        effects outside the database make them idempotent (mail keys)."""
        if self.immediate:
            return
        log.warning("job %s (%s) was interrupted: queued again", task.name, task.id)
        if self.app.config.get("REDIS_URL"):
            try:
                self.huey.storage.conn.delete(self._ran_key(task))  # its try did not run through
            except Exception:  # noqa: BLE001 - Redis away: its claim stays (RAN_SECONDS)
                # and would skip it: the try queued again (or held) runs under an id of its own.
                task.id = task.create_id()
        try:
            self.huey.storage.enqueue(self.huey.serialize_task(task), task.priority)
        except Exception as exc:  # noqa: BLE001 - as the scheduler's refusals (backend.ForumHuey)
            self.hold(task, exc)


def said(error: object) -> str:
    """An error as the log and the console show it: its class and message (redis-py's own repr
    says only "network:ConnectionError")."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


def task_name(task: Task) -> str:
    """A task's job by its registered name (forum.accounts.services.mail_…)."""
    return f"{type(task).__module__}.{task.name}"


def describe_args(task: Task) -> str:
    args, kwargs = task.args, task.kwargs
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in (kwargs or {}).items()]
    return ", ".join(parts)


def _in_app_context(app: Flask, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with app.app_context():
            try:
                return fn(*args, **kwargs)
            finally:
                db.session.remove()

    return run


def init_app(app: Flask) -> None:
    from . import commands, services, views  # noqa: F401  (jobs, routes and commands register)

    _QUEUE.set(app, JobQueue(app))
    app.register_blueprint(bp)
    commands.init_app(app)
