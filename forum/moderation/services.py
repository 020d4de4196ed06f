"""Moderation verbs: flags, topic tools, member discipline, notes, approvals, word filters.

Every verb loads through the permission policy, changes rows and counters in one transaction,
writes a ModAction row (the moderation log) in that same transaction and publishes an event.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from .. import content, events, permissions
from ..accounts.models import User
from ..accounts.services import revoke_sessions
from ..admin import settings as site_settings
from ..db import lock_for_write, transaction
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..permissions import Actor
from ..sigs.models import Membership, Sig
from ..text import slugify
from ..timeutil import utcnow
from ..topics import services as topic_services
from ..topics.models import POST_VISIBLE, Post, Topic, TopicRead
from .models import (
    FILTER_ACTIONS,
    FLAG_REASONS,
    OUTCOMES,
    Flag,
    MemberNote,
    MemberWarning,
    ModAction,
    PostReview,
    ReviewNote,
    SigModeration,
    WordFilter,
)

MAX_REASON = 500
MAX_NOTE = 2000
MAX_FILTERS = 500
MAX_DISCIPLINE_DAYS = 3650


# --- loading through the policy -------------------------------------------------------------
def moderated_post(actor: Actor, post_id: int) -> tuple[Post, Topic, Sig]:
    """A post the actor moderates: NotFound when invisible to it, Forbidden when not its SIG."""
    post = db.session.get(Post, post_id) if post_id > 0 else None
    if post is None:
        raise NotFound("No such post.")
    topic = permissions.get_topic_for(actor, post.topic_id)
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    if not permissions.can_view_post(actor, post, topic, sig):
        raise NotFound("No such post.")
    permissions.require_sig_sysop(actor, sig)
    return post, topic, sig


def moderated_topic(actor: Actor, topic_id: int) -> tuple[Topic, Sig]:
    topic = permissions.get_topic_for(actor, topic_id)
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    permissions.require_sig_sysop(actor, sig)
    return topic, sig


def moderated_sig(actor: Actor, sig_id: int) -> Sig:
    sig = permissions.get_sig_by_id_for(actor, sig_id) if sig_id > 0 else None
    if sig is None:
        raise NotFound("No such SIG.")
    if not permissions.is_sig_sysop(actor, sig):
        raise Forbidden(f"You do not moderate {sig.name}.")
    return sig


def _member(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id > 0 else None
    if user is None:
        raise NotFound("No such member.")
    return user


def _reason(reason: str | None, required: bool = False, field: str = "reason") -> str:
    reason = " ".join(content.clean_text(reason or "").split())
    if required and not reason:
        raise Invalid(field, "Give a reason; the member will see it.")
    if len(reason) > MAX_REASON:
        raise Invalid(field, f"Keep the reason under {MAX_REASON} characters.")
    return reason


def _until(until: datetime | None, field: str = "until") -> datetime:
    now = utcnow()
    if until is None or until.tzinfo is None:
        raise Invalid(field, "Give an end date.")
    if until <= now:
        raise Invalid(field, "The end date must be in the future.")
    if until > now + timedelta(days=MAX_DISCIPLINE_DAYS):
        raise Invalid(field, "Keep it under ten years; use a ban for longer.")
    return until


def _log(
    actor: Actor,
    action: str,
    *,
    sig_id: int | None = None,
    user_id: int | None = None,
    topic_id: int | None = None,
    post_id: int | None = None,
    reason: str = "",
    details: str = "",
) -> ModAction:
    entry = ModAction(
        actor_id=actor.id if actor is not None else None,
        action=action,
        sig_id=sig_id,
        target_user_id=user_id,
        topic_id=topic_id,
        post_id=post_id,
        reason=reason[:MAX_REASON],
        details=details[:500],
        created_at=utcnow(),
    )
    db.session.add(entry)
    return entry


def _actor_id(actor: Actor) -> int:
    assert actor is not None
    return actor.id  # type: ignore[no-any-return]


# --- post visibility ------------------------------------------------------------------------
def hide_post(actor: Actor, post_id: int, reason: str = "") -> Post:
    """Hide a post from readers (its author and sysops still see it, marked)."""
    post, topic, sig = moderated_post(actor, post_id)
    reason = _reason(reason)
    if post.is_deleted:
        raise Conflict("This post is deleted.")
    if post.is_hidden:
        raise Conflict("This post is already hidden.")
    with transaction():
        _hide(actor, post, topic, sig, reason)
        _publish_hidden(_actor_id(actor), post, topic, sig)
    return post


def _hide(actor: Actor, post: Post, topic: Topic, sig: Sig, reason: str) -> None:
    was_public = post.is_public
    post.hidden_at = utcnow()
    post.hidden_by_id = actor.id if actor is not None else None
    post.hide_reason = reason or None
    topic_services.recount_topic(topic, sig)
    if was_public:
        topic_services.adjust_author_count(post.user_id, -1)
    _log(
        actor,
        "hide_post" if actor is not None else "auto_hide_post",
        sig_id=sig.id,
        user_id=post.user_id,
        topic_id=topic.id,
        post_id=post.id,
        reason=reason,
    )


def unhide_post(actor: Actor, post_id: int) -> Post:
    post, topic, sig = moderated_post(actor, post_id)
    if not post.is_hidden:
        raise Conflict("This post is not hidden.")
    with transaction():
        _unhide(actor, post, topic, sig)
    return post


def _unhide(actor: Actor, post: Post, topic: Topic, sig: Sig) -> None:
    post.hidden_at = None
    post.hidden_by_id = None
    post.hide_reason = None
    topic_services.recount_topic(topic, sig)
    if post.is_public:
        topic_services.adjust_author_count(post.user_id, +1)
    _log(
        actor,
        "unhide_post",
        sig_id=sig.id,
        user_id=post.user_id,
        topic_id=topic.id,
        post_id=post.id,
    )
    events.publish(
        events.PostVisibilityChanged(
            post_id=post.id,
            topic_id=topic.id,
            sig_id=sig.id,
            actor_id=_actor_id(actor),
            change="unhidden",
        )
    )


def _publish_hidden(actor_id: int, post: Post, topic: Topic, sig: Sig) -> None:
    events.publish(
        events.PostVisibilityChanged(
            post_id=post.id, topic_id=topic.id, sig_id=sig.id, actor_id=actor_id, change="hidden"
        )
    )


# --- topic tools ----------------------------------------------------------------------------
def _topic_flag(actor: Actor, topic_id: int, field: str, on: bool, reason: str = "") -> Topic:
    topic, sig = moderated_topic(actor, topic_id)
    reason = _reason(reason)
    current = getattr(topic, field) is not None
    names = {
        "locked_at": ("lock", "locked", "unlock", "unlocked"),
        "pinned_at": ("pin", "pinned", "unpin", "unpinned"),
    }[field]
    verb, change = (names[0], names[1]) if on else (names[2], names[3])
    if current == on:
        raise Conflict(f"This topic is already {change}.")
    with transaction():
        setattr(topic, field, utcnow() if on else None)
        _log(
            actor,
            f"{verb}_topic",
            sig_id=sig.id,
            user_id=topic.user_id,
            topic_id=topic.id,
            reason=reason,
        )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id, sig_id=sig.id, actor_id=_actor_id(actor), change=change
            )
        )
    return topic


def lock_topic(actor: Actor, topic_id: int, reason: str = "") -> Topic:
    """No new replies (sysops still may)."""
    return _topic_flag(actor, topic_id, "locked_at", True, reason)


def unlock_topic(actor: Actor, topic_id: int) -> Topic:
    return _topic_flag(actor, topic_id, "locked_at", False)


def pin_topic(actor: Actor, topic_id: int) -> Topic:
    """Keep the topic at the top of its SIG."""
    return _topic_flag(actor, topic_id, "pinned_at", True)


def unpin_topic(actor: Actor, topic_id: int) -> Topic:
    return _topic_flag(actor, topic_id, "pinned_at", False)


def _post_ids(topic_id: int) -> tuple[int, ...]:
    return tuple(db.session.scalars(select(Post.id).where(Post.topic_id == topic_id)))


def _target_sig(actor: Actor, sig_id: int | None) -> Sig:
    if sig_id is None:
        raise Invalid("sig", "Choose a SIG.")
    sig = permissions.get_sig_by_id_for(actor, sig_id) if sig_id > 0 else None
    if sig is None:
        raise NotFound("No such SIG.")
    if not permissions.is_sig_sysop(actor, sig):
        raise Forbidden(f"You do not moderate {sig.name}, so you cannot move topics there.")
    if sig.is_archived:
        raise Invalid("sig", f"{sig.name} is archived; nothing can be moved into it.")
    return sig


def move_topic(actor: Actor, topic_id: int, to_sig_id: int | None, reason: str = "") -> Topic:
    """Move a topic with all its posts to another SIG the actor also moderates."""
    topic, old_sig = moderated_topic(actor, topic_id)
    new_sig = _target_sig(actor, to_sig_id)
    reason = _reason(reason)
    if new_sig.id == old_sig.id:
        raise Invalid("sig", "The topic is already in that SIG.")
    with transaction():
        lock_for_write(Topic, topic.id)
        lock_for_write(Sig, old_sig.id, new_sig.id)
        topic.sig_id = new_sig.id
        topic_services.recount_sig(old_sig)
        topic_services.recount_sig(new_sig)
        details = f"from {old_sig.name} to {new_sig.name}"
        for sig in (old_sig, new_sig):
            _log(
                actor,
                "move_topic",
                sig_id=sig.id,
                user_id=topic.user_id,
                topic_id=topic.id,
                reason=reason,
                details=details,
            )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id,
                sig_id=new_sig.id,
                actor_id=_actor_id(actor),
                change="moved",
                post_ids=_post_ids(topic.id),
                old_sig_id=old_sig.id,
            )
        )
    return topic


def _check_title(title: str) -> str:
    title = " ".join(content.clean_text(title or "").split())
    if len(title) < 3:
        raise Invalid("title", "Give the new topic a title of at least 3 characters.")
    if len(title) > 200:
        raise Invalid("title", "Keep the title under 200 characters.")
    return title


def split_topic(
    actor: Actor,
    topic_id: int,
    post_ids: list[int],
    title: str,
    to_sig_id: int | None = None,
    reason: str = "",
) -> Topic:
    """Move chosen replies into a new topic (in this SIG or another one the actor moderates).

    The moved posts are numbered 1, 2, … in the new topic in their old order; their permalinks
    (/p/<id>) keep working. Members who had read past them have the new topic marked read.
    """
    topic, sig = moderated_topic(actor, topic_id)
    ids = sorted({int(i) for i in post_ids})
    if not ids:
        raise Invalid("posts", "Choose at least one post to split off.")
    title = _check_title(title)
    reason = _reason(reason)
    new_sig = sig if to_sig_id in (None, sig.id) else _target_sig(actor, to_sig_id)
    posts = list(
        db.session.scalars(
            select(Post).where(Post.id.in_(ids), Post.topic_id == topic.id).order_by(Post.number)
        )
    )
    if len(posts) != len(ids):
        raise Invalid("posts", "Some of the chosen posts are not in this topic.")
    if any(p.number == 1 for p in posts):
        raise Invalid("posts", "The first post stays with its topic; choose replies only.")
    if topic.is_deleted:
        raise Invalid(None, "Restore the topic before splitting it.")
    highest_moved = posts[-1].number
    with transaction() as session:
        lock_for_write(Topic, topic.id)
        lock_for_write(Sig, sig.id, new_sig.id)
        first = posts[0]
        new = Topic(
            sig_id=new_sig.id,
            user_id=first.user_id,
            title=title,
            slug=slugify(title),
            created_at=first.created_at,
            last_posted_at=posts[-1].created_at,
            last_post_user_id=posts[-1].user_id,
            highest_post_number=len(posts),
        )
        session.add(new)
        session.flush()
        for number, post in enumerate(posts, start=1):
            post.topic_id = new.id
            post.number = number
        session.flush()
        new.first_post_id = first.id
        topic_services.recount_topic(topic, sig)
        topic_services.recount_topic(new, new_sig)
        if new.post_count and first.user_id is not None:
            author = session.get(User, first.user_id)
            if author is not None:
                author.topic_count = User.topic_count + 1
        # Whoever had read past the moved posts has read the new topic too.
        readers = session.scalars(
            select(TopicRead.user_id).where(
                TopicRead.topic_id == topic.id,
                TopicRead.last_read_post_number >= highest_moved,
            )
        ).all()
        now = utcnow()
        for user_id in readers:
            session.add(
                TopicRead(
                    user_id=user_id,
                    topic_id=new.id,
                    last_read_post_number=len(posts),
                    updated_at=now,
                )
            )
        details = f"{len(posts)} post(s) from “{topic.title}” into “{title}”"
        _log(
            actor,
            "split_topic",
            sig_id=sig.id,
            user_id=first.user_id,
            topic_id=topic.id,
            reason=reason,
            details=details,
        )
        if new_sig.id != sig.id:
            _log(
                actor,
                "split_topic",
                sig_id=new_sig.id,
                user_id=first.user_id,
                topic_id=new.id,
                reason=reason,
                details=details,
            )
        moved = tuple(p.id for p in posts)
        events.publish(
            events.TopicChanged(
                topic_id=new.id,
                sig_id=new_sig.id,
                actor_id=_actor_id(actor),
                change="split",
                post_ids=moved,
                old_sig_id=sig.id if new_sig.id != sig.id else None,
            )
        )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id, sig_id=sig.id, actor_id=_actor_id(actor), change="split"
            )
        )
    return new


def merge_topics(actor: Actor, source_id: int, target_id: int, reason: str = "") -> Topic:
    """Append every post of the source topic to the target topic; the source is then deleted.

    Post numbers continue after the target's highest one, so the target's permalinks stay put
    and the moved posts keep theirs (/p/<id>).
    """
    if source_id == target_id:
        raise Invalid("target", "A topic cannot be merged with itself.")
    source, source_sig = moderated_topic(actor, source_id)
    if target_id is None or target_id < 1:
        raise NotFound("No such topic.")
    target, target_sig = moderated_topic(actor, target_id)
    reason = _reason(reason)
    if source.is_deleted or target.is_deleted:
        raise Invalid("target", "Restore deleted topics before merging them.")
    with transaction() as session:
        # Replies arriving meanwhile wait, and are then numbered after the merged posts.
        lock_for_write(Topic, source.id, target.id)
        lock_for_write(Sig, source_sig.id, target_sig.id)
        posts = list(
            session.scalars(select(Post).where(Post.topic_id == source.id).order_by(Post.number))
        )
        base = target.highest_post_number
        for offset, post in enumerate(posts, start=1):
            post.topic_id = target.id
            post.number = base + offset
        target.highest_post_number = base + len(posts)
        session.flush()
        had_posts = source.post_count > 0
        source.deleted_at = utcnow()
        source.deleted_by_id = _actor_id(actor)
        topic_services.recount_topic(source, source_sig)
        topic_services.recount_topic(target, target_sig)
        if had_posts and source.user_id is not None:
            author = session.get(User, source.user_id)
            if author is not None:
                author.topic_count = User.topic_count - 1
        details = f"“{source.title}” into “{target.title}”"
        for sig_id in {source_sig.id, target_sig.id}:
            _log(
                actor,
                "merge_topics",
                sig_id=sig_id,
                user_id=source.user_id,
                topic_id=target.id,
                reason=reason,
                details=details,
            )
        moved = tuple(p.id for p in posts)
        events.publish(
            events.TopicChanged(
                topic_id=target.id,
                sig_id=target_sig.id,
                actor_id=_actor_id(actor),
                change="merged",
                post_ids=moved,
                old_sig_id=source_sig.id if source_sig.id != target_sig.id else None,
            )
        )
        events.publish(
            events.TopicChanged(
                topic_id=source.id,
                sig_id=source_sig.id,
                actor_id=_actor_id(actor),
                change="deleted",
            )
        )
    return target


def _author_post_counts(topic_id: int) -> list[tuple[int, int]]:
    rows = db.session.execute(
        select(Post.user_id, func.count(Post.id))
        .where(
            Post.topic_id == topic_id, Post.user_id.is_not(None), permissions.public_posts_clause()
        )
        .group_by(Post.user_id)
    ).all()
    return [(user_id, count) for user_id, count in rows]


def delete_topic(actor: Actor, topic_id: int, reason: str = "") -> Topic:
    """Soft-delete a whole topic; sysops can still open and restore it."""
    topic, sig = moderated_topic(actor, topic_id)
    reason = _reason(reason)
    if topic.is_deleted:
        raise Conflict("This topic is already deleted.")
    with transaction():
        counts = _author_post_counts(topic.id)
        topic.deleted_at = utcnow()
        topic.deleted_by_id = _actor_id(actor)
        topic_services.recount_sig(sig)
        for user_id, count in counts:
            topic_services.adjust_author_count(user_id, -count)
        _log(
            actor,
            "delete_topic",
            sig_id=sig.id,
            user_id=topic.user_id,
            topic_id=topic.id,
            reason=reason,
        )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id, sig_id=sig.id, actor_id=_actor_id(actor), change="deleted"
            )
        )
    return topic


def restore_topic(actor: Actor, topic_id: int) -> Topic:
    topic, sig = moderated_topic(actor, topic_id)
    if not topic.is_deleted:
        raise Conflict("This topic is not deleted.")
    first = db.session.get(Post, topic.first_post_id) if topic.first_post_id else None
    with transaction():
        if first is not None and first.topic_id == topic.id and first.is_deleted:
            # Deleted by deleting its first post: undo exactly that (topics' own verb).
            topic_services.restore_post(actor, first.id)
        else:
            topic.deleted_at = None
            topic.deleted_by_id = None
            topic_services.recount_topic(topic, sig)
            for user_id, count in _author_post_counts(topic.id):
                topic_services.adjust_author_count(user_id, count)
            events.publish(
                events.TopicChanged(
                    topic_id=topic.id, sig_id=sig.id, actor_id=_actor_id(actor), change="restored"
                )
            )
        _log(actor, "restore_topic", sig_id=sig.id, user_id=topic.user_id, topic_id=topic.id)
    return topic


# --- flags ----------------------------------------------------------------------------------
def flag_post(actor: Actor, post_id: int, reason: str, note: str = "") -> Flag:
    """A member reports a post to its SIG's sysops."""
    post = permissions.get_post_for(actor, post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    permissions.require_flag_post(actor, post, topic, sig)
    assert actor is not None
    if reason not in FLAG_REASONS:
        raise Invalid("reason", "Choose why you are flagging this post.")
    note = _reason(note, field="note")
    if reason == "other" and not note:
        raise Invalid("note", "Tell the sysops what is wrong with this post.")
    with transaction() as session:
        already = session.scalar(
            select(Flag.id).where(
                Flag.post_id == post.id, Flag.user_id == actor.id, Flag.resolved_at.is_(None)
            )
        )
        if already is not None:
            raise Conflict("You have already flagged this post; the sysops will look at it.")
        flag = Flag(post_id=post.id, user_id=actor.id, reason=reason, note=note)
        session.add(flag)
        session.flush()
        events.publish(
            events.PostFlagged(
                flag_id=flag.id, post_id=post.id, topic_id=topic.id, sig_id=sig.id, user_id=actor.id
            )
        )
        _maybe_auto_hide(actor, post, topic, sig)
    return flag


def _maybe_auto_hide(flagger: User, post: Post, topic: Topic, sig: Sig) -> None:
    """Hide a post until reviewed when enough trusted members have flagged it (a setting)."""
    threshold = int(site_settings.get("auto_hide_threshold") or 0)
    if threshold <= 0 or not post.is_public:
        return
    min_posts = int(site_settings.get("trust_min_posts") or 0)
    trusted = db.session.scalar(
        select(func.count(Flag.id))
        .join(User, User.id == Flag.user_id)
        .where(
            Flag.post_id == post.id,
            Flag.resolved_at.is_(None),
            User.post_count >= min_posts,
            User.banned_at.is_(None),
        )
    )
    if (trusted or 0) >= threshold:
        _hide(None, post, topic, sig, f"Hidden after {trusted} flags; waiting for a sysop.")
        _publish_hidden(flagger.id, post, topic, sig)


def _open_flags(post_id: int) -> list[Flag]:
    return list(
        db.session.scalars(
            select(Flag)
            .where(Flag.post_id == post_id, Flag.resolved_at.is_(None))
            .order_by(Flag.id)
        )
    )


def resolve_flags(
    actor: Actor,
    post_id: int,
    outcome: str,
    reason: str = "",
    until: datetime | None = None,
) -> list[Flag]:
    """Handle a flagged post: dismiss, hide, delete, warn or suspend the author (in the SIG).

    Every open flag on the post is resolved in the same transaction and each flagger is told.
    """
    post, topic, sig = moderated_post(actor, post_id)
    assert actor is not None
    if outcome not in OUTCOMES:
        raise Invalid("outcome", "Choose how to handle this post.")
    flags = _open_flags(post.id)
    if not flags:
        raise Conflict("This post has no open flags; someone may have handled it already.")
    reason = _reason(reason, required=outcome in ("warned", "suspended"))
    with transaction() as session:
        if outcome == "dismissed":
            if post.is_hidden and post.hidden_by_id is None:
                _unhide(actor, post, topic, sig)  # undo an automatic hide
        elif outcome == "hidden":
            if not post.is_hidden:
                _hide(actor, post, topic, sig, reason)
                _publish_hidden(actor.id, post, topic, sig)
        elif outcome == "deleted":
            if not post.is_deleted:
                topic_services.delete_post(actor, post.id)
                _log(
                    actor,
                    "delete_post",
                    sig_id=sig.id,
                    user_id=post.user_id,
                    topic_id=topic.id,
                    post_id=post.id,
                    reason=reason,
                )
        elif post.user_id is None:
            raise Invalid("outcome", "The author's account no longer exists.")
        elif outcome == "warned":
            warn_member(actor, post.user_id, reason, sig_id=sig.id, post_id=post.id)
        elif outcome == "suspended":
            suspend_member(actor, post.user_id, until, reason, sig_id=sig.id)
        now = utcnow()
        for flag in flags:
            flag.resolved_at = now
            flag.resolved_by_id = actor.id
            flag.outcome = outcome
        review = session.get(PostReview, post.id)
        if review is not None:
            session.delete(review)
        _log(
            actor,
            "resolve_flags",
            sig_id=sig.id,
            user_id=post.user_id,
            topic_id=topic.id,
            post_id=post.id,
            reason=reason,
            details=f"{len(flags)} flag(s): {outcome}",
        )
        events.publish(
            events.FlagsResolved(
                post_id=post.id,
                sig_id=sig.id,
                flagger_ids=tuple(sorted({f.user_id for f in flags})),
                outcome=outcome,
                actor_id=actor.id,
            )
        )
    return flags


def claim_flag(actor: Actor, post_id: int) -> PostReview:
    """Tell the other sysops that I am handling this flagged post."""
    post, topic, sig = moderated_post(actor, post_id)
    assert actor is not None
    if not _open_flags(post.id):
        raise Conflict("This post has no open flags.")
    with transaction() as session:
        review = session.get(PostReview, post.id)
        if review is not None and review.claimed_by_id not in (None, actor.id):
            other = session.get(User, review.claimed_by_id)
            raise Conflict(f"{other.username if other else 'Another sysop'} is handling this post.")
        if review is None:
            review = PostReview(post_id=post.id)
            session.add(review)
        review.claimed_by_id = actor.id
        review.claimed_at = utcnow()
        _log(
            actor,
            "claim_flag",
            sig_id=sig.id,
            user_id=post.user_id,
            topic_id=topic.id,
            post_id=post.id,
        )
    return review


def unclaim_flag(actor: Actor, post_id: int) -> None:
    post, topic, sig = moderated_post(actor, post_id)
    assert actor is not None
    review = db.session.get(PostReview, post.id)
    if review is None or review.claimed_by_id is None:
        raise Conflict("Nobody is handling this post.")
    if review.claimed_by_id != actor.id and not permissions.is_global_sysop(actor):
        raise Forbidden("Only the sysop who claimed it (or the global sysop) can release it.")
    with transaction() as session:
        session.delete(review)
        _log(
            actor,
            "unclaim_flag",
            sig_id=sig.id,
            user_id=post.user_id,
            topic_id=topic.id,
            post_id=post.id,
        )


def add_review_note(actor: Actor, post_id: int, body: str) -> ReviewNote:
    """A note on a flagged or pending post, for the other sysops."""
    post, _topic, _sig = moderated_post(actor, post_id)
    assert actor is not None
    body = content.clean_text(body or "").strip()
    if not body:
        raise Invalid("body", "Write the note first.")
    if len(body) > MAX_NOTE:
        raise Invalid("body", f"Keep notes under {MAX_NOTE:,} characters.")
    with transaction() as session:
        note = ReviewNote(post_id=post.id, author_id=actor.id, body=body)
        session.add(note)
    return note


# --- approval queue -------------------------------------------------------------------------
def approve_post(actor: Actor, post_id: int) -> Post:
    """Show a post that waited for approval (and its topic, when it is the first post)."""
    post, topic, sig = moderated_post(actor, post_id)
    if not post.is_pending:
        raise Conflict("This post is not waiting for approval.")
    if post.is_deleted:
        raise Conflict("This post was deleted.")
    with transaction() as session:
        post.status = POST_VISIBLE
        topic_services.recount_topic(topic, sig)
        if post.is_public:
            topic_services.adjust_author_count(post.user_id, +1)
        if post.number == 1 and post.user_id is not None and topic.post_count > 0:
            author = session.get(User, post.user_id)
            if author is not None:
                author.topic_count = User.topic_count + 1
        _log(
            actor,
            "approve_post",
            sig_id=sig.id,
            user_id=post.user_id,
            topic_id=topic.id,
            post_id=post.id,
        )
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                actor_id=_actor_id(actor),
                change="approved",
            )
        )
    return post


