"""Who's online, site-wide and per SIG, with a grace period so a page reload does not flicker.

Each key ("site", "sig:<id>") maps members to the time their presence expires. An open socket
keeps pushing its expiry forward (every `tick`); a closed one leaves `grace` seconds before the
member drops off, long enough for the next page to connect again. The store is process memory by
default and Redis (sorted sets) when FORUM_REDIS_URL is set, so every process sees the same list.
While Redis does not answer (forum.redisconn), nobody can tell who is online: the lists say so,
and the sockets' expiries are pushed again by the next refresh after it is back.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..hooks import AppSlot

GUEST_PREFIX = "guest:"


class Store(Protocol):
    def set(self, key: str, member: str, expires: float, *, only_later: bool) -> None: ...
    def alive(self, key: str, now: float) -> list[str]: ...
    def alive_since(self, key: str, now: float) -> tuple[list[str], float]:
        """`alive()`, and since when the store has kept what processes told it (a Redis that
        restarted forgot everyone until each process's next refresh)."""
        ...


class MemoryStore:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, float]] = {}
        self.lock = threading.Lock()

    def set(self, key: str, member: str, expires: float, *, only_later: bool) -> None:
        with self.lock:
            bucket = self.data.setdefault(key, {})
            if not only_later or expires > bucket.get(member, 0):
                bucket[member] = expires

    def alive(self, key: str, now: float) -> list[str]:
        with self.lock:
            bucket = self.data.get(key, {})
            for member in [m for m, t in bucket.items() if t <= now]:
                del bucket[member]
            return sorted(bucket)

    def alive_since(self, key: str, now: float) -> tuple[list[str], float]:
        return self.alive(key, now), float("-inf")  # lives and dies with the process


class RedisStore:
    def __init__(self, url: str, prefix: str, timeout: float = 0.5, retry: float = 0.5) -> None:
        from .. import redisconn

        self.redis = redisconn.client(url, timeout, retry)
        self.prefix = prefix

    def set(self, key: str, member: str, expires: float, *, only_later: bool) -> None:
        import redis

        name = self.prefix + key
        pipe = self.redis.pipeline()
        pipe.zadd(name, {member: expires}, gt=only_later)
        pipe.expire(name, 3600)
        try:
            pipe.execute()
        except redis.RedisError:
            pass  # forum.redisconn logged the outage; the next refresh sets it again

    def alive(self, key: str, now: float) -> list[str]:
        name = self.prefix + key
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(name, "-inf", now)
        pipe.zrangebyscore(name, f"({now}", "+inf")
        _, members = pipe.execute()
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    def alive_since(self, key: str, now: float) -> tuple[list[str], float]:
        name, epoch = self.prefix + key, self.prefix + "epoch"
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(name, "-inf", now)
        pipe.zrangebyscore(name, f"({now}", "+inf")
        pipe.set(epoch, now, nx=True)  # first use, or Redis lost its data: the epoch is now
        pipe.get(epoch)
        _, members, _, since = pipe.execute()
        names = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        return names, float(since)


def browser_key(session: Mapping[str, Any], field: str = "csrf_token") -> str | None:
    """This browser, as its cookie session names it to a page and to a socket alike: a digest
    of the session's CSRF secret, which Flask-WTF keeps there from the first form the browser
    was shown and a sign-in keeps. None for a browser shown no form yet (a cached guest page)."""
    raw = session.get(field)
    if not isinstance(raw, str) or not raw:
        return None
    return hashlib.sha256(b"forum.presence:" + raw.encode()).hexdigest()[:24]


@dataclass
class Connection:
    member: str  # "<user id>:<username>", or "guest:<browser>" (else "guest:<sid>")
    sig_ids: set[int] = field(default_factory=set)


@dataclass
class Online:
    names: list[str]
    guests: int
    known: bool = True  # False: the shared store (Redis) did not answer

    @property
    def count(self) -> int:
        return len(self.names) + self.guests

    def as_dict(self) -> dict[str, Any]:
        return {"names": self.names, "guests": self.guests}


