"""Screening of new posts: the word filter and the approval queue for new accounts.

Plugged into topics through `forum.hooks.screen_post`. Matching is literal and
case-insensitive (optionally whole words): the filter words are escaped, never interpreted as
patterns, and posts are capped in length, so matching stays linear in the size of the post.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

from sqlalchemy import func, or_, select

from .. import permissions
from .. import settings as site_settings
from ..accounts.models import User
from ..errors import Invalid
from ..extensions import db
from ..hooks import Screening
from ..i18n import lazy_gettext as _l
from ..sigs.models import Sig
from ..topics.models import POST_PENDING, POST_VISIBLE, Post
from .models import FILTER_BLOCK, SigModeration, WordFilter


@lru_cache(maxsize=256)
def _pattern(words: tuple[tuple[str, bool], ...]) -> re.Pattern[str]:
    """One alternation of escaped literals; whole words are fenced by non-word characters."""
    parts = [
        rf"(?<!\w){re.escape(word)}(?!\w)" if whole else re.escape(word) for word, whole in words
    ]
    return re.compile("|".join(parts), re.IGNORECASE)


class FilterLike(Protocol):
    """A word filter's row: what matching needs of it."""

    word: str
    whole_word: bool
    action: str


def find_filtered(text: str, filters: Sequence[FilterLike]) -> tuple[FilterLike, str] | None:
    """The first filter that matches the text (blocking filters first), with the matched text."""
    for wanted in (FILTER_BLOCK, None):
        chosen = [f for f in filters if (f.action == FILTER_BLOCK) == (wanted == FILTER_BLOCK)]
        if not chosen:
            continue
        match = _pattern(tuple((f.word, f.whole_word) for f in chosen)).search(text)
        if match:
            found = match.group(0).casefold()
            entry = next((f for f in chosen if f.word == found), chosen[0])
            return entry, match.group(0)
    return None


def filters_for(sig: Sig) -> Sequence[FilterLike]:
    """The site's word filters and this SIG's, oldest first."""
    return db.session.execute(  # type: ignore[return-value]
        select(WordFilter.word, WordFilter.whole_word, WordFilter.action)
        .where(or_(WordFilter.sig_id.is_(None), WordFilter.sig_id == sig.id))
        .order_by(WordFilter.id)
    ).all()


def approval_threshold(sig: Sig) -> int:
    override = db.session.scalar(
        select(SigModeration.approval_threshold).where(SigModeration.sig_id == sig.id)
    )
    if override is not None:
        return int(override)
    return site_settings.get_int("approval_threshold")


def screen_post(author: User, sig: Sig, text: str) -> Screening:
    """Block a post with a filtered word, or hold it for approval; otherwise show it."""
    found = find_filtered(text, filters_for(sig))
    if found is not None and found[0].action == FILTER_BLOCK:
        raise Invalid(
            "body",
            _l(
                "Your post contains “%(word)s”, which is not allowed here. Change that and "
                "post again.",
                word=found[1],
            ),
        )
    if permissions.is_sig_sysop(author, sig):
        return Screening()
    if found is not None:
        return Screening(status=POST_PENDING, reason=f"contains “{found[1]}”")
    threshold = approval_threshold(sig)
    if threshold > 0:
        approved = db.session.scalar(
            select(func.count(Post.id)).where(
                Post.user_id == author.id, Post.status == POST_VISIBLE
            )
        )
        if (approved or 0) < threshold:
            return Screening(status=POST_PENDING, reason="a new account's first posts")
    return Screening()
