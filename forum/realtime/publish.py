"""The ONLY module that talks to Socket.IO: small nudges to rooms the server chose.

Payloads carry ids, counts and short sanitized excerpts: the browser fetches content over HTTP,
where permissions apply again.
"""

from __future__ import annotations

from typing import Any

from ..extensions import socketio
from .manager import NAMESPACE, ForumCommands, care_page_room, topic_room, user_room

PRESENCE_SITE = "presence:site"


def presence_room(sig_id: int | None) -> str:
    return PRESENCE_SITE if sig_id is None else f"presence:sig:{sig_id}"


def _emit(event: str, payload: dict[str, Any], room: str) -> None:
    socketio.emit(event, payload, to=room, namespace=NAMESPACE)


def notification(
    user_id: int,
    *,
    unread_count: int,
    kind: str,
    text: str,
    excerpt: str,
    url: str,
    new_post: tuple[int, int] | None = None,
) -> None:
    """`text` says what happened in the member's language; `excerpt` is the post's words.
    `new_post` is (topic id, post id) when it tells of a new post the member may read (a
    mention, a quote, a reply, a watched topic's post): a page showing that topic pairs it
    with its own `post_created` nudge, and only one of them speaks."""
    payload: dict[str, Any] = {
        "unread_count": unread_count,
        "kind": kind,
        "text": text,
        "excerpt": excerpt,
        "url": url,
    }
    if new_post is not None:
        payload["topic_id"], payload["post_id"] = new_post
    _emit("notification", payload, user_room(user_id))


def unread_count(user_id: int, count: int) -> None:
    """The member read notifications (maybe in another tab): every tab shows the new count."""
    _emit("notification_count", {"unread_count": count}, user_room(user_id))


def tracked_count(user_id: int, count: int) -> None:
    """How many tracked topics have unread posts now: the header's "Tracked" badge."""
    _emit("tracked_count", {"count": count}, user_room(user_id))


def mail(user_id: int, *, unread_count: int, conversation_id: int | None = None) -> None:
    """Private mail changed for this member (a message arrived in `conversation_id`, or they
    read some): the "Mail" badge shows the count; an open conversation offers to show it. Only
    to the member's own room, and never the words."""
    payload: dict[str, Any] = {"unread_count": unread_count}
    if conversation_id is not None:
        payload["conversation_id"] = conversation_id
    _emit("mail", payload, user_room(user_id))


def care(user_id: int, payload: dict[str, Any]) -> None:
    """Member care, to one member's own room: a page ringing for a sysop on duty (with its
    text in their language, and whether it may sound), a page answered, or "concern <id>
    changed" (the page fetches it over HTTP, where the policy is asked again)."""
    _emit("care", payload, user_room(user_id))


def page_gone(page_id: int, user_ids: list[int]) -> None:
    """A sysop page was taken or expired: to the rooms of the sysops it rang for (their banner
    goes) and to every socket of a page showing it (its "Take it" goes), each socket once."""
    rooms = [user_room(u) for u in user_ids] + [care_page_room(page_id)]
    socketio.emit("care", {"type": "page_gone", "page_id": page_id}, to=rooms, namespace=NAMESPACE)


def post_created(topic_id: int, post_number: int, post_id: int) -> None:
    _emit(
        "post_created",
        {"topic_id": topic_id, "post_number": post_number, "post_id": post_id},
        topic_room(topic_id),
    )


def reactions_changed(topic_id: int, post_id: int) -> None:
    """A post's reactions changed: pages showing it fetch its counts over HTTP."""
    _emit("reactions_changed", {"topic_id": topic_id, "post_id": post_id}, topic_room(topic_id))


def presence(room: str, payload: dict[str, Any]) -> None:
    _emit("presence", payload, room)


def _manager() -> ForumCommands:
    return socketio.server.manager  # type: ignore[no-any-return]


def disconnect_member(user_id: int) -> None:
    """Close every socket of this member, in every process (logout, ban, password change)."""
    _manager().command("disconnect_user", user_id=user_id)


def recheck_sig(sig_id: int, user_id: int | None = None) -> None:
    """Ask the permission policy again about the sockets in this SIG's topic and presence rooms
    (only this member's when `user_id` is given), in every process; those that may no longer
    read leave the rooms (a SIG turned private, a member left or was removed)."""
    _manager().command("recheck", sig_id=sig_id, user_id=user_id)


def recheck_member(user_id: int) -> None:
    """The same for every SIG-gated room (topic, presence, sysop page) this member's sockets
    hold, in any SIG (the member lost the global sysop's role)."""
    _manager().command("recheck", user_id=user_id)


def recheck_topic(topic_id: int) -> None:
    """The same for one topic's room (it moved to another SIG, or was deleted)."""
    _manager().command("recheck", topic_id=topic_id)
