"""Notification verbs: write notifications for what happened, mark them read, set watch levels.

The `notify_*` functions run inside the transaction of the change that causes them (subscribed
with phase="in_transaction" in handlers.py), so a post and its notifications commit together.
Every recipient is checked against forum.permissions: nobody hears of a post they cannot read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import delete, func, literal, select, union_all, update

from .. import content, events, permissions
from ..accounts.models import User
from ..accounts.services import resolve_usernames, update_preferences
from ..db import is_valid_id, transaction, upsert
from ..errors import Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..messages.models import PREF_MAIL_NOTIFY
from ..permissions import Actor
from ..sigs.models import ROLE_SYSOP, Membership, Sig
from ..timeutil import utcnow
from ..topics.models import HIDDEN_BY_FLAGS, Post, Topic
from ..topics.services import mention_limit
from . import kinds
from .models import (
    LEVELS,
    MUTED,
    NORMAL,
    WATCHING,
    Notification,
    SigDigestNote,
    SigWatch,
    TopicWatch,
)

# The member preference that makes starting or replying to a topic watch it.
PREF_WATCH_POSTED = "watch_topics_i_post_in"


def watches_posted_topics(user: User) -> bool:
    return bool((user.preferences or {}).get(PREF_WATCH_POSTED, True))


# --- writing notifications (inside the causing transaction) ---------------------------------
def _add(rows: list[Notification]) -> list[Notification]:
    """Insert the rows and announce them once the transaction commits."""
    if not rows:
        return rows
    db.session.add_all(rows)
    db.session.flush()
    events.publish(
        events.NotificationsCreated(
            notification_ids=tuple(r.id for r in rows), user_ids=tuple(r.user_id for r in rows)
        )
    )
    return rows


class Watchers(NamedTuple):
    """A topic's watch levels: each member's effective one (the topic's own, else the SIG's),
    and the members who have one of the topic's own."""

    levels: dict[int, str]
    own: frozenset[int]


def topic_watchers(topic: Topic) -> Watchers:
    rows = db.session.execute(
        union_all(
            select(SigWatch.user_id, SigWatch.level, literal(0).label("own")).where(
                SigWatch.sig_id == topic.sig_id
            ),
            select(TopicWatch.user_id, TopicWatch.level, literal(1)).where(
                TopicWatch.topic_id == topic.id
            ),
        )
    ).all()
    return Watchers(
        {user_id: level for user_id, level, _own in sorted(rows, key=lambda row: row[2])},
        frozenset(user_id for user_id, _level, own in rows if own),
    )


def post_causes(
    post: Post, topic: Topic, watchers: Watchers | None = None
) -> dict[int, kinds.Kind]:
    """Who should hear about this post and why: one kind per member, the strongest cause.
    `watchers`: the topic's, when the caller has read them already."""
    causes: dict[int, list[kinds.Kind]] = {}

    def add(user_id: int | None, kind: kinds.Kind) -> None:
        if user_id is not None:
            causes.setdefault(user_id, []).append(kind)

    cooked = content.references(post.body_raw, resolve_usernames)
    # New posts and edits are refused above the limit; a post written before it (or before the
    # limit was lowered) and approved now notifies its first mentions only.
    mentions = cooked.mentions
    if mentions:
        author = db.session.get(User, post.user_id) if post.user_id else None
        mentions = mentions[: mention_limit(author, topic.sig_id)]
    if mentions:
        lowered = [name.lower() for name in mentions]
        for uid in db.session.scalars(
            select(User.id).where(func.lower(User.username).in_(lowered))
        ):
            add(uid, kinds.MENTION)
    quoted = [pid for pid in cooked.quoted_post_ids if pid != post.id]
    if quoted:
        for author_id in db.session.scalars(select(Post.user_id).where(Post.id.in_(quoted))):
            add(author_id, kinds.QUOTE)
    if post.reply_to_post_id:
        add(
            db.session.scalar(select(Post.user_id).where(Post.id == post.reply_to_post_id)),
            kinds.REPLY,
        )
    if post.number > 1:
        add(topic.user_id, kinds.REPLY)

    levels = (watchers if watchers is not None else topic_watchers(topic)).levels
    for uid, level in levels.items():
        if level == WATCHING:
            add(uid, kinds.NEW_TOPIC if post.number == 1 else kinds.WATCHED)

    # Members who ignore the author hear nothing of what they write either (no mentions,
    # quotes, replies, nor their posts in what they watch): notify_post leaves them out with
    # the readers' check.
    return {
        uid: min(found, key=lambda k: k.priority)
        for uid, found in causes.items()
        if uid != post.user_id and levels.get(uid, NORMAL) != MUTED
    }