class Presence:
    """This process's open sockets and the shared store of who is online."""

    def __init__(
        self, store: Store, grace: float, tick: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.grace = grace
        self.tick = tick
        self.clock = clock
        self.connections: dict[str, Connection] = {}
        self.lock = threading.Lock()
        self.last_sent: dict[str, dict[str, Any]] = {}

    def _live_until(self) -> float:
        # Two ticks of slack, so a refresh that runs a little late never lets a member lapse.
        return self.clock() + self.grace + 2 * self.tick

    def connect(
        self, sid: str, user_id: int | None, username: str | None, browser: str | None = None
    ) -> None:
        """A socket opened. A guest is counted once per browser (`browser`, see browser_key),
        or once per socket when the browser's session names none."""
        member = f"{user_id}:{username}" if user_id else GUEST_PREFIX + (browser or sid)
        with self.lock:
            self.connections[sid] = Connection(member)
        self.store.set("site", member, self._live_until(), only_later=True)

    def enter_sig(self, sid: str, sig_id: int) -> None:
        with self.lock:
            conn = self.connections.get(sid)
            if conn is None:
                return
            conn.sig_ids.add(sig_id)
        self.store.set(f"sig:{sig_id}", conn.member, self._live_until(), only_later=True)

    def disconnect(self, sid: str, *, gone: bool = False) -> None:
        """A socket closed. Unless another socket of the member here keeps them, the member
        stays listed for `grace` seconds, long enough for the next page to connect; not when
        `gone` (the server ended the session: logout, ban), nor for a guest, whose next page
        is a new socket and a new guest."""
        with self.lock:
            conn = self.connections.pop(sid, None)
            if conn is None:
                return
            others = [c for c in self.connections.values() if c.member == conn.member]
        still_sigs = {s for c in others for s in c.sig_ids}
        guest = conn.member.startswith(GUEST_PREFIX)
        until = 0 if gone or guest else self.clock() + self.grace
        if not others:
            self.store.set("site", conn.member, until, only_later=False)
        for sig_id in conn.sig_ids - still_sigs:
            self.store.set(f"sig:{sig_id}", conn.member, until, only_later=False)

    def leave_sig(self, sid: str, sig_id: int) -> None:
        """The socket was taken out of a SIG's rooms (the member may no longer read it): off
        that SIG's list at once, unless another socket of the member here is still in it."""
        with self.lock:
            conn = self.connections.get(sid)
            if conn is None or sig_id not in conn.sig_ids:
                return
            conn.sig_ids.discard(sig_id)
            still = any(
                sig_id in c.sig_ids for c in self.connections.values() if c.member == conn.member
            )
        if not still:
            self.store.set(f"sig:{sig_id}", conn.member, 0, only_later=False)

    def sign_in(self, browser: str | None, user_id: int, username: str) -> None:
        """A browser signed in (a login, a finished registration): the member is online at once,
        on the page they land on, listed for the grace period as after a page that closed,
        until that page's socket keeps them; and the guest this browser's open pages were is
        that member now, so it is not counted as a guest too. (A guest's socket of this
        browser on another process is counted until its page closes, which the browser does
        as it follows the sign-in's redirect.)"""
        member = f"{user_id}:{username}"
        moved: set[int] = set()
        sockets = 0
        guest = GUEST_PREFIX + browser if browser else None
        if guest is not None:
            with self.lock:
                for conn in self.connections.values():
                    if conn.member == guest:
                        conn.member = member
                        moved |= conn.sig_ids
                        sockets += 1
            self.store.set("site", guest, 0, only_later=False)
        until = self._live_until() if sockets else self.clock() + self.grace
        self.store.set("site", member, until, only_later=True)
        for sig_id in moved:
            self.store.set(f"sig:{sig_id}", guest or member, 0, only_later=False)
            self.store.set(f"sig:{sig_id}", member, self._live_until(), only_later=True)

    def refresh(self) -> None:
        """Push forward the expiry of everyone connected to this process."""
        until = self._live_until()
        with self.lock:
            conns = list(self.connections.values())
        for conn in conns:
            self.store.set("site", conn.member, until, only_later=True)
            for sig_id in conn.sig_ids:
                self.store.set(f"sig:{sig_id}", conn.member, until, only_later=True)

    def online(self, sig_id: int | None = None) -> Online:
        """Who is online (site-wide or in one SIG); `known` is False when the store (Redis)
        cannot be asked right now."""
        key = "site" if sig_id is None else f"sig:{sig_id}"
        try:
            members = self.store.alive(key, self.clock())
        except Exception:  # noqa: BLE001 - forum.redisconn logged it; the page says "cannot tell"
            return Online(names=[], guests=0, known=False)
        names = sorted(
            {m.split(":", 1)[1] for m in members if not m.startswith(GUEST_PREFIX)}, key=str.lower
        )
        guests = sum(1 for m in members if m.startswith(GUEST_PREFIX))
        return Online(names=names, guests=guests)

    def online_member_ids(self) -> set[int] | None:
        """The members with a socket open (or in their grace period) in any process that
        shares the store: the only ones a live nudge to a member can reach. None when that is
        not known: the store is unreachable, or began afresh (Redis restarted) less than two
        refreshes ago, so some processes may not have told it of their sockets yet."""
        now = self.clock()
        try:
            members, since = self.store.alive_since("site", now)
        except Exception:  # noqa: BLE001 - unknown, and the caller nudges everyone instead
            return None
        if now - since < 2 * self.tick + 1:
            return None
        return {int(m.split(":", 1)[0]) for m in members if not m.startswith(GUEST_PREFIX)}

    def changes(self, sig_ids: set[int]) -> dict[str, dict[str, Any]]:
        """The lists that changed since this process last sent them: key -> payload."""
        changed = {}
        for key, sig_id in [("site", None), *((f"sig:{s}", s) for s in sorted(sig_ids))]:
            online = self.online(sig_id)
            if not online.known:
                # Pages keep what they show; once it is known again, it is sent again.
                self.last_sent.pop(key, None)
                continue
            payload = {"scope": key, **online.as_dict()}
            if self.last_sent.get(key) != payload:
                self.last_sent[key] = payload
                changed[key] = payload
        return changed


def build(
    redis_url: str | None,
    prefix: str,
    grace: float,
    tick: float,
    timeout: float = 0.5,
    retry: float = 0.5,
) -> Presence:
    store: Store = RedisStore(redis_url, prefix, timeout, retry) if redis_url else MemoryStore()
    return Presence(store, grace=grace, tick=tick)


# This app's presence registry (set up by forum.realtime's init_app).
PRESENCE: AppSlot[Presence] = AppSlot("forum.presence")
# Start this process's presence loop (once; on the first socket).
START: AppSlot[Callable[[], None]] = AppSlot("forum.realtime.start")
