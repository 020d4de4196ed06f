"""Rebuild stored counters from the rows (`flask forum recount`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, update

from . import permissions
from .accounts.models import User
from .db import transaction
from .extensions import db
from .sigs.models import Membership, Sig
from .topics.models import Post, Topic


def recount_all() -> None:
    public = permissions.public_posts_clause()
    with transaction() as session:
        # Rebuild from the rows, never from what this session remembers of them.
        session.expire_all()
        for topic in session.scalars(select(Topic)):
            row = session.execute(
                select(func.count(Post.id), func.max(Post.number), func.max(Post.number)).where(
                    Post.topic_id == topic.id
                )
            ).one()
            visible = session.execute(
                select(func.count(Post.id), func.max(Post.number), func.max(Post.created_at)).where(
                    Post.topic_id == topic.id, public
                )
            ).one()
            topic.highest_post_number = row[1] or 0
            topic.post_count = visible[0] or 0
            topic.last_post_number = visible[1] or 0
            if visible[2] is not None:
                topic.last_posted_at = visible[2]
        live_topic = Topic.deleted_at.is_(None)
        for sig in session.scalars(select(Sig)):
            sig.topic_count = session.scalar(
                select(func.count(Topic.id)).where(
                    Topic.sig_id == sig.id, live_topic, Topic.post_count > 0
                )
            )
            sig.post_count = session.scalar(
                select(func.count(Post.id))
                .join(Topic, Topic.id == Post.topic_id)
                .where(Topic.sig_id == sig.id, live_topic, public)
            )
            sig.member_count = session.scalar(
                select(func.count(Membership.id)).where(Membership.sig_id == sig.id)
            )
            last = session.execute(
                select(Topic.id, Topic.last_posted_at)
                .where(Topic.sig_id == sig.id, live_topic, Topic.post_count > 0)
                .order_by(Topic.last_posted_at.desc())
                .limit(1)
            ).first()
            sig.last_topic_id = last[0] if last else None
            sig.last_posted_at = last[1] if last else None
        session.execute(update(User).values(**_member_counts()))


def recount_members(user_ids: Iterable[int | None]) -> None:
    """Rebuild these members' post and topic counters, in the caller's transaction (for verbs
    that take many posts out of sight at once, such as deleting a whole topic)."""
    ids = {user_id for user_id in user_ids if user_id}
    if ids:
        db.session.execute(
            update(User)
            .where(User.id.in_(ids))
            .values(**_member_counts())
            .execution_options(synchronize_session="fetch")
        )


def _member_counts() -> dict[str, Any]:
    """A member counts the posts readers can see in topics that are not deleted, and the
    topics with at least one such post."""
    live_topic = Topic.deleted_at.is_(None)
    return {
        "post_count": select(func.count(Post.id))
        .join(Topic, Topic.id == Post.topic_id)
        .where(Post.user_id == User.id, live_topic, permissions.public_posts_clause())
        .scalar_subquery(),
        "topic_count": select(func.count(Topic.id))
        .where(Topic.user_id == User.id, live_topic, Topic.post_count > 0)
        .scalar_subquery(),
    }