def reject_post(actor: Actor, post_id: int, reason: str = "") -> Post:
    """Refuse a post that waited for approval: it is deleted (with its topic if it started one)."""
    post, topic, sig = moderated_post(actor, post_id)
    reason = _reason(reason)
    if not post.is_pending or post.is_deleted:
        raise Conflict("This post is not waiting for approval.")
    with transaction():
        now = utcnow()
        post.deleted_at = now
        post.deleted_by_id = _actor_id(actor)
        if post.number == 1:
            topic.deleted_at = now
            topic.deleted_by_id = _actor_id(actor)
        topic_services.recount_topic(topic, sig)
        _log(
            actor,
            "reject_post",
            sig_id=sig.id,
            user_id=post.user_id,
            topic_id=topic.id,
            post_id=post.id,
            reason=reason,
        )
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                actor_id=_actor_id(actor),
                change="deleted",
            )
        )
    return post


def set_sig_approval_threshold(actor: Actor, sig_id: int, threshold: int | None) -> None:
    """Override the site's approval threshold in one SIG (None: use the site's)."""
    sig = moderated_sig(actor, sig_id)
    if threshold is not None and not 0 <= threshold <= 1000:
        raise Invalid("threshold", "Enter a whole number from 0 to 1,000, or leave it empty.")
    with transaction() as session:
        row = session.get(SigModeration, sig.id)
        if row is None:
            row = SigModeration(sig_id=sig.id)
            session.add(row)
        row.approval_threshold = threshold
        _log(
            actor,
            "set_approval_threshold",
            sig_id=sig.id,
            details="site default" if threshold is None else str(threshold),
        )


