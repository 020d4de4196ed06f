"""Read models: the notification center, the header's unread counts, a member's watch levels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    lambda_stmt,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from .. import content, permissions
from ..accounts.models import User
from ..accounts.queries import iso
from ..care.models import Concern, SysopPage
from ..db import read_columns
from ..errors import NotFound
from ..extensions import db
from ..i18n import force_locale, language_of
from ..i18n import lazy_gettext as _l
from ..messages.models import Conversation, PrivateMessage
from ..sigs.models import Membership, Sig
from ..timeutil import utcnow
from ..topics.models import Post, Topic, TopicRead
from . import kinds
from .models import (
    NORMAL,
    TRACKING,
    WATCHING,
    Notification,
    SigDigestNote,
    SigWatch,
    TopicWatch,
)

PER_PAGE = 30
EXCERPT_LENGTH = 140

# Aliases are module constants (docs/architecture.md, "Data rules"): SQLAlchemy keeps an alias's
# adapted columns on the alias, so one made per call builds them again each time.
_ACTOR = aliased(User, name="actor")
# The SIG a notification's topic is in now (a sysop may have moved the topic, or split its post
# into a topic of another SIG, since the notification was written with its SIG of then).
_TOPIC_SIG = aliased(Sig, name="topic_sig")
_READ = aliased(TopicRead, name="tracked_read")
_OVERRIDE = aliased(TopicWatch, name="topic_override")


@dataclass
class NotificationRow:
    notification: Notification
    kind: kinds.Kind
    text: str
    url: str
    excerpt: str  # empty when the post (or message) is no longer readable by this member
    # The member may no longer read what it names (a post hidden since, a conversation left):
    # mail says nothing of it.
    withheld: bool = False
    # The post it names and that post's topic, only while this member may read the post: the
    # live nudge tells a page showing that topic that its own "new replies" line speaks of it.
    post_id: int | None = None
    topic_id: int | None = None

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
    # A lambda_stmt, built once per process: every reply runs it for its online recipients,
    # and building it cost about as much CPU as running it: 0.15 ms for 16 members against
    # 0.27 built each time (SQLite, thread CPU, 400 calls; eleventh session).
    statement = lambda_stmt(
        lambda: (
            select(Notification.user_id, func.count())
            .where(
                Notification.user_id.in_(bindparam("user_ids", expanding=True)),
                Notification.read_at.is_(None),
            )
            .group_by(Notification.user_id)
        ),
        enable_tracking=False,
    )
    rows = read_columns(statement, {"user_ids": list(user_ids)})
    counts = dict.fromkeys(user_ids, 0)
    counts.update(dict(rows.all()))
    return counts


def _query() -> Any:
    """Notifications with what they name as it is now: the post, the topic it is in (a split
    may have taken it into another topic), that topic's SIG (a move may have taken the topic
    into another SIG), and the SIG the notification names, for those about a SIG alone."""
    actor = _ACTOR
    return (
        select(Notification, actor.username, Post, Topic, Sig, _TOPIC_SIG)
        .outerjoin(actor, actor.id == Notification.actor_id)
        .outerjoin(Post, Post.id == Notification.post_id)
        .outerjoin(Topic, Topic.id == func.coalesce(Post.topic_id, Notification.topic_id))
        .outerjoin(Sig, Sig.id == Notification.sig_id)
        .outerjoin(_TOPIC_SIG, _TOPIC_SIG.id == Topic.sig_id)
    )


def _private_mail(viewer: User, notifications: list[Notification]) -> dict[int, Any]:
    """For the private-mail notifications among these: the message and its conversation when
    this member may still read them (a participant who was let in before the message), else
    None. Two queries whatever the number."""
    wanted = {
        n.id: (n.data or {}).get("message_id")
        for n in notifications
        if n.kind == kinds.PRIVATE_MESSAGE.name
    }
    if not wanted:
        return {}
    message_ids = {int(m) for m in wanted.values() if isinstance(m, int)}
    messages = {
        m.id: m
        for m in db.session.scalars(
            select(PrivateMessage).where(PrivateMessage.id.in_(message_ids))
        )
    }
    conversations = {
        c.id: c
        for c in db.session.scalars(
            select(Conversation).where(
                Conversation.id.in_({m.conversation_id for m in messages.values()})
            )
        )
    }
    out: dict[int, Any] = {}
    for notification_id, message_id in wanted.items():
        message = messages.get(message_id) if isinstance(message_id, int) else None
        conversation = conversations.get(message.conversation_id) if message else None
        readable = (
            message is not None
            and conversation is not None
            and permissions.can_read_conversation(viewer, conversation.id)
            and permissions.can_read_message(viewer, message)
        )
        out[notification_id] = (message, conversation) if readable else None
    return out


def _concerns(viewer: User, notifications: list[Notification]) -> dict[int, bool]:
    """For the concern notifications among these: whether this member may still read the
    concern (a sysop dismissed from its SIG may not). One query, none without any."""
    wanted = {
        n.id: (n.data or {}).get("concern_id")
        for n in notifications
        if n.kind == kinds.CONCERN.name and (n.data or {}).get("what") != "paged"
    }
    # A page still waiting has no concern yet: whether this sysop may still see the page.
    paged = {
        n.id: (n.data or {}).get("page_id")
        for n in notifications
        if n.kind == kinds.CONCERN.name and (n.data or {}).get("what") == "paged"
    }
    out: dict[int, bool] = {}
    if wanted:
        ids = {c for c in wanted.values() if isinstance(c, int)}
        concerns = {c.id: c for c in db.session.scalars(select(Concern).where(Concern.id.in_(ids)))}
        for notification_id, concern_id in wanted.items():
            concern = concerns.get(concern_id) if isinstance(concern_id, int) else None
            out[notification_id] = concern is not None and permissions.can_read_concern(
                viewer, concern
            )
    if paged:
        ids = {p for p in paged.values() if isinstance(p, int)}
        pages = {
            p.id: p for p in db.session.scalars(select(SysopPage).where(SysopPage.id.in_(ids)))
        }
        for notification_id, page_id in paged.items():
            page = pages.get(page_id) if isinstance(page_id, int) else None
            out[notification_id] = page is not None and permissions.can_see_page(viewer, page)
    return out


def _rows(viewer: User, result: Any, *, message_words: bool = False) -> list[NotificationRow]:
    """Each notification as this member may read it now. A private message's words go only
    into the member's own mail (`message_words`): the center and the live nudge name the
    conversation, never what was written in it."""
    result = list(result)
    mail = _private_mail(viewer, [row[0] for row in result])
    concerns = _concerns(viewer, [row[0] for row in result])
    rows = []
    for notification, actor_name, post, topic, named_sig, topic_sig in result:
        kind = kinds.get(notification.kind)
        # What a topic's notification may say is asked of the SIG its topic is in now, never
        # of the one it was in when the notification was written.
        sig = topic_sig if topic is not None else named_sig
        if notification.id in mail:
            readable = mail[notification.id]
            rows.append(_private_mail_row(notification, kind, actor_name, readable, message_words))
            continue
        if concerns.get(notification.id) is False:
            # A concern this member may no longer read: a bare sentence, no name, no link.
            bare = kinds.Subject(kind=kind.name, actor=None, data={})
            rows.append(
                NotificationRow(
                    notification=notification,
                    kind=kind,
                    text=kind.describe(bare),
                    url=kind.url(bare),
                    excerpt="",
                    withheld=True,
                )
            )
            continue
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
                withheld=kind in kinds.ABOUT_A_POST and not post_readable,
                post_id=post.id if post_readable else None,
                topic_id=topic.id if post_readable else None,
            )
        )
    return rows


def _private_mail_row(
    notification: Notification,
    kind: kinds.Kind,
    actor_name: str | None,
    readable: tuple[PrivateMessage, Conversation] | None,
    message_words: bool,
) -> NotificationRow:
    """A private-mail notification: the conversation's subject and the message's words only
    for a participant who may read them now; for anyone else (they left, were banned) the bare
    sentence and the mailbox, never the conversation."""
    if readable is None:
        subject = kinds.Subject(kind=kind.name, actor=actor_name, data={})
        return NotificationRow(
            notification=notification,
            kind=kind,
            text=kind.describe(subject),
            url=kind.url(subject),
            excerpt="",
            withheld=True,
        )
    message, conversation = readable
    subject = kinds.Subject(
        kind=kind.name,
        actor=actor_name,
        data=notification.data or {},
        conversation_subject=conversation.shown_subject,
    )
    return NotificationRow(
        notification=notification,
        kind=kind,
        text=kind.describe(subject),
        url=kind.url(subject),
        excerpt=(
            content.excerpt(message.body_html, EXCERPT_LENGTH)
            if message_words and not message.is_hidden
            else ""
        ),
        withheld=message.is_hidden,
    )


def member_rows(viewer: User, ids: list[int]) -> list[NotificationRow]:
    """These notifications as the member may read them now, oldest first (notification mail,
    the member's own: a private message's words included)."""
    if not ids:
        return []
    result = db.session.execute(_query().where(Notification.id.in_(ids)))
    rows = _rows(viewer, result, message_words=True)
    return sorted(rows, key=lambda row: row.id)


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
    # Past the last page, as a topic's, a SIG's and the mailbox's: no page, not "none yet".
    if page > 1 and not result:
        raise NotFound(_l("That page does not exist."))
    rows = _rows(viewer, result[:PER_PAGE])
    return NotificationsPage(
        rows=rows, page=page, has_next=len(result) > PER_PAGE, unread=unread_count(viewer.id)
    )


def rows_by_id(ids: list[int]) -> dict[int, tuple[User, NotificationRow]]:
    """Notifications with their recipients, rendered for each recipient, in the recipient's
    language (live delivery: not the language of whoever caused them)."""
    if not ids:
        return {}
    # A lambda_stmt, built once per process: every reply runs it for the notifications of its
    # online recipients, and building it (four joins, five entities) with its cache key cost
    # more CPU than running it: 0.50 ms for 15 notifications against 0.72 built each time
    # (SQLite, thread CPU, 400 calls; eleventh session).
    statement = lambda_stmt(
        lambda: _query().where(Notification.id.in_(bindparam("ids", expanding=True))),
        enable_tracking=False,
    )
    result = db.session.execute(statement, {"ids": list(ids)}).all()
    users = {
        u.id: u
        for u in db.session.scalars(select(User).where(User.id.in_({r[0].user_id for r in result})))
    }
    permissions.load_memberships(list(users.values()))
    out = {}
    for row in result:
        user = users.get(row[0].user_id)
        if user is not None:
            with force_locale(language_of(user)):
                out[row[0].id] = (user, _rows(user, [row])[0])
    return out


def topic_level(user: Any, topic: Topic) -> str:
    """This member's level for a topic as the watch menu shows it (the SIG's when unset): one
    query."""
    viewer = permissions.actor(user)
    if viewer is None:
        return NORMAL
    # A lambda_stmt, built once per process: every member's topic page runs it, and building
    # it cost more CPU than running it (a hot site measured for issue 17, sixth session).
    statement = lambda_stmt(lambda: _topic_level(), enable_tracking=False)
    level = read_columns(
        statement, {"user_id": viewer.id, "topic_id": topic.id, "sig_id": topic.sig_id}
    ).scalar()
    return level or NORMAL


def _topic_level() -> Any:
    user_id: Any = bindparam("user_id")
    own = select(TopicWatch.level).where(
        TopicWatch.user_id == user_id, TopicWatch.topic_id == bindparam("topic_id")
    )
    of_sig = select(SigWatch.level).where(
        SigWatch.user_id == user_id, SigWatch.sig_id == bindparam("sig_id")
    )
    return select(func.coalesce(own.scalar_subquery(), of_sig.scalar_subquery()))


def sig_level(user: Any, sig_id: int) -> str:
    viewer = permissions.actor(user)
    if viewer is None:
        return NORMAL
    # A lambda_stmt, built once per process: every member's SIG page runs it, and building it
    # cost more CPU than running it (a hot site measured for issue 17, sixth session).
    statement = lambda_stmt(
        lambda: select(SigWatch.level).where(
            SigWatch.user_id == bindparam("user_id"), SigWatch.sig_id == bindparam("sig_id")
        ),
        enable_tracking=False,
    )
    own = read_columns(statement, {"user_id": viewer.id, "sig_id": sig_id}).scalar()
    return own or NORMAL


# --- tracked topics: the unread count that watching and tracking give -------------------------
TRACKED = (WATCHING, TRACKING)


def _tracked_unread(for_user: Callable[[Any], ColumnElement[bool]]) -> Any:
    """(user_id, topic_id) of tracked topics with unread posts: /new's rule (topics in the
    member's SIGs, not deleted, a post beyond the member's read position) narrowed to topics
    whose level, the topic's own or else its SIG's, is watching or tracking. `for_user(column)`
    says which members' watch rows to start from.

    Two parts that never overlap, each driven by the member's own watch rows, so the cost
    follows what the member chose to track, not the size of the forum: topics with a level of
    their own, and topics of tracked SIGs without one.
    """
    read = _READ
    unread = Topic.last_post_number > func.coalesce(read.last_read_post_number, 0)

    def member_of_sig(uid: Any) -> Any:
        return and_(Membership.sig_id == Topic.sig_id, Membership.user_id == uid)

    def read_by(uid: Any) -> Any:
        return and_(read.topic_id == Topic.id, read.user_id == uid)

    own = (
        select(TopicWatch.user_id, Topic.id)
        .join(Topic, Topic.id == TopicWatch.topic_id)
        .join(Membership, member_of_sig(TopicWatch.user_id))
        .outerjoin(read, read_by(TopicWatch.user_id))
        .where(TopicWatch.level.in_(TRACKED), Topic.deleted_at.is_(None), unread)
    )
    override = _OVERRIDE
    by_sig = (
        select(SigWatch.user_id, Topic.id)
        .join(Topic, Topic.sig_id == SigWatch.sig_id)
        .join(Membership, member_of_sig(SigWatch.user_id))
        .outerjoin(
            override, and_(override.topic_id == Topic.id, override.user_id == SigWatch.user_id)
        )
        .outerjoin(read, read_by(SigWatch.user_id))
        .where(
            SigWatch.level.in_(TRACKED),
            override.topic_id.is_(None),
            Topic.deleted_at.is_(None),
            unread,
        )
    )
    own = own.where(for_user(TopicWatch.user_id))
    by_sig = by_sig.where(for_user(SigWatch.user_id))
    return union_all(own, by_sig).subquery()


def unread_notifications_count(user_id: Any) -> Any:
    """The header's "Notifications" count, a scalar subquery on a member id (a bind parameter:
    forum.web.header_counts reads it with the header's other counts in one statement)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


