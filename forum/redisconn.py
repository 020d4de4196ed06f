"""Redis, optional at run time: every Redis client of the forum is made here.

Each client has connect and socket timeouts (`REDIS_TIMEOUT`, at most a second), and every client
of one Redis in a process shares one circuit breaker. The first call that cannot reach Redis
(refused, or no answer within the timeout) opens it: from then on each call fails at once with
`Unavailable` (a `redis.ConnectionError`), without touching the network, and one background
thread PINGs Redis every `REDIS_RETRY_SECONDS` until it answers, which closes the breaker. So a
dead or hung Redis costs one request at most one timeout, and is used again within a retry
interval of its return. One warning is logged when Redis goes, one line when it comes back.

Callers treat a `redis.RedisError` as "not known right now": who's online says it cannot tell,
a live nudge is dropped (the notification row is stored), rate limits count in process memory
(Flask-Limiter's in-memory fallback), `/readyz` reports a warning.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.connection import (
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.retry import Retry

log = logging.getLogger(__name__)

MAX_TIMEOUT = 1.0
DEFAULT_TIMEOUT = 0.5
DEFAULT_RETRY_SECONDS = 0.5


class Unavailable(redis.ConnectionError):
    """Redis is marked down in this process: the call was not tried."""


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = f"{parts.username}:***@" if parts.username else "***@"
        return urlunsplit(parts._replace(netloc=user + netloc))
    return url


class Breaker:
    """Whether one Redis answers, as this process last found out."""

    def __init__(self, url: str, timeout: float, retry_seconds: float) -> None:
        self.url = url
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self._down_since: float | None = None
        self._lock = threading.Lock()
        self.outages = 0
        self.last_error = ""

    @property
    def up(self) -> bool:
        return self._down_since is None

    def down_for(self) -> float | None:
        since = self._down_since
        return None if since is None else time.monotonic() - since

    def guard(self) -> None:
        if self._down_since is not None:
            raise Unavailable(
                f"Redis at {redact(self.url)} is not answering ({self.last_error}); "
                f"trying again every {self.retry_seconds:g} s"
            )

    def failed(self, exc: BaseException) -> None:
        """A call could not reach Redis: open the breaker (once) and start probing."""
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self.outages += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
        log.warning(
            "Redis at %s is not answering (%s: %s): going on without it, trying again every %.1f s",
            redact(self.url),
            type(exc).__name__,
            exc,
            self.retry_seconds,
        )
        threading.Thread(target=self._probe, name="redis-probe", daemon=True).start()

    def _probe(self) -> None:
        probe = redis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                time.sleep(self.retry_seconds)
                try:
                    probe.ping()
                except redis.RedisError:
                    continue
                with self._lock:
                    since, self._down_since = self._down_since, None
                down = time.monotonic() - since if since is not None else 0.0
                log.warning("Redis at %s answers again after %.1f s", redact(self.url), down)
                return
        finally:
            probe.close()


class _Guarded:
    """A redis-py connection that asks the breaker first and tells it of each failure.

    Timeouts and failed connects open the breaker. A broken socket on a pooled connection (Redis
    restarted) does not: redis-py retries such a call once on a new connection, whose connect
    is what tells whether Redis is there."""

    breaker: Breaker

    def __init__(self, *args: Any, breaker: Breaker, **kwargs: Any) -> None:
        self.breaker = breaker
        super().__init__(*args, **kwargs)

    def connect_check_health(self, *args: Any, **kwargs: Any) -> Any:
        self.breaker.guard()
        try:
            return super().connect_check_health(*args, **kwargs)  # type: ignore[misc]
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.breaker.failed(exc)
            raise

    def send_packed_command(self, *args: Any, **kwargs: Any) -> Any:
        if not self.breaker.up:
            self.disconnect()  # type: ignore[attr-defined]
            self.breaker.guard()
        try:
            return super().send_packed_command(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError as exc:
            self.breaker.failed(exc)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except redis.TimeoutError as exc:
            self.breaker.failed(exc)
            raise


class GuardedConnection(_Guarded, Connection):
    pass


class GuardedSSLConnection(_Guarded, SSLConnection):
    pass


class GuardedUnixConnection(_Guarded, UnixDomainSocketConnection):
    pass


_GUARDED = {
    Connection: GuardedConnection,
    SSLConnection: GuardedSSLConnection,
    UnixDomainSocketConnection: GuardedUnixConnection,
}

_breakers: dict[tuple[int, str], Breaker] = {}
_pools: dict[tuple[int, str], ConnectionPool] = {}
_registry_lock = threading.Lock()


def settings(config: Any) -> tuple[float, float]:
    """(timeout, retry interval) from the app's settings; the timeout is at most a second."""
    timeout = float(config.get("REDIS_TIMEOUT") or DEFAULT_TIMEOUT)
    retry = float(config.get("REDIS_RETRY_SECONDS") or DEFAULT_RETRY_SECONDS)
    return min(max(timeout, 0.05), MAX_TIMEOUT), max(retry, 0.05)


