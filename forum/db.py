"""Units of work: transaction() commits, then runs on_commit() callbacks; a rollback drops them."""

from __future__ import annotations

import contextvars
import fcntl
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from .extensions import db

T = TypeVar("T")
log = logging.getLogger(__name__)

# Ids are 32-bit integers on PostgreSQL; a larger one names nothing (and must not reach the
# database, where it overflows).
MAX_ID = 2**31 - 1

# How long a connection waits for SQLite's write lock (writers that come through transaction()
# queue for their turn first, see WriteQueue).
BUSY_TIMEOUT_MS = 30_000

_DEPTH = "forum.tx_depth"
_CALLBACKS = "forum.on_commit"
_WRITE_QUEUE = "forum.write_queue"
_CHECKPOINTER = "forum.checkpointer"

# Set while a write transaction() is open, so SQLite begins it IMMEDIATE: writers queue on the
# busy timeout up front instead of failing to upgrade a read lock ("database is locked").
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


@contextmanager
def transaction() -> Iterator[Session]:
    """Run one unit of work. Nested calls join the outermost one."""
    session = db.session()
    info = session.info
    depth = info.get(_DEPTH, 0)
    if depth:
        info[_DEPTH] = depth + 1
        try:
            yield session
        finally:
            info[_DEPTH] = depth
        return

    if session.in_transaction():
        # End the read transaction a request has open; the write one must begin afresh.
        session.commit()
    info[_DEPTH] = 1
    info[_CALLBACKS] = []
    token = _write_intent.set(True)
    try:
        with _write_turn():
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                info.pop(_CALLBACKS, None)
                raise
    finally:
        _write_intent.reset(token)
        info[_DEPTH] = 0
    # After the turn has passed on: callbacks may write again, and must not hold up others.
    for callback in info.pop(_CALLBACKS, []):
        callback()
    _checkpoint_if_due()


class WriteQueue:
    """SQLite's writers take turns here instead of polling the database lock.

    SQLite lets one connection write at a time. A writer that finds the lock taken sleeps in
    its busy handler (1, 2, 5, … then 100 ms at a time) and retries, and whoever retries at the
    right moment wins: under steady load from a few processes, an unlucky writer lost for
    seconds (a reply's p99 was 1.8 s against a median of 70 ms). Here each process lets one
    thread at a time through (a lock), and that thread waits for the other processes on an
    flock() of a file beside the database, which the kernel hands over the moment it is
    released. A transaction holds its turn from BEGIN IMMEDIATE to COMMIT; the busy timeout
    stays as the guard for any write that does not come through transaction().
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


class Checkpointer:
    """Copies SQLite's write-ahead log into the database file outside the writers' turn.

    Left to itself, SQLite checkpoints in the commit that takes the log past a thousand pages,
    while that writer still holds its turn: every writer queued behind it waits for the copy.
    And under steady load the log rarely starts over (a writer restarts it only when every page
    has been copied and no reader still uses the log, and some request is nearly always
    reading), so past a thousand pages nearly EVERY commit checkpointed inside the turn: a
    reply wrote some forty pages, and the turn took a tenth longer. Copying outside the turn
    alone is not enough: then the log never started over at all (400 MB in the reply bench's
    ten seconds).

    So the connections checkpoint on their own only as a backstop (BACKSTOP_PAGES), and:
    - every `every` write transactions in a process, the thread that committed the last of them
      runs a PASSIVE checkpoint after leaving its turn: it copies what no reader still needs and
      waits for nobody, while other writers go on appending;
    - when the log has grown past `restart_pages`, it then takes a turn itself and runs a
      RESTART checkpoint, which copies the rest and waits (up to `wait_ms`) for the readers of
      older snapshots to finish, so the next writer starts the log over from its beginning
      (if a reader outlasts the wait, the next try waits for the log to grow further).
    """

    BACKSTOP_PAGES = 40_000  # wal_autocheckpoint: for writes that bypass transaction()

    def __init__(
        self,
        engine: Engine,
        queue: WriteQueue,
        *,
        every: int = 20,
        restart_pages: int = 10_000,
        wait_ms: int = 200,
    ) -> None:
        self.engine = engine
        self.queue = queue
        self.every = every
        self.restart_pages = restart_pages
        self.wait_ms = wait_ms
        self._retry_at = 0  # after a RESTART that a reader held up: the log's length to retry at
        self._count = 0
        self._lock = threading.Lock()

    def due(self) -> bool:
        """Count one write transaction of this process: True if it is the `every`th."""
        with self._lock:
            self._count += 1
            if self._count < self.every:
                return False
            self._count = 0
        return True

    def run(self) -> tuple[int, int, int]:
        """Checkpoint now; returns SQLite's (busy, pages in the log, pages copied)."""
        result = self.checkpoint("PASSIVE")
        pages = result[1]
        if pages >= max(self.restart_pages, self._retry_at):
            with self.queue.turn():
                result = self.checkpoint("RESTART")
            # A long read (a backup, a year of pulse) kept the log from starting over: try again
            # once it has grown by half as much again, not at every check, for each try holds
            # the writers up for `wait_ms`.
            self._retry_at = pages + self.restart_pages // 2 if result[0] else 0
        return result

    def checkpoint(self, mode: str) -> tuple[int, int, int]:
        raw = self.engine.raw_connection()
        try:
            connection = raw.driver_connection
            if mode == "PASSIVE":
                row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            else:
                connection.execute(f"PRAGMA busy_timeout={self.wait_ms}")
                try:
                    row = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                finally:
                    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            raw.close()
        busy, pages, copied = row
        return int(busy), int(pages), int(copied)


