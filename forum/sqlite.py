"""SQLite's own tuning, installed by forum.db.init_app for sqlite:// URLs only.

- Each connection runs in WAL mode (readers never block the writer), with foreign keys on and a
  busy timeout. Checkpoints of the write-ahead log are left to SQLite (`wal_autocheckpoint`, a
  thousand pages); `flask forum checkpoint` truncates the log at a quiet hour for sites that want
  it (see checkpoint()).
- A write transaction() begins IMMEDIATE: it takes the write lock up front, instead of reading
  first and failing to upgrade its read lock ("database is locked").
- Writers take turns in a queue (WriteQueue) around that transaction.
- SQLite's memory in the process, all connections together, is held near SOFT_HEAP_LIMIT.
"""

from __future__ import annotations

import contextvars
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from .hooks import AppSlot

# How long a connection waits for SQLite's write lock (writers that come through transaction()
# queue for their turn first, see WriteQueue).
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024

BUSY_TIMEOUT_MS = 30_000

# What SQLite may keep in this process, all connections together, before it reuses the pages of
# its caches rather than growing them (a soft limit: a query that needs more still gets it).
# Each connection's cache may grow to 2 MB (SQLite's default cache_size), and a page worker
# opens as many connections as it serves requests at once (the pool keeps 5, opens up to 10 more
# and closes them again): under the memory bench's 8 threads SQLite held up to 16-20 MB at once,
# and what the closed connections freed stayed in the C library's free lists. With 8 MB it held
# 8 MB at most, the worker 4-6 MB less under load, at the same CPU per request
# (`bench/memory_bench.py --nocache`: 13.3 and 14.4 ms against 14.1 and 14.7; docs/benchmarks.md).
SOFT_HEAP_LIMIT = 8 * 1024 * 1024

_WRITE_QUEUE: AppSlot[WriteQueue] = AppSlot("forum.sqlite.write_queue")

# Set while a write transaction() is open, so its BEGIN is IMMEDIATE.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


class WriteQueue:
    """SQLite's writers take turns here instead of polling the database lock.

    SQLite lets one connection write at a time. A writer that finds the lock taken sleeps in
    its busy handler (1, 2, 5, … then 100 ms at a time) and retries, and whoever retries at the
    right moment wins: under steady load from a few processes, an unlucky writer lost for
    seconds (a reply's p99 was 1.8 s against a median of 70 ms; 1 % of replies waited 1.7 s or
    more for BEGIN IMMEDIATE). Here each process lets one thread at a time through (a lock), and
    that thread waits for the other processes on an flock() of a file beside the database,
    which the kernel hands over the moment it is released. A transaction holds its turn from
    BEGIN IMMEDIATE to COMMIT; the busy timeout stays as the guard for any write that does not
    come through transaction().
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd = -1
        self._pid = 0

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _file(self) -> int:
        # One descriptor per process: a forked child opens its own, as flock() locks are
        # shared between processes that share a descriptor.
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd


def install(app: Flask, engine: Engine) -> Callable[[], AbstractContextManager[None]]:
    """Tune this SQLite engine's connections; return what a write transaction() runs inside."""
    database = engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        _WRITE_QUEUE.set(app, WriteQueue(f"{os.path.abspath(database)}.write-lock"))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN instead of the driver's own logic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # When the log starts over, cut its file back to this size: a burst that grew it (or a
        # full disk that kept checkpoints from finishing) does not keep the space for good.
        cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA soft_heap_limit={SOFT_HEAP_LIMIT}")  # the process's, not this one's
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")

    queue = _WRITE_QUEUE.get(app)

    @contextmanager
    def writer() -> Iterator[None]:
        token = _write_intent.set(True)
        try:
            with queue.turn() if queue is not None else nullcontext():
                yield
        finally:
            _write_intent.reset(token)

    return writer


def checkpoint(app: Flask, engine: Engine, *, wait_ms: int) -> tuple[int, int, int]:
    """Copy the whole write-ahead log into the database and truncate it, in the writers' turn;
    returns SQLite's (busy, pages in the log, pages copied). Busy is 1 when a reader of an older
    snapshot (or a write that bypassed the turn) outlasted `wait_ms`: the log was then copied as
    far as it allowed, and kept."""
    queue = _WRITE_QUEUE.get(app)
    raw = engine.raw_connection()  # the driver's own connection: outside any BEGIN
    connection = raw.driver_connection
    assert connection is not None
    try:
        with queue.turn() if queue is not None else nullcontext():
            connection.execute(f"PRAGMA busy_timeout={int(wait_ms)}")
            try:
                row = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        raw.close()
    busy, pages, copied = row
    return int(busy), int(pages), int(copied)