def notify_post(
    post_id: int, *, new: bool = False, watchers: Watchers | None = None
) -> list[Notification]:
    """Notify everyone a newly visible post concerns (called inside the post's transaction).

    `new`: the post was written in this transaction, so nobody can have heard of it yet.
    `watchers`: its topic's, when the caller has read them already (post_causes)."""
    post = db.session.get(Post, post_id)
    if post is None or not post.is_public:
        return []
    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    if topic is None or sig is None or topic.is_deleted:
        return []
    causes = post_causes(post, topic, watchers)
    if not causes:
        return []
    # An approved post may have been announced before (approve, hide, approve): once is enough.
    already: set[int] = set()
    if not new:
        already = set(
            db.session.scalars(
                select(Notification.user_id).where(
                    Notification.post_id == post.id,
                    Notification.kind.in_([k.name for k in kinds.POST_KINDS]),
                )
            )
        )
    readers = permissions.who_may_read_post(
        set(causes) - already, post, topic, sig, unless_ignoring=post.user_id
    )
    now = utcnow()
    rows = [
        Notification(
            user_id=uid,
            kind=causes[uid].name,
            actor_id=post.user_id,
            sig_id=sig.id,
            topic_id=topic.id,
            post_id=post.id,
            data={},
            created_at=now,
        )
        for uid in sorted(readers)
    ]
    return _add(rows)


def watch_after_posting(user_id: int, topic_id: int, watchers: Watchers | None = None) -> None:
    """Members watch the topics they start or reply to, unless they turned that off, or have
    chosen a level for the topic already. `watchers`: the topic's, when the caller has read
    them already: a level of the member's own among them is kept without a statement (the
    upsert below leaves it as it is)."""
    if watchers is not None and user_id in watchers.own:
        return
    user = db.session.get(User, user_id)
    if user is None or not watches_posted_topics(user):
        return
    _upsert_watch(TopicWatch, user_id, "topic_id", topic_id, WATCHING, only_if_missing=True)


def notify_post_outcome(post_id: int, actor_id: int, change: str) -> list[Notification]:
    """Tell an author a sysop hid or deleted their post."""
    kind = {"hidden": kinds.POST_HIDDEN, "deleted": kinds.POST_DELETED}.get(change)
    post = db.session.get(Post, post_id)
    if kind is None or post is None or post.user_id is None or post.user_id == actor_id:
        return []
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    data: dict[str, Any] = {}
    by: int | None = actor_id
    if change == "hidden" and post.hidden_by_flags:
        # Members' flags hid it, not a sysop: said so in the recipient's language (kinds), and
        # the flagger whose flag tipped it is not named as the one who hid it.
        data["by"] = HIDDEN_BY_FLAGS
        by = None
    elif change == "hidden" and post.hide_reason:
        data["reason"] = content.clean_text(post.hide_reason)[:300]
    return _add(
        [
            Notification(
                user_id=post.user_id,
                kind=kind.name,
                actor_id=by,
                sig_id=topic.sig_id,
                topic_id=topic.id,
                post_id=post.id,
                data=data,
            )
        ]
    )


def notify_flaggers(
    post_id: int, sig_id: int, flagger_ids: Iterable[int], outcome: str, actor_id: int
) -> list[Notification]:
    """Tell each member who flagged a post how a sysop handled it."""
    post = db.session.get(Post, post_id)
    topic_id = post.topic_id if post else None
    rows = [
        Notification(
            user_id=uid,
            kind=kinds.FLAG_RESOLVED.name,
            actor_id=actor_id,
            sig_id=sig_id,
            topic_id=topic_id,
            post_id=None,  # the post itself may be gone from the flagger's view
            data={"outcome": outcome},
        )
        for uid in sorted(set(flagger_ids))
        if uid != actor_id
    ]
    return _add(rows)


def notify_discipline(
    user_id: int, discipline: str, actor_id: int, sig_id: int | None, reason: str
) -> list[Notification]:
    """Tell a member they were warned, silenced, suspended or banned, or that it was lifted."""
    data = {"discipline": discipline}
    if reason:
        data["reason"] = content.clean_text(reason)[:300]
    return _add(
        [
            Notification(
                user_id=user_id,
                kind=kinds.DISCIPLINE.name,
                actor_id=actor_id,
                sig_id=sig_id,
                data=data,
            )
        ]
    )