def breaker(
    url: str, timeout: float = DEFAULT_TIMEOUT, retry: float = DEFAULT_RETRY_SECONDS
) -> Breaker:
    """This process's breaker for the Redis at `url` (a forked process gets its own)."""
    key = (os.getpid(), url)
    with _registry_lock:
        found = _breakers.get(key)
        if found is None:
            found = _breakers[key] = Breaker(url, min(timeout, MAX_TIMEOUT), retry)
        return found


def pool(
    url: str, timeout: float = DEFAULT_TIMEOUT, retry: float = DEFAULT_RETRY_SECONDS
) -> ConnectionPool:
    """This process's connection pool to `url`: timeouts, and the breaker on every connection."""
    key = (os.getpid(), url)
    with _registry_lock:
        found = _pools.get(key)
    if found is not None:
        return found
    kwargs = parse_url(url)
    plain = kwargs.pop("connection_class", Connection)
    timeout = min(timeout, MAX_TIMEOUT)
    made = ConnectionPool(
        connection_class=_GUARDED.get(plain, GuardedConnection),
        breaker=breaker(url, timeout, retry),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # One more try on a new connection when a pooled one turns out broken (a restart);
        # never on a timeout, which would double the wait.
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        **kwargs,
    )
    with _registry_lock:
        return _pools.setdefault(key, made)


def client(
    url: str, timeout: float = DEFAULT_TIMEOUT, retry: float = DEFAULT_RETRY_SECONDS
) -> redis.Redis:
    """A Redis client on this process's guarded pool for `url`."""
    return redis.Redis(connection_pool=pool(url, timeout, retry))


class DropRedisTracebacks(logging.Filter):
    """For Flask-Limiter's logger: a request that was using Redis when another found it down
    logs "Swallowing error" with a traceback (it then counts in memory). For the jobs worker's
    (Huey's consumer): each poll of the queue and of the schedule that fails says so with a
    traceback, some ten a second. The breaker has already said that Redis is down, once: those
    records are dropped (given `messages`, only records of those)."""

    def __init__(self, *messages: str) -> None:
        super().__init__()
        self.messages = messages

    def filter(self, record: logging.LogRecord) -> bool:
        if self.messages and record.msg not in self.messages:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, redis.RedisError):
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def quiet_limiter_log() -> None:
    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, DropRedisTracebacks) for f in limiter_log.filters):
        limiter_log.addFilter(DropRedisTracebacks())


def quiet_consumer_log() -> None:
    """Drop the jobs worker's failed polls of a Redis the breaker has found down (a job that
    fails, or one that cannot be moved off the schedule, is still logged)."""
    for name, message in (
        ("huey.consumer.Worker", "Error reading from queue"),
        ("huey.consumer.Scheduler", "Error reading schedule."),
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropRedisTracebacks) for f in logger.filters):
            logger.addFilter(DropRedisTracebacks(message))


def for_app(app: Any) -> redis.Redis | None:
    """The guarded client for the app's FORUM_REDIS_URL, or None when there is none."""
    url = app.config.get("REDIS_URL")
    return client(url, *settings(app.config)) if url else None
