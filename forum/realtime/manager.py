"""Socket.IO client managers that also carry the forum's own instructions between processes.

python-socketio's Redis manager relays emits, disconnects by sid and room changes, but a process
cannot know the sids another process holds. Logging out must still drop every socket of that
member at once, wherever it is, so these managers add one message, {"method": "forum"}, that each
process applies to the sockets it holds: "disconnect the sockets in user:<id>", and "re-check the
sockets in the rooms of SIG <id> (or of topic <id>, or only member <id>'s)". A re-check asks the
permission policy, through the `access` callback the realtime feature installs, which of the
members holding those sockets may still read each room, and takes the others out. Without Redis
the same instruction is applied in-process.

Instructions arrive on the listener thread in the order Redis delivered them, before any emit
published after them, so a reply committed after a SIG turned private never reaches a socket
that the re-check took out. `rooms_lock` makes a subscribe (check, then join) and a re-check
(check, then leave) happen one after the other in a process, so a subscribe that read the
database before the change cannot join after the re-check has run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import socketio

NAMESPACE = "/"
METHOD = "forum"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def topic_room(topic_id: int) -> str:
    return f"topic:{topic_id}"


# {room: the members (None: a guest) holding sockets in it} ->
# {room: (the SIG the room belongs to now, or None when it is gone; who of them may stay)}
AccessCheck = Callable[[dict[str, set[int | None]]], dict[str, tuple[int | None, set[int | None]]]]


class ForumCommands:
    """What both managers add: instructions, and which SIG each room a socket joined belongs to."""

    server: Any

    def _init_commands(self) -> None:
        # sid -> {room: sig_id} for rooms a SIG's visibility gates (topic and presence rooms).
        self.sig_rooms: dict[str, dict[str, int]] = {}
        # sid -> the member the socket was authenticated as (None: a guest).
        self.socket_users: dict[str, int | None] = {}
        self.rooms_lock = threading.RLock()
        self.access: AccessCheck | None = None
        # Called with (sid, sig_id) when a re-check leaves a socket in none of a SIG's rooms
        # (who's online drops the member from that SIG's list).
        self.left_sig: Callable[[str, int], None] | None = None

    def note_socket(self, sid: str, user_id: int | None) -> None:
        with self.rooms_lock:
            self.socket_users[sid] = user_id

    def note_sig_room(self, sid: str, room: str, sig_id: int) -> None:
        with self.rooms_lock:
            self.sig_rooms.setdefault(sid, {})[room] = sig_id

    def forget_sid(self, sid: str) -> None:
        with self.rooms_lock:
            self.sig_rooms.pop(sid, None)
            self.socket_users.pop(sid, None)

    def command(self, name: str, **args: Any) -> None:
        """Apply an instruction on this process and every other one."""
        self.apply_command({"name": name, "args": args})

    def apply_command(self, command: dict[str, Any]) -> None:
        name, args = command.get("name"), command.get("args") or {}
        if name == "disconnect_user":
            self._disconnect_user(int(args["user_id"]))
        elif name in ("recheck", "leave_sig"):  # leave_sig: what older processes send
            self._recheck(
                sig_id=_int_or_none(args.get("sig_id")),
                topic_id=_int_or_none(args.get("topic_id")),
                user_id=_int_or_none(args.get("user_id")),
            )

    def _local_sids(self, room: str) -> list[str]:
        return [sid for sid, _ in self.get_participants(NAMESPACE, room)]  # type: ignore[attr-defined]

    def _disconnect_user(self, user_id: int) -> None:
        for sid in self._local_sids(user_room(user_id)):
            self.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)

    def _recheck(self, *, sig_id: int | None, topic_id: int | None, user_id: int | None) -> None:
        """Ask the policy again about this process's sockets in a SIG's rooms (or a topic's
        room), all of them or one member's; take out those that may no longer read."""
        only_room = topic_room(topic_id) if topic_id is not None else None
        with self.rooms_lock:
            targets = [
                (sid, room)
                for sid, rooms in self.sig_rooms.items()
                if user_id is None or self.socket_users.get(sid) == user_id
                for room, room_sig in rooms.items()
                if room == only_room or (sig_id is not None and room_sig == sig_id)
            ]
            if not targets:
                return
            holders: dict[str, set[int | None]] = {}
            for sid, room in targets:
                holders.setdefault(room, set()).add(self.socket_users.get(sid))
            # Once per room, not per socket: a room's sockets share the answer per member.
            verdicts = self.access(holders) if self.access is not None else {}
            before = {sid: set(self.sig_rooms[sid].values()) for sid, _ in targets}
            for sid, room in targets:
                now_in, allowed = verdicts.get(room, (None, set()))
                if now_in is not None and self.socket_users.get(sid) in allowed:
                    self.sig_rooms[sid][room] = now_in  # a moved topic's room follows it
                    continue
                self.sig_rooms[sid].pop(room, None)
                socketio.Manager.leave_room(self, sid, NAMESPACE, room)  # type: ignore[arg-type]
            if self.left_sig is not None:
                for sid, sig_ids in before.items():
                    for gone in sig_ids - set(self.sig_rooms[sid].values()):
                        self.left_sig(sid, gone)


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


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def build(redis_url: str | None, channel: str) -> ForumCommands:
    if redis_url:
        return RedisManager(redis_url, channel=channel)
    return LocalManager()
