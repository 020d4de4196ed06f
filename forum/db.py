"""Units of work: transaction() commits, then runs on_commit() callbacks; a rollback drops them.

Nothing here knows a database by name: SQLite's own tuning (PRAGMAs, BEGIN IMMEDIATE, the
writers' turn) lives in forum.sqlite, which init_app installs for sqlite:// URLs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .extensions import db
from .hooks import AppSlot

# Ids are 32-bit on PostgreSQL; a larger one names nothing (and would overflow there).
MAX_ID = 2**31 - 1

_DEPTH = "forum.tx_depth"
_CALLBACKS = "forum.on_commit"
# What an outermost write transaction runs inside (forum.sqlite: BEGIN IMMEDIATE, in turn).
_WRITER: AppSlot[Callable[[], AbstractContextManager[None]]] = AppSlot("forum.db.writer")


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
    writer = _WRITER.get() or nullcontext
    try:
        with writer():
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                info.pop(_CALLBACKS, None)
                raise
    finally:
        info[_DEPTH] = 0
    # After the writer's turn has passed on: callbacks may write again, and must not hold up
    # others.
    for callback in info.pop(_CALLBACKS, []):
        callback()


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
    in SQL and reads nothing back needs no statement there, and on PostgreSQL only the lock,
    no row read into its object.)
    """
    wanted = sorted({i for i in ids if i})
    session = db.session()
    if not wanted or (not refresh and session.get_bind().dialect.name == "sqlite"):
        return
    if refresh:
        session.flush()  # populate_existing below must not overwrite unsaved changes
    # NO KEY: inserts that reference the row still go on. Without `refresh`, the lock alone:
    # the rows read into their objects cost a reply 0.1 ms of CPU for nothing (ninth session).
    stmt = select(model if refresh else model.id).where(model.id.in_(wanted)).order_by(model.id)
    stmt = stmt.with_for_update(key_share=True).execution_options(populate_existing=refresh)
    session.execute(stmt).all()


def read_columns(statement: Any, params: Mapping[str, Any] | None = None) -> Any:
    """Run a read of columns, no ORM objects (a count, a level, some ids), on the session's
    connection, skipping the ORM's work per statement: 0.04 ms of CPU on SQLite against 0.13
    through the session, half a dozen a member's page (issue 17, sixth session). Unflushed
    changes are flushed first, as autoflush would. Untyped, as `db.session.execute` is."""
    session = db.session()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(statement, params or {})


def on_commit(callback: Callable[[], Any]) -> None:
    """Run `callback` once the current transaction() has committed."""
    info = db.session().info
    if not info.get(_DEPTH):
        raise RuntimeError("on_commit() called outside transaction()")
    info[_CALLBACKS].append(callback)


def upsert(
    model: Any,
    values: dict[str, Any],
    *,
    index_elements: Sequence[Any],
    set_: dict[str, Any] | None = None,
    where: Any = None,
) -> None:
    """Insert one row, or, when a row with the same `index_elements` exists, update that row's
    `set_` columns (only `where` this holds) or, without `set_`, leave it as it is. One
    statement (ON CONFLICT), on SQLite and PostgreSQL alike."""
    session = db.session()
    dialects = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}
    # Both dialects' insert() build an Insert with on_conflict_do_*(); the mapping loses that.
    statement: Any = dialects[session.get_bind().dialect.name](model).values(**values)
    if set_ is None:
        statement = statement.on_conflict_do_nothing(index_elements=index_elements)
    else:
        statement = statement.on_conflict_do_update(
            index_elements=index_elements, set_=set_, where=where
        )
    session.execute(statement)


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        from . import sqlite

        _WRITER.set(app, sqlite.install(app, engine))
