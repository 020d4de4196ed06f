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

Redis is optional at run time (forum.redisconn): a publish never holds up the request that
emits (it is queued, in order, for one publisher thread), and while Redis does not answer
the messages for other processes are dropped, not queued: this process's own sockets still get
every nudge, and the stored notifications wait for the next page. The listener tries again every
`REDIS_RETRY_SECONDS`, so messages from other processes flow again within a second or so of
Redis's return.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
import socketio

from .. import redisconn

log = logging.getLogger(__name__)

NAMESPACE = "/"
METHOD = "forum"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def topic_room(topic_id: int) -> str:
    return f"topic:{topic_id}"


def care_page_room(page_id: int) -> str:
    """The sockets of the pages showing one sysop page (/care/pages/<id>), whoever opened them."""
    return f"care_page:{page_id}"


# {room: the members (None: a guest) holding sockets in it} ->
# {room: (the SIG the room belongs to now, or None when it is gone; who of them may stay)}
AccessCheck = Callable[[dict[str, set[int | None]]], dict[str, tuple[int | None, set[int | None]]]]


class ForumCommands:
    """What both managers add: instructions, and which SIG each room a socket joined belongs to."""

    server: Any

    def _init_commands(self) -> None:
        # sid -> {room: sig_id} for rooms the SIG gates (topic, presence and sysop page rooms).
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

    def socket_user(self, sid: str) -> int | None:
        """The member this socket connected as (None: a guest, or a socket already gone)."""
        with self.rooms_lock:
            return self.socket_users.get(sid)

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
        room), all of them or one member's; take out those that may no longer read. Neither a
        SIG nor a topic: every SIG-gated room of the member's sockets (none without a member)."""
        only_room = topic_room(topic_id) if topic_id is not None else None
        every_room = sig_id is None and topic_id is None
        if every_room and user_id is None:
            return
        with self.rooms_lock:
            targets = [
                (sid, room)
                for sid, rooms in self.sig_rooms.items()
                if user_id is None or self.socket_users.get(sid) == user_id
                for room, room_sig in rooms.items()
                if every_room or room == only_room or (sig_id is not None and room_sig == sig_id)
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

    OUTBOX_SIZE = 10_000  # messages waiting for the publisher; more are dropped

    def __init__(
        self,
        url: str,
        channel: str,
        write_only: bool = False,
        timeout: float = redisconn.DEFAULT_TIMEOUT,
        retry: float = redisconn.DEFAULT_RETRY_SECONDS,
    ) -> None:
        super().__init__(url, channel=channel, write_only=write_only)
        self._init_commands()
        self.timeout, self.retry = timeout, retry
        self.breaker = redisconn.breaker(url, timeout, retry)
        self.dropped = 0  # messages other processes never got (Redis down, or the outbox full)
        self._outbox: queue.Queue[Any] = queue.Queue(self.OUTBOX_SIZE)
        self._publisher_pid = 0
        self._publisher_lock = threading.Lock()

    def _redis_connect(self) -> None:
        self.redis = redisconn.client(self.redis_url, self.timeout, self.retry)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    def _publish(self, data: Any) -> None:
        """Queue a message for the other processes; never waits on Redis."""
        if not self.breaker.up:
            self.dropped += 1
            return
        try:
            self._outbox.put_nowait(data)
        except queue.Full:
            self.dropped += 1
            return
        if self._publisher_pid != os.getpid():
            with self._publisher_lock:
                if self._publisher_pid != os.getpid():
                    self._publisher_pid = os.getpid()
                    threading.Thread(
                        target=self._publisher, name="socketio-publish", daemon=True
                    ).start()

    def _publisher(self) -> None:
        while True:
            data = self._outbox.get()
            if not self.breaker.up:
                self.dropped += 1
                continue
            try:
                if not self.connected:
                    self._redis_connect()
                self.redis.publish(self.channel, self.json.dumps(data))
            except redis.RedisError:
                self.dropped += 1  # forum.redisconn logged the outage once
            except Exception:  # noqa: BLE001 - a message that cannot be sent; the next may
                self.dropped += 1
                log.exception("could not publish a Socket.IO message")

    def _redis_listen_with_retries(self) -> Iterator[Any]:
        """python-socketio's listener, with the forum's timeouts and a steady retry interval
        (its own backs off to a minute, so a long outage left other processes deaf for up to
        half a minute more), and one log line when it is lost and one when it is back."""
        subscribed = False
        lost_at: float | None = None
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    subscribed = True
                    if lost_at is not None:
                        log.warning(
                            "Socket.IO messages from other processes flow again (after %.1f s)",
                            time.monotonic() - lost_at,
                        )
                        lost_at = None
                message = self.pubsub.get_message(timeout=1.0)
                if message is not None:
                    yield message
            except redis.RedisError as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                    log.warning(
                        "Socket.IO messages from other processes paused: %s: %s",
                        type(exc).__name__,
                        exc,
                    )
                subscribed = False
                try:
                    self.pubsub.close()
                except Exception:  # noqa: BLE001, S110 - the connection is gone anyway
                    pass
                time.sleep(self.retry)

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


def build(
    redis_url: str | None,
    channel: str,
    timeout: float = redisconn.DEFAULT_TIMEOUT,
    retry: float = redisconn.DEFAULT_RETRY_SECONDS,
) -> ForumCommands:
    if redis_url:
        return RedisManager(redis_url, channel=channel, timeout=timeout, retry=retry)
    return LocalManager()
