"""The double-submit rule, one idiom for every verb that writes a member's text somewhere.

A form sent twice (a double click without JavaScript, a browser's "resend" of a POST, a program
retrying a request whose answer it lost) must not write two topics, posts, messages or concerns.
Mature forums refuse a post identical to the author's previous one for a few minutes (Discourse);
here each such verb asks, **inside its write transaction and after the lock it takes anyway**
(the topic's, the SIG's, the conversation's, the concern's; for a new conversation or concern the
author's own row), whether the same author wrote the same text to the same place since
`since()`; if so it raises `forum.errors.Duplicate` carrying what the first submission made,
and writes nothing. Under the lock, two submissions at the same moment take turns (on SQLite,
BEGIN IMMEDIATE runs writers one at a time), so the second sees the first's commit.

The lookup is the author's own newest rows: posts by `ix_posts_user_created` (user_id,
created_at), or a reply's by `ix_posts_topic_created_cover` (topic_id, created_at), which
SQLite's planner prefers; private messages (concerns' too) by `ix_private_messages_user_created`
(migration 0040). Each is a short range scan of what was written within the window. Views
answer a Duplicate by going to the item with its message as an info flash; the API answers 409
with the item (`forum.api.plumbing`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from .errors import Duplicate
from .timeutil import utcnow

__all__ = ["Duplicate", "since"]


def since(now: datetime | None = None) -> datetime | None:
    """The oldest moment a repeat counts from: DUPLICATE_SECONDS before now; None when the rule
    is off (0), and then a verb asks nothing."""
    seconds = int(current_app.config.get("DUPLICATE_SECONDS", 120))
    if seconds <= 0:
        return None
    return (now or utcnow()) - timedelta(seconds=seconds)
