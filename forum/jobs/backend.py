"""The Huey side of forum.jobs: the queue's storage, chosen from the settings. Imported when a
queue is first used (forum.jobs.JobQueue.huey), not when the app starts, and after huey was
imported without the modules it would load and the forum never has it use (forum.jobs.load_huey:
gevent and psycopg, which a page worker that queues a job, and any forum on SQLite, has no use
for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey
from huey.storage import RedisStorage, SqliteStorage


def make_huey(app: Flask) -> Huey:
    config = app.config
    name = str(config.get("JOBS_QUEUE_NAME") or "forum")
    if config.get("JOBS_IMMEDIATE"):
        return Huey(name, immediate=True, results=False, utc=True)
    if config.get("REDIS_URL"):
        from .. import redisconn

        # The forum's own pool: every call times out within a second and goes through the
        # breaker, so a hung Redis never holds a request. Hence no blocking pop: the worker
        # polls (every 0.1 s, backing off to 1 s while the queue is empty).
        connections = redisconn.pool(config["REDIS_URL"], *redisconn.settings(config))
        return Huey(
            name,
            results=False,
            storage_class=RedisStorage,
            connection_pool=connections,
            blocking=False,
        )
    path = config.get("JOBS_SQLITE_PATH") or str(Path(app.instance_path) / "jobs.db")
    return Huey(name, results=False, storage_class=LazySqliteStorage, filename=path)


class LazySqliteStorage(SqliteStorage):  # type: ignore[misc]
    """Huey's SQLite storage, its file and tables made on first use instead of when the app
    starts: a forum on a full or read-only volume still starts and serves pages (a job that
    cannot be queued then is logged as lost, see JobQueue.put_or_log)."""

    def __init__(self, name: str, **kwargs: Any) -> None:
        kwargs["create_tables"] = False
        super().__init__(name, **kwargs)

    def _create_connection(self) -> Any:
        conn = super()._create_connection()  # autocommit; the DDL says "if not exists"
        for sql in self.ddl:
            conn.execute(sql)
        return conn
