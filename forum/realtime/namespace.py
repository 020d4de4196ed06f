"""Socket.IO entry points: connect, and subscribe to rooms the permission policy allows.

Flask-SocketIO keeps a copy of the login session from the moment a socket connects, so the member
is loaded again (Flask-Login's user loader, by session token) on every event: a logged-out,
banned or re-passworded member's socket is refused and closed. Nothing here writes state.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import Namespace, disconnect, leave_room
from flask_socketio import join_room as _join_room

from .. import permissions
from ..accounts.models import User
from ..errors import ForumError
from .manager import ForumCommands, care_page_room, topic_room, user_room
from .presence import PRESENCE, START, Presence, browser_key
from .publish import presence_room

SESSION_ENDED = {"ok": False, "error": "Your session has ended. Reload the page."}


def _sid() -> str:
    return request.sid  # type: ignore[attr-defined,no-any-return]


def _manager() -> ForumCommands:
    from ..extensions import socketio

    return socketio.server.manager  # type: ignore[no-any-return]


def _presence() -> Presence:
    return PRESENCE.require()


def this_browser() -> str | None:
    """The browser of this request or socket, for who's online (presence.browser_key)."""
    return browser_key(session, current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))


def socket_member() -> tuple[bool, User | None]:
    """(still valid, member): a guest socket is valid with no member; a member's socket is valid
    only while its session token is current and the account is not banned.

    The member is Flask-Login's `current_user`, loaded by its user loader
    (accounts.services.load_session_user: the token, the session's row, the ban) from the
    socket's copy of the session. It is loaded afresh for every event, not kept from the
    connect: Flask-Login keeps the loaded user in `g`, and Flask-SocketIO runs each event on a
    thread (or greenlet) of its own inside a request context of its own, which pushes an app
    context, and so a `g`, of its own (the tests' sockets run the same way: conftest's
    _SocketClient). Whom the socket connected as, the manager noted at the connect: a member's
    socket whose member no longer loads (or loads as someone else) is no longer valid."""
    user = permissions.actor(current_user)
    connected_as = _manager().socket_user(_sid())
    if connected_as is None:
        return user is None, user
    return user is not None and user.id == connected_as, user


def join_room(room: str) -> None:
    """Join a room, unless the socket left while its subscribe was on the way (a reader who
    moved to the next page): python-socketio then raises ValueError, and there is nothing to do."""
    try:
        _join_room(room)
    except ValueError:
        return


class ForumNamespace(Namespace):
    def on_connect(self, auth: Any = None) -> bool:
        user = permissions.actor(current_user)
        sid = _sid()
        if user is not None:
            join_room(user_room(user.id))
        _manager().note_socket(sid, user.id if user else None)
        _presence().connect(
            sid,
            user.id if user else None,
            user.username if user else None,
            browser=None if user else this_browser(),
        )
        START.require()()
        return True

    def on_disconnect(self, reason: Any = None) -> None:
        sid = _sid()
        _manager().forget_sid(sid)
        # The server closes a socket only when its session ended (logout, ban, a stale token):
        # no next page will bring the member back, so no grace period on who's online.
        _presence().disconnect(sid, gone=reason == self.socketio.server.reason.SERVER_DISCONNECT)

    def _refuse(self) -> dict[str, Any]:
        disconnect()
        return SESSION_ENDED

    def on_subscribe(self, data: Any) -> dict[str, Any]:
        """Join a topic's room ({"topic_id"}), a SIG's presence ({"sig_id"}) or the site's,
        or a sysop page's ({"care_page"}: told when it is taken or expires)."""
        # Check and join under the lock a re-check takes (see manager.py), and read the database
        # only inside it: a SIG that turns private while this runs is either seen private here
        # or re-checked after the join.
        with _manager().rooms_lock:
            return self._subscribe(data)

    def _subscribe(self, data: Any) -> dict[str, Any]:
        ok, user = socket_member()
        if not ok:
            return self._refuse()
        data = data if isinstance(data, dict) else {}
        try:
            if "topic_id" in data:
                return self._topic(user, _int(data["topic_id"]))
            if "sig_id" in data:
                return self._sig(user, _int(data["sig_id"]))
            if "care_page" in data:
                return self._care_page(user, _int(data["care_page"]))
            if data.get("presence") == "site":
                join_room(presence_room(None))
                return {"ok": True, "room": "presence:site"}
        except ForumError:
            pass
        except KeyError:
            # Event handlers run on their own threads: the socket may have disconnected (the
            # page navigated away) before this subscribe ran, and its sid is gone from the rooms.
            return {"ok": False, "error": "Disconnected."}
        # Missing, private and forbidden all look the same to the socket.
        return {"ok": False, "error": "Not found."}

    def _topic(self, user: User | None, topic_id: int) -> dict[str, Any]:
        topic = permissions.get_topic_for(user, topic_id)
        room = topic_room(topic.id)
        join_room(room)
        _manager().note_sig_room(_sid(), room, topic.sig_id)
        _presence().enter_sig(_sid(), topic.sig_id)
        return {"ok": True, "room": room}

    def _sig(self, user: User | None, sig_id: int) -> dict[str, Any]:
        sig = permissions.get_sig_by_id_for(user, sig_id)
        permissions.require_read_sig(user, sig)
        room = presence_room(sig.id)
        join_room(room)
        _manager().note_sig_room(_sid(), room, sig.id)
        _presence().enter_sig(_sid(), sig.id)
        return {"ok": True, "room": room}

    def _care_page(self, user: User | None, page_id: int) -> dict[str, Any]:
        # Whoever the page view shows it to (the member who sent it, the sysops who may take
        # it: on duty or not, the SIG's or the site's) hears when it is taken or expires. Noted
        # under the page's SIG like its topic rooms: a sysop dismissed from it is asked again.
        page = permissions.get_page_for(user, page_id)
        room = care_page_room(page.id)
        join_room(room)
        _manager().note_sig_room(_sid(), room, page.sig_id)
        return {"ok": True, "room": room}

    def on_unsubscribe(self, data: Any) -> dict[str, Any]:
        ok, _ = socket_member()
        if not ok:
            return self._refuse()
        if isinstance(data, dict) and "topic_id" in data:
            try:
                leave_room(topic_room(_int(data["topic_id"])))
            except (ForumError, KeyError):
                pass
        return {"ok": True}


def _int(value: Any) -> int:
    from ..errors import NotFound

    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise NotFound() from exc
    if number < 1:
        raise NotFound()
    return number