def notify_join_request(request_id: int, sig_id: int, user_id: int) -> list[Notification]:
    """Tell a private SIG's sysops (or, when it has none, the global sysops) about a request."""
    sysops = set(
        db.session.scalars(
            select(Membership.user_id).where(
                Membership.sig_id == sig_id, Membership.role == ROLE_SYSOP
            )
        )
    )
    if not sysops:
        sysops = set(db.session.scalars(select(User.id).where(User.role == "sysop")))
    rows = [
        Notification(
            user_id=uid,
            kind=kinds.JOIN_REQUEST.name,
            actor_id=user_id,
            sig_id=sig_id,
            data={"request_id": request_id},
        )
        for uid in sorted(sysops - {user_id})
    ]
    return _add(rows)


def notify_join_decided(
    request_id: int, sig_id: int, user_id: int, approved: bool, actor_id: int
) -> list[Notification]:
    return _add(
        [
            Notification(
                user_id=user_id,
                kind=kinds.JOIN_DECIDED.name,
                actor_id=actor_id,
                sig_id=sig_id,
                data={"request_id": request_id, "approved": approved},
            )
        ]
    )


def notify_private_message(
    message_id: int, conversation_id: int, author_id: int, recipient_ids: Iterable[int]
) -> list[Notification]:
    """Tell the other participants of a conversation that a message arrived, unless they turned
    that off (the "Mail" badge counts it anyway). The recipients are the conversation's own
    active participants, named by the event: nobody else hears of private mail."""
    ids = sorted(set(recipient_ids) - {author_id})
    if not ids:
        return []
    users = db.session.scalars(select(User).where(User.id.in_(ids), User.banned_at.is_(None)))
    rows = [
        Notification(
            user_id=user.id,
            kind=kinds.PRIVATE_MESSAGE.name,
            actor_id=author_id,
            data={"conversation_id": conversation_id, "message_id": message_id},
        )
        for user in users
        if (user.preferences or {}).get(PREF_MAIL_NOTIFY, True)
    ]
    return _add(rows)


def notify_reporters(
    message_id: int, reporter_ids: Iterable[int], outcome: str, actor_id: int
) -> list[Notification]:
    """Tell each member who reported a private message how the sysop handled it (the link
    leads to their mailbox, never to the message: they may have left the conversation)."""
    rows = [
        Notification(
            user_id=uid,
            kind=kinds.MESSAGE_REPORT_RESOLVED.name,
            actor_id=actor_id,
            data={"outcome": outcome},
        )
        for uid in sorted(set(reporter_ids))
        if uid != actor_id
    ]
    return _add(rows)


def read_private_message_notifications(user_id: int, conversation_id: int) -> int:
    """The member read (or archived, or left) a conversation: its private_message notifications
    are read too, so the two badges agree. Their few unread rows are checked here, not in SQL
    (the conversation is in `data`, JSON)."""
    rows = [
        n
        for n in db.session.scalars(
            select(Notification).where(
                Notification.user_id == user_id,
                Notification.kind == kinds.PRIVATE_MESSAGE.name,
                Notification.read_at.is_(None),
            )
        )
        if (n.data or {}).get("conversation_id") == conversation_id
    ]
    now = utcnow()
    for row in rows:
        row.read_at = now
    if rows:
        events.publish(events.NotificationsRead(user_id=user_id))
    return len(rows)


