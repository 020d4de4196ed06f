"""What the trust review counts, for many members at once: one grouped query per measure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from .. import permissions
from ..extensions import db
from ..moderation.models import Flag
from ..pulse.models import MemberVisit
from ..topics.models import Post, TopicRead

# A flag resolved with any of these outcomes was upheld: the sysop agreed with it.
UPHELD = ("hidden", "deleted", "warned", "suspended", "silenced", "banned", "spam")

# Aliases are module constants (docs/architecture.md, "Data rules").
_REPLY = aliased(Post, name="reply")


@dataclass
class Stats:
    topics_read: int = 0
    read_seconds: int = 0
    replied_posts: int = 0  # their shown posts that someone else answered
    days_visited: int = 0
    upheld_flags: int = 0  # flags on their posts upheld since the member level's window
    # Within the regular level's window:
    recent_days_visited: int = 0
    recent_posts: int = 0
    recent_topics_read: int = 0
    recent_upheld_flags: int = 0


def gather(
    user_ids: Sequence[int], now: datetime, *, flag_days: int, window_days: int
) -> dict[int, Stats]:
    """The measures of these members (a few hundred at a time), as of `now`."""
    ids = sorted(set(user_ids))
    found = {uid: Stats() for uid in ids}
    if not ids:
        return found
    window = now - timedelta(days=window_days)
    flag_since = now - timedelta(days=flag_days)
    read = TopicRead.read_seconds > 0
    for uid, topics, seconds, recent in db.session.execute(
        select(
            TopicRead.user_id,
            func.count(case((read, 1))),
            func.coalesce(func.sum(TopicRead.read_seconds), 0),
            func.count(case((and_(read, TopicRead.updated_at >= window), 1))),
        )
        .where(TopicRead.user_id.in_(ids))
        .group_by(TopicRead.user_id)
    ):
        stats = found[uid]
        stats.topics_read, stats.read_seconds = int(topics), int(seconds)
        stats.recent_topics_read = int(recent)
    for uid, days, recent in db.session.execute(
        select(
            MemberVisit.user_id,
            func.count(),
            func.count(case((MemberVisit.day >= window.date(), 1))),
        )
        .where(MemberVisit.user_id.in_(ids))
        .group_by(MemberVisit.user_id)
    ):
        found[uid].days_visited, found[uid].recent_days_visited = int(days), int(recent)
    shown = permissions.public_posts_clause()
    for author_id, recent in db.session.execute(
        select(Post.user_id, func.count())
        .where(Post.user_id.in_(ids), Post.created_at >= window, shown)
        .group_by(Post.user_id)
    ):
        if author_id is not None:
            found[author_id].recent_posts = int(recent)
    # Their shown posts that another member's shown post answered: a reply to that post, or
    # (for a topic's first post) any reply in the topic.
    reply = _REPLY
    for author_id, replied in db.session.execute(
        select(Post.user_id, func.count(func.distinct(Post.id)))
        .join(
            reply,
            or_(
                reply.reply_to_post_id == Post.id,
                and_(Post.number == 1, reply.topic_id == Post.topic_id, reply.number > 1),
            ),
        )
        .where(
            Post.user_id.in_(ids),
            shown,
            reply.user_id != Post.user_id,
            reply.status == "visible",
            reply.deleted_at.is_(None),
            reply.hidden_at.is_(None),
        )
        .group_by(Post.user_id)
    ):
        if author_id is not None:
            found[author_id].replied_posts = int(replied)
    since = min(flag_since, window)
    for author_id, upheld, recent in db.session.execute(
        select(
            Post.user_id,
            func.count(case((Flag.resolved_at >= flag_since, 1))),
            func.count(case((Flag.resolved_at >= window, 1))),
        )
        .join(Flag, Flag.post_id == Post.id)
        .where(Post.user_id.in_(ids), Flag.outcome.in_(UPHELD), Flag.resolved_at >= since)
        .group_by(Post.user_id)
    ):
        if author_id is not None:
            stats = found[author_id]
            stats.upheld_flags, stats.recent_upheld_flags = int(upheld), int(recent)
    return found