# --- member discipline ----------------------------------------------------------------------
def _sig_or_none(actor: Actor, sig_id: int | None) -> Sig | None:
    if sig_id is None:
        return None
    sig = db.session.get(Sig, sig_id) if sig_id > 0 else None
    if sig is None or not permissions.can_see_sig(actor, sig):
        raise NotFound("No such SIG.")
    return sig


def _disciplined(actor: Actor, user: User, kind: str, sig: Sig | None, reason: str) -> None:
    events.publish(
        events.MemberDisciplined(
            user_id=user.id,
            kind=kind,
            actor_id=_actor_id(actor),
            sig_id=sig.id if sig else None,
            reason=reason,
        )
    )


def warn_member(
    actor: Actor, user_id: int, reason: str, sig_id: int | None = None, post_id: int | None = None
) -> MemberWarning:
    """Give a member a warning they will see (in a SIG for SIG sysops, or site-wide)."""
    user = _member(user_id)
    sig = _sig_or_none(actor, sig_id)
    permissions.require_discipline(actor, user, sig)
    reason = _reason(reason, required=True)
    with transaction() as session:
        warning = MemberWarning(
            user_id=user.id,
            actor_id=_actor_id(actor),
            sig_id=sig.id if sig else None,
            post_id=post_id,
            reason=reason,
        )
        session.add(warning)
        _log(
            actor,
            "warn_member",
            sig_id=sig.id if sig else None,
            user_id=user.id,
            post_id=post_id,
            reason=reason,
        )
        _disciplined(actor, user, "warned", sig, reason)
    return warning


