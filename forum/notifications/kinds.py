"""The kinds of notification: how each one reads and where it links. Features add their own.

A kind is registered once (private mail will add "message"); the center, the socket payload and
the tests all go through this registry, so a new kind needs no change anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Subject:
    """What a notification is about, as the reader may see it (loaded by queries)."""

    kind: str
    actor: str | None
    data: dict[str, Any]
    post_id: int | None = None
    topic_title: str | None = None
    sig_name: str | None = None
    sig_slug: str | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    # Lower wins when one post gives a member several causes (a mention beats a watched topic).
    priority: int
    describe: Callable[[Subject], str]
    url: Callable[[Subject], str]
    label: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    return KINDS.get(name) or KINDS["unknown"]


def _who(s: Subject) -> str:
    return s.actor or "Someone"


def _in(s: Subject) -> str:
    return f"“{s.topic_title}”" if s.topic_title else "a topic"


def _post_url(s: Subject) -> str:
    return f"/p/{s.post_id}" if s.post_id else "/notifications"


def _sig_url(s: Subject) -> str:
    return f"/s/{s.sig_slug}/" if s.sig_slug else "/"


# Post kinds, by priority: what is addressed to me first, then what I watch.
MENTION = register(
    Kind("mention", 10, lambda s: f"{_who(s)} mentioned you in {_in(s)}", _post_url, "Mention")
)
QUOTE = register(
    Kind("quote", 20, lambda s: f"{_who(s)} quoted your post in {_in(s)}", _post_url, "Quote")
)
REPLY = register(
    Kind("reply", 30, lambda s: f"{_who(s)} replied to you in {_in(s)}", _post_url, "Reply")
)
NEW_TOPIC = register(
    Kind(
        "new_topic",
        40,
        lambda s: f"{_who(s)} started {_in(s)} in {s.sig_name or 'a SIG you watch'}",
        _post_url,
        "New topic",
    )
)
WATCHED = register(
    Kind("watched", 50, lambda s: f"{_who(s)} posted in {_in(s)}", _post_url, "New post")
)

# Moderation outcomes.
POST_HIDDEN = register(
    Kind(
        "post_hidden",
        100,
        lambda s: (
            f"A sysop hid your post in {_in(s)}"
            + (f": {s.data['reason']}" if s.data.get("reason") else ".")
        ),
        _post_url,
        "Post hidden",
    )
)
POST_DELETED = register(
    Kind(
        "post_deleted",
        100,
        lambda s: f"A sysop deleted your post in {_in(s)}.",
        lambda s: f"/s/{s.sig_slug}/" if s.sig_slug else "/",
        "Post deleted",
    )
)
FLAG_RESOLVED = register(
    Kind(
        "flag_resolved",
        100,
        lambda s: (
            f"A sysop handled the post you flagged in {_in(s)}: "
            f"{str(s.data.get('outcome', 'resolved')).replace('_', ' ')}."
        ),
        lambda s: f"/s/{s.sig_slug}/" if s.sig_slug else "/",
        "Flag handled",
    )
)


def _discipline_text(s: Subject) -> str:
    what = str(s.data.get("discipline", "")).replace("_", " ")
    where = f" in {s.sig_name}" if s.sig_name else ""
    reason = f": {s.data['reason']}" if s.data.get("reason") else "."
    if what.startswith("lifted"):
        return f"A sysop {what.replace('lifted', 'lifted your')}{where}."
    return f"A sysop {what} you{where}{reason}"


DISCIPLINE = register(
    Kind("discipline", 100, _discipline_text, lambda s: "/settings", "Moderation")
)

# SIG join requests: to the SIG's sysops, then the answer to the member.
JOIN_REQUEST = register(
    Kind(
        "join_request",
        100,
        lambda s: f"{_who(s)} asked to join {s.sig_name or 'your SIG'}",
        lambda s: f"/s/{s.sig_slug}/requests" if s.sig_slug else "/",
        "Join request",
    )
)
JOIN_DECIDED = register(
    Kind(
        "join_decided",
        100,
        lambda s: (
            f"Your request to join {s.sig_name or 'a SIG'} was "
            f"{'approved' if s.data.get('approved') else 'declined'}."
        ),
        lambda s: _sig_url(s) if s.data.get("approved") else "/",
        "Join request answered",
    )
)
UNKNOWN = register(Kind("unknown", 1000, lambda s: "Something happened.", _post_url, "Notice"))

POST_KINDS = (MENTION, QUOTE, REPLY, NEW_TOPIC, WATCHED)
