"""The Huey side of forum.jobs: the queue's storage, chosen from the settings. Imported when a
queue is first used (forum.jobs.JobQueue.huey), not when the app starts, and after huey was
imported without the modules it would load and the forum never has it use (forum.jobs.load_huey:
gevent and psycopg, which a page worker that queues a job, and any forum on SQLite, has no use
for)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey
from huey.api import Task
from huey.consumer import Consumer, Scheduler
from huey.storage import RedisStorage, SqliteStorage


class ForumHuey(Huey):  # type: ignore[misc]
    """Huey, whose consumer holds what the queue refuses (`refused`: JobQueue.hold) where Huey
    would drop it with a log line: a due job the scheduler moves off the schedule, a periodic
    run it queues (each minute's, the hourly digest round, the nightly clean-up), a delayed job
    or a retry a worker puts on the schedule, while Redis is down or the SQLite file unwritable.
    A page's put still raises (JobQueue.put_or_log holds it), as does a put-back (the row stays)."""

    refused: Callable[[Task, BaseException], None] | None = None

    def add_schedule(self, task: Task) -> None:
        try:
            super().add_schedule(task)
        except Exception as exc:
            if self.refused is None:
                raise
            self.refused(task, exc)

    def create_consumer(self, **options: Any) -> Consumer:
        return HoldingConsumer(self, **options)


class _Holding:
    """The Huey the scheduler sees: an enqueue the queue refuses is held, not dropped."""

    def __init__(self, huey: ForumHuey) -> None:
        self._huey = huey

    def __getattr__(self, name: str) -> Any:
        return getattr(self._huey, name)

    def enqueue(self, task: Task) -> Any:
        try:
            return self._huey.enqueue(task)
        except Exception as exc:
            if self._huey.refused is None:
                raise
            self._huey.refused(task, exc)
            return None


class HoldingScheduler(Scheduler):  # type: ignore[misc]
    def __init__(self, huey: ForumHuey, stop_flag: Any, interval: float, periodic: bool) -> None:
        super().__init__(_Holding(huey), stop_flag, interval, periodic)


class HoldingConsumer(Consumer):  # type: ignore[misc]
    scheduler_class = HoldingScheduler


def make_huey(app: Flask) -> Huey:
    config = app.config
    name = str(config.get("JOBS_QUEUE_NAME") or "forum")
    if config.get("JOBS_IMMEDIATE"):
        return ForumHuey(name, immediate=True, results=False, utc=True)
    if config.get("REDIS_URL"):
        from .. import redisconn

        # The forum's own pool: every call times out within a second and goes through the
        # breaker, so a hung Redis never holds a request. Hence no blocking pop: the worker
        # polls (every 0.1 s, backing off to 1 s while the queue is empty).
        connections = redisconn.pool(config["REDIS_URL"], *redisconn.settings(config))
        return ForumHuey(
            name,
            results=False,
            storage_class=RedisStorage,
            connection_pool=connections,
            blocking=False,
        )
    path = config.get("JOBS_SQLITE_PATH") or str(Path(app.instance_path) / "jobs.db")
    return ForumHuey(name, results=False, storage_class=LazySqliteStorage, filename=path)


class LazySqliteStorage(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite storage, its file and tables made on first use instead of when the app
    starts: a forum on a full or read-only volume still starts and serves pages (a job that
    cannot be queued then is held in the database, see JobQueue.put_or_log)."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs["create_tables"] = False
        super().__init__(name, **kwargs)

    def _create_connection(self) -> Any:
        conn = super()._create_connection()  # autocommit; the DDL says "if not exists"
        for sql in self.ddl:
            conn.execute(sql)
        return conn