def tracked_unread_count_column(user_id: Any) -> Any:
    """The header's "Tracked" count, a scalar subquery on a member id (a bind parameter)."""
    return (
        select(func.count())
        .select_from(_tracked_unread(lambda column: column == user_id))
        .scalar_subquery()
    )


def tracked_unread_count(user_id: int) -> int:
    """How many tracked topics have unread posts: the header's "Tracked" count (one query; the
    header itself reads it with its other counts, forum.web.header_counts)."""
    return int(db.session.scalar(select(tracked_unread_count_column(user_id))) or 0)


def tracked_unread_counts(user_ids: list[int]) -> dict[int, int]:
    """The same for many members in one query (live updates after a post)."""
    if not user_ids:
        return {}
    # A lambda_stmt, built once per process: every reply runs it for the online members it
    # moves, and building it (two joined selects in a union) cost more CPU than running it:
    # 0.13 ms a call for 16 members against 1.04 built each time, 0.55 of that the building
    # (SQLite, thread CPU, 400 calls; eleventh session).
    statement = lambda_stmt(lambda: _tracked_unread_counts(), enable_tracking=False)
    counts = dict.fromkeys(user_ids, 0)
    counts.update(dict(read_columns(statement, {"user_ids": list(user_ids)}).all()))
    return counts


