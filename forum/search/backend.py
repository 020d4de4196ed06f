"""Search backends behind one small interface: Whoosh on disk, PostgreSQL full-text search
(postgres.py), and a Null twin.

Views and queries talk to `SearchBackend` only. A backend answers a `ParsedQuery` restricted to
a `SigScope`; it never decides who may read what: the caller passes the SIGs (and the policy's
SQL for them, which the PostgreSQL backend applies in its query) and re-checks every hit against
the database. Whoosh stores `PostDocument`s made by the indexer from the database after commit;
the PostgreSQL backend's vectors are written in the post's own transaction.

Several writers. Whoosh allows one writer per index, guarded by a lock file. Every index change
goes through `writer()`, which waits for that lock (briefly, with a timeout) and hands out a
writer; the indexer reads the database *while holding it* and drains the whole search queue
(see indexer.py). So the lock holder always writes the newest committed state, two processes
never write stale copies over each other, and a process that cannot get the lock in time just
leaves its queue rows for the holder or the next drain: no lock error reaches a member, no update
is lost. (Whoosh's AsyncWriter was rejected: it buffers in a thread of one process, so its work
dies with the process and can replay older text over newer text.)

How the Whoosh index is built, ranked and read fast is the engine room's business:
forum/search/engine/ (its README says what it changes in Whoosh, and why).
"""

from __future__ import annotations

import fcntl
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from markupsafe import Markup
from whoosh.index import LockError

from .documents import (
    BackendHit,
    BackendResults,
    DrainClock,
    IndexBusy,
    PostDocument,
    SigScope,
    plain_excerpt,
)
from .engine.index import INDEX_MEMORY_MB, IndexWriter, SearchIndex
from .engine.ranking import RANKED_MATCHES
from .parsing import ParsedQuery

__all__ = [
    "INDEX_MEMORY_MB",
    "RANKED_MATCHES",
    "BackendHit",
    "BackendResults",
    "DrainClock",
    "IndexBusy",
    "NullBackend",
    "PostDocument",
    "SearchBackend",
    "SigScope",
    "WhooshBackend",
]


class IndexWriterLike(Protocol):
    def upsert(self, doc: PostDocument) -> None: ...
    def remove_post(self, post_id: int) -> None: ...
    def remove_topic(self, topic_id: int) -> None: ...
    def remove_sig(self, sig_id: int) -> None: ...


class SearchBackend(Protocol):
    def writer(self, timeout: float = ...) -> Any:
        """Context manager: the single writer, committed on a clean exit. Raises IndexBusy."""

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int: ...

    def search(
        self,
        parsed: ParsedQuery,
        scope: SigScope,
        *,
        newest: bool,
        offset: int,
        limit: int,
        rank_all: bool = False,
    ) -> BackendResults: ...

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup: ...

    def excerpts(
        self, results: BackendResults, items: list[tuple[BackendHit, str | None, str]]
    ) -> list[tuple[Markup | None, Markup]]:
        """For a page of hits at once, (hit, title or None, body text) -> (title, excerpt)."""

    def suggest(
        self, parsed: ParsedQuery, prefer: str | None = None, scope: SigScope | None = None
    ) -> ParsedQuery | None:
        """`prefer`: the reader's language, whose near words count most; `scope`: the SIGs
        whose words may be offered (the caller checks the suggestion finds something anyway)."""

    def word_for(
        self, stem: str, texts: Iterable[str], prefer: str | None = None
    ) -> str | None: ...

    def check(self) -> str:
        """One of "ok", "missing", "corrupt" or "outdated" (built by an older schema)."""

    def reset(self) -> None: ...

    def indexed_post_ids(self) -> set[int]: ...

    def has_other_language(self, sig_id: int, language: str) -> bool: ...

    def maintenance(self) -> Any:
        """Context manager: one process at a time checks, resets or rebuilds the index."""

    def draining(self, timeout: float = ...) -> Any:
        """Context manager: one drain at a time, across processes, from reading the queue
        until the rows it applied are deleted, yielding the DrainClock. Raises IndexBusy."""

    def close(self) -> None: ...


