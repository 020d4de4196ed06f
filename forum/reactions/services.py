"""Reaction verbs: react to a post, change the reaction, take it back.

One reaction per member and post, from the site's set (`settings.reactions()`). Who may react
is `permissions.require_react`; what follows (the author's notification, the guest page cache,
the live counts) hears of it through `events.ReactionChanged`.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from .. import events, permissions, settings
from ..db import transaction, upsert
from ..errors import Invalid
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..timeutil import utcnow
from .models import Reaction


def _check_emoji(emoji: str) -> str:
    if emoji not in settings.reactions():
        raise Invalid("emoji", _l("Choose one of the reactions offered."))
    return emoji


def set_reaction(actor: Actor, post_id: int, emoji: str | None) -> str | None:
    """Make the member's reaction to this post `emoji` (None: take it back). Returns the
    reaction now. NotFound for a post they may not read; Forbidden when they may not react."""
    post, topic, sig = permissions.get_post_topic_and_sig_for(actor, post_id)
    permissions.require_react(actor, post, topic, sig)
    if emoji is not None:
        emoji = _check_emoji(emoji)
    assert actor is not None
    with transaction() as session:
        previous = session.scalar(
            select(Reaction.emoji).where(Reaction.post_id == post.id, Reaction.user_id == actor.id)
        )
        if previous == emoji:
            return emoji
        if emoji is None:
            session.execute(
                delete(Reaction).where(Reaction.post_id == post.id, Reaction.user_id == actor.id)
            )
        else:
            now = utcnow()
            upsert(
                Reaction,
                {"post_id": post.id, "user_id": actor.id, "emoji": emoji, "created_at": now},
                index_elements=["post_id", "user_id"],
                set_={"emoji": emoji, "created_at": now},
            )
        events.publish(
            events.ReactionChanged(
                post_id=post.id,
                topic_id=topic.id,
                sig_id=sig.id,
                user_id=actor.id,
                author_id=post.user_id,
                emoji=emoji,
                previous=previous,
            )
        )
    return emoji


def toggle_reaction(actor: Actor, post_id: int, emoji: str) -> str | None:
    """The reaction buttons: the member's own reaction takes it back, another one replaces it."""
    post, topic, sig = permissions.get_post_topic_and_sig_for(actor, post_id)
    permissions.require_react(actor, post, topic, sig)
    emoji = _check_emoji(emoji)
    mine = my_reaction(actor, post_id)
    return set_reaction(actor, post_id, None if mine == emoji else emoji)


def my_reaction(actor: Actor, post_id: int) -> str | None:
    if actor is None:
        return None
    return db.session.scalar(
        select(Reaction.emoji).where(Reaction.post_id == post_id, Reaction.user_id == actor.id)
    )
