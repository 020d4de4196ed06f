"""Real time over Flask-SocketIO: live notifications, live topics and who's online."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask

from . import presence as presence_module


def _presence_loop(app: Flask, server: Any) -> None:
    """Keep this process's members online and send changed lists (one per process)."""
    from ..extensions import socketio
    from . import publish

    presence = app.extensions["forum.presence"]
    while socketio.server is server:
        socketio.sleep(presence.tick)
        try:
            presence.refresh()
            rooms = server.manager.rooms.get("/", {})
            sig_ids = {
                int(r.rsplit(":", 1)[1])
                for r in rooms
                if isinstance(r, str) and r.startswith("presence:sig:")
            }
            for key, payload in presence.changes(sig_ids).items():
                room = publish.PRESENCE_SITE if key == "site" else f"presence:{key}"
                publish.presence(room, payload)
        except Exception:  # noqa: BLE001
            app.logger.exception("presence refresh failed")


def init_app(app: Flask) -> None:
    from ..extensions import socketio
    from . import access, handlers
    from .namespace import ForumNamespace

    # Each app gets its own Socket.IO server (create_app runs init_app): register on this one.
    socketio.on_namespace(ForumNamespace("/"))
    handlers.init_app(app)

    def room_access(holders: dict[str, set[int | None]]) -> Any:
        # Runs on the manager's listener thread (or after a commit): a session of its own, so it
        # sees the committed change and no cached memberships.
        with app.app_context():
            return access.room_access(holders)

    socketio.server.manager.access = room_access
    app.extensions["forum.presence"] = presence_module.build(
        app.config["REDIS_URL"],
        prefix=f"{app.config['SOCKETIO_CHANNEL']}:presence:",
        grace=float(app.config["PRESENCE_GRACE_SECONDS"]),
        tick=float(app.config["PRESENCE_TICK_SECONDS"]),
    )
    started = threading.Event()
    server = socketio.server

    def start() -> None:
        if started.is_set() or not app.config["PRESENCE_LOOP"]:
            return
        started.set()
        socketio.start_background_task(_presence_loop, app, server)

    app.extensions["forum.realtime.start"] = start

    def online_now(sig: Any = None) -> presence_module.Online:
        return app.extensions["forum.presence"].online(sig.id if sig is not None else None)

    app.jinja_env.globals["online_now"] = online_now