# --- Whoosh -----------------------------------------------------------------------------------
class WhooshBackend:
    """The on-disk Whoosh index in INDEX_DIR (engine.index.SearchIndex), and the lock files
    beside it that keep one drain and one maintenance at a time across processes."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        ranked_matches: int = RANKED_MATCHES,
        index_memory_mb: int = INDEX_MEMORY_MB,
    ) -> None:
        self.path = Path(path)
        self.index = SearchIndex(self.path, ranked_matches, index_memory_mb)

    def let_go_if_idle(self) -> bool:
        """Close the searcher if no search used it since the last call (see SearchIndex)."""
        return self.index.let_go_if_idle()

    @contextmanager
    def writer(self, timeout: float = 5.0) -> Iterator[IndexWriter]:
        try:
            writer = self.index.writer(timeout)
        except LockError as exc:
            raise IndexBusy(str(self.path)) from exc
        with writer:
            yield writer

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int:
        try:
            return self.index.rebuild(docs, progress, procs)
        except LockError as exc:
            raise IndexBusy(str(self.path)) from exc

    def search(
        self,
        parsed: ParsedQuery,
        scope: SigScope,
        *,
        newest: bool,
        offset: int,
        limit: int,
        rank_all: bool = False,
    ) -> BackendResults:
        return self.index.search(
            parsed, scope, newest=newest, offset=offset, limit=limit, rank_all=rank_all
        )

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup:
        return self.index.excerpt(results, hit, text, title=title)

    def excerpts(
        self, results: BackendResults, items: list[tuple[BackendHit, str | None, str]]
    ) -> list[tuple[Markup | None, Markup]]:
        return [
            (
                self.index.excerpt(results, hit, title, title=True) if title is not None else None,
                self.index.excerpt(results, hit, body),
            )
            for hit, title, body in items
        ]

    def suggest(
        self, parsed: ParsedQuery, prefer: str | None = None, scope: SigScope | None = None
    ) -> ParsedQuery | None:
        return self.index.suggest(parsed, prefer)

    def word_for(self, stem: str, texts: Iterable[str], prefer: str | None = None) -> str | None:
        return self.index.word_for(stem, texts, prefer)

    def check(self) -> str:
        return self.index.check()

    def reset(self) -> None:
        self.index.reset()

    def indexed_post_ids(self) -> set[int]:
        return self.index.indexed_post_ids()

    def has_other_language(self, sig_id: int, language: str) -> bool:
        return self.index.has_other_language(sig_id, language)

    def close(self) -> None:
        self.index.close()

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.maintenance.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def draining(self, timeout: float = 5.0) -> Iterator[DrainClock]:
        # Held past the index commit, until the applied rows are deleted: a drain that took the
        # index's own lock in between would find those rows still queued and apply them again.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{self.path}.drain.lock", "a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexBusy(str(self.path)) from None
                    time.sleep(0.01)
            try:
                handle.seek(0)
                clock = _read_clock(handle.read())
                before = (clock.began, clock.took)
                yield clock
                if (clock.began, clock.took) != before:
                    handle.seek(0)
                    handle.truncate()
                    handle.write(f"{clock.began!r} {clock.took!r}\n")
                    handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _read_clock(text: str) -> DrainClock:
    """The clock a drain left in its lock file ("began took"); a fresh one for anything else."""
    try:
        began, took = (float(part) for part in text.split())
    except ValueError:
        return DrainClock()
    if not (math.isfinite(began) and math.isfinite(took)):
        return DrainClock()
    return DrainClock(began, took)


# --- Null -------------------------------------------------------------------------------------
class _NullWriter:
    def upsert(self, doc: PostDocument) -> None:
        pass

    def remove_post(self, post_id: int) -> None:
        pass

    def remove_topic(self, topic_id: int) -> None:
        pass

    def remove_sig(self, sig_id: int) -> None:
        pass


class NullBackend:
    """Indexes nothing and finds nothing (SEARCH_BACKEND = "null")."""

    @contextmanager
    def maintenance(self) -> Iterator[None]:
        yield

    @contextmanager
    def draining(self, timeout: float = 5.0) -> Iterator[DrainClock]:
        yield DrainClock()

    @contextmanager
    def writer(self, timeout: float = 5.0) -> Iterator[_NullWriter]:
        yield _NullWriter()

    def rebuild(
        self,
        docs: Iterable[PostDocument],
        progress: Callable[[int], None] | None = None,
        procs: int = 1,
    ) -> int:
        count = 0
        for _ in docs:
            count += 1
        if progress:
            progress(count)
        return count

    def search(
        self,
        parsed: ParsedQuery,
        scope: SigScope,
        *,
        newest: bool,
        offset: int,
        limit: int,
        rank_all: bool = False,
    ) -> BackendResults:
        return BackendResults(hits=[], total=0)

    def excerpt(
        self, results: BackendResults, hit: BackendHit, text: str, *, title: bool = False
    ) -> Markup:
        return plain_excerpt(text, title=title)

    def excerpts(
        self, results: BackendResults, items: list[tuple[BackendHit, str | None, str]]
    ) -> list[tuple[Markup | None, Markup]]:
        return [
            (plain_excerpt(title, title=True) if title is not None else None, plain_excerpt(body))
            for _hit, title, body in items
        ]

    def suggest(
        self, parsed: ParsedQuery, prefer: str | None = None, scope: SigScope | None = None
    ) -> ParsedQuery | None:
        return None

    def word_for(self, stem: str, texts: Iterable[str], prefer: str | None = None) -> str | None:
        return None

    def check(self) -> str:
        return "ok"

    def reset(self) -> None:
        pass

    def indexed_post_ids(self) -> set[int]:
        return set()

    def has_other_language(self, sig_id: int, language: str) -> bool:
        return False

    def close(self) -> None:
        pass