def silence_member(actor: Actor, user_id: int, until: datetime | None, reason: str) -> User:
    """Site-wide read-only until a date."""
    user = _member(user_id)
    permissions.require_discipline(actor, user, None)
    until = _until(until)
    reason = _reason(reason, required=True)
    with transaction():
        user.silenced_until = until
        user.silence_reason = reason
        _log(
            actor,
            "silence_member",
            user_id=user.id,
            reason=reason,
            details=f"until {until:%Y-%m-%d %H:%M} UTC",
        )
        _disciplined(actor, user, "silenced", None, reason)
    return user


def suspend_member(
    actor: Actor, user_id: int, until: datetime | None, reason: str, sig_id: int | None = None
) -> User:
    """Bar a member from writing in one SIG (its sysops) or everywhere (the global sysop)."""
    user = _member(user_id)
    sig = _sig_or_none(actor, sig_id)
    permissions.require_discipline(actor, user, sig)
    until = _until(until)
    reason = _reason(reason, required=True)
    with transaction() as session:
        if sig is not None:
            membership = session.scalar(
                select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user.id)
            )
            if membership is None:
                raise Invalid(None, f"{user.username} is not a member of {sig.name}.")
            membership.suspended_until = until
            membership.suspension_reason = reason
        else:
            user.suspended_until = until
            user.suspension_reason = reason
        _log(
            actor,
            "suspend_member",
            sig_id=sig.id if sig else None,
            user_id=user.id,
            reason=reason,
            details=f"until {until:%Y-%m-%d %H:%M} UTC",
        )
        _disciplined(actor, user, "suspended", sig, reason)
    permissions.forget_memberships(user)
    return user


