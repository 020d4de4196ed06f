"""Spam cleanup in two actions: "delete spammer" (the global sysop: every post and topic of the
account hidden in all SIGs, the account banned and its sessions ended) and "remove from SIG and
hide all their posts here" (a SIG's sysops: the same within their SIG, with a SIG ban). One
transaction and one log entry each; search and live pages follow from the events, after commit.
Each is undone in one action: exactly what it hid comes back, and the ban it laid is lifted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .. import counters, events, permissions
from ..accounts.models import User
from ..accounts.services import revoke_sessions
from ..db import is_valid_id, lock_for_write, transaction
from ..errors import Conflict, NotFound
from ..extensions import db
from ..i18n import SPAM_REASON
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import DISCIPLINE_BAN, Membership, Sig, SigDiscipline
from ..timeutil import utcnow
from ..topics.models import Post, Topic
from .common import actor_id, clean_reason, log_action, member_or_404, sig_or_none
from .models import Flag, PostReview, SpamCleanup


def _scope(user_id: int, sig: Sig | None) -> tuple[list[Post], list[Topic]]:
    """The member's posts not hidden or deleted, and topics not deleted (in the SIG)."""
    posts = select(Post).where(
        Post.user_id == user_id, Post.hidden_at.is_(None), Post.deleted_at.is_(None)
    )
    topics = select(Topic).where(Topic.user_id == user_id, Topic.deleted_at.is_(None))
    if sig is not None:
        posts = posts.join(Topic, Topic.id == Post.topic_id).where(Topic.sig_id == sig.id)
        topics = topics.where(Topic.sig_id == sig.id)
    return list(db.session.scalars(posts.order_by(Post.id))), list(
        db.session.scalars(topics.order_by(Topic.id))
    )


def _hidden_by_flags(user_id: int, sig: Sig | None) -> list[Post]:
    """The member's posts that members' flags hid (in the SIG), not deleted: the cleanup
    resolves their flags, so the sysop hides them from then on (they stay hidden on an undo,
    which restores only what the cleanup itself hid)."""
    posts = select(Post).where(
        Post.user_id == user_id, Post.hidden_by_flags.is_(True), Post.deleted_at.is_(None)
    )
    if sig is not None:
        posts = posts.join(Topic, Topic.id == Post.topic_id).where(Topic.sig_id == sig.id)
    return list(db.session.scalars(posts.order_by(Post.id)))


def cleanup_preview(actor: Actor, user_id: int, sig_id: int | None = None) -> dict:
    """What a cleanup would do, for its confirmation page: counts, and the SIGs touched."""
    user, sig = _target(actor, user_id, sig_id)
    posts, topics = _scope(user.id, sig)
    topic_sigs = {
        t.id: t.sig_id
        for t in db.session.scalars(
            select(Topic).where(Topic.id.in_(sorted({p.topic_id for p in posts})))
        )
    }
    sig_ids = sorted({topic_sigs[p.topic_id] for p in posts} | {t.sig_id for t in topics})
    sigs = list(db.session.scalars(select(Sig).where(Sig.id.in_(sig_ids)).order_by(Sig.name)))
    return {"user": user, "sig": sig, "posts": len(posts), "topics": len(topics), "sigs": sigs}


def _target(actor: Actor, user_id: int, sig_id: int | None) -> tuple[User, Sig | None]:
    user = member_or_404(user_id)
    sig = sig_or_none(actor, sig_id)
    permissions.require_spam_cleanup(actor, user, sig)
    return user, sig


def delete_spammer(actor: Actor, user_id: int, reason: str = "") -> SpamCleanup:
    """Hide every post and topic of the account in all SIGs, ban it, end its sessions, resolve
    its open flags: one transaction, one log entry with the count."""
    return _clean(actor, user_id, None, reason)


def remove_spammer_from_sig(
    actor: Actor, user_id: int, sig_id: int, reason: str = ""
) -> SpamCleanup:
    """Within one SIG: hide all the member's posts and topics there, remove them from the SIG
    and ban them from it."""
    return _clean(actor, user_id, sig_id, reason)