def _tracked_unread_counts() -> Any:
    user_ids: Any = bindparam("user_ids", expanding=True)
    rows = _tracked_unread(lambda column: column.in_(user_ids))
    user_col = rows.c[0]
    return select(user_col, func.count()).group_by(user_col)


def tracked_topics_clause(current: Any) -> ColumnElement[bool]:
    """SQL filter on Topic: the topics this member tracks or watches (/new?filter=tracked)."""
    viewer = permissions.actor(current)
    if viewer is None:
        return literal(False)
    own_level = (
        select(TopicWatch.level)
        .where(TopicWatch.user_id == viewer.id, TopicWatch.topic_id == Topic.id)
        .scalar_subquery()
    )
    tracked_sigs = select(SigWatch.sig_id).where(
        SigWatch.user_id == viewer.id, SigWatch.level.in_(TRACKED)
    )
    return or_(own_level.in_(TRACKED), and_(own_level.is_(None), Topic.sig_id.in_(tracked_sigs)))


def tracked_count_after_reading(user_id: int, topic_ids: tuple[int, ...]) -> int | None:
    """After the member read these topics to their end: their tracked count now, or None when
    they track none of them (the count did not move). One query, two when it did."""
    user = db.session.get(User, user_id)
    if user is None or not topic_ids:
        return None
    tracked = db.session.scalar(
        select(Topic.id).where(Topic.id.in_(list(topic_ids)), tracked_topics_clause(user)).limit(1)
    )
    return None if tracked is None else tracked_unread_counts([user_id])[user_id]


