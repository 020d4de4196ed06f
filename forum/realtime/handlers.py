"""After-commit subscribers: turn committed changes into socket nudges and room changes."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from .. import events, permissions
from ..accounts.former import display
from ..accounts.models import User
from ..extensions import db
from ..i18n import force_locale, gettext, language_of
from ..messages import queries as mail_queries
from ..notifications import kinds
from ..notifications import queries as notification_queries
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from . import publish
from .presence import PRESENCE


def _online() -> set[int] | None:
    """The members a nudge can reach, or None when that is not known (then everybody is
    nudged). Rendering a nudge for anybody else is work for nobody: their next page shows the
    notification and the counts, and most recipients of a reply's notifications are not on the
    site when it is posted."""
    return PRESENCE.require().online_member_ids()


def _offline(user_id: int) -> bool:
    online = _online()
    return online is not None and user_id not in online


def on_post_created(event: events.PostCreated) -> None:
    if not event.visible:
        return  # waits for approval: nobody hears of it yet
    post = db.session.get(Post, event.post_id)
    if post is not None:
        publish.post_created(event.topic_id, post.number, post.id)


def on_post_visibility_changed(event: events.PostVisibilityChanged) -> None:
    if event.change == "approved":
        post = db.session.get(Post, event.post_id)
        if post is not None:
            publish.post_created(event.topic_id, post.number, post.id)


def on_post_visible_for_tracking(event: events.PostCreated | events.PostVisibilityChanged) -> None:
    """Members who track or watch the topic and had read it all see their "Tracked" count move
    (no notification row: that is what tracking means)."""
    if isinstance(event, events.PostCreated) and not event.visible:
        return
    if isinstance(event, events.PostVisibilityChanged) and event.change != "approved":
        return
    post = db.session.get(Post, event.post_id)
    topic = db.session.get(Topic, event.topic_id)
    if post is None or topic is None or topic.is_deleted:
        return
    changes = notification_queries.tracked_count_changes(post, topic, among=_online())
    for user_id, count in changes.items():
        publish.tracked_count(user_id, count)


def on_notifications_created(event: events.NotificationsCreated) -> None:
    online = _online()
    pairs = zip(event.notification_ids, event.user_ids, strict=True)
    ids = [n for n, u in pairs if online is None or u in online]
    if not ids:
        return
    rows = notification_queries.rows_by_id(ids)
    counts = notification_queries.unread_counts(sorted({user.id for user, _ in rows.values()}))
    for notification_id in ids:
        if notification_id not in rows:
            continue
        user, row = rows[notification_id]
        publish.notification(
            user.id,
            unread_count=counts.get(user.id, 0),
            kind=row.kind.name,
            text=row.text,
            excerpt=row.excerpt or row.text,
            url=row.url,
            new_post=(
                (row.topic_id, row.post_id)
                if row.kind in kinds.POST_KINDS and row.topic_id and row.post_id
                else None
            ),
        )


def on_reaction_changed(event: events.ReactionChanged) -> None:
    publish.reactions_changed(event.topic_id, event.post_id)


def on_topics_read(event: events.TopicsRead) -> None:
    """The member caught up with topics in one tab: the others' "Tracked" badges follow."""
    if _offline(event.user_id):
        return
    count = notification_queries.tracked_count_after_reading(event.user_id, event.topic_ids)
    if count is not None:
        publish.tracked_count(event.user_id, count)


def on_watch_level_changed(event: events.WatchLevelChanged) -> None:
    if _offline(event.user_id):
        return
    count = notification_queries.tracked_unread_counts([event.user_id])[event.user_id]
    publish.tracked_count(event.user_id, count)


def on_notifications_read(event: events.NotificationsRead) -> None:
    if _offline(event.user_id):
        return
    publish.unread_count(event.user_id, notification_queries.unread_count(event.user_id))


def on_private_message_sent(event: events.PrivateMessageSent) -> None:
    """Nudge the recipients' own rooms (the conversation's participants, nobody else)."""
    online = _online()
    ids = [u for u in event.recipient_ids if online is None or u in online]
    if not ids:
        return
    for user_id, count in mail_queries.unread_counts(ids).items():
        publish.mail(user_id, unread_count=count, conversation_id=event.conversation_id)


def on_mail_read(event: events.MailRead) -> None:
    if _offline(event.user_id):
        return
    publish.mail(event.user_id, unread_count=mail_queries.unread_count(event.user_id))


def on_sessions_revoked(event: events.SessionsRevoked) -> None:
    publish.disconnect_member(event.user_id)


def on_member_left_sig(event: events.MemberLeftSig) -> None:
    # Even in a public SIG: a removed sysop may hold a deleted topic's room, which only its
    # sysops may be in. Only this member's sockets are asked about.
    publish.recheck_sig(event.sig_id, user_id=event.user_id)


def on_sig_sysop_changed(event: events.SigSysopChanged) -> None:
    if not event.is_sysop:
        publish.recheck_sig(event.sig_id, user_id=event.user_id)


