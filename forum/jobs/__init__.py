"""Background jobs on Huey: what must not run in a request (mail) runs in a consumer process.

A feature marks a function as a job (`@jobs.job(...)`, or `@jobs.periodic(crontab)`) and queues
it with `jobs.enqueue(fn, *args)`: inside a `db.transaction()` only once it commits, so a job
never sees (nor acts on) what was rolled back. Arguments are plain values (ids, strings): they
are pickled into the queue.

The queue lives in an SQLite file in the instance folder (instance/jobs.db), so `make run` needs
no other server, or in Redis when FORUM_REDIS_URL is set. A job the queue refuses (Redis down
or hung, the SQLite file's disk full or read-only) is held in the forum's database (`held_jobs`)
and put back by the consumer every minute (services.put_back_held_jobs); only when the database
refuses too is it lost, and logged. The consumer is `flask forum jobs worker` (`make run` and
`make serve` start it; systemd runs forum-jobs.service). Each job runs in an app context of its
own. A job that raises is tried again with a growing delay; when its
retries are used up it is logged and kept in the `failed_jobs` table, which `flask forum jobs`
and /admin/jobs list and from which a sysop queues it again. With JOBS_IMMEDIATE (the tests) a
job runs at once, in the caller's thread, as Huey's immediate mode does.
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
    *, retries: int = 5, retry_delay: float = 30, backoff: float = 2.0
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark `fn` as a job. A failing run is tried again `retries` times, after `retry_delay`
    seconds, then each time `backoff` times longer (30 s, 1, 2, 4, 8 min by default)."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        SPECS[_name(fn)] = Spec(fn, _name(fn), retries, retry_delay, backoff)
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
        self._outbox: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...], float | None]] = (
            queue.Queue(maxsize=1000)
        )
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

    def put(self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None) -> None:
        # Delayed, in immediate mode too: it waits in the schedule until run_due() (the tests).
        self.huey.enqueue(self._task(fn, args, delay))

    def put_or_log(
        self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None
    ) -> None:
        """put(), and when the queue cannot be reached (Redis down), the job held in the
        database instead of a failed request (_hold); lost only when the database refuses it
        too, and then the log says which (never silently)."""
        if self.immediate:
            self.put(fn, args, delay)  # a job's own failure is the test's to see
            return
        storage = self.huey.storage  # (huey loaded first, by load_huey)
        from huey.storage import RedisStorage

        if isinstance(storage, RedisStorage):
            # Off the request: a Redis that hangs would hold every reply that queues a mail
            # for a timeout (test_redis_down: reply p99 2.4x normal while Redis was frozen).
            self._handoff(fn, args, delay)
            return
        self._put_logged(fn, args, delay)

    def _put_logged(
        self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None
    ) -> None:
        try:
            self.put(fn, args, delay)
        except Exception as exc:  # noqa: BLE001 - one line, as every fault of a backing store
            self._hold(fn, args, delay, exc)

    def _hold(
        self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None, refused: Any
    ) -> None:
        """Keep a job the queue refused in `held_jobs`, serialized as Huey would queue it (its
        eta counted from now), for the consumer to put back (services.put_back_held_jobs). In
        a short transaction and a session of its own: this runs after the request's commit, or
        in the queuing thread. When the database refuses it too, the job is lost: logged."""
        from ..db import transaction
        from .models import HeldJob

        with self.app.app_context():
            try:
                task = self._task(fn, args, delay)
                with transaction() as session:
                    session.add(
                        HeldJob(
                            task_id=str(task.id),
                            name=_name(fn),
                            data=self.huey.serialize_task(task),
                            summary=describe_args(task)[:500],
                            eta=task.eta.replace(tzinfo=UTC) if task.eta else None,
                            error=said(refused)[:1000],
                        )
                    )
            except Exception as exc:  # noqa: BLE001 - the log line is then the only record
                log.error("job %s could not be queued (args %r): it is lost: %s (nor held: %s)",
                          _name(fn), args, said(refused), said(exc))  # fmt: skip
                return
            finally:
                db.session.remove()
        # The refusal's class only: its words (held_jobs.error has them) would repeat, for every
        # job of an outage, what the store's own line said once (forum.redisconn).
        why = type(refused).__name__ if isinstance(refused, BaseException) else refused
        log.warning("job %s could not be queued (%s): held in the database", _name(fn), why)

    def _handoff(self, fn: Callable[..., Any], args: tuple[Any, ...], delay: float | None) -> None:
        """Give the put to this process's queuing thread, as live nudges are published: a job
        handed over is in Redis a moment later, or held in the database (Redis down; 1,000
        waiting: held here), or logged as lost (the database refusing too).
        A process that ends waits for that at exit (a one-off command such as `forum mail-in`
        ends right after it queues), up to 5 s, then holds what still waits itself
        (finish_at_exit); one killed in that moment loses what it held (the price of never
        waiting)."""
        try:
            self._outbox.put_nowait((fn, args, delay))
        except queue.Full:  # Redis hung: held in the database, here (after the commit)
            self._hold(fn, args, delay, "too many waiting for the queuing thread")
            return
        with self._thread_lock:
            if self._thread_pid != os.getpid():  # started lazily, and again after a fork
                self._thread_pid = os.getpid()
                threading.Thread(target=self._drain, name="jobs-enqueue", daemon=True).start()
                atexit.unregister(self.finish_at_exit)  # (once, if a parent registered)
                atexit.register(self.finish_at_exit)

    def _drain(self) -> None:
        while True:
            fn, args, delay = self._outbox.get()
            try:
                self._put_logged(fn, args, delay)
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
                fn, args, delay = self._outbox.get_nowait()
            except queue.Empty:
                break
            try:
                self._hold(fn, args, delay, "the process ended before the queuing thread put it")
            finally:
                self._outbox.task_done()
        self.wait_until_handed_over(timeout)  # the one the thread has in hand

    def requeue(self, data: bytes) -> None:
        """Queue a serialized task again, with its retries renewed (a sysop's retry)."""
        task = self.huey.deserialize_task(data)
        wrapper = self.task(task.__module__ + "." + type(task).__name__)
        fresh = wrapper.s(*task.args, **task.kwargs)
        self.huey.enqueue(fresh)

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
                            name=f"{task.__module__}.{task.name}",
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
        """The consumer stopped while the job ran (SIGTERM, SIGINT, a restart): queue it again.
        Jobs with side effects outside the database make them idempotent (mail keys)."""
        if self.immediate:
            return
        log.warning("job %s (%s) was interrupted: queued again", task.name, task.id)
        self.huey.storage.enqueue(self.huey.serialize_task(task), task.priority)


def said(error: object) -> str:
    """An error as the log and the console show it: its class and message (redis-py's own repr
    says only "network:ConnectionError")."""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


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
