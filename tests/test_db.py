"""The unit of work's helpers: upsert() on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from forum.db import read_columns, transaction, upsert
from forum.extensions import db
from forum.notifications.models import TopicWatch
from forum.timeutil import utcnow


def _level(user_id: int, topic_id: int) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(TopicWatch.level).where(
                TopicWatch.user_id == user_id, TopicWatch.topic_id == topic_id
            )
        )
    )


def test_upsert_inserts_updates_where_told_and_leaves_alone(app: Flask, f: Any) -> None:
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "Upserts")
    db.session.execute(db.delete(TopicWatch))  # the author's own watch row
    db.session.commit()

    def put(level: str, **options: Any) -> None:
        with transaction():
            upsert(
                TopicWatch,
                {"user_id": ada.id, "topic_id": topic.id, "level": level, "updated_at": utcnow()},
                index_elements=["user_id", "topic_id"],
                **options,
            )

    put("tracking")  # no row yet: inserted, whatever the conflict rule
    assert _level(ada.id, topic.id) == ["tracking"]
    put("muted")  # no set_: the row stays as it is
    assert _level(ada.id, topic.id) == ["tracking"]
    put("watching", set_={"level": "watching"})
    assert _level(ada.id, topic.id) == ["watching"]
    put("normal", set_={"level": "normal"}, where=TopicWatch.level == "muted")
    assert _level(ada.id, topic.id) == ["watching"]  # the where clause did not hold


def test_read_columns_sees_what_the_session_has_not_flushed_yet(app: Flask, f: Any) -> None:
    """A column read runs on the session's connection, past the ORM, and still flushes the
    session's pending changes first, as the ORM's autoflush would."""
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "Reads")
    watch = db.session.get(TopicWatch, (ada.id, topic.id))
    assert watch is not None
    watch.level = "muted"  # not flushed
    levels = select(TopicWatch.level).where(
        TopicWatch.user_id == ada.id, TopicWatch.topic_id == topic.id
    )
    assert read_columns(levels).scalars().all() == ["muted"]
    db.session.rollback()
    with db.session.no_autoflush:
        watch = db.session.get(TopicWatch, (ada.id, topic.id))
        assert watch is not None
        watch.level = "muted"
        # Inside no_autoflush, neither the ORM nor a column read flushes.
        assert read_columns(levels).scalars().all() == db.session.scalars(levels).all()