def ban_member(actor: Actor, user_id: int, reason: str) -> User:
    """Ban site-wide: every session ends now and the member cannot log in again."""
    user = _member(user_id)
    permissions.require_discipline(actor, user, None)
    reason = _reason(reason, required=True)
    if user.is_banned:
        raise Conflict(f"{user.username} is already banned.")
    with transaction():
        user.banned_at = utcnow()
        user.ban_reason = reason
        revoke_sessions(user)  # joins this transaction: rotates the token, SessionsRevoked
        _log(actor, "ban_member", user_id=user.id, reason=reason)
        _disciplined(actor, user, "banned", None, reason)
    return user


def lift_silence(actor: Actor, user_id: int, reason: str = "") -> User:
    user = _member(user_id)
    permissions.require_discipline(actor, user, None)
    reason = _reason(reason)
    if not user.is_silenced():
        raise Conflict(f"{user.username} is not silenced.")
    with transaction():
        user.silenced_until = None
        user.silence_reason = None
        _log(actor, "lift_silence", user_id=user.id, reason=reason)
        _disciplined(actor, user, "lifted_silence", None, reason)
    return user


def lift_suspension(
    actor: Actor, user_id: int, sig_id: int | None = None, reason: str = ""
) -> User:
    user = _member(user_id)
    sig = _sig_or_none(actor, sig_id)
    permissions.require_discipline(actor, user, sig)
    reason = _reason(reason)
    with transaction() as session:
        if sig is not None:
            membership = session.scalar(
                select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user.id)
            )
            if membership is None or not membership.is_suspended():
                raise Conflict(f"{user.username} is not suspended in {sig.name}.")
            membership.suspended_until = None
            membership.suspension_reason = None
        else:
            if not user.is_suspended():
                raise Conflict(f"{user.username} is not suspended.")
            user.suspended_until = None
            user.suspension_reason = None
        _log(
            actor, "lift_suspension", sig_id=sig.id if sig else None, user_id=user.id, reason=reason
        )
        _disciplined(actor, user, "lifted_suspension", sig, reason)
    permissions.forget_memberships(user)
    return user


