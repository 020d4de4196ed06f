"""Moderation verbs on one post: hide and unhide, and the approval queue (approve, reject,
the SIG's approval threshold).
"""

from __future__ import annotations

from .. import counters, events
from ..db import transaction
from ..errors import Conflict, Invalid
from ..i18n import lazy_gettext as _l
from ..i18n import lazy_number
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics.models import POST_VISIBLE, Post, Topic
from .common import (
    actor_id,
    clean_reason,
    log_action,
    log_post_action,
    moderated_post,
    moderated_sig,
)
from .models import SigModeration


# --- post visibility ------------------------------------------------------------------------
def hide_post(actor: Actor, post_id: int, reason: str = "") -> Post:
    """Hide a post from readers (its author and sysops still see it, marked)."""
    post, topic, sig = moderated_post(actor, post_id)
    reason = clean_reason(reason)
    if post.is_deleted:
        raise Conflict(_l("This post is deleted."))
    if post.is_hidden:
        raise Conflict(_l("This post is already hidden."))
    with transaction():
        apply_hide(actor, post, topic, sig, reason)
        publish_visibility(actor_id(actor), post, topic, sig, "hidden")
    return post


def apply_hide(actor: Actor, post: Post, topic: Topic, sig: Sig, reason: str) -> None:
    """A sysop hides the post: `reason` is what they typed (empty: none)."""
    _hide(post, topic, sig, actor_id(actor))
    post.hide_reason = reason or None
    log_post_action(actor, "hide_post", post, topic, sig, reason=reason)


def apply_auto_hide(post: Post, topic: Topic, sig: Sig, flags: int, weight: float) -> None:
    """Members' flags hide the post until a sysop looks at it (forum.moderation.flags): no
    sysop hid it, and nobody typed a reason. It is kept as data (`hidden_by_flags`), said in
    each reader's language; the log keeps the count and the weight as params."""
    _hide(post, topic, sig, None)
    post.hidden_by_flags = True
    post.hide_reason = None
    log_post_action(
        None,
        "auto_hide_post",
        post,
        topic,
        sig,
        details=f"{flags} flags weighing {weight:g}",
        params={"flags": flags, "weight": weight},
    )


def confirm_auto_hide(actor: Actor, post: Post, topic: Topic, sig: Sig, reason: str) -> None:
    """A sysop keeps a post that members' flags hid hidden: from now on the sysop hid it, with
    their reason (the post was hidden already: no count moves)."""
    post.hidden_by_id = actor_id(actor)
    post.hidden_by_flags = False
    post.hide_reason = reason or None
    log_post_action(actor, "hide_post", post, topic, sig, reason=reason)


def _hide(post: Post, topic: Topic, sig: Sig, by: int | None) -> None:
    was_public = post.is_public
    post.hidden_at = utcnow()
    post.hidden_by_id = by
    post.hidden_by_flags = False
    counters.recount_topic(topic, sig)
    if was_public:
        counters.count_member_posts(post.user_id, -1)


def unhide_post(actor: Actor, post_id: int) -> Post:
    post, topic, sig = moderated_post(actor, post_id)
    if not post.is_hidden:
        raise Conflict(_l("This post is not hidden."))
    with transaction():
        apply_unhide(actor, post, topic, sig)
    return post


def apply_unhide(actor: Actor, post: Post, topic: Topic, sig: Sig) -> None:
    post.hidden_at = None
    post.hidden_by_id = None
    post.hidden_by_flags = False
    post.hide_reason = None
    counters.recount_topic(topic, sig)
    if post.is_public:
        counters.count_member_posts(post.user_id, +1)
    log_post_action(actor, "unhide_post", post, topic, sig)
    publish_visibility(actor_id(actor), post, topic, sig, "unhidden")


def publish_visibility(actor_id: int, post: Post, topic: Topic, sig: Sig, change: str) -> None:
    """Tell the other features that who sees this post changed (hidden, unhidden, approved,
    deleted): indexes and open pages re-read it."""
    events.publish(
        events.PostVisibilityChanged(
            post_id=post.id, topic_id=topic.id, sig_id=sig.id, actor_id=actor_id, change=change
        )
    )


# --- approval queue -------------------------------------------------------------------------
def approve_post(actor: Actor, post_id: int) -> Post:
    """Show a post that waited for approval (and its topic, when it is the first post)."""
    post, topic, sig = moderated_post(actor, post_id)
    if not post.is_pending:
        raise Conflict(_l("This post is not waiting for approval."))
    if post.is_deleted:
        raise Conflict(_l("This post was deleted."))
    with transaction():
        post.status = POST_VISIBLE
        counters.recount_topic(topic, sig)  # and the starter's topics, for a first post
        if post.is_public:
            counters.count_member_posts(post.user_id, +1)
        log_post_action(actor, "approve_post", post, topic, sig)
        publish_visibility(actor_id(actor), post, topic, sig, "approved")
    return post


def reject_post(actor: Actor, post_id: int, reason: str = "") -> Post:
    """Refuse a post that waited for approval: it is deleted (with its topic if it started one)."""
    post, topic, sig = moderated_post(actor, post_id)
    reason = clean_reason(reason)
    if not post.is_pending or post.is_deleted:
        raise Conflict(_l("This post is not waiting for approval."))
    with transaction():
        now = utcnow()
        post.deleted_at = now
        post.deleted_by_id = actor_id(actor)
        if post.number == 1:
            topic.deleted_at = now
            topic.deleted_by_id = actor_id(actor)
        counters.recount_topic(topic, sig)
        log_post_action(actor, "reject_post", post, topic, sig, reason=reason)
        publish_visibility(actor_id(actor), post, topic, sig, "deleted")
    return post


def set_sig_approval_threshold(actor: Actor, sig_id: int, threshold: int | None) -> None:
    """Override the site's approval threshold in one SIG (None: use the site's)."""
    sig = moderated_sig(actor, sig_id)
    if threshold is not None and not 0 <= threshold <= 1000:
        raise Invalid(
            "threshold",
            _l(
                "Enter a whole number from 0 to %(maximum)s, or leave it empty.",
                maximum=lazy_number(1000),
            ),
        )
    with transaction() as session:
        row = session.get(SigModeration, sig.id)
        if row is None:
            row = SigModeration(sig_id=sig.id)
            session.add(row)
        row.approval_threshold = threshold
        log_action(
            actor,
            "set_approval_threshold",
            sig_id=sig.id,
            details="site default" if threshold is None else str(threshold),
            params={"threshold": threshold},
        )
