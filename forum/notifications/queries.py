"""Read models: the notification center, the header's unread count, a member's watch levels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from .. import content, permissions
from ..accounts.models import User
from ..extensions import db
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from . import kinds
from .models import NORMAL, Notification, SigWatch, TopicWatch

PER_PAGE = 30
EXCERPT_LENGTH = 140


@dataclass
class NotificationRow:
    notification: Notification
    kind: kinds.Kind
    text: str
    url: str
    excerpt: str  # empty when the post is no longer readable by this member

    @property
    def id(self) -> int:
        return self.notification.id

    @property
    def is_read(self) -> bool:
        return self.notification.is_read

    @property
    def created_at(self) -> datetime:
        return self.notification.created_at


@dataclass
class NotificationsPage:
    rows: list[NotificationRow]
    page: int
    has_next: bool
    unread: int


def unread_count(user_id: int) -> int:
    """One indexed count: the header badge on every page and the socket payload."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def unread_counts(user_ids: list[int]) -> dict[int, int]:
    """Unread counts of many members in one query (live delivery after a post)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(Notification.user_id, func.count())
        .where(Notification.user_id.in_(user_ids), Notification.read_at.is_(None))
        .group_by(Notification.user_id)
    )
    counts = dict.fromkeys(user_ids, 0)
    counts.update(dict(rows.all()))
    return counts


def _query() -> Any:
    actor = aliased(User)
    return (
        select(Notification, actor.username, Post, Topic, Sig)
        .outerjoin(actor, actor.id == Notification.actor_id)
        .outerjoin(Post, Post.id == Notification.post_id)
        .outerjoin(Topic, Topic.id == Notification.topic_id)
        .outerjoin(Sig, Sig.id == Notification.sig_id)
    )


def _rows(viewer: User, result: Any) -> list[NotificationRow]:
    rows = []
    for notification, actor_name, post, topic, sig in result:
        kind = kinds.get(notification.kind)
        # Say only what this member may read now: the post may have been hidden since, the
        # member may have left a private SIG.
        sig_visible = sig is not None and permissions.can_see_sig(viewer, sig)
        topic_readable = (
            topic is not None and sig is not None and permissions.can_view_topic(viewer, topic, sig)
        )
        post_readable = (
            post is not None
            and topic_readable
            and permissions.can_view_post(viewer, post, topic, sig)  # type: ignore[arg-type]
        )
        subject = kinds.Subject(
            kind=kind.name,
            actor=actor_name,
            data=notification.data or {},
            post_id=post.id if post_readable else None,
            topic_title=topic.title if topic_readable else None,
            sig_name=sig.name if sig_visible else None,
            sig_slug=sig.slug if sig_visible else None,
        )
        rows.append(
            NotificationRow(
                notification=notification,
                kind=kind,
                text=kind.describe(subject),
                url=kind.url(subject),
                excerpt=content.excerpt(post.body_html, EXCERPT_LENGTH) if post_readable else "",
            )
        )
    return rows


def notifications_page(current: Any, page: int = 1) -> NotificationsPage:
    """One page of the center, newest first, in three queries (rows, memberships, count)."""
    viewer = permissions.actor(current)
    assert viewer is not None
    page = max(1, page)
    result = db.session.execute(
        _query()
        .where(Notification.user_id == viewer.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    ).all()
    rows = _rows(viewer, result[:PER_PAGE])
    return NotificationsPage(
        rows=rows, page=page, has_next=len(result) > PER_PAGE, unread=unread_count(viewer.id)
    )


def rows_by_id(ids: list[int]) -> dict[int, tuple[User, NotificationRow]]:
    """Notifications with their recipients, rendered for each recipient (live delivery)."""
    if not ids:
        return {}
    result = db.session.execute(_query().where(Notification.id.in_(ids))).all()
    users = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({r[0].user_id for r in result})))
    }
    permissions.load_memberships(list(users.values()))
    out = {}
    for row in result:
        user = users.get(row[0].user_id)
        if user is not None:
            out[row[0].id] = (user, _rows(user, [row])[0])
    return out


def topic_level(user: Any, topic: Topic) -> str:
    """This member's level for a topic as the watch menu shows it (the SIG's when unset)."""
    viewer = permissions.actor(user)
    if viewer is None:
        return NORMAL
    own = db.session.scalar(
        select(TopicWatch.level).where(
            TopicWatch.user_id == viewer.id, TopicWatch.topic_id == topic.id
        )
    )
    return own or sig_level(viewer, topic.sig_id)


def sig_level(user: Any, sig_id: int) -> str:
    viewer = permissions.actor(user)
    if viewer is None:
        return NORMAL
    own = db.session.scalar(
        select(SigWatch.level).where(SigWatch.user_id == viewer.id, SigWatch.sig_id == sig_id)
    )
    return own or NORMAL