def lift_ban(actor: Actor, user_id: int, reason: str = "") -> User:
    user = _member(user_id)
    permissions.require_discipline(actor, user, None)
    reason = _reason(reason)
    if not user.is_banned:
        raise Conflict(f"{user.username} is not banned.")
    with transaction():
        user.banned_at = None
        user.ban_reason = None
        _log(actor, "lift_ban", user_id=user.id, reason=reason)
        _disciplined(actor, user, "lifted_ban", None, reason)
    return user


def acknowledge_warnings(actor: Actor) -> int:
    """The member has read their warnings."""
    if actor is None:
        raise Forbidden("Log in first.")
    with transaction() as session:
        warnings = session.scalars(
            select(MemberWarning).where(
                MemberWarning.user_id == actor.id, MemberWarning.acknowledged_at.is_(None)
            )
        ).all()
        now = utcnow()
        for warning in warnings:
            warning.acknowledged_at = now
    return len(warnings)


# --- notes on members -----------------------------------------------------------------------
def add_member_note(actor: Actor, user_id: int, body: str, sig_id: int | None = None) -> MemberNote:
    """A private note about a member, for sysops only."""
    if not permissions.can_see_member_notes(actor):
        raise Forbidden("Only sysops keep notes on members.")
    assert actor is not None
    user = _member(user_id)
    sig = _sig_or_none(actor, sig_id)
    if sig is not None and not permissions.is_sig_sysop(actor, sig):
        raise Forbidden(f"You do not moderate {sig.name}.")
    body = content.clean_text(body or "").strip()
    if not body:
        raise Invalid("body", "Write the note first.")
    if len(body) > MAX_NOTE:
        raise Invalid("body", f"Keep notes under {MAX_NOTE:,} characters.")
    with transaction() as session:
        note = MemberNote(
            user_id=user.id, author_id=actor.id, sig_id=sig.id if sig else None, body=body
        )
        session.add(note)
        _log(actor, "add_member_note", sig_id=sig.id if sig else None, user_id=user.id)
    return note


