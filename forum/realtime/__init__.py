"""Real time over Flask-SocketIO: live notifications, live topics and who's online."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask

from .. import hooks, redisconn, web
from . import presence as presence_module
from .presence import PRESENCE, START

log = logging.getLogger(__name__)


def _presence_loop(app: Flask, server: Any) -> None:
    """Keep this process's members online and send changed lists (one per process)."""
    from ..extensions import socketio

    presence = PRESENCE.require(app)
    while socketio.server is server:
        socketio.sleep(presence.tick)
        try:
            send_presence_changes(app)
        except Exception:  # noqa: BLE001
            app.logger.exception("presence refresh failed")


def send_presence_changes(app: Flask) -> None:
    """One tick of the presence loop: keep this process's sockets online, then send each list
    that changed (someone came, left, or their grace period ran out) to the sockets showing it."""
    from ..extensions import socketio
    from . import publish

    presence = PRESENCE.require(app)
    presence.refresh()
    rooms = socketio.server.manager.rooms.get("/", {})
    sig_ids = {
        int(r.rsplit(":", 1)[1])
        for r in rooms
        if isinstance(r, str) and r.startswith("presence:sig:")
    }
    for key, payload in presence.changes(sig_ids).items():
        room = publish.PRESENCE_SITE if key == "site" else f"presence:{key}"
        publish.presence(room, payload)


class NoSocketCompression:
    """WSGI middleware: decline permessage-deflate on the Socket.IO WebSocket.

    Browsers always offer it and simple-websocket always accepts, so every message would be
    compressed once per socket: a nudge of about 100 bytes to 500 sockets cost about a third of
    the server's CPU per emit (bench/realtime_bench.py) and each socket kept zlib state of its
    own, to save a few bytes. Removing the offer from the handshake keeps WebSocket frames plain.
    """

    def __init__(self, wsgi_app: Any, path: str) -> None:
        self.wsgi_app = wsgi_app
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith(self.path):
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


FORUM_DIR = str(Path(__file__).resolve().parent.parent)


class PacketErrorLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Engine.IO's logger: a client's malformed packet is one line, not a traceback.

    Engine.IO logs every error under it with a traceback ("post request handler error",
    "message handler error"), and a client sending garbage (a payload that does not decode, an
    event with no name) is no error of the forum's: it gets one warning line saying what was
    wrong. An error raised in the forum's own code keeps its traceback.
    """

    def exception(self, msg: Any, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if error is None or _raised_in_forum(error.__traceback__):
            self.logger.error(msg, *args, exc_info=exc_info, **kwargs)
            return
        self.logger.warning(
            "%s: %s (a malformed packet from the client)",
            msg % args if args else msg,
            _one_line(error),
        )


def _raised_in_forum(tb: TracebackType | None) -> bool:
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(FORUM_DIR):
            return True
        tb = tb.tb_next
    return False


def _one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:200]


def checked_websocket(websocket_class: type) -> type:
    """Engine.IO's WebSocket driver, refusing a frame that is no Engine.IO packet.

    Engine.IO decodes each frame outside any `try`, so one garbage frame ended the handler with
    a traceback in the server's log (and skipped its clean-up). Here such a frame is one log
    line and ends the connection the way a client closing it does.
    """
    from engineio import packet

    class CheckedWebSocket(websocket_class):  # type: ignore[misc,valid-type]
        def wait(self) -> Any:
            message = super().wait()
            if message is None:
                return None
            try:
                packet.Packet(encoded_packet=message)
            except Exception as error:  # noqa: BLE001  (whatever the client sent, it is not a packet)
                logging.getLogger("engineio.server").warning(
                    "websocket frame: %s (a malformed packet from the client); closing",
                    _one_line(error),
                )
                return None
            return message

    return CheckedWebSocket


def packet_error_log() -> PacketErrorLog:
    logger = logging.getLogger("engineio.server")
    if logger.level == logging.NOTSET:
        # Engine.IO's own default: errors only (and now a warning per malformed packet).
        logger.setLevel(logging.WARNING)
    return PacketErrorLog(logger, {})


class SocketSecurityHeaders:
    """WSGI middleware: the security headers pages carry, on Engine.IO's own HTTP answers.

    Socket.IO's polling requests never reach Flask (Flask-SocketIO answers them in its
    middleware), so the after_request hook that gives pages their headers never sees them.
    Their answers are text, never a page: the CSP lets them load nothing.
    """

    def __init__(self, wsgi_app: Any, path: str) -> None:
        self.wsgi_app = wsgi_app
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith(self.path):
            return self.wsgi_app(environ, start_response)

        def with_headers(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [("Content-Security-Policy", web.SOCKET_CSP), *web.SECURITY_HEADERS]
            extra.append(("Cache-Control", "no-store"))
            # Read now, not before: the trusted-proxy middleware inside sets the scheme.
            if environ.get("wsgi.url_scheme") == "https":
                extra.append(("Strict-Transport-Security", web.HSTS))
            headers = headers + [(n, v) for n, v in extra if n.lower() not in present]
            return start_response(status, headers, *exc_info)

        return self.wsgi_app(environ, with_headers)


class SocketLimit:
    """WSGI middleware: at most `limit` Socket.IO requests at once, the rest answered 503.

    On the page server, which serves Socket.IO itself when there is no socket server (one
    machine without Redis), every open WebSocket (and every waiting long-poll) holds one of
    gunicorn's threads: sixty-four open tabs took all of them, and pages stopped. With this, the
    sockets past `limit` are turned away at once (the browser tries again later, and its pages
    work without live updates), and the threads left over serve pages."""

    BODY = b"Too many live connections on this server right now; pages still work.\n"

    def __init__(self, wsgi_app: Any, path: str, limit: int) -> None:
        self.wsgi_app = wsgi_app
        self.path = path
        self.limit = limit
        self.active = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith(self.path):
            return self.wsgi_app(environ, start_response)
        with self.lock:
            full = self.active >= self.limit
            if not full:
                self.active += 1
        if full:
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain"), ("Retry-After", "10")],
            )
            return [self.BODY]
        try:
            # A WebSocket is served inside this call, for as long as it stays open.
            return self.wsgi_app(environ, start_response)
        finally:
            with self.lock:
                self.active -= 1


def socket_error(exc: Exception) -> Any:
    """Flask-SocketIO's handler for an exception in a socket event. A database that is away (or
    takes no writes) logs one line, not a traceback per socket: during an outage every browser
    tries to connect again. A connect that failed is refused (the browser retries); another
    event gets an error answer."""
    from flask import request

    from ..storage_faults import describe_error, is_database_down, storage_refused

    event = (getattr(request, "event", None) or {}).get("message", "?")
    if storage_refused(exc) or is_database_down(exc):
        log.warning("database unavailable on socket event %s: %s", event, describe_error(exc))
    else:
        log.exception("socket event %s failed", event)
    if event == "connect":
        return False
    return {"ok": False, "error": "The forum cannot answer right now. Try again in a moment."}


def init_app(app: Flask) -> None:
    from ..extensions import socketio
    from . import access, handlers
    from .namespace import ForumNamespace

    socketio.on_error_default(socket_error)

    # Each app gets its own Socket.IO server (create_app runs init_app): register on this one.
    socketio.on_namespace(ForumNamespace("/"))
    handlers.init_app(app)

    def room_access(holders: dict[str, set[int | None]]) -> Any:
        # Runs on the manager's listener thread (or after a commit): a session of its own, so it
        # sees the committed change and no cached memberships.
        with app.app_context():
            return access.room_access(holders)

    socketio.server.manager.access = room_access
    engine = socketio.server.eio
    if engine._async.get("websocket") is not None:
        # This server's own copy of the driver table: other apps in the process keep theirs.
        engine._async = {
            **engine._async,
            "websocket": checked_websocket(engine._async["websocket"]),
        }
    app.wsgi_app = NoSocketCompression(app.wsgi_app, "/socket.io/")  # type: ignore[method-assign]
    if app.config.get("SOCKETS_MAX"):
        app.wsgi_app = SocketLimit(  # type: ignore[method-assign]
            app.wsgi_app, "/socket.io/", int(app.config["SOCKETS_MAX"])
        )
    app.wsgi_app = SocketSecurityHeaders(app.wsgi_app, "/socket.io/")  # type: ignore[method-assign]
    timeout, retry = redisconn.settings(app.config)
    presence = presence_module.build(
        app.config["REDIS_URL"],
        prefix=f"{app.config['SOCKETIO_CHANNEL']}:presence:",
        grace=float(app.config["PRESENCE_GRACE_SECONDS"]),
        tick=float(app.config["PRESENCE_TICK_SECONDS"]),
        timeout=timeout,
        retry=retry,
    )
    PRESENCE.set(app, presence)
    socketio.server.manager.left_sig = presence.leave_sig
    started = threading.Event()
    server = socketio.server

    def start() -> None:
        if started.is_set() or not app.config["PRESENCE_LOOP"]:
            return
        started.set()
        socketio.start_background_task(_presence_loop, app, server)

    START.set(app, start)

    def online_now(sig: Any = None) -> presence_module.Online:
        return PRESENCE.require(app).online(sig.id if sig is not None else None)

    app.jinja_env.globals["online_now"] = online_now

    def signed_in(user: Any) -> None:
        from .namespace import this_browser

        PRESENCE.require(app).sign_in(this_browser(), user.id, user.username)

    hooks.signed_in.add(app, signed_in)