def _clean(actor: Actor, user_id: int, sig_id: int | None, reason: str) -> SpamCleanup:
    user, sig = _target(actor, user_id, sig_id)
    typed = clean_reason(reason)
    # The posts keep only what the sysop typed (None: nothing; each reader's page says "hidden
    # by a sysop" in their language). The bans and the log keep "spam" when nothing was typed.
    reason = typed or SPAM_REASON
    by = actor_id(actor)
    with transaction() as session:
        posts, topics = _scope(user.id, sig)
        touched = sorted({p.topic_id for p in posts} | {t.id for t in topics})
        # Lock order: topics, SIGs, then the member. A post the spammer is writing right now
        # waits for the member's row and then finds them banned (forum.topics.services).
        lock_for_write(Topic, *touched)
        all_topics = {t.id: t for t in session.scalars(select(Topic).where(Topic.id.in_(touched)))}
        sig_ids = sorted({t.sig_id for t in all_topics.values()})
        lock_for_write(Sig, *sig_ids)
        lock_for_write(User, user.id)
        sigs = {s.id: s for s in session.scalars(select(Sig).where(Sig.id.in_(sig_ids)))}
        now = utcnow()
        hidden: list[int] = []
        for post in posts:
            post.hidden_at = now
            post.hidden_by_id = by
            post.hidden_by_flags = False
            post.hide_reason = typed or None
            hidden.append(post.id)
        for post in _hidden_by_flags(user.id, sig):
            post.hidden_by_id = by
            post.hidden_by_flags = False
            post.hide_reason = typed or None
        deleted: list[int] = []
        for topic in topics:
            topic.deleted_at = now
            topic.deleted_by_id = by
            deleted.append(topic.id)
        for topic in all_topics.values():
            counters.recount_topic(topic, sigs[topic.sig_id])
        # The member's counters from the rows, not a move a post: a reply of theirs in a topic
        # deleted before counted for nobody.
        counters.recount_members([user.id])
        for topic_id in deleted:
            counters.recount_authors(all_topics[topic_id])
        for s in sigs.values():
            counters.recount_sig(s)
        cleanup = SpamCleanup(
            user_id=user.id,
            sig_id=sig.id if sig else None,
            actor_id=by,
            post_ids=hidden,
            topic_ids=deleted,
            created_at=now,
        )
        if sig is None:
            if not user.is_banned:
                user.banned_at = now
                user.ban_reason = reason
                cleanup.banned_site = True
            revoke_sessions(user)  # joins this transaction
        else:
            cleanup.sig_discipline_id = _ban_from_sig(user, sig, reason, by)
        flags = _resolve_flags(actor, user.id, sig, now)
        entry = log_action(
            actor,
            "remove_spammer" if sig else "delete_spammer",
            sig_id=sig.id if sig else None,
            user_id=user.id,
            reason=reason,
            details=f"{len(hidden)} posts, {len(deleted)} topics hidden; {flags} flags resolved",
            params={"posts": len(hidden), "topics": len(deleted), "flags": flags},
        )
        session.add(cleanup)
        session.flush()
        cleanup.mod_action_id = entry.id
        for post in posts:
            topic = all_topics[post.topic_id]
            _visibility(by, post.id, topic, "hidden")
        for topic_id in deleted:
            topic = all_topics[topic_id]
            events.publish(
                events.TopicChanged(
                    topic_id=topic.id, sig_id=topic.sig_id, actor_id=by, change="deleted"
                )
            )
    permissions.forget_memberships(user)
    return cleanup


def _visibility(by: int, post_id: int, topic: Topic, change: str) -> None:
    events.publish(
        events.PostVisibilityChanged(
            post_id=post_id, topic_id=topic.id, sig_id=topic.sig_id, actor_id=by, change=change
        )
    )


def _ban_from_sig(user: User, sig: Sig, reason: str, by: int) -> int | None:
    """Out of the SIG and banned from it (None: banned from it already)."""
    session = db.session
    membership = session.scalar(
        select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user.id)
    )
    if membership is not None:
        session.delete(membership)
        counters.count_sig_members(sig, -1)
        events.publish(events.MemberLeftSig(sig_id=sig.id, user_id=user.id))
    permissions.forget_memberships(user)
    if permissions.sig_ban(user, sig) is not None:
        return None
    ban = SigDiscipline(
        user_id=user.id, sig_id=sig.id, kind=DISCIPLINE_BAN, reason=reason, by_id=by
    )
    session.add(ban)
    session.flush()
    return ban.id


