"""Word filters: words that block a post, hold it for approval, or are flagged."""

from __future__ import annotations

from sqlalchemy import func, select

from .. import content, permissions
from ..db import transaction
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from .common import MAX_FILTERS, actor_id, log_action, sig_or_none
from .models import (
    FILTER_ACTIONS,
    WordFilter,
)


# --- word filters ---------------------------------------------------------------------------
def add_word_filter(
    actor: Actor, word: str, action: str, whole_word: bool = True, sig_id: int | None = None
) -> WordFilter:
    """Block, or send to the approval queue, posts containing a word or phrase."""
    sig = sig_or_none(actor, sig_id)
    if not permissions.can_manage_filters(actor, sig):
        raise Forbidden(
            _l("Only the sysop manages site-wide word filters.")
            if sig is None
            else _l("You do not moderate %(name)s.", name=sig.name)
        )
    word = " ".join(content.clean_text(word or "").split()).casefold()
    if not 2 <= len(word) <= 100:
        raise Invalid("word", _l("Use 2 to 100 characters."))
    if action not in FILTER_ACTIONS:
        raise Invalid("action", _l("Choose block or hold for approval."))
    with transaction() as session:
        scope = WordFilter.sig_id == sig.id if sig else WordFilter.sig_id.is_(None)
        if session.scalar(select(WordFilter.id).where(scope, WordFilter.word == word)):
            raise Conflict(_l("That word is already filtered here."))
        if (session.scalar(select(func.count(WordFilter.id)).where(scope)) or 0) >= MAX_FILTERS:
            raise Invalid(
                "word",
                _l("At most %(MAX_FILTERS)s words per filter list.", MAX_FILTERS=MAX_FILTERS),
            )
        entry = WordFilter(
            sig_id=sig.id if sig else None,
            word=word,
            whole_word=whole_word,
            action=action,
            created_by_id=actor_id(actor),
        )
        session.add(entry)
        log_action(
            actor,
            "add_word_filter",
            sig_id=sig.id if sig else None,
            details=f"{word} ({action}{', whole word' if whole_word else ''})",
            params={"word": word, "action": action, "whole_word": bool(whole_word)},
        )
    return entry


def remove_word_filter(actor: Actor, filter_id: int) -> None:
    entry = db.session.get(WordFilter, filter_id) if filter_id > 0 else None
    if entry is None:
        raise NotFound(_l("No such word filter."))
    sig = sig_or_none(actor, entry.sig_id)
    if not permissions.can_manage_filters(actor, sig):
        raise Forbidden(_l("You may not change this word filter."))
    with transaction() as session:
        log_action(actor, "remove_word_filter", sig_id=entry.sig_id, details=entry.word)
        session.delete(entry)