def on_site_role_changed(event: events.SiteRoleChanged) -> None:
    # A global sysop reads every SIG and sees every page: one who is no longer one is asked
    # again about every SIG-gated room their sockets hold, in whichever SIG.
    if not event.is_sysop:
        publish.recheck_member(event.user_id)


def on_sig_changed(event: events.SigChanged) -> None:
    if event.visibility_changed:
        publish.recheck_sig(event.sig_id)


def on_topic_changed(event: events.TopicChanged) -> None:
    # A move can take a topic into a SIG some of its readers cannot read; a deleted topic is
    # for its SIG's sysops only.
    if event.change in ("moved", "deleted"):
        publish.recheck_topic(event.topic_id)


# --- member care: pages ring, concerns move -------------------------------------------------
# Always to members' own rooms, chosen now by the permission policy: a sysop dismissed from a
# SIG a moment ago is no longer among them, whatever rooms their sockets are in.
def on_sysop_paged(event: events.SysopPaged) -> None:
    from ..care import services as care
    from ..care.models import SysopPage

    page = db.session.get(SysopPage, event.page_id)
    sig = db.session.get(Sig, event.sig_id)
    member = db.session.get(User, event.member_id)
    if page is None or sig is None or page.concern_id is not None:
        return
    online = _online()
    wanted = [u for u in care.on_duty_ids(sig.id) if u in event.sysop_ids]
    for user in db.session.scalars(select(User).where(User.id.in_(wanted))):
        if online is not None and user.id not in online:
            continue
        with force_locale(language_of(user)):
            text = gettext(
                "%(who)s pages the sysops of %(sig)s: “%(words)s”",
                who=display(member.username if member else None) or gettext("someone"),
                sig=sig.name,
                words=page.body,
            )
        publish.care(
            user.id,
            {
                "type": "page",
                "page_id": page.id,
                "text": text,
                "url": f"/care/pages/{page.id}",
                "sound": care.page_sound(user),
            },
        )


def on_page_answered(event: events.PageAnswered) -> None:
    member = db.session.get(User, event.member_id)
    if member is not None:
        with force_locale(language_of(member)):
            text = (
                gettext("A sysop is here: your page became a live conversation.")
                if event.taken_by_id
                else gettext(
                    "No sysop took your page in time: it is a concern now, and the sysops "
                    "will answer it."
                )
            )
        publish.care(
            member.id,
            {
                "type": "page_answered",
                "page_id": event.page_id,
                "taken": event.taken_by_id is not None,
                "text": text,
                "url": f"/care/{event.concern_id}",
            },
        )
    publish.page_gone(event.page_id, list(event.sysop_ids))


def _concern_nudge(concern_id: int, actor_id: int | None, *, member: bool = True) -> None:
    from ..care.models import Concern

    concern = db.session.get(Concern, concern_id)
    if concern is None:
        return
    online = _online()
    who = set(permissions.who_handles_concerns(concern.sig_id))
    if member:
        who.add(concern.member_id)
    for user_id in sorted(who - {actor_id}):
        if online is None or user_id in online:
            publish.care(user_id, {"type": "concern", "concern_id": concern.id})


def on_concern_message_added(event: events.ConcernMessageAdded) -> None:
    _concern_nudge(event.concern_id, event.author_id)


def on_concern_changed(event: events.ConcernChanged) -> None:
    # A note or an assignment is the sysops' own business: the member's page hears nothing.
    _concern_nudge(
        event.concern_id, event.actor_id, member=event.change not in ("note", "assigned")
    )


def init_app(app: Flask) -> None:
    sub = events.subscribe
    # Nudges go ahead of slower after-commit work (search indexing) on the same events.
    sub(app, events.PostCreated, on_post_created, first=True)
    sub(app, events.PostVisibilityChanged, on_post_visibility_changed, first=True)
    sub(app, events.NotificationsCreated, on_notifications_created, first=True)
    sub(app, events.NotificationsRead, on_notifications_read)
    sub(app, events.PrivateMessageSent, on_private_message_sent, first=True)
    sub(app, events.MailRead, on_mail_read)
    sub(app, events.TopicsRead, on_topics_read)
    sub(app, events.ReactionChanged, on_reaction_changed, first=True)
    sub(app, events.WatchLevelChanged, on_watch_level_changed)
    # After the nudges to the topic's room and the notifications: counts can wait a little.
    sub(app, events.PostCreated, on_post_visible_for_tracking)
    sub(app, events.PostVisibilityChanged, on_post_visible_for_tracking)
    sub(app, events.SessionsRevoked, on_sessions_revoked)
    sub(app, events.MemberLeftSig, on_member_left_sig, first=True)
    sub(app, events.SigSysopChanged, on_sig_sysop_changed, first=True)
    sub(app, events.SiteRoleChanged, on_site_role_changed, first=True)
    sub(app, events.SigChanged, on_sig_changed, first=True)
    sub(app, events.TopicChanged, on_topic_changed, first=True)
    sub(app, events.SysopPaged, on_sysop_paged, first=True)
    sub(app, events.PageAnswered, on_page_answered, first=True)
    sub(app, events.ConcernMessageAdded, on_concern_message_added)
    sub(app, events.ConcernChanged, on_concern_changed)