def _checkpoint_if_due() -> None:
    checkpointer = current_app.extensions.get(_CHECKPOINTER)
    if checkpointer is None or not checkpointer.due():
        return
    session = db.session()
    try:
        if session.in_transaction() and not (session.new or session.dirty or session.deleted):
            # A read the callbacks left open would hold up this thread's own RESTART.
            session.commit()
        checkpointer.run()
    except Exception:  # noqa: BLE001 - the work has committed; a later checkpoint copies it
        log.exception("checkpoint of SQLite's log failed; the next one will copy what is left")


def _write_turn() -> AbstractContextManager[None]:
    queue = current_app.extensions.get(_WRITE_QUEUE)
    return queue.turn() if queue is not None else nullcontext()


def is_valid_id(value: int | None) -> bool:
    return value is not None and 0 < value <= MAX_ID


def in_transaction() -> bool:
    return bool(db.session().info.get(_DEPTH))


def lock_for_write(model: Any, *ids: int | None, refresh: bool = True) -> None:
    """Lock these rows for the rest of the current transaction, refreshing loaded objects.

    Writers that change counters lock in one order, so two of them never wait on each other in
    a circle: **topics, then SIGs, then members**, each by ascending id. A verb that recomputes
    a counter takes the lock before it reads, so its sums see every commit that went first.
    (On SQLite, BEGIN IMMEDIATE already runs writers one at a time and no FOR UPDATE is sent;
    the rows are still read afresh, unless `refresh` is False: a writer that only increments
    in SQL and reads nothing back needs no statement there.)
    """
    wanted = sorted({i for i in ids if i})
    session = db.session()
    if not wanted or (not refresh and session.get_bind().dialect.name == "sqlite"):
        return
    session.flush()  # populate_existing below must not overwrite unsaved changes
    session.scalars(
        select(model)
        .where(model.id.in_(wanted))
        .order_by(model.id)
        .with_for_update(key_share=True)  # NO KEY: inserts that reference the row still go on
        .execution_options(populate_existing=True)
    ).all()


def on_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once the current transaction() has committed."""
    info = db.session().info
    if not info.get(_DEPTH):
        raise RuntimeError("on_commit() called outside transaction()")
    info[_CALLBACKS].append(callback)


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            queue = WriteQueue(f"{os.path.abspath(database)}.write-lock")
            app.extensions[_WRITE_QUEUE] = queue
            app.extensions[_CHECKPOINTER] = Checkpointer(engine, queue)
        _configure_sqlite(engine, checkpointer=_CHECKPOINTER in app.extensions)


def _configure_sqlite(engine: Engine, *, checkpointer: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN instead of the driver's own logic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if checkpointer:
            cursor.execute(f"PRAGMA wal_autocheckpoint={Checkpointer.BACKSTOP_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


def read(statement: Any, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> Any:
    """Run a read of plain columns (no ORM entities) on the session's connection, inside its
    transaction, and return the result. For the statements every page runs: the ORM's own
    handling costs about 40 µs a statement, more than SQLite takes to answer. Changes waiting
    in the session are flushed first, as session.execute would."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement, params or {})


def write(
    statement: Any, params: dict[str, Any] | list[dict[str, Any]] | None = None, *, into: Any = None
) -> Any:
    """Run an INSERT or UPDATE on the session's connection inside its transaction, without the
    ORM's unit of work (about a millisecond a statement less on a reply's hot path, where
    SQLite's writers take turns). Objects already loaded for the changed row keep their old
    values: give the statement a RETURNING clause and pass the object as `into`, and the
    returned columns are set on it as if just loaded (nothing is marked changed). A list of
    parameter sets runs the statement once for each."""
    result = read(statement, params)
    if into is None:
        return result
    row = result.one()
    for key, value in row._mapping.items():
        set_committed_value(into, key, value)
    return row


def add_row(model: type[T], **values: Any) -> T:
    """Insert one row with a plain INSERT … RETURNING (as write(), without the unit of work) and
    return it as an object of the session, as if just loaded: every column is set (those not
    given take their scalar defaults), so reading one back issues no query.

    For rows on a hot path whose columns are all known up front; the model's id is made by the
    database, and a column with a computed default must be given."""
    table = model.__table__  # type: ignore[attr-defined]
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.primary_key:
            continue
        if column.key in values:
            row[column.key] = values[column.key]
        elif column.default is None:
            row[column.key] = None
        elif column.default.is_scalar:
            row[column.key] = column.default.arg
        else:
            raise TypeError(f"add_row({model.__name__}) needs a value for {column.key}")
    statement = _insert_statement(model)
    obj = model(id=write(statement, row).scalar_one(), **row)
    make_transient_to_detached(obj)
    db.session.add(obj)
    return obj


@functools.cache
def _insert_statement(model: type) -> Any:
    return insert(model).returning(model.id)  # type: ignore[attr-defined]