def tracked_count_changes(
    post: Post, topic: Topic, among: set[int] | None = None
) -> dict[int, int]:
    """After a post became visible: the members whose tracked count it changed, with the new
    count. Only those who had read the topic up to the post before it: for the others the topic
    was unread already. Five queries for any number of members; none when `among` (the members
    to consider, say those online) is empty."""
    if post.number < topic.last_post_number:
        return {}  # an older post approved late: what is unread did not change
    if among is not None and not among:
        return {}
    members = _tracking_members(topic, exclude=post.user_id, among=among)
    if not members:
        return {}
    before = (
        db.session.scalar(
            select(func.max(Post.number)).where(
                Post.topic_id == topic.id,
                Post.number < post.number,
                permissions.public_posts_clause(),
            )
        )
        or 0
    )
    read = dict(
        db.session.execute(
            select(TopicRead.user_id, TopicRead.last_read_post_number).where(
                TopicRead.topic_id == topic.id, TopicRead.user_id.in_(members)
            )
        ).all()
    )
    caught_up = [u for u in members if read.get(u, 0) >= before]
    return tracked_unread_counts(caught_up)


def _tracking_members(
    topic: Topic, exclude: int | None = None, among: set[int] | None = None
) -> list[int]:
    """The members of the topic's SIG whose level for it is watching or tracking."""
    own = dict(
        db.session.execute(
            select(TopicWatch.user_id, TopicWatch.level).where(TopicWatch.topic_id == topic.id)
        ).all()
    )
    by_sig = db.session.scalars(
        select(SigWatch.user_id).where(SigWatch.sig_id == topic.sig_id, SigWatch.level.in_(TRACKED))
    )
    candidates = {u for u, level in own.items() if level in TRACKED}
    candidates |= {u for u in by_sig if u not in own}
    candidates.discard(exclude)  # type: ignore[arg-type]
    if among is not None:
        candidates &= among
    if not candidates:
        return []
    return sorted(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.sig_id == topic.sig_id, Membership.user_id.in_(candidates)
            )
        )
    )


