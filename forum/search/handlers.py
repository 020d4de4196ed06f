"""Event subscribers: inside the change's transaction, write PostgreSQL vectors and queue Whoosh's
index work; drain the queue after commit."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable

from flask import Flask, current_app

from .. import events
from ..extensions import db
from ..hooks import AppSlot
from ..storage_faults import storage_refused
from . import indexer, postgres
from .models import KIND_POST, KIND_SIG, KIND_TOPIC

log = logging.getLogger(__name__)
# This process's background drain of the search queue, started on first use.
_DRAINER: AppSlot[Drainer] = AppSlot("forum.search_drainer")


# --- in the producer's transaction: record what the index must catch up with ---------------
# On PostgreSQL the posts' vectors are written here too, whichever backend searches (see
# postgres.py); the queue is written only for a backend that reads it (Whoosh).
def queue_post_created(event: events.PostCreated) -> None:
    if indexer.writes_vectors():
        postgres.post_written(event.post_id)
    if _queued() and event.visible:  # posts awaiting approval are indexed when approved
        indexer.enqueue(KIND_POST, event.post_id)


def queue_post(event: events.PostEdited | events.PostVisibilityChanged) -> None:
    if indexer.writes_vectors():
        if isinstance(event, events.PostEdited):
            postgres.post_written(event.post_id)
        else:
            postgres.post_shown(event.post_id)
    if _queued():
        indexer.enqueue(KIND_POST, event.post_id)


def queue_topic(event: events.TopicChanged) -> None:
    if indexer.writes_vectors():
        postgres.topic_changed(event.topic_id, event.post_ids)
    if _queued():
        # The topic's current posts, plus the posts that left it (splits and merges list them).
        indexer.enqueue(KIND_TOPIC, event.topic_id)
        if event.post_ids:
            indexer.enqueue(KIND_POST, *event.post_ids)


def queue_sig(event: events.SigChanged) -> None:
    if indexer.writes_vectors():
        postgres.rewrite_sig(event.sig_id)
    if _queued():
        # Visibility is applied at query time; only a language change needs re-analysis,
        # which the drain detects cheaply, so every SigChanged is queued.
        indexer.enqueue(KIND_SIG, event.sig_id)


def queue_member_posts(event: events.AccountDeleted) -> None:
    """A deleted account's posts are indexed again under the placeholder name (Whoosh keeps
    each post's author; PostgreSQL's vectors hold none: its author: filter reads the users
    table)."""
    if _queued() and event.post_ids:
        indexer.enqueue(KIND_POST, *event.post_ids)


def _queued() -> bool:
    """Whether the backend reads the queue; if not, a Whoosh index kept for later is told it
    misses this change (indexer.mark_whoosh_behind)."""
    if indexer.uses_queue():
        return True
    indexer.mark_whoosh_behind()
    return False


# --- after commit: apply it ------------------------------------------------------------------
def drain_after_commit(event: events.Event) -> None:
    if not indexer.uses_queue():
        return
    if current_app.config.get("SEARCH_DRAIN", "background") == "background":
        _drainer(current_app._get_current_object()).wake()  # type: ignore[attr-defined]
        return
    timeout = float(current_app.config.get("SEARCH_WRITE_TIMEOUT", 5.0))
    result = indexer.drain(timeout=timeout)
    if result.busy:
        log.info("search index busy after %s; left for the next drain", type(event).__name__)


class Drainer:
    """One thread per process that applies the search queue, woken after each commit.

    The request that made the change returns at once; the thread waits SEARCH_DRAIN_DELAY
    (0.1 s) for more commits, then applies everything queued so far (indexer.drain). When
    another process is draining, this one waits for it and applies what is left; under steady
    posting, the processes' drains are spaced as one (see spacing() below). Until the queue is
    empty this thread tries again shortly, so a post is searchable about as fast as the index
    can commit, whichever process wrote it.
    """

    RETRY_SECONDS = 0.1
    SHARE_FACTOR = 5  # drains begin at least 5 x their duration apart: a sixth of the time at most

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._wake = threading.Event()
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pid = 0

    def wake(self) -> None:
        with self._guard:
            # Started lazily, and again in a forked worker (threads do not survive a fork).
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="search-drain", daemon=True
                )
                self._thread.start()
                atexit.unregister(self.finish)  # (once, whether or not a parent registered it)
                atexit.register(self.finish)
        self._wake.set()

    def finish(self) -> None:
        """At exit: end the thread after its drain in progress, then apply here what is still
        queued (nothing to do costs one query). A page worker's exit, and more often a one-off
        command's that posts (Postfix's pipe to `forum mail-in`, one process per mail), which
        ends moments after its commit, before the thread's SEARCH_DRAIN_DELAY: the thread, a
        daemon, would be cut off, the post left unsearchable until another process drains."""
        with self._guard:
            running = self._thread is not None and self._pid == os.getpid()
        if running and self.stop():
            self._drain(float(self.app.config.get("SEARCH_WRITE_TIMEOUT", 5.0)))

    def stop(self, timeout: float = 30.0) -> bool:
        """End the thread once its drain in progress is done, its database session closed; a
        later wake starts another. For an app whose connection pool is about to be closed (a
        test's): a connection the thread still held then would go back to the closed pool and
        be left to the garbage collector, unclosed. Whether the thread ended within `timeout`."""
        with self._guard:
            thread, self._thread = self._thread, None
            self._stop.set()
        self._wake.set()
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self, stop: threading.Event) -> None:
        timeout = float(self.app.config.get("SEARCH_WRITE_TIMEOUT", 5.0))
        delay = float(self.app.config.get("SEARCH_DRAIN_DELAY", 0.1))
        interval = float(self.app.config.get("SEARCH_DRAIN_INTERVAL", 0.5))

        def spacing(took: float) -> float:
            # An index commit costs 10 to 50 ms of CPU whatever it holds (a new segment of a
            # dozen files, a merge check, every process reopening its searcher). A drain begins
            # no sooner after the last one began, in any process, than five times what that one
            # took, up to `interval`: a post on a quiet forum is searchable within a moment,
            # while under steady posting the index work stays a small share of the servers
            # (drains grow slower as they grow larger and the CPU busier). Draining after each
            # of 40 replies a second cost 6 ms of CPU per reply.
            return min(interval, self.SHARE_FACTOR * took)

        while True:
            self._wake.wait()
            if stop.is_set():
                return
            # Let the commits of a busy moment gather: one index commit applies them all.
            stop.wait(delay)
            pending = False
            while not stop.is_set():
                self._wake.clear()
                wait, pending = self._drain(timeout, spacing)
                if not wait:
                    break
                stop.wait(wait)
            if pending and not self._wake.is_set():
                stop.wait(self.RETRY_SECONDS)
                self._wake.set()

    def _drain(
        self, timeout: float, spacing: Callable[[float], float] | None = None
    ) -> tuple[float, bool]:
        """One drain (indexer.drain) in an app context of its own, its session closed after:
        how long to wait before the next may begin, and whether work is left."""
        try:
            with self.app.app_context():
                try:
                    result = indexer.drain(timeout=timeout, spacing=spacing)
                    wait = result.wait
                    return wait, result.busy or (not wait and indexer.backlog() > 0)
                finally:
                    db.session.remove()
        except Exception as exc:  # noqa: BLE001 - the queue keeps the work; a wake retries
            refused = storage_refused(exc)
            if refused:  # a read-only or full database: one line, the storage's fault
                log.warning("search drain could not save its progress: %s", refused)
            else:
                log.exception("search drain failed; the queued work stays for the next one")
            return 0.0, True


def _drainer(app: Flask) -> Drainer:
    return _DRAINER.setdefault(app, lambda: Drainer(app))


def stop_drainer(app: Flask, timeout: float = 30.0) -> bool:
    """Stop the app's drain thread, if it runs one, after its drain in progress (Drainer.stop):
    before its connection pool is closed (tests/conftest.py). Whether it ended in time."""
    drainer = _DRAINER.get(app)
    return drainer is None or drainer.stop(timeout)


def init_app(app: Flask) -> None:
    phase: events.Phase = "in_transaction"
    events.subscribe(app, events.PostCreated, queue_post_created, phase=phase)
    events.subscribe(app, events.PostEdited, queue_post, phase=phase)
    events.subscribe(app, events.PostVisibilityChanged, queue_post, phase=phase)
    events.subscribe(app, events.TopicChanged, queue_topic, phase=phase)
    events.subscribe(app, events.SigChanged, queue_sig, phase=phase)
    events.subscribe(app, events.AccountDeleted, queue_member_posts, phase=phase)
    for event_type in (
        events.PostCreated,
        events.PostEdited,
        events.PostVisibilityChanged,
        events.TopicChanged,
        events.SigChanged,
        events.AccountDeleted,
    ):
        events.subscribe(app, event_type, drain_after_commit, phase="after_commit")
