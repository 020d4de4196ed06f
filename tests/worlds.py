"""A test world built once per test process and put back, row for row, for every later test that
asks for the same one.

The permission matrices build the same small forum (members, SIGs, a topic, replies) through the
real services for each of their hundreds of cases: that was about a third of their time. `once`
builds it the first time, keeps every row of every table, and for the next case writes those rows
straight back into the (empty) test database and loads the world's objects by their ids.

What is kept is the database alone: a world whose tests read anything else the services wrote
(the search index, the outbox) must not use it. Each test process keeps its own copies, so the
matrices still spread over the workers. The rows keep the times they were built at, a few minutes
at most before the test that reuses them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from contextlib import closing
from typing import Any, TypeVar

from sqlalchemy import inspect, text

from forum.extensions import db

W = TypeVar("W")
Rows = dict[str, Any]

_SAVED: dict[Hashable, tuple[Rows, Any]] = {}


def once(key: Hashable, build: Callable[[], W]) -> W:
    """The world `build()` makes, made by it the first time in this process and put back from
    its rows every later time. `key` names the world and everything `build` depends on (its
    visibility, say). The world is a dataclass whose fields are ORM objects, dicts of them, or
    anything else (kept as it is)."""
    saved = _SAVED.get(key)
    if saved is None or not _may_load():
        world = build()
        db.session.commit()
        _SAVED[key] = (_dump(), _ids(world))
        return world
    rows, ids = saved
    _load(rows)
    return _objects(ids)


# --- the world's objects, as ids and back ---------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Ref:
    model: type
    key: tuple[Any, ...]


def _ids(value: Any) -> Any:
    if isinstance(value, db.Model):
        return _Ref(type(value), inspect(value).identity)
    if isinstance(value, dict):
        return {k: _ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ids(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value),
            {f.name: _ids(getattr(value, f.name)) for f in dataclasses.fields(value)},
        )
    return value


def _objects(value: Any) -> Any:
    if isinstance(value, _Ref):
        return db.session.get(value.model, value.key)
    if isinstance(value, dict):
        return {k: _objects(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_objects(v) for v in value]
    if isinstance(value, tuple) and len(value) == 2 and dataclasses.is_dataclass(value[0]):
        cls, fields = value
        return cls(**{name: _objects(v) for name, v in fields.items()})
    return value


# --- every row, out and back in -------------------------------------------------------------------
def _tables() -> list[Any]:
    return list(db.metadata.sorted_tables)


def _dump() -> Rows:
    """Every table's rows: on PostgreSQL in COPY's binary format (every type comes back exactly),
    on SQLite as the driver's tuples."""
    rows: Rows = {}
    with _cursor() as cursor:
        for table in _tables():
            if _postgres():
                with cursor.copy(f'COPY "{table.name}" TO STDOUT (FORMAT BINARY)') as copy:
                    data = b"".join(bytes(part) for part in copy)
                if cursor.rowcount:
                    rows[table.name] = data
            else:
                cursor.execute(f'SELECT * FROM "{table.name}"')
                found = cursor.fetchall()
                if found:
                    rows[table.name] = found
    db.session.commit()
    return rows


def _load(rows: Rows) -> None:
    """Write the rows back into the empty database in one transaction, and move the id sequences
    on past them (SQLite's follow the ids written by themselves). Topics and posts name each
    other, so the foreign keys are checked at the commit (SQLite) or not at all (PostgreSQL: the
    rows were consistent when they were dumped; needs a superuser, as the suite's database has)."""
    with _cursor() as cursor:
        if _postgres():
            cursor.execute("SET LOCAL session_replication_role = replica")
        else:
            cursor.execute("PRAGMA defer_foreign_keys = ON")
        for table in _tables():
            data = rows.get(table.name)
            if data is None:
                continue
            if _postgres():
                with cursor.copy(f'COPY "{table.name}" FROM STDIN (FORMAT BINARY)') as copy:
                    copy.write(data)
            else:
                marks = ", ".join("?" * len(data[0]))
                cursor.executemany(f'INSERT INTO "{table.name}" VALUES ({marks})', data)
        if _postgres():
            for table in _tables():
                if table.name in rows and "id" in table.c:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'),"
                        f' (SELECT max(id) FROM "{table.name}"))'
                    )
    db.session.commit()


def _cursor() -> Any:
    """A cursor of the driver's, in the session's transaction."""
    cursor = db.session.connection().connection.cursor()
    return cursor if _postgres() else closing(cursor)  # (sqlite3's is no context manager)


def _may_load() -> bool:
    """PostgreSQL lets only a superuser write rows without checking their foreign keys: a suite
    run as another role builds every world afresh."""
    if not _postgres():
        return True
    return bool(
        db.session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))
    )


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"