def recent_digest_notes(sig_id: int, days: int = 14) -> list[Any]:
    """The SIG's digest notes of the last `days` days, newest first, with their authors."""
    since = utcnow() - timedelta(days=days)
    return list(
        db.session.execute(
            select(SigDigestNote.id, SigDigestNote.body, SigDigestNote.created_at, User.username)
            .outerjoin(User, User.id == SigDigestNote.author_id)
            .where(SigDigestNote.sig_id == sig_id, SigDigestNote.created_at >= since)
            .order_by(SigDigestNote.created_at.desc(), SigDigestNote.id.desc())
        ).all()
    )


def account_watches(user: User) -> list[dict[str, Any]]:
    """The member's watch levels on topics and SIGs, for their data export (hooks.account_data)."""
    topics = [
        {"topic_id": w.topic_id, "level": w.level, "updated_at": iso(w.updated_at)}
        for w in db.session.scalars(
            select(TopicWatch).where(TopicWatch.user_id == user.id).order_by(TopicWatch.topic_id)
        )
    ]
    sigs = [
        {"sig_id": w.sig_id, "level": w.level, "updated_at": iso(w.updated_at)}
        for w in db.session.scalars(
            select(SigWatch).where(SigWatch.user_id == user.id).order_by(SigWatch.sig_id)
        )
    ]
    return topics + sigs
