"""Support SIGs and answered topics: mark a SIG as a support SIG, mark or clear a topic's answer;
mark a member's first post in a SIG as welcomed."""

from __future__ import annotations

from .. import events, permissions
from ..accounts.models import User
from ..db import is_valid_id, transaction, upsert
from ..errors import Forbidden, Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics.models import Post, Topic
from .models import SigWelcome


def set_support_sig(actor: Actor, sig_id: int, on: bool) -> Sig:
    """Turn a SIG's answered-topics mode on or off (its sysops and the global sysop)."""
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    permissions.require_sig_sysop(actor, sig)
    if not permissions.can_set_support(actor, sig):
        raise Forbidden(_l("Only this SIG's sysops may change that."))
    assert actor is not None
    if sig.is_support == on:
        return sig
    with transaction():
        sig.is_support = on
        events.publish(events.SigChanged(sig_id=sig.id))
    return sig


def mark_answer(actor: Actor, post_id: int) -> Topic:
    """Mark a reply as the answer to its topic, replacing any earlier answer."""
    post = permissions.get_post_for(actor, post_id)
    topic = db.session.get(Topic, post.topic_id)
    assert topic is not None
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    if not sig.is_support:
        raise Invalid(None, _l("Answers are marked in support SIGs only."))
    if not permissions.can_mark_answer(actor, topic, sig):
        raise Forbidden(_l("Only the topic's author or a sysop may mark the answer."))
    if not permissions.can_mark_answer(actor, topic, sig, post):
        raise Invalid(
            None, _l("Only a visible reply by someone other than the author can be the answer.")
        )
    assert actor is not None
    if topic.answer_post_id == post.id:
        return topic
    with transaction():
        topic.answer_post_id = post.id
        events.publish(
            events.TopicAnswerChanged(
                topic_id=topic.id, sig_id=sig.id, post_id=post.id, actor_id=actor.id
            )
        )
    return topic


def clear_answer(actor: Actor, topic_id: int) -> Topic:
    """Take the answer mark off a topic."""
    topic = permissions.get_topic_for(actor, topic_id)
    sig = db.session.get(Sig, topic.sig_id)
    assert sig is not None
    if not permissions.can_mark_answer(actor, topic, sig):
        raise Forbidden(_l("Only the topic's author or a sysop may change the answer."))
    assert actor is not None
    if topic.answer_post_id is None:
        return topic
    with transaction():
        topic.answer_post_id = None
        events.publish(
            events.TopicAnswerChanged(
                topic_id=topic.id, sig_id=sig.id, post_id=None, actor_id=actor.id
            )
        )
    return topic


def answer_post(topic: Topic) -> Post | None:
    """The marked answer when readers can see it."""
    if topic.answer_post_id is None:
        return None
    post = db.session.get(Post, topic.answer_post_id)
    if post is None or not post.is_public:
        return None
    return post


def mark_welcomed(actor: Actor, sig_id: int, user_id: int) -> SigWelcome:
    """A SIG's sysop marks a member as welcomed there (their first post in the welcome queue);
    once: a second mark keeps the first one's sysop and time."""
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    if not permissions.can_welcome(actor, sig):
        raise Forbidden(_l("Only this SIG's sysops welcome its new members."))
    assert actor is not None
    member = db.session.get(User, user_id) if is_valid_id(user_id) else None
    if member is None:
        raise NotFound(_l("No such member."))
    with transaction():
        upsert(
            SigWelcome,
            {"sig_id": sig.id, "user_id": member.id, "welcomed_by_id": actor.id,
             "welcomed_at": utcnow()},
            index_elements=["sig_id", "user_id"],
        )  # fmt: skip
    found = db.session.get(SigWelcome, (sig.id, member.id))
    assert found is not None
    return found