def read_post_notifications(user_id: int, post_ids: tuple[int, ...]) -> int:
    """The member was shown these posts (a topic page): their unread notifications about them,
    of the kinds that say no more than the post does (kinds.read_with_post), are read now, in
    one UPDATE (Discourse reads a post's notifications when it is viewed). How many were."""
    if not post_ids:
        return 0
    with transaction() as session:
        result = session.execute(
            update(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.read_at.is_(None),
                Notification.post_id.in_(post_ids),
                Notification.kind.in_(kinds.read_with_post()),
            )
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            events.publish(events.NotificationsRead(user_id=user_id))
    return count


def notify_concern(
    user_ids: Iterable[int],
    what: str,
    concern_id: int,
    sig_id: int | None,
    actor_id: int | None = None,
) -> list[Notification]:
    """Tell these members (a concern's member, or its sysops, as the event named them after
    forum.permissions) what happened to it; never its words, never a sysop's name to its
    member (`actor_id` is the member's, or None)."""
    data = {"concern_id": concern_id, "what": what}
    return _notify_care(set(user_ids) - {actor_id}, actor_id, sig_id, data)


def notify_page(
    user_ids: Iterable[int], page_id: int, sig_id: int, member_id: int
) -> list[Notification]:
    """Tell the sysops on duty (as the event named them after forum.permissions) that a member
    paged them: in the center and, after their mail choice for concerns, by mail, so that one
    who is not on a page at that moment hears of it too. Never the page's words."""
    data = {"page_id": page_id, "what": "paged"}
    return _notify_care(set(user_ids) - {member_id}, member_id, sig_id, data)


def _notify_care(
    user_ids: Iterable[int | None], actor_id: int | None, sig_id: int | None, data: dict[str, Any]
) -> list[Notification]:
    """A member-care notification to each of these members who is not banned."""
    ids = sorted(uid for uid in user_ids if uid)
    if not ids:
        return []
    live = db.session.scalars(select(User.id).where(User.id.in_(ids), User.banned_at.is_(None)))
    return _add(
        [
            Notification(
                user_id=uid, kind=kinds.CONCERN.name, actor_id=actor_id, sig_id=sig_id, data=data
            )
            for uid in live
        ]
    )


def settle_page(page_id: int, member_id: int, concern_id: int, taken_by_id: int | None) -> int:
    """A page was taken, or became a concern: its notifications to the sysops say so from now
    on ("page_taken", "page_expired") and are read, so none looks like a page still waiting
    (and no mail goes out for one still unsent). How many there were."""
    rows = [
        n
        for n in db.session.scalars(
            # The member's page notifications (ix_notifications_actor_id's few rows), this
            # page's picked from their data (JSON, read alike on SQLite and PostgreSQL).
            select(Notification).where(
                Notification.actor_id == member_id, Notification.kind == kinds.CONCERN.name
            )
        )
        if (n.data or {}).get("what") == "paged" and (n.data or {}).get("page_id") == page_id
    ]
    now = utcnow()
    for row in rows:
        row.data = {
            **(row.data or {}),
            "what": "page_taken" if taken_by_id else "page_expired",
            "concern_id": concern_id,
        }
        was_unread = row.read_at is None
        row.read_at = row.read_at or now
        if was_unread:
            events.publish(events.NotificationsRead(user_id=row.user_id))
    return len(rows)


def notify_account_decided(user_id: int, approved: bool, actor_id: int) -> list[Notification]:
    return _add(
        [
            Notification(
                user_id=user_id,
                kind=kinds.ACCOUNT_DECIDED.name,
                actor_id=actor_id,
                data={"approved": approved},
            )
        ]
    )


def notify_webhook_disabled(
    webhook_id: int, sig_id: int | None, owner_id: int | None, failures: int
) -> list[Notification]:
    """Tell the sysop who added a webhook that it was turned off."""
    if owner_id is None:
        return []
    return _add(
        [
            Notification(
                user_id=owner_id,
                kind=kinds.WEBHOOK_DISABLED.name,
                sig_id=sig_id,
                data={"webhook_id": webhook_id, "failures": failures},
            )
        ]
    )


def _level_of(user_id: int, topic: Topic) -> str:
    """One member's effective level for a topic: its own, else its SIG's, else normal."""
    own = select(TopicWatch.level).where(
        TopicWatch.user_id == user_id, TopicWatch.topic_id == topic.id
    )
    of_sig = select(SigWatch.level).where(
        SigWatch.user_id == user_id, SigWatch.sig_id == topic.sig_id
    )
    level = db.session.scalar(
        select(func.coalesce(own.scalar_subquery(), of_sig.scalar_subquery()))
    )
    return level or NORMAL


def _reaction_rows(author_id: int, post_id: int, reactor_id: int) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == author_id,
                Notification.post_id == post_id,
                Notification.actor_id == reactor_id,
                Notification.kind == kinds.REACTION.name,
            )
        )
    )