def _resolve_flags(actor: Actor, user_id: int, sig: Sig | None, now: datetime) -> int:
    """Resolve the open flags on the member's posts (in the SIG): outcome "spam"."""
    stmt = (
        select(Flag, Post.topic_id, Topic.sig_id)
        .join(Post, Post.id == Flag.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(Post.user_id == user_id, Flag.resolved_at.is_(None))
    )
    if sig is not None:
        stmt = stmt.where(Topic.sig_id == sig.id)
    by_post: dict[int, tuple[int, list[Flag]]] = {}
    for flag, _topic_id, flag_sig_id in db.session.execute(stmt):
        by_post.setdefault(flag.post_id, (flag_sig_id, []))[1].append(flag)
    for post_id, (flag_sig_id, flags) in by_post.items():
        for flag in flags:
            flag.resolved_at = now
            flag.resolved_by_id = actor_id(actor)
            flag.outcome = "spam"
        review = db.session.get(PostReview, post_id)
        if review is not None:
            db.session.delete(review)
        events.publish(
            events.FlagsResolved(
                post_id=post_id,
                sig_id=flag_sig_id,
                flagger_ids=tuple(sorted({f.user_id for f in flags})),
                outcome="spam",
                actor_id=actor_id(actor),
            )
        )
    return sum(len(flags) for _s, flags in by_post.values())


def get_cleanup_for(actor: Actor, cleanup_id: int) -> SpamCleanup:
    cleanup = db.session.get(SpamCleanup, cleanup_id) if is_valid_id(cleanup_id) else None
    if cleanup is None or not permissions.can_undo_spam_cleanup(actor, cleanup.sig_id):
        raise NotFound(_l("No such cleanup."))
    return cleanup


def undo_spam_cleanup(actor: Actor, cleanup_id: int) -> SpamCleanup:
    """Restore exactly the posts and topics the cleanup hid (those still hidden by it) and lift
    the ban it laid. One log entry."""
    cleanup = get_cleanup_for(actor, cleanup_id)
    if cleanup.undone_at is not None:
        raise Conflict(_l("This cleanup was undone already."))
    user = db.session.get(User, cleanup.user_id)
    assert user is not None
    by = actor_id(actor)
    with transaction() as session:
        posts = list(
            session.scalars(
                select(Post).where(
                    Post.id.in_(cleanup.post_ids),
                    Post.hidden_at == cleanup.created_at,
                    Post.deleted_at.is_(None),
                )
            )
        )
        topics = list(
            session.scalars(
                select(Topic).where(
                    Topic.id.in_(cleanup.topic_ids), Topic.deleted_at == cleanup.created_at
                )
            )
        )
        touched = sorted({p.topic_id for p in posts} | {t.id for t in topics})
        lock_for_write(Topic, *touched)
        all_topics = {t.id: t for t in session.scalars(select(Topic).where(Topic.id.in_(touched)))}
        sig_ids = sorted({t.sig_id for t in all_topics.values()})
        lock_for_write(Sig, *sig_ids)
        sigs = {s.id: s for s in session.scalars(select(Sig).where(Sig.id.in_(sig_ids)))}
        for post in posts:
            post.hidden_at = None
            post.hidden_by_id = None
            post.hidden_by_flags = False
            post.hide_reason = None
        for topic in topics:
            topic.deleted_at = None
            topic.deleted_by_id = None
        for topic in all_topics.values():
            counters.recount_topic(topic, sigs[topic.sig_id])
        # As the cleanup did: a reply restored in a topic deleted since counts for nobody.
        counters.recount_members([user.id])
        for topic in topics:
            counters.recount_authors(topic)
        for s in sigs.values():
            counters.recount_sig(s)
        if cleanup.banned_site and user.is_banned:
            user.banned_at = None
            user.ban_reason = None
        if cleanup.sig_discipline_id is not None:
            ban = session.get(SigDiscipline, cleanup.sig_discipline_id)
            if ban is not None and ban.lifted_at is None:
                ban.lifted_at = utcnow()
        cleanup.undone_at = utcnow()
        log_action(
            actor,
            "undo_spam_cleanup",
            sig_id=cleanup.sig_id,
            user_id=user.id,
            details=f"{len(posts)} posts, {len(topics)} topics restored",
            params={"posts": len(posts), "topics": len(topics)},
        )
        for post in posts:
            _visibility(by, post.id, all_topics[post.topic_id], "unhidden")
        for topic in topics:
            events.publish(
                events.TopicChanged(
                    topic_id=topic.id, sig_id=topic.sig_id, actor_id=by, change="restored"
                )
            )
    permissions.forget_memberships(user)
    return cleanup