# --- word filters ---------------------------------------------------------------------------
def add_word_filter(
    actor: Actor, word: str, action: str, whole_word: bool = True, sig_id: int | None = None
) -> WordFilter:
    """Block, or send to the approval queue, posts containing a word or phrase."""
    sig = _sig_or_none(actor, sig_id)
    if not permissions.can_manage_filters(actor, sig):
        raise Forbidden(
            "Only the sysop manages site-wide word filters."
            if sig is None
            else f"You do not moderate {sig.name}."
        )
    word = " ".join(content.clean_text(word or "").split()).casefold()
    if not 2 <= len(word) <= 100:
        raise Invalid("word", "Use 2 to 100 characters.")
    if action not in FILTER_ACTIONS:
        raise Invalid("action", "Choose block or hold for approval.")
    with transaction() as session:
        scope = WordFilter.sig_id == sig.id if sig else WordFilter.sig_id.is_(None)
        if session.scalar(select(WordFilter.id).where(scope, WordFilter.word == word)):
            raise Conflict("That word is already filtered here.")
        if (session.scalar(select(func.count(WordFilter.id)).where(scope)) or 0) >= MAX_FILTERS:
            raise Invalid("word", f"At most {MAX_FILTERS} words per filter list.")
        entry = WordFilter(
            sig_id=sig.id if sig else None,
            word=word,
            whole_word=whole_word,
            action=action,
            created_by_id=_actor_id(actor),
        )
        session.add(entry)
        _log(
            actor,
            "add_word_filter",
            sig_id=sig.id if sig else None,
            details=f"{word} ({action}{', whole word' if whole_word else ''})",
        )
    return entry


def remove_word_filter(actor: Actor, filter_id: int) -> None:
    entry = db.session.get(WordFilter, filter_id) if filter_id > 0 else None
    if entry is None:
        raise NotFound("No such word filter.")
    sig = _sig_or_none(actor, entry.sig_id)
    if not permissions.can_manage_filters(actor, sig):
        raise Forbidden("You may not change this word filter.")
    with transaction() as session:
        _log(actor, "remove_word_filter", sig_id=entry.sig_id, details=entry.word)
        session.delete(entry)