def notify_reaction(
    post_id: int, reactor_id: int, emoji: str | None, previous: str | None
) -> list[Notification]:
    """Tell a post's author that someone reacted to it (inside the reaction's transaction).

    A reaction is addressed to the author, as a reply to them is: they hear of it unless they
    muted the topic (or its SIG), ignore the reactor, or may no longer read the post. Once per
    member and post: a changed reaction changes the unread notification's emoji, and one taken
    back before it was read takes the notification with it."""
    post = db.session.get(Post, post_id)
    if post is None or post.user_id is None or post.user_id == reactor_id:
        return []
    existing = _reaction_rows(post.user_id, post.id, reactor_id)
    if emoji is None:
        unread = [n for n in existing if n.read_at is None]
        for row in unread:
            db.session.delete(row)
        if unread:
            events.publish(events.NotificationsRead(user_id=post.user_id))
        return []
    if existing:
        for row in existing:
            if row.read_at is None:
                row.data = {"emoji": emoji}
        return []
    if previous is not None:
        return []  # the first reaction was read already: a change is not news
    topic = db.session.get(Topic, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    if topic is None or sig is None or topic.is_deleted or not post.is_public:
        return []
    if _level_of(post.user_id, topic) == MUTED:
        return []
    if not permissions.who_may_read_post(
        [post.user_id], post, topic, sig, unless_ignoring=reactor_id
    ):
        return []
    return _add(
        [
            Notification(
                user_id=post.user_id,
                kind=kinds.REACTION.name,
                actor_id=reactor_id,
                sig_id=sig.id,
                topic_id=topic.id,
                post_id=post.id,
                data={"emoji": emoji},
            )
        ]
    )


def notify_bookmark_reminder(user_id: int, post_id: int) -> list[Notification]:
    """A bookmark's reminder came due (inside the job's transaction): remind its member of the
    post, when they may still read it."""
    post = db.session.get(Post, post_id)
    topic = db.session.get(Topic, post.topic_id) if post else None
    sig = db.session.get(Sig, topic.sig_id) if topic else None
    if post is None or topic is None or sig is None:
        return []
    if not permissions.who_may_read_post([user_id], post, topic, sig):
        return []
    return _add(
        [
            Notification(
                user_id=user_id,
                kind=kinds.BOOKMARK_REMINDER.name,
                actor_id=None,
                sig_id=sig.id,
                topic_id=topic.id,
                post_id=post.id,
                data={},
            )
        ]
    )


# --- the member's own verbs -----------------------------------------------------------------
def _require_member(user: Actor) -> User:
    if user is None:
        raise Invalid(None, _l("Log in first."))
    return user


def mark_read(user: Actor, notification_id: int) -> Notification:
    member = _require_member(user)
    with transaction() as session:
        row = session.get(Notification, notification_id) if notification_id > 0 else None
        if row is None or row.user_id != member.id:
            raise NotFound(_l("No such notification."))
        if row.read_at is None:
            row.read_at = utcnow()
            events.publish(events.NotificationsRead(user_id=member.id))
    return row


def mark_all_read(user: Actor) -> int:
    member = _require_member(user)
    with transaction() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.user_id == member.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
        )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            events.publish(events.NotificationsRead(user_id=member.id))
    return count


def _upsert_watch(
    model: type[TopicWatch] | type[SigWatch],
    user_id: int,
    key: str,
    key_id: int,
    level: str,
    *,
    only_if_missing: bool = False,
) -> None:
    now = utcnow()
    upsert(
        model,
        {"user_id": user_id, key: key_id, "level": level, "updated_at": now},
        index_elements=["user_id", key],
        set_=None if only_if_missing else {"level": level, "updated_at": now},
    )


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise Invalid("level", _l("Choose watching, tracking, normal or muted."))
    return level


def set_topic_level(user: Actor, topic_id: int, level: str) -> Topic:
    """Choose how much this member hears about one topic."""
    member = _require_member(user)
    level = _check_level(level)
    topic = permissions.get_topic_for(member, topic_id)
    with transaction():
        _upsert_watch(TopicWatch, member.id, "topic_id", topic.id, level)
        events.publish(events.WatchLevelChanged(user_id=member.id, topic_id=topic.id))
    return topic


def set_sig_level(user: Actor, sig_id: int, level: str) -> Sig:
    """Choose how much this member hears about every topic of a SIG."""
    member = _require_member(user)
    level = _check_level(level)
    sig = permissions.get_sig_by_id_for(member, sig_id)
    permissions.require_read_sig(member, sig)
    with transaction():
        _upsert_watch(SigWatch, member.id, "sig_id", sig.id, level)
        events.publish(events.WatchLevelChanged(user_id=member.id, sig_id=sig.id))
    return sig


def set_watch_preference(user: Actor, watch_posted: bool) -> User:
    member = _require_member(user)
    return update_preferences(member, **{PREF_WATCH_POSTED: bool(watch_posted)})


