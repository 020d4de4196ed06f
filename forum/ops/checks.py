"""Readiness checks: can this process reach everything it needs to serve requests?"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from ..extensions import db

REDIS_TIMEOUT = 1.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if self.error:
            out["error"] = self.error
        return out


def _timed(name: str, probe: Callable[[], None]) -> Check:
    start = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001  (any failure means "not ready"; the reason is shown)
        return Check(name, False, (time.perf_counter() - start) * 1000, _describe(exc))
    return Check(name, True, (time.perf_counter() - start) * 1000)


def _describe(exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:200]


def check_database() -> None:
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()


def check_redis(app: Flask) -> None:
    import redis

    client = app.extensions.get("forum.ops.redis")
    if client is None:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"],
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        app.extensions["forum.ops.redis"] = client
    if not client.ping():
        raise RuntimeError("Redis did not answer PING")


def check_index_dir(app: Flask) -> None:
    """The search index folder exists (or can be made) and this process may write in it."""
    folder = Path(app.config["INDEX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".readyz-", dir=folder)
    os.close(fd)
    os.unlink(name)


def run_all(app: Flask) -> list[Check]:
    results = [_timed("database", check_database)]
    if app.config.get("REDIS_URL"):
        results.append(_timed("redis", lambda: check_redis(app)))
    results.append(_timed("search_index", lambda: check_index_dir(app)))
    return results
