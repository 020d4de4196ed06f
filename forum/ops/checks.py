"""Readiness checks: can this process serve its core (pages and posting)?

A failed *required* check (the database, the search index folder) makes `/readyz` answer 503,
so a load balancer stops sending this server requests. Redis is not required: without it the
forum goes on (forum.redisconn), so a Redis outage is a warning in a 200, never a 503 that would
pull every server out at once."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import text

from .. import redisconn
from ..extensions import db


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    ms: float
    error: str | None = None
    required: bool = True

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"ok": self.ok, "ms": round(self.ms, 1)}
        if not self.required:
            out["required"] = False
        if self.error:
            out["error"] = self.error
        return out


def _timed(name: str, probe: Callable[[], None], *, required: bool = True) -> Check:
    start = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001  (any failure means "not ready"; the reason is shown)
        ms = (time.perf_counter() - start) * 1000
        return Check(name, False, ms, _describe(exc), required)
    return Check(name, True, (time.perf_counter() - start) * 1000, required=required)


def _describe(exc: Exception) -> str:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}"[:200]


def check_database() -> None:
    try:
        db.session.execute(text("SELECT 1"))
    finally:
        db.session.rollback()


# How long a write the storage refused (a read-only or full volume) keeps /readyz failing,
# unless another is refused meanwhile: past it, the next write tells again.
WRITE_FAULT_SECONDS = 30


def check_database_writes(app: Flask) -> None:
    """The database takes writes: not a read-only PostgreSQL; for SQLite, the database file,
    its folder (the -wal and -shm files) and the writers' lock file are writable and the volume
    has room (DATABASE_MIN_FREE_MB); and no write was refused for lack of either just now."""
    from ..web import WRITE_FAULT

    engine = db.engine
    if engine.dialect.name == "sqlite":
        _check_sqlite_files(app, engine.url.database)
    elif engine.dialect.name == "postgresql":
        try:
            read_only = db.session.execute(text("SHOW transaction_read_only")).scalar()
        finally:
            db.session.rollback()
        if read_only == "on":
            raise RuntimeError("PostgreSQL takes no writes here (transaction_read_only is on)")
    fault = WRITE_FAULT.get(app)
    if fault is not None:
        ago = time.monotonic() - fault[0]
        if ago < WRITE_FAULT_SECONDS:
            raise RuntimeError(f"a write was refused {ago:.0f} s ago: {fault[1]}")


def _check_sqlite_files(app: Flask, database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).resolve()
    lock = Path(f"{path}.write-lock")
    for target in (path.parent, path, lock):
        if target.exists() and not os.access(target, os.W_OK):
            raise RuntimeError(f"{target} is not writable (a read-only volume or permissions)")
    stats = os.statvfs(path.parent)
    free_mb = stats.f_bavail * stats.f_frsize / 2**20
    need = float(app.config.get("DATABASE_MIN_FREE_MB", 16))
    if free_mb < need:
        raise RuntimeError(f"the database volume is full: {free_mb:.1f} MB free, {need:g} needed")


def check_redis(app: Flask) -> None:
    """PING through the forum's own client: at once "down" while the breaker is open, else
    at most one timeout (REDIS_TIMEOUT, at most a second)."""
    client = redisconn.for_app(app)
    if client is None or not client.ping():
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
    if results[0].ok:
        results.append(_timed("database_writes", lambda: check_database_writes(app)))
    if app.config.get("REDIS_URL"):
        results.append(_timed("redis", lambda: check_redis(app), required=False))
    if _index_on_disk(app):  # (PostgreSQL full-text search keeps nothing on disk)
        results.append(_timed("search_index", lambda: check_index_dir(app)))
    return results


def _index_on_disk(app: Flask) -> bool:
    from ..search import indexer

    return indexer.backend_name(app) == "whoosh"