def set_mail_preferences(user: Actor, choices: dict[str, str]) -> User:
    """The member's choice of mail per category (forum.notifications.mail.CATEGORIES)."""
    from .mail import CATEGORIES, CHOICES, PREF_MAIL, mail_choices

    member = _require_member(user)
    current = mail_choices(member)
    for category, choice in choices.items():
        if category not in CATEGORIES or choice not in CHOICES:
            raise Invalid(category, _l("Choose off, immediately or in the digest."))
        current[category] = choice
    return update_preferences(member, **{PREF_MAIL: current})


def unsubscribe(token: str) -> tuple[User, list[str]]:
    """One-click unsubscribe (no login: the signed token names the member and what to stop)."""
    from .digest import NEVER
    from .mail import DIGEST_CATEGORY, OFF, read_unsubscribe_token

    found = read_unsubscribe_token(token)
    member = db.session.get(User, found[0]) if found else None
    if found is None or member is None:
        raise NotFound(_l("This unsubscribe link is not valid."))
    categories = [c for c in found[1] if c != DIGEST_CATEGORY]
    if categories:
        set_mail_preferences(member, dict.fromkeys(categories, OFF))
    if DIGEST_CATEGORY in found[1]:
        set_digest_preferences(member, frequency=NEVER)
    return member, found[1]


def set_digest_preferences(
    user: Actor, *, frequency: str, hour: int | None = None, weekday: int | None = None
) -> User:
    """The member's digest: daily, weekly or never, at an hour of their clock (and a weekday)."""
    from .digest import FREQUENCIES, PREF_DIGEST, digest_choice

    member = _require_member(user)
    if frequency not in FREQUENCIES:
        raise Invalid("digest_frequency", _l("Choose daily, weekly or never."))
    current = digest_choice(member)
    hour = current.hour if hour is None else hour
    weekday = current.weekday if weekday is None else weekday
    if not 0 <= hour < 24:
        raise Invalid("digest_hour", _l("Choose an hour from 0 to 23."))
    if not 0 <= weekday < 7:
        raise Invalid("digest_weekday", _l("Choose a day of the week."))
    return update_preferences(
        member, **{PREF_DIGEST: {"frequency": frequency, "hour": hour, "weekday": weekday}}
    )


def set_preferences(
    user: Actor,
    *,
    watch_posted: bool,
    mail: dict[str, str],
    digest_frequency: str | None = None,
    digest_hour: int | None = None,
    digest_weekday: int | None = None,
) -> User:
    """The settings page's notification preferences, each through its own setter (with its checks
    and messages), in one unit of work: a refusal of any part (forum.errors.Invalid) keeps none,
    so the page never says a part was saved that was not, nor saves half of what was sent. The
    digest changes only when a frequency is given."""
    with transaction():
        set_watch_preference(user, watch_posted)
        member = set_mail_preferences(user, mail)
        if digest_frequency:
            member = set_digest_preferences(
                user, frequency=digest_frequency, hour=digest_hour, weekday=digest_weekday
            )
    return member


def write_digest_note(actor: Actor, sig_id: int, body: str) -> SigDigestNote:
    """A SIG sysop's short note for the next digest of every member of the SIG."""
    from .digest import NOTE_MAX

    sig = permissions.get_sig_by_id_for(actor, sig_id)
    permissions.require_digest_note(actor, sig)
    assert actor is not None
    body = content.clean_text(body or "").strip()
    if not body:
        raise Invalid("body", _l("Write the note."))
    require_at_most("body", body, NOTE_MAX, "note")
    with transaction() as session:
        note = SigDigestNote(sig_id=sig.id, author_id=actor.id, body=body)
        session.add(note)
    return note


def delete_digest_note(actor: Actor, note_id: int) -> None:
    """Take back a note (digests already sent keep it)."""
    note = db.session.get(SigDigestNote, note_id) if is_valid_id(note_id) else None
    if note is None:
        raise NotFound(_l("No such note."))
    sig = permissions.get_sig_by_id_for(actor, note.sig_id)
    permissions.require_digest_note(actor, sig)
    with transaction() as session:
        session.delete(note)


def forget_member_in_tx(user_id: int) -> None:
    """The member deleted their account: their notifications and watches go, in that
    transaction."""
    for model in (Notification, TopicWatch, SigWatch):
        db.session.execute(delete(model).where(model.user_id == user_id))
