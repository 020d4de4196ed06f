"""Flags: members flag posts; sysops claim, note and resolve them (dismiss, hide, delete,
warn or suspend the author), which resolves every open flag on the post at once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .. import events, permissions
from .. import settings as site_settings
from ..accounts.models import User
from ..db import transaction
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..messages import services as mail_services
from ..messages.models import MessageReport, PrivateMessage
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics import services as topic_services
from ..topics.models import Post, Topic
from .common import clean_note, clean_reason, log_post_action, moderated_post
from .discipline import ban_member, remove_from_sig, silence_member, suspend_member, warn_member
from .models import (
    FLAG_REASONS,
    MESSAGE_OUTCOMES,
    OUTCOMES,
    Flag,
    ModAction,
    PostReview,
    ReviewNote,
)
from .posts import (
    apply_auto_hide,
    apply_hide,
    apply_unhide,
    confirm_auto_hide,
    publish_visibility,
)


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
        raise Invalid("reason", _l("Choose why you are flagging this post."))
    note = clean_reason(note, field="note")
    if reason == "other" and not note:
        raise Invalid("note", _l("Tell the sysops what is wrong with this post."))
    with transaction() as session:
        already = session.scalar(
            select(Flag.id).where(
                Flag.post_id == post.id, Flag.user_id == actor.id, Flag.resolved_at.is_(None)
            )
        )
        if already is not None:
            raise Conflict(_l("You have already flagged this post; the sysops will look at it."))
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
    """Hide a post until reviewed when its open flags weigh enough (a setting): each flag by
    its flagger's trust level (forum.permissions.flag_weight), a new account's not at all."""
    threshold = site_settings.get_int("auto_hide_threshold")
    if threshold <= 0 or not post.is_public:
        return
    flaggers = list(
        db.session.scalars(
            select(User)
            .join(Flag, Flag.user_id == User.id)
            .where(Flag.post_id == post.id, Flag.resolved_at.is_(None))
        )
    )
    # In half flags (a member's flag weighs one and a half).
    weight = sum(permissions.flag_weight(u) for u in flaggers)
    if weight >= 2 * threshold:
        apply_auto_hide(post, topic, sig, len(flaggers), _whole(weight / 2))
        publish_visibility(flagger.id, post, topic, sig, "hidden")


def _whole(value: float) -> float:
    """2.0 as 2 (an int in the log's params), 2.5 as it is."""
    return int(value) if value == int(value) else value


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
    """Handle a flagged post: dismiss, hide, delete, warn or suspend the author (in the SIG),
    silence them (site-wide) or ban them (the sysop: site-wide; a SIG sysop: from the SIG).

    Every open flag on the post is resolved in the same transaction and each flagger is told.
    """
    post, topic, sig = moderated_post(actor, post_id)
    assert actor is not None
    if outcome not in OUTCOMES or outcome == "spam":  # spam: the cleanup's own verb
        raise Invalid("outcome", _l("Choose how to handle this post."))
    flags = _open_flags(post.id)
    if not flags:
        raise Conflict(_l("This post has no open flags; someone may have handled it already."))
    disciplines = ("warned", "suspended", "silenced", "banned")
    reason = clean_reason(reason, required=outcome in disciplines)
    if outcome in disciplines and post.user_id is None:
        raise Invalid("outcome", _l("The author's account no longer exists."))
    with transaction() as session:
        if outcome == "dismissed":
            if post.is_hidden and post.hidden_by_flags:
                apply_unhide(actor, post, topic, sig)  # undo an automatic hide
        elif post.is_hidden and post.hidden_by_flags:
            # Whatever else the sysop does, they have looked at the post the flags hid and
            # left it hidden: the hide is theirs now, with their reason (or none), and it no
            # longer waits for a sysop. The author hears it from them, as on "hidden"; a post
            # deleted instead says so in its own notification.
            confirm_auto_hide(actor, post, topic, sig, reason)
            if outcome != "deleted":
                publish_visibility(actor.id, post, topic, sig, "hidden")
        elif outcome == "hidden" and not post.is_hidden:
            apply_hide(actor, post, topic, sig, reason)
            publish_visibility(actor.id, post, topic, sig, "hidden")
        if outcome == "deleted":
            if not post.is_deleted:
                topic_services.delete_post(actor, post.id)
                log_post_action(actor, "delete_post", post, topic, sig, reason=reason)
        elif outcome in disciplines:
            assert post.user_id is not None
            if outcome == "warned":
                warn_member(actor, post.user_id, reason, sig_id=sig.id, post_id=post.id)
            elif outcome == "suspended":
                suspend_member(actor, post.user_id, until, reason, sig_id=sig.id)
            elif outcome == "silenced":
                silence_member(actor, post.user_id, until, reason)  # site-wide: the sysop's
            elif permissions.is_global_sysop(actor):
                # The global sysop bans site-wide; a SIG's sysops ban from their SIG.
                ban_member(actor, post.user_id, reason)
            else:
                remove_from_sig(actor, post.user_id, sig.id, reason, ban=True)
        now = utcnow()
        for flag in flags:
            flag.resolved_at = now
            flag.resolved_by_id = actor.id
            flag.outcome = outcome
        review = session.get(PostReview, post.id)
        if review is not None:
            session.delete(review)
        log_post_action(
            actor,
            "resolve_flags",
            post,
            topic,
            sig,
            reason=reason,
            details=f"{len(flags)} flag(s): {outcome}",
            params={"count": len(flags), "outcome": outcome},
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
        raise Conflict(_l("This post has no open flags."))
    with transaction() as session:
        review = session.get(PostReview, post.id)
        if review is not None and review.claimed_by_id not in (None, actor.id):
            other = session.get(User, review.claimed_by_id)
            if other is None:
                raise Conflict(_l("Another sysop is handling this post."))
            raise Conflict(_l("%(name)s is handling this post.", name=other.username))
        if review is None:
            review = PostReview(post_id=post.id)
            session.add(review)
        review.claimed_by_id = actor.id
        review.claimed_at = utcnow()
        log_post_action(actor, "claim_flag", post, topic, sig)
    return review


def unclaim_flag(actor: Actor, post_id: int) -> None:
    post, topic, sig = moderated_post(actor, post_id)
    assert actor is not None
    review = db.session.get(PostReview, post.id)
    if review is None or review.claimed_by_id is None:
        raise Conflict(_l("Nobody is handling this post."))
    permissions.require_release_claim(actor, review.claimed_by_id)
    with transaction() as session:
        session.delete(review)
        log_post_action(actor, "unclaim_flag", post, topic, sig)


def add_review_note(actor: Actor, post_id: int, body: str) -> ReviewNote:
    """A note on a flagged or pending post, for the other sysops."""
    post, _topic, _sig = moderated_post(actor, post_id)
    assert actor is not None
    body = clean_note(body)
    with transaction() as session:
        note = ReviewNote(post_id=post.id, author_id=actor.id, body=body)
        session.add(note)
    return note


# --- reported private messages ----------------------------------------------------------------
def resolve_message_report(
    actor: Actor, report_id: int, outcome: str, reason: str = ""
) -> list[MessageReport]:
    """The global sysop handles a reported private message: dismiss, hide it from the
    conversation, or warn its author (site-wide). Every open report of that message is resolved
    at once. The sysop acts on the excerpt the report carries; the conversation stays closed."""
    if not permissions.can_handle_message_reports(actor):
        raise NotFound(permissions.NO_SUCH_CONVERSATION)
    assert actor is not None
    report = db.session.get(MessageReport, report_id) if report_id > 0 else None
    if report is None:
        raise NotFound(_l("No such report."))
    if outcome not in MESSAGE_OUTCOMES:
        raise Invalid("outcome", _l("Choose how to handle this message."))
    reports = list(
        db.session.scalars(
            select(MessageReport)
            .where(
                MessageReport.message_id == report.message_id, MessageReport.resolved_at.is_(None)
            )
            .order_by(MessageReport.id)
        )
    )
    if not reports:
        raise Conflict(_l("This report was handled already."))
    reason = clean_reason(reason, required=outcome == "warned")
    message = db.session.get(PrivateMessage, report.message_id)
    author_id = message.user_id if message is not None else None
    with transaction() as session:
        if outcome == "hidden":
            mail_services.hide_reported_message(actor, report)
        elif outcome == "warned":
            if author_id is None:
                raise Invalid("outcome", _l("The author's account no longer exists."))
            warn_member(actor, author_id, reason)
        now = utcnow()
        for row in reports:
            row.resolved_at = now
            row.resolved_by_id = actor.id
            row.outcome = outcome
        session.add(
            ModAction(
                actor_id=actor.id,
                action="resolve_message_report",
                target_user_id=author_id,
                reason=reason,
                details=f"{len(reports)} report(s): {outcome}",
                params={"count": len(reports), "outcome": outcome},
            )
        )
        events.publish(
            events.MessageReportResolved(
                message_id=report.message_id,
                reporter_ids=tuple(sorted({r.reporter_id for r in reports})),
                outcome=outcome,
                actor_id=actor.id,
            )
        )
    return reports
