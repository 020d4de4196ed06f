"""Shared by the moderation verbs: loading through the permission policy, checking a reason
or an end date, and writing the moderation log (a ModAction row in the verb's transaction).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .. import content, permissions
from ..accounts.models import User
from ..errors import Forbidden, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics.models import Post, Topic
from .models import ModAction

MAX_REASON = 500
MAX_NOTE = 2000
MAX_FILTERS = 500
MAX_DISCIPLINE_DAYS = 3650


# --- loading through the policy -------------------------------------------------------------
def moderated_post(actor: Actor, post_id: int) -> tuple[Post, Topic, Sig]:
    """A post the actor moderates: NotFound when invisible to it, Forbidden when not its SIG."""
    post, topic, sig = permissions.get_post_topic_and_sig_for(actor, post_id)
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
        raise NotFound(_l("No such SIG."))
    if not permissions.is_sig_sysop(actor, sig):
        raise Forbidden(_l("You do not moderate %(name)s.", name=sig.name))
    return sig


def member_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id) if user_id > 0 else None
    if user is None:
        raise NotFound(_l("No such member."))
    return user


def clean_reason(reason: str | None, required: bool = False, field: str = "reason") -> str:
    reason = " ".join(content.clean_text(reason or "").split())
    if required and not reason:
        raise Invalid(field, _l("Give a reason; the member will see it."))
    require_at_most(field, reason, MAX_REASON, "reason")
    return reason


def check_until(until: datetime | None, field: str = "until") -> datetime:
    now = utcnow()
    if until is None or until.tzinfo is None:
        raise Invalid(field, _l("Give an end date."))
    if until <= now:
        raise Invalid(field, _l("The end date must be in the future."))
    if until > now + timedelta(days=MAX_DISCIPLINE_DAYS):
        raise Invalid(field, _l("Keep it to ten years or less; use a ban for longer."))
    return until


def log_action(
    actor: Actor,
    action: str,
    *,
    sig_id: int | None = None,
    user_id: int | None = None,
    topic_id: int | None = None,
    post_id: int | None = None,
    reason: str = "",
    details: str = "",
    other_sig_id: int | None = None,
    params: dict | None = None,
) -> ModAction:
    """One entry of the log: `details` the English text kept with it, `params` the same as data,
    which the log says in the reader's language (models.params_label)."""
    entry = ModAction(
        actor_id=actor.id if actor is not None else None,
        action=action,
        sig_id=sig_id,
        other_sig_id=other_sig_id if other_sig_id != sig_id else None,
        target_user_id=user_id,
        topic_id=topic_id,
        post_id=post_id,
        reason=reason[:MAX_REASON],
        details=details[:500],
        params=params,
        created_at=utcnow(),
    )
    db.session.add(entry)
    return entry


def log_post_action(
    actor: Actor,
    action: str,
    post: Post,
    topic: Topic,
    sig: Sig,
    *,
    reason: str = "",
    details: str = "",
    params: dict | None = None,
) -> ModAction:
    """Log a verb on one post, filed under its SIG, its topic and its author."""
    return log_action(
        actor,
        action,
        sig_id=sig.id,
        user_id=post.user_id,
        topic_id=topic.id,
        post_id=post.id,
        reason=reason,
        details=details,
        params=params,
    )


def clean_note(body: str | None) -> str:
    """A sysops' note (on a member or a post): not empty, at most MAX_NOTE characters."""
    body = content.clean_text(body or "").strip()
    if not body:
        raise Invalid("body", _l("Write the note first."))
    require_at_most("body", body, MAX_NOTE, "notes")
    return body


def actor_id(actor: Actor) -> int:
    assert actor is not None
    return actor.id  # type: ignore[no-any-return]


def sig_or_none(actor: Actor, sig_id: int | None) -> Sig | None:
    if sig_id is None:
        return None
    sig = db.session.get(Sig, sig_id) if sig_id > 0 else None
    if sig is None or not permissions.can_see_sig(actor, sig):
        raise NotFound(_l("No such SIG."))
    return sig
