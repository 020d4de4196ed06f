"""Snapshots of every row, to prove that a refused request wrote nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from forum.extensions import db

# Written by any member's first page of the day (forum.pulse.visits), refused or not.
STATISTICS = {"member_visits"}


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (fine for the small worlds tests build)."""
    db.session.flush()
    state = {}
    for table in db.metadata.sorted_tables:
        if table.name in STATISTICS:
            continue
        rows = db.session.execute(select(table)).all()
        state[table.name] = sorted(tuple(repr(v) for v in row) for row in rows)
    db.session.commit()
    return state


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def diff(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    """The names of the tables whose rows differ."""
    return [name for name in before if before[name] != after.get(name)]
