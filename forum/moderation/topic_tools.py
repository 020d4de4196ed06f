"""Topic tools: lock, pin, move, split, merge, delete and restore whole topics."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from .. import content, counters, events, permissions
from ..db import lock_for_write, transaction
from ..errors import Conflict, Forbidden, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Sig
from ..text import slugify
from ..timeutil import utcnow
from ..topics import services as topic_services
from ..topics.models import Post, Topic, TopicRead
from .common import actor_id, clean_reason, log_action, moderated_topic

# --- topic tools ----------------------------------------------------------------------------
# Refusals of a change the topic already has, by the change's name.
_ALREADY = {
    "locked": _l("This topic is already locked."),
    "unlocked": _l("This topic is already unlocked."),
    "pinned": _l("This topic is already pinned."),
    "unpinned": _l("This topic is already unpinned."),
}


def _topic_flag(actor: Actor, topic_id: int, field: str, on: bool, reason: str = "") -> Topic:
    topic, sig = moderated_topic(actor, topic_id)
    reason = clean_reason(reason)
    current = getattr(topic, field) is not None
    names = {
        "locked_at": ("lock", "locked", "unlock", "unlocked"),
        "pinned_at": ("pin", "pinned", "unpin", "unpinned"),
    }[field]
    verb, change = (names[0], names[1]) if on else (names[2], names[3])
    if current == on:
        raise Conflict(_ALREADY[change])
    with transaction():
        setattr(topic, field, utcnow() if on else None)
        log_action(
            actor,
            f"{verb}_topic",
            sig_id=sig.id,
            user_id=topic.user_id,
            topic_id=topic.id,
            reason=reason,
        )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id, sig_id=sig.id, actor_id=actor_id(actor), change=change
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
        raise Invalid("sig", _l("Choose a SIG."))
    sig = permissions.get_sig_by_id_for(actor, sig_id) if sig_id > 0 else None
    if sig is None:
        raise NotFound(_l("No such SIG."))
    if not permissions.is_sig_sysop(actor, sig):
        raise Forbidden(
            _l("You do not moderate %(name)s, so you cannot move topics there.", name=sig.name)
        )
    if sig.is_archived:
        raise Invalid(
            "sig", _l("%(name)s is archived; nothing can be moved into it.", name=sig.name)
        )
    return sig


def _log_in_both_sigs(
    actor: Actor,
    action: str,
    sigs: tuple[Sig, Sig],
    *,
    topic_ids: tuple[int, int],
    user_id: int | None,
    reason: str,
    details: str,
    params: dict | None = None,
) -> None:
    """A verb that takes posts from one SIG to another shows in both SIGs' logs (once when
    they are the same SIG), each entry naming the other SIG. `topic_ids` are the topics the
    entries name, in the order of `sigs` (a split: the old topic, then the new one)."""
    ids = [sig.id for sig in sigs]
    for sig_id in dict.fromkeys(ids):
        first_sig = sig_id == ids[0]
        log_action(
            actor,
            action,
            sig_id=sig_id,
            other_sig_id=ids[1] if first_sig else ids[0],
            user_id=user_id,
            topic_id=topic_ids[0] if first_sig else topic_ids[1],
            reason=reason,
            details=details,
            params=params,
        )


def move_topic(actor: Actor, topic_id: int, to_sig_id: int | None, reason: str = "") -> Topic:
    """Move a topic with all its posts to another SIG the actor also moderates."""
    topic, old_sig = moderated_topic(actor, topic_id)
    new_sig = _target_sig(actor, to_sig_id)
    reason = clean_reason(reason)
    if new_sig.id == old_sig.id:
        raise Invalid("sig", _l("The topic is already in that SIG."))
    with transaction():
        lock_for_write(Topic, topic.id)
        lock_for_write(Sig, old_sig.id, new_sig.id)
        topic.sig_id = new_sig.id
        counters.recount_sig(old_sig)
        counters.recount_sig(new_sig)
        _log_in_both_sigs(
            actor,
            "move_topic",
            (old_sig, new_sig),
            topic_ids=(topic.id, topic.id),
            user_id=topic.user_id,
            reason=reason,
            details=f"from {old_sig.name} to {new_sig.name}",
            params={"from": old_sig.name, "to": new_sig.name},
        )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id,
                sig_id=new_sig.id,
                actor_id=actor_id(actor),
                change="moved",
                post_ids=_post_ids(topic.id),
                old_sig_id=old_sig.id,
            )
        )
    return topic


def _check_title(title: str) -> str:
    title = " ".join(content.clean_text(title or "").split())
    if len(title) < 3:
        raise Invalid("title", _l("Give the new topic a title of at least 3 characters."))
    limit = int(current_app.config["MAX_TITLE_LENGTH"])
    require_at_most("title", title, limit, "title")
    return title


def _append_posts(posts: list[Post], topic: Topic) -> None:
    """Move these posts to the end of `topic`, in their order, numbered on from its highest
    number (which is never reused, so no permalink of the topic changes). The caller recounts
    the topic (counters.recount_topic)."""
    base = topic.highest_post_number
    for offset, post in enumerate(posts, start=1):
        post.topic_id = topic.id
        post.number = base + offset


def _publish_posts_moved(
    actor: Actor,
    posts: list[Post],
    into: tuple[Topic, Sig],
    out_of: tuple[Topic, Sig],
    change: str,
    left_change: str,
) -> None:
    """A split or a merge changed two topics: the one the posts went into (with their ids, so
    indexes re-read them) and the one they left."""
    (topic, sig), (left, left_sig) = into, out_of
    events.publish(
        events.TopicChanged(
            topic_id=topic.id,
            sig_id=sig.id,
            actor_id=actor_id(actor),
            change=change,
            post_ids=tuple(p.id for p in posts),
            old_sig_id=left_sig.id if left_sig.id != sig.id else None,
        )
    )
    events.publish(
        events.TopicChanged(
            topic_id=left.id, sig_id=left_sig.id, actor_id=actor_id(actor), change=left_change
        )
    )


def split_topic(
    actor: Actor,
    topic_id: int,
    post_ids: list[int],
    title: str,
    to_sig_id: int | None = None,
    reason: str = "",
    and_later: bool = False,
) -> Topic:
    """Move chosen replies into a new topic (in this SIG or another one the actor moderates);
    `and_later`: every reply after the first one chosen too.

    The moved posts are numbered 1, 2, … in the new topic in their old order; their permalinks
    (/p/<id>) keep working. Members who had read past them have the new topic marked read.
    """
    topic, sig = moderated_topic(actor, topic_id)
    ids = sorted({int(i) for i in post_ids})
    if and_later and ids:
        earliest = select(func.min(Post.number)).where(Post.id.in_(ids), Post.topic_id == topic.id)
        later = select(Post.id).where(
            Post.topic_id == topic.id, Post.number > earliest.scalar_subquery()
        )
        ids = sorted(set(ids) | set(db.session.scalars(later)))
    if not ids:
        raise Invalid("posts", _l("Choose at least one post to split off."))
    title = _check_title(title)
    reason = clean_reason(reason)
    new_sig = sig if to_sig_id in (None, sig.id) else _target_sig(actor, to_sig_id)
    posts = list(
        db.session.scalars(
            select(Post).where(Post.id.in_(ids), Post.topic_id == topic.id).order_by(Post.number)
        )
    )
    if len(posts) != len(ids):
        raise Invalid("posts", _l("Some of the chosen posts are not in this topic."))
    if any(p.number == 1 for p in posts):
        raise Invalid("posts", _l("The first post stays with its topic; choose replies only."))
    if topic.is_deleted:
        raise Invalid(None, _l("Restore the topic before splitting it."))
    first, last = posts[0], posts[-1]
    highest_moved = last.number
    with transaction() as session:
        lock_for_write(Topic, topic.id)
        lock_for_write(Sig, sig.id, new_sig.id)
        new = Topic(
            sig_id=new_sig.id,
            user_id=first.user_id,
            title=title,
            slug=slugify(title),
            created_at=first.created_at,
            last_posted_at=last.created_at,
            last_post_user_id=last.user_id,
            highest_post_number=0,
        )
        session.add(new)
        session.flush()
        _append_posts(posts, new)
        session.flush()
        new.first_post_id = first.id
        counters.recount_topic(topic, sig)
        counters.recount_topic(new, new_sig)  # counts it for its starter, once a post is seen
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
        _log_in_both_sigs(
            actor,
            "split_topic",
            (sig, new_sig),
            topic_ids=(topic.id, new.id),
            user_id=first.user_id,
            reason=reason,
            details=f"{len(posts)} post(s) from “{topic.title}” into “{title}”",
            params={"posts": len(posts), "source": topic.title, "target": title},
        )
        _publish_posts_moved(actor, posts, (new, new_sig), (topic, sig), "split", "split")
    return new


def merge_topics(actor: Actor, source_id: int, target_id: int, reason: str = "") -> Topic:
    """Append every post of the source topic to the target topic; the source is then deleted.

    Post numbers continue after the target's highest one, so the target's permalinks stay put
    and the moved posts keep theirs (/p/<id>).
    """
    if source_id == target_id:
        raise Invalid("target", _l("A topic cannot be merged with itself."))
    source, source_sig = moderated_topic(actor, source_id)
    if target_id is None or target_id < 1:
        raise NotFound(_l("No such topic."))
    target, target_sig = moderated_topic(actor, target_id)
    reason = clean_reason(reason)
    if source.is_deleted or target.is_deleted:
        raise Invalid("target", _l("Restore deleted topics before merging them."))
    with transaction() as session:
        # Replies arriving meanwhile wait, and are then numbered after the merged posts.
        lock_for_write(Topic, source.id, target.id)
        lock_for_write(Sig, source_sig.id, target_sig.id)
        posts = list(
            session.scalars(select(Post).where(Post.topic_id == source.id).order_by(Post.number))
        )
        _append_posts(posts, target)
        session.flush()
        had_posts = source.post_count > 0
        source.deleted_at = utcnow()
        source.deleted_by_id = actor_id(actor)
        counters.recount_topic(source, source_sig)
        counters.recount_topic(target, target_sig)
        if had_posts:
            counters.count_member_topics(source.user_id, -1)
        _log_in_both_sigs(
            actor,
            "merge_topics",
            (source_sig, target_sig),
            topic_ids=(target.id, target.id),
            user_id=source.user_id,
            reason=reason,
            details=f"“{source.title}” into “{target.title}”",
            params={"source": source.title, "target": target.title},
        )
        _publish_posts_moved(
            actor, posts, (target, target_sig), (source, source_sig), "merged", "deleted"
        )
    return target


def delete_topic(actor: Actor, topic_id: int, reason: str = "") -> Topic:
    """Soft-delete a whole topic; sysops can still open and restore it."""
    topic, sig = moderated_topic(actor, topic_id)
    reason = clean_reason(reason)
    if topic.is_deleted:
        raise Conflict(_l("This topic is already deleted."))
    with transaction():
        topic.deleted_at = utcnow()
        topic.deleted_by_id = actor_id(actor)
        counters.recount_sig(sig)
        counters.recount_authors(topic)
        log_action(
            actor,
            "delete_topic",
            sig_id=sig.id,
            user_id=topic.user_id,
            topic_id=topic.id,
            reason=reason,
        )
        events.publish(
            events.TopicChanged(
                topic_id=topic.id, sig_id=sig.id, actor_id=actor_id(actor), change="deleted"
            )
        )
    return topic


def restore_topic(actor: Actor, topic_id: int) -> Topic:
    topic, sig = moderated_topic(actor, topic_id)
    if not topic.is_deleted:
        raise Conflict(_l("This topic is not deleted."))
    first = db.session.get(Post, topic.first_post_id) if topic.first_post_id else None
    with transaction():
        if first is not None and first.topic_id == topic.id and first.is_deleted:
            # Deleted by deleting its first post: undo exactly that (topics' own verb).
            topic_services.restore_post(actor, first.id)
        else:
            topic.deleted_at = None
            topic.deleted_by_id = None
            counters.recount_topic(topic, sig)
            counters.recount_authors(topic)
            events.publish(
                events.TopicChanged(
                    topic_id=topic.id, sig_id=sig.id, actor_id=actor_id(actor), change="restored"
                )
            )
        log_action(actor, "restore_topic", sig_id=sig.id, user_id=topic.user_id, topic_id=topic.id)
    return topic
