"""Socket.IO client managers that also carry the forum's own instructions between processes.

python-socketio's Redis manager relays emits, disconnects by sid and room changes, but a process
cannot know the sids another process holds. Logging out must still drop every socket of that
member at once, wherever it is, so these managers add one message, {"method": "forum"}, that each
process applies to the sockets it holds: "disconnect the sockets in user:<id>" and "leave the
rooms of SIG <id> for user <id>". Without Redis the same instruction is applied in-process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import socketio

NAMESPACE = "/"
METHOD = "forum"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def topic_room(topic_id: int) -> str:
    return f"topic:{topic_id}"


class ForumCommands:
    """What both managers add: instructions, and which SIG each room a socket joined belongs to."""

    server: Any

    def _init_commands(self) -> None:
        # sid -> {room: sig_id} for rooms a SIG's membership gates (topic and presence rooms).
        self.sig_rooms: dict[str, dict[str, int]] = {}
        self.sig_rooms_lock = threading.Lock()

    def note_sig_room(self, sid: str, room: str, sig_id: int) -> None:
        with self.sig_rooms_lock:
            self.sig_rooms.setdefault(sid, {})[room] = sig_id

    def forget_sid(self, sid: str) -> None:
        with self.sig_rooms_lock:
            self.sig_rooms.pop(sid, None)

    def command(self, name: str, **args: Any) -> None:
        """Apply an instruction on this process and every other one."""
        self.apply_command({"name": name, "args": args})

    def apply_command(self, command: dict[str, Any]) -> None:
        name, args = command.get("name"), command.get("args") or {}
        if name == "disconnect_user":
            self._disconnect_user(int(args["user_id"]))
        elif name == "leave_sig":
            self._leave_sig(int(args["user_id"]), int(args["sig_id"]))

    def _local_sids(self, room: str) -> list[str]:
        return [sid for sid, _ in self.get_participants(NAMESPACE, room)]  # type: ignore[attr-defined]

    def _disconnect_user(self, user_id: int) -> None:
        for sid in self._local_sids(user_room(user_id)):
            self.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    def _leave_sig(self, user_id: int, sig_id: int) -> None:
        for sid in self._local_sids(user_room(user_id)):
            with self.sig_rooms_lock:
                rooms = [r for r, s in self.sig_rooms.get(sid, {}).items() if s == sig_id]
                for room in rooms:
                    self.sig_rooms[sid].pop(room, None)
            for room in rooms:
                socketio.Manager.leave_room(self, sid, NAMESPACE, room)  # type: ignore[arg-type]


class LocalManager(ForumCommands, socketio.Manager):
    """One process, no message queue."""

    def __init__(self) -> None:
        super().__init__()
        self._init_commands()


class RedisManager(ForumCommands, socketio.RedisManager):
    """Several processes joined by Redis pub/sub."""

    def __init__(self, url: str, channel: str, write_only: bool = False) -> None:
        super().__init__(url, channel=channel, write_only=write_only)
        self._init_commands()

    def command(self, name: str, **args: Any) -> None:
        message = {"method": METHOD, "host_id": self.host_id, "name": name, "args": args}
        self.apply_command(message)
        self._publish(message)

    def _listen(self) -> Iterator[Any]:
        for raw in super()._listen():
            try:
                data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
            except ValueError:
                yield raw
                continue
            if isinstance(data, dict) and data.get("method") == METHOD:
                if data.get("host_id") != self.host_id:
                    try:
                        self.apply_command(data)
                    except Exception:  # noqa: BLE001
                        self._get_logger().exception("forum instruction failed: %r", data)
                continue
            yield data if isinstance(data, dict) else raw


def build(redis_url: str | None, channel: str) -> ForumCommands:
    if redis_url:
        return RedisManager(redis_url, channel=channel)
    return LocalManager()
