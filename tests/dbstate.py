"""Snapshots of every row: to prove that a refused request wrote nothing, or that a restore put
every row back; and of every stored counter, to prove the services kept what a recount from the
rows (`flask forum recount`) rebuilds."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import func, select

from forum.accounts.models import User
from forum.counters import recount_all
from forum.extensions import db
from forum.sigs.models import Sig
from forum.topics.models import Topic

# Written by any member's first page of the day (forum.pulse.visits), refused or not.
STATISTICS = {"member_visits"}


def snapshot(*, statistics: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every committed row of every table, in primary-key order (fine for the small worlds tests
    build). `member_visits` is a statistic, not state: left out unless `statistics=True`."""
    # Write what the test's session holds and end its read transaction (on SQLite an open read
    # would show its old snapshot, not what the requests since have committed).
    db.session.commit()
    # Plain SQL on the driver's cursor: the permission matrices take two snapshots a request,
    # and through SQLAlchemy's statements and result rows they were a fifth of their time. On
    # PostgreSQL every table in one statement (a round trip each was a tenth of their time there),
    # its rows as JSON. Rows come as the driver gives them: all a comparison of two needs.
    tables = [t for t in db.metadata.sorted_tables if statistics or t.name not in STATISTICS]
    if db.engine.dialect.name == "postgresql":
        return _postgres_snapshot(tables)
    cursor = db.session.connection().connection.cursor()
    state = {}
    try:
        for t in tables:
            cursor.execute(f'SELECT * FROM "{t.name}" ORDER BY {_order(t)}')
            state[t.name] = [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()
    db.session.commit()
    return state


# PostgreSQL: a connection of the snapshots' own for each database, kept for the run.
_READERS: dict[str, psycopg.Connection[Any]] = {}


def close_readers() -> None:
    """Close the snapshots' connections (tests/conftest.py, before it drops the database)."""
    while _READERS:
        _READERS.popitem()[1].close()


def _postgres_snapshot(tables: list[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table in one statement (a round trip each was a tenth of the permission matrices'
    time there), its rows as JSON, prepared on a connection kept for the run: planning that
    statement of a subquery a table took 6 ms of its 14, and each test's new engine planned it
    again (prepared and kept: 1.5 ms)."""
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    reader = _READERS.get(url)
    if reader is None or reader.closed:
        reader = _READERS[url] = psycopg.connect(url, autocommit=True)
    query = " UNION ALL ".join(
        f"SELECT '{t.name}', coalesce((SELECT json_agg(row_ ORDER BY"
        f" {_order(t, 'row_.')}) FROM \"{t.name}\" row_), '[]'::json)"
        for t in tables
    )
    rows = reader.execute(query, prepare=True).fetchall()
    return {name: [tuple(row.values()) for row in found] for name, found in rows}


def _order(table: Any, prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{c.name}"' for c in table.primary_key.columns or table.columns)


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def diff(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    """The names of the tables whose rows differ."""
    return [name for name in before if before[name] != after.get(name)]


def counters() -> dict[str, Any]:
    """Every stored counter in the forum."""
    db.session.expire_all()
    return {
        "topics": {
            t.id: (t.post_count, t.last_post_number, t.highest_post_number, t.last_posted_at)
            for t in db.session.scalars(select(Topic))
        },
        "sigs": {
            s.id: (s.topic_count, s.post_count, s.member_count, s.last_topic_id, s.last_posted_at)
            for s in db.session.scalars(select(Sig))
        },
        "users": {u.id: (u.post_count, u.topic_count) for u in db.session.scalars(select(User))},
    }


def assert_counters_exact() -> None:
    """The services kept exactly what `flask forum recount` rebuilds from the rows."""
    kept = counters()
    recount_all()
    assert counters() == kept
