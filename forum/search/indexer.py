"""Keep the index equal to the database: queue index work in the transaction of the change,
drain the queue after commit, rebuild from scratch on demand.

Why a queue table: a row in `search_queue` commits or rolls back with the change it follows, so
the index's backlog is exactly "the rows still in the table". One drain runs at a time, across
processes (the backend's drain lock): it reads the rows, takes the index's single writer lock,
re-reads the posts they name from the database, writes the index, commits it, and only then
deletes those rows and lets the next drain in. Hence:
- a crash between the database commit and the index commit leaves the rows for the next drain
  (any later change, `flask forum search-sync`, or start-up);
- whoever holds the writer lock reads the newest committed state, so an older copy never
  overwrites a newer one, whichever process (or rebuild) gets it first;
- no row is applied twice: the next drain begins after the last one's rows are gone;
- a process that cannot get the locks in time gives up quietly; its rows stay for the holder's
  next round or the next drain.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app
from sqlalchemy import ColumnElement, delete, func, inspect, select, true

from .. import content
from ..accounts.models import User
from ..db import on_commit, transaction, upsert
from ..extensions import db
from ..hooks import AppSlot
from ..ops import memory
from ..permissions import public_posts_clause
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from .backend import INDEX_MEMORY_MB, RANKED_MATCHES, NullBackend, SearchBackend, WhooshBackend
from .documents import IndexBusy, PostDocument
from .models import KIND_POST, KIND_SIG, KIND_TOPIC, SearchQueueEntry, SearchState
from .postgres import PostgresBackend

log = logging.getLogger(__name__)

BATCH = 500
PARALLEL_FROM = 20_000  # posts; smaller rebuilds run in this process
_BACKEND: AppSlot[SearchBackend] = AppSlot("forum.search")


@dataclass
class DrainResult:
    rows: int = 0
    indexed: int = 0
    removed: int = 0
    busy: bool = False
    wait: float = 0.0  # too soon after the last drain: try again in this many seconds


def backend_name(app: Flask) -> str:
    """FORUM_SEARCH_BACKEND: "whoosh", "postgres" or "null"; unset, "postgres" on a PostgreSQL
    database and "whoosh" on SQLite."""
    name = app.config.get("SEARCH_BACKEND") or ("postgres" if _on_postgres(app) else "whoosh")
    if name not in ("whoosh", "postgres", "null"):
        raise RuntimeError(f"FORUM_SEARCH_BACKEND={name!r}: choose whoosh, postgres or null")
    if name == "postgres" and not _on_postgres(app):
        raise RuntimeError("FORUM_SEARCH_BACKEND=postgres needs a PostgreSQL database")
    return str(name)


def _on_postgres(app: Flask) -> bool:
    return str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("postgresql")


def make_backend(app: Flask) -> SearchBackend:
    return make_backend_named(app, backend_name(app))


def make_backend_named(app: Flask, name: str) -> SearchBackend:
    if name == "null":
        return NullBackend()
    if name == "postgres":
        return PostgresBackend(
            ranked_matches=int(app.config.get("SEARCH_RANKED_MATCHES", RANKED_MATCHES))
        )
    whoosh = WhooshBackend(
        app.config["INDEX_DIR"],
        ranked_matches=int(app.config.get("SEARCH_RANKED_MATCHES", RANKED_MATCHES)),
        index_memory_mb=int(app.config.get("SEARCH_INDEX_MEMORY_MB", INDEX_MEMORY_MB)),
    )
    # A worker that has not searched since the last trim lets its searcher's maps go
    # (forum.ops.memory; why: SearchIndex.let_go_if_idle).
    memory.on_trim(whoosh.let_go_if_idle)
    return whoosh


def get_backend(app: Flask | None = None) -> SearchBackend:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return _BACKEND.setdefault(app, lambda: make_backend(app))


def replace_backend(app: Flask, backend: SearchBackend) -> None:
    old = _BACKEND.get(app)
    if old is not None:
        old.close()
    _BACKEND.set(app, backend)


def uses_queue(app: Flask | None = None) -> bool:
    """Whether the backend is fed through the search queue (not the PostgreSQL backend, whose
    vectors are written in the change's own transaction)."""
    return not isinstance(get_backend(app), PostgresBackend)


def writes_vectors() -> bool:
    """Whether post changes write PostgreSQL vectors: on every PostgreSQL database, whichever
    backend searches, so switching to the PostgreSQL backend finds every post at once; unless
    SEARCH_POSTGRES_VECTORS is off and another backend searches."""
    if db.session.get_bind().dialect.name != "postgresql":
        return False
    return bool(current_app.config.get("SEARCH_POSTGRES_VECTORS", True)) or not uses_queue()


# --- Whoosh after a time on PostgreSQL -------------------------------------------------------
# A process searching with the PostgreSQL backend does not queue index work, so a Whoosh index
# misses what changed meanwhile. Its first change marks the database with a new "epoch"; a
# Whoosh index remembers the epoch it was built at (EPOCH_FILE), and start-up, `search-sync`
# and `reindex` rebuild an index whose epoch is not the database's.
EPOCH = "postgres_epoch"
EPOCH_FILE = "forum-db-epoch"
_MARKED: AppSlot[bool] = AppSlot("forum.search_epoch_marked")


def mark_whoosh_behind() -> None:
    """Called in the transaction of a change that the queue does not record (once a process)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _MARKED.get(app):
        return
    epoch = uuid.uuid4().hex
    upsert(SearchState, {"name": EPOCH, "value": epoch}, index_elements=["name"],
           set_={"value": epoch})  # fmt: skip
    on_commit(lambda: _MARKED.set(app, True))


def database_epoch() -> str:
    if db.session.get_bind().dialect.name != "postgresql":
        return ""
    return db.session.scalar(select(SearchState.value).where(SearchState.name == EPOCH)) or ""


def whoosh_behind(backend: SearchBackend) -> bool:
    """Whether this Whoosh index was built before a time on the PostgreSQL backend."""
    if not isinstance(backend, WhooshBackend):
        return False
    epoch = database_epoch()
    if not epoch:
        return False
    path = backend.path / EPOCH_FILE
    return not path.exists() or path.read_text().strip() != epoch


def _record_epoch(backend: SearchBackend, epoch: str) -> None:
    if isinstance(backend, WhooshBackend) and backend.path.is_dir():
        (backend.path / EPOCH_FILE).write_text(epoch)


def status(backend: SearchBackend) -> str:
    """backend.check(), and "outdated" for a Whoosh index that missed a time on PostgreSQL."""
    found = backend.check()
    if found == "ok" and whoosh_behind(backend):
        return "outdated"
    return found


# --- queueing (inside the producer's transaction) ------------------------------------------
def enqueue(kind: str, *target_ids: int) -> None:
    db.session.add_all(SearchQueueEntry(kind=kind, target_id=t) for t in dict.fromkeys(target_ids))


def backlog() -> int:
    return db.session.scalar(select(func.count()).select_from(SearchQueueEntry)) or 0


# --- reading the database -------------------------------------------------------------------
def _documents_query(where: ColumnElement[bool]) -> Any:
    return (
        select(
            Post.id,
            Post.topic_id,
            Post.body_html,
            Post.created_at,
            Topic.sig_id,
            Topic.title,
            Topic.first_post_id,
            Sig.slug,
            Sig.language,
            User.username,
        )
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(User, User.id == Post.user_id)
        .where(public_posts_clause(), Topic.deleted_at.is_(None), where)
    )


def _document(row: Any) -> PostDocument:
    is_first = row.id == row.first_post_id
    return PostDocument(
        post_id=row.id,
        topic_id=row.topic_id,
        sig_id=row.sig_id,
        sig_slug=row.slug,
        author=row.username or "",
        language=row.language,
        created_at=row.created_at,
        is_first=is_first,
        title=row.title if is_first else "",
        body=content.plain_text(row.body_html),
    )


def documents(
    where: ColumnElement[bool] | None = None, yield_per: int = 2000
) -> Iterator[PostDocument]:
    """Every readable post (not pending, hidden or deleted; topic not deleted) matching `where`."""
    stmt = _documents_query(where if where is not None else true()).order_by(Post.id)
    result = db.session.execute(stmt.execution_options(yield_per=yield_per))
    for row in result:
        yield _document(row)


def readable_post_ids() -> set[int]:
    """What the index should hold (tests and `search-sync --check` compare against it)."""
    stmt = (
        select(Post.id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(public_posts_clause(), Topic.deleted_at.is_(None))
    )
    return set(db.session.scalars(stmt))


# --- draining ---------------------------------------------------------------------------------
def drain(
    timeout: float = 5.0,
    backend: SearchBackend | None = None,
    spacing: Callable[[float], float] | None = None,
) -> DrainResult:
    """Apply the queued index work; safe to call from any number of processes at once.

    One drain runs at a time (backend.draining). With `spacing`, which says from how long the
    last drain took (in any process) how long after it began the next may begin, a drain that
    comes too soon does nothing and says in `wait` how long to wait.
    """
    session = db.session
    backend = backend or get_backend()
    result = DrainResult()
    if isinstance(backend, PostgresBackend):
        return result  # rows Whoosh left stay for Whoosh, should the forum switch back
    queued = session.scalar(select(SearchQueueEntry.id).limit(1)) is not None
    session.commit()  # no read kept open while waiting for another process's drain
    if not queued:
        return result
    try:
        with backend.draining(timeout=timeout) as clock:
            if spacing is not None:
                gap = spacing(clock.took)
                # Capped by the gap itself, should the clock have been set back.
                wait = min(gap, clock.began + gap - time.time())
                if wait > 0:
                    result.wait = wait
                    return result
            began = time.time()
            while True:
                # End any read transaction: what follows must see every commit made so far.
                session.commit()
                rows = session.execute(
                    select(SearchQueueEntry.id, SearchQueueEntry.kind, SearchQueueEntry.target_id)
                    .order_by(SearchQueueEntry.id)
                    .limit(BATCH)
                ).all()
                if not rows:
                    break  # (another drain took them: no index commit for nothing)
                plan = _plan(rows, backend)
                # End the read before the index work (tens of milliseconds): on SQLite, a read
                # kept open keeps the write-ahead log from being copied back and started over.
                session.commit()
                with backend.writer(timeout=timeout) as writer:
                    _apply(plan, writer, result)
                # The index has committed: the work is done, forget it.
                _forget([r.id for r in rows])
                result.rows += len(rows)
                if len(rows) < BATCH:
                    break
            if result.rows:
                clock.began, clock.took = began, time.time() - began
    except IndexBusy:
        result.busy = True
        log.info("search index busy; %d queued rows left for the next drain", backlog())
    return result


def _forget(ids: list[int]) -> None:
    """Delete these queue rows, which an index commit has covered. By id, and ids are never
    reused (see SearchQueueEntry): another drain may have applied and deleted them already,
    and a change queued since then must survive."""
    with transaction() as tx:
        for chunk in _chunks(ids):
            tx.execute(delete(SearchQueueEntry).where(SearchQueueEntry.id.in_(chunk)))


@dataclass
class _Plan:
    """What one batch of queue rows asks of the index, read from the database."""

    remove_sigs: list[int] = field(default_factory=list)
    remove_topics: list[int] = field(default_factory=list)
    remove_posts: list[int] = field(default_factory=list)
    reanalyse_sigs: list[int] = field(default_factory=list)  # the SIG's language changed
    docs: dict[int, PostDocument] = field(default_factory=dict)


def _plan(rows: Sequence[Any], backend: SearchBackend) -> _Plan:
    post_ids = {r.target_id for r in rows if r.kind == KIND_POST}
    topic_ids = {r.target_id for r in rows if r.kind == KIND_TOPIC}
    sig_ids = {r.target_id for r in rows if r.kind == KIND_SIG}
    plan = _Plan()
    for sig_id in sorted(sig_ids):
        language = db.session.scalar(select(Sig.language).where(Sig.id == sig_id))
        if language is None:
            plan.remove_sigs.append(sig_id)
        elif backend.has_other_language(sig_id, language):
            plan.reanalyse_sigs.append(sig_id)
    for chunk in _chunks(sorted(topic_ids)):
        plan.remove_topics += chunk
        for doc in documents(Post.topic_id.in_(chunk)):
            plan.docs[doc.post_id] = doc
    for chunk in _chunks(sorted(post_ids)):
        found = {doc.post_id: doc for doc in documents(Post.id.in_(chunk))}
        plan.remove_posts += [i for i in chunk if i not in found and i not in plan.docs]
        plan.docs.update(found)
    return plan


def _apply(plan: _Plan, writer: Any, result: DrainResult) -> None:
    for sig_id in plan.remove_sigs + plan.reanalyse_sigs:
        writer.remove_sig(sig_id)
        result.removed += 1
    for topic_id in plan.remove_topics:
        writer.remove_topic(topic_id)
        result.removed += 1
    for post_id in plan.remove_posts:
        writer.remove_post(post_id)
        result.removed += 1
    docs = plan.docs
    if plan.reanalyse_sigs:
        # Rare (a SIG's language changed) and maybe large: read while writing, not up front.
        docs = dict(docs)
        for doc in documents(Topic.sig_id.in_(plan.reanalyse_sigs)):
            docs[doc.post_id] = doc
    for doc in docs.values():
        writer.upsert(doc)
    result.indexed += len(docs)


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# --- rebuilding -------------------------------------------------------------------------------
def rebuild(
    progress: Callable[[int], None] | None = None, backend: SearchBackend | None = None
) -> int:
    """Index every readable post afresh, then catch up with what changed meanwhile."""
    backend = backend or get_backend()
    if isinstance(backend, PostgresBackend):
        # The vectors are the database's own: no queue to cover (it stays Whoosh's).
        return backend.rebuild((), progress)
    session = db.session
    session.commit()
    epoch = database_epoch()
    # The rows committed by now are covered by the rebuild (it reads the database after this
    # point). Exactly these: on PostgreSQL a smaller id may still commit later, in a
    # transaction that began earlier, and then holds a change the rebuild did not read.
    covered = list(session.scalars(select(SearchQueueEntry.id)))
    count = backend.rebuild(documents(), progress, procs=_procs())
    _forget(covered)
    drain(backend=backend)
    _record_epoch(backend, epoch)
    return count


def _procs() -> int:
    """Worker processes for a rebuild: worth their start-up only for a big forum."""
    wanted = current_app.config.get("SEARCH_INDEX_PROCS") or min(4, os.cpu_count() or 1)
    return int(wanted) if total_posts() >= PARALLEL_FROM else 1


def total_posts() -> int:
    stmt = (
        select(func.count(Post.id))
        .join(Topic, Topic.id == Post.topic_id)
        .where(public_posts_clause(), Topic.deleted_at.is_(None))
    )
    return db.session.scalar(stmt) or 0


def all_posts() -> int:
    """Every post, whatever its state (the PostgreSQL backend keeps a vector for each)."""
    return db.session.scalar(select(func.count(Post.id))) or 0


def startup(app: Flask) -> str:
    """Run at start-up: rebuild a missing, outdated or corrupt Whoosh index; drain the queue.
    With the PostgreSQL backend, say when posts still lack their vectors."""
    with app.app_context():
        if not inspect(db.engine).has_table(SearchQueueEntry.__tablename__):
            return "no-database"  # `flask db upgrade` has not run yet
        backend = get_backend(app)
        if isinstance(backend, PostgresBackend):
            # Posts written before the migration have no vector (nothing else can lack one: it
            # commits with its post). Filling them takes minutes on a big forum: `flask forum
            # reindex` does it while the servers serve, rather than each server before it does.
            try:
                found = backend.check()
                if found != "ok":
                    log.warning(
                        "some posts have no search vector yet (%s): they are not found until "
                        "`flask forum reindex` fills them",
                        found,
                    )
                return found
            finally:
                db.session.remove()
        try:
            with backend.maintenance():
                found = status(backend)
                if found != "ok":
                    # A new forum's first start (`make run`) has no index and nothing to lose.
                    empty = db.session.scalar(select(Post.id).limit(1)) is None
                    level = logging.INFO if found == "missing" and empty else logging.WARNING
                    log.log(level, "search index is %s: rebuilding it from the database", found)
                    backend.reset()
                    count = rebuild(backend=backend)
                    log.info("search index rebuilt with %d posts", count)
            if found == "ok":
                drain(backend=backend)
        except IndexBusy:
            found = "busy"
            log.info("another process is updating the search index; skipping start-up sync")
        finally:
            db.session.remove()
        return found
