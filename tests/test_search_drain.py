"""The search queue is applied by a background thread per process: a reply never waits on the
index, and the post is searchable moments after its commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from forum.db import transaction
from forum.extensions import db
from forum.search import handlers, indexer
from forum.search.backend import WhooshBackend
from forum.search.models import KIND_POST
from forum.topics import services as topic_services

from .serverkit import run_forum_script

pytestmark = [
    pytest.mark.search,
    pytest.mark.config(SEARCH_DRAIN="background", SEARCH_WRITE_TIMEOUT=30.0),
]


@pytest.fixture(autouse=True)
def index(app: Flask, tmp_path: Path) -> Any:
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    yield indexer.get_backend(app)
    indexer.get_backend(app).close()


def _backlog() -> int:
    db.session.rollback()  # end this thread's read snapshot: count what is committed now
    return indexer.backlog()


def _drained(seconds: float = 20) -> bool:
    """The queue empties: a drain forgets its rows just after its index commit, so a search
    can find a post a moment before the row is gone."""
    deadline = time.monotonic() + seconds
    while _backlog():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _found(client: Any, word: str) -> bool:
    response = client.get("/search", query_string={"q": word})
    assert response.status_code == 200
    return "#post-" in response.get_data(as_text=True)


def _wait_until_found(client: Any, word: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _found(client, word):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_reply_is_searchable_moments_after_its_commit(app, client, f):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Quiet topic")
    f.reply(ada, topic, "A word nobody used before: quixotry.")
    assert _wait_until_found(client, "quixotry", seconds=20)
    assert _drained()


def test_a_reply_does_not_wait_while_another_process_holds_the_index(app, client, f, index):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Busy index")
    topic_id, ada_id = topic.id, ada.id
    assert _wait_until_found(client, "busy", seconds=20)  # the topic itself is indexed
    done = threading.Event()

    def reply() -> None:
        with app.app_context():
            from forum.accounts.models import User

            topic_services.reply_to_topic(db.session.get(User, ada_id), topic_id, "Marmalade.")
            db.session.remove()
            done.set()

    # Another process is writing the index (its lock is held), for as long as this test likes.
    with index.writer(timeout=5):
        writer_thread = threading.Thread(target=reply)
        writer_thread.start()
        # Inline, the reply would wait up to SEARCH_WRITE_TIMEOUT (30 s) for this lock; polls return
        # as soon as they can, so the generous limits only matter on a machine under load.
        assert done.wait(timeout=20), "the reply waited for the index lock"
        writer_thread.join()
        assert _backlog() == 1  # queued, not lost
    # The lock is free again: the drainer's retry applies the queued post.
    assert _wait_until_found(client, "marmalade", seconds=20)
    assert _drained()


def test_the_drainer_survives_a_failure_and_keeps_the_work(app, client, f, monkeypatch):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Flaky index")
    real_drain = indexer.drain
    failures = []

    def failing_once(**kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise OSError("disk hiccup")
        return real_drain(**kwargs)

    monkeypatch.setattr(indexer, "drain", failing_once)
    f.reply(ada, topic, "Persistence pays: obstinacy.")
    assert _wait_until_found(client, "obstinacy", seconds=20)
    assert failures == [1]


def test_one_drainer_thread_per_app(app):
    first = handlers._drainer(app)
    assert handlers._drainer(app) is first


@pytest.mark.config(SEARCH_DRAIN="background", SEARCH_WRITE_TIMEOUT=30.0, SEARCH_DRAIN_DELAY=1.0)
def test_a_burst_of_replies_is_indexed_in_one_commit(app, client, f, monkeypatch):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Busy evening")
    assert _wait_until_found(client, "evening", seconds=20)
    real_drain = indexer.drain
    drained: list[tuple[float, int]] = []  # (when it began, rows applied) per drain

    def counting(**kwargs: Any) -> Any:
        began = time.monotonic()
        result = real_drain(**kwargs)
        drained.append((began, result.rows))
        return result

    monkeypatch.setattr(indexer, "drain", counting)
    words = ["aubergine", "brioche", "clementine", "damson", "elderflower"]
    replied: list[float] = []  # when each reply's commit (and its wake of the drainer) was done
    first_sent = time.monotonic()
    for word in words:
        f.reply(ada, topic, f"Tonight: {word}.")
        replied.append(time.monotonic())
    for word in words:
        assert _wait_until_found(client, word, seconds=20)
    # A post is found once the index has committed, a moment before its drain has deleted the
    # queue rows and returned.
    deadline = time.monotonic() + 20
    while sum(rows for _, rows in drained) < len(words) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(rows for _, rows in drained) == len(words)
    # The first reply woke the drainer, which waited SEARCH_DRAIN_DELAY (1 s) for more commits
    # before draining, and then applied every reply committed meanwhile in one index commit.
    # Said with the times things happened, not with how many replies a machine commits in a
    # second: a drain that did not wait would begin moments after the first commit.
    began, rows = next((began, rows) for began, rows in drained if rows)
    assert began >= first_sent + 1.0, began - first_sent
    assert rows >= len([t for t in replied if t <= began]) >= 1, (rows, began, replied)


def _queue_again(post_id: int) -> None:
    with transaction():
        indexer.enqueue(KIND_POST, post_id)


@pytest.mark.config(SEARCH_DRAIN="inline")
def test_a_drain_waits_until_the_last_one_has_forgotten_its_rows(app, f, index, monkeypatch):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Twice told")
    _queue_again(topic.first_post_id)
    opened: list[int] = []
    real_writer = index.writer

    def counting_writer(**kwargs: Any) -> Any:
        opened.append(1)
        return real_writer(**kwargs)

    monkeypatch.setattr(index, "writer", counting_writer)
    real_forget = indexer._forget
    forgetting, go_on = threading.Event(), threading.Event()

    def slow_forget(ids: list[int]) -> None:
        forgetting.set()
        assert go_on.wait(20)
        real_forget(ids)

    monkeypatch.setattr(indexer, "_forget", slow_forget)
    results: dict[str, Any] = {}

    def drain(name: str) -> None:
        with app.app_context():
            results[name] = indexer.drain(timeout=20)
            db.session.remove()

    first = threading.Thread(target=drain, args=("first",))
    first.start()
    # The first drain has committed the index and not yet deleted its queue row.
    assert forgetting.wait(20)
    second = threading.Thread(target=drain, args=("second",))
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive(), "the second drain did not wait for the first"
    go_on.set()
    first.join(timeout=20)
    second.join(timeout=20)
    assert results["first"].rows == 1
    # The row was gone when the second drain looked: nothing applied twice, no empty commit.
    assert results["second"].rows == 0
    assert opened == [1]
    assert _backlog() == 0


@pytest.mark.config(SEARCH_DRAIN="inline")
def test_drains_are_spaced_as_one_across_processes(app, f, index):
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Spaced out")
    other = WhooshBackend(app.config["INDEX_DIR"])  # how another process sees the same index

    def five_times(took: float) -> float:
        return min(1.0, 5 * took)

    try:
        _queue_again(topic.first_post_id)
        began = time.time()
        with index.draining() as clock:  # a drain in this process began a moment ago
            clock.began, clock.took = began, 0.1
        result = indexer.drain(backend=other, spacing=five_times)
        # The gap (five times 0.1 s) less the moment since that drain began (on a busy
        # machine, more than the moment it takes here).
        assert 0.5 - (time.time() - began) <= result.wait <= 0.5
        assert result.rows == 0 and _backlog() == 1
        # A clock set far ahead (the wall clock went back) holds drains up for one gap at most.
        with index.draining() as clock:
            clock.began = time.time() + 3600
        assert indexer.drain(backend=other, spacing=five_times).wait <= 0.5
        # Once the gap has passed, the other process drains, and its clock is the one kept.
        with index.draining() as clock:
            clock.began = time.time() - 1
        before = time.time()
        result = indexer.drain(backend=other, spacing=five_times)
        assert result.wait == 0 and result.rows == 1 and _backlog() == 0
        with index.draining() as clock:
            assert before <= clock.began <= time.time() and clock.took > 0
    finally:
        other.close()


@pytest.mark.config(SEARCH_DRAIN="inline")
def test_a_drain_holds_no_read_open_while_it_writes_the_index(app, f, index, monkeypatch):
    """On SQLite an open read keeps the write-ahead log from being copied back and started
    over; the index work takes tens of milliseconds, so the drain reads first, then writes."""
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Read, then write")
    _queue_again(topic.first_post_id)
    seen: list[bool] = []
    real_writer, real_draining = index.writer, index.draining

    def writer(**kwargs: Any) -> Any:
        seen.append(db.session().in_transaction())
        return real_writer(**kwargs)

    def draining(**kwargs: Any) -> Any:
        seen.append(db.session().in_transaction())
        return real_draining(**kwargs)

    monkeypatch.setattr(index, "writer", writer)
    monkeypatch.setattr(index, "draining", draining)
    db.session.commit()
    assert indexer.drain(timeout=20).indexed == 1
    # Neither while waiting for another process's drain nor while writing the index.
    assert seen == [False, False]
    assert _found(app.test_client(), "Read")


def test_a_stopped_drainer_ends_after_its_drain_holding_no_connection(app, f, monkeypatch):
    """The app fixture stops the drain thread before it closes the app's connection pool: a
    connection the thread held then would go back to the closed pool and be left to the
    garbage collector, unclosed (psycopg's ResourceWarning, which fails whichever test runs
    next). Stopped in the middle of a drain, the thread ends that drain and closes its session
    first."""
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Last words")
    real_backlog = indexer.backlog
    holding = threading.Event()

    def slow_backlog() -> int:  # the thread's check after its drain, with its session open
        count = real_backlog()
        if threading.current_thread().name == "search-drain":
            holding.set()
            time.sleep(0.5)
        return count

    monkeypatch.setattr(indexer, "backlog", slow_backlog)
    f.reply(ada, topic, "A reply that wakes the drainer.")
    assert holding.wait(timeout=20), "the drainer did not drain"
    drainer = handlers._drainer(app)
    thread = drainer._thread
    assert thread is not None and thread.is_alive()
    assert handlers.stop_drainer(app)
    assert not thread.is_alive()
    db.session.remove()  # (the test's own connection)
    assert db.engine.pool.checkedout() == 0


@pytest.mark.slow
def test_a_process_that_exits_after_a_commit_applies_its_search_queue_first(
    app, client, f, base_config, tmp_path
):
    """A one-off command that posts (Postfix's pipe to `forum mail-in`, one process per mail)
    ends moments after its commit, before its drain thread's delay has passed: the process
    applies the queue at exit, after the drain in progress if there is one, rather than leave
    the post unsearchable until some other process drains. The delay is made long to widen
    the moment."""
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Mail from afar")
    assert _drained()
    script = f"""
from forum import create_app
from forum.accounts.models import User
from forum.extensions import db
from forum.topics.services import reply_to_topic
app = create_app({{"DATABASE_URL": {base_config["DATABASE_URL"]!r}, "SECRET_KEY": "x" * 32,
    "INDEX_DIR": {app.config["INDEX_DIR"]!r}, "SEARCH_SYNC_ON_START": False, "REDIS_URL": None,
    "SEARCH_BACKEND": "whoosh", "SEARCH_DRAIN": "background", "SEARCH_DRAIN_DELAY": 5.0}})
with app.app_context():
    reply_to_topic(db.session.get(User, {ada.id}), {topic.id}, "Sent from zanzibar.")
print("replied", flush=True)
"""
    run_forum_script(script, printed="replied")
    # Nothing here drains (this process was not woken): only the other process could have.
    assert _backlog() == 0
    assert _found(client, "zanzibar")
