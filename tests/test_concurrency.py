"""Writers at the same time: every post is saved, numbered once, and counted exactly.

Each thread has its own app context, so its own session and connection, as requests in a
threaded server do. On SQLite this goes through WAL and BEGIN IMMEDIATE (writers queue on the
busy timeout instead of failing with "database is locked"); on PostgreSQL through the topic row
lock that hands out post numbers.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from forum.accounts.models import User
from forum.counters import recount_all
from forum.db import add_row, on_commit, transaction
from forum.extensions import db
from forum.sigs.models import Sig
from forum.timeutil import utcnow
from forum.topics import services
from forum.topics.models import POST_VISIBLE, Post, Topic

THREADS = 6
EACH = 5


def _run_together(app: Flask, work: Callable[[int], None], threads: int = THREADS) -> list[str]:
    """Run work(i) in `threads` threads released at the same moment; return their errors."""
    barrier = threading.Barrier(threads)
    errors: list[str] = []

    def run(i: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                work(i)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                trace = "".join(traceback.format_exception(exc))
                errors.append(f"thread {i}: {type(exc).__name__}: {exc}\n{trace}")
            finally:
                db.session.remove()

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool), "a writer hung"
    return errors


def _counters() -> dict[str, Any]:
    db.session.expire_all()
    return {
        "topics": [
            (t.id, t.post_count, t.highest_post_number, t.last_post_number)
            for t in db.session.scalars(select(Topic).order_by(Topic.id))
        ],
        "sigs": [
            (s.id, s.topic_count, s.post_count, s.last_topic_id)
            for s in db.session.scalars(select(Sig).order_by(Sig.id))
        ],
        "users": [
            (u.id, u.post_count, u.topic_count)
            for u in db.session.scalars(select(User).order_by(User.id))
        ],
    }


def test_sqlite_runs_wal_with_a_busy_timeout(app: Flask) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own machinery (WAL, the writers' turn, checkpoints)")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_many_members_reply_to_one_topic_at_once(app: Flask, f: Any) -> None:
    people = [f.user(f"writer{i}") for i in range(THREADS)]
    sig = f.sig("busy", members=people)
    topic = f.topic(people[0], sig, "Everyone at once")
    user_ids = [person.id for person in people]
    topic_id, sig_id = topic.id, sig.id

    def work(i: int) -> None:
        me = db.session.get(User, user_ids[i])
        for n in range(EACH):
            services.reply_to_topic(me, topic_id, f"reply {n} from writer{i}")

    errors = _run_together(app, work)
    assert errors == []

    total = 1 + THREADS * EACH
    numbers = list(
        db.session.scalars(
            select(Post.number).where(Post.topic_id == topic_id).order_by(Post.number)
        )
    )
    assert numbers == list(range(1, total + 1))  # unique and contiguous
    db.session.expire_all()
    topic = db.session.get(Topic, topic_id)
    assert (topic.post_count, topic.highest_post_number, topic.last_post_number) == (
        total,
        total,
        total,
    )
    sig = db.session.get(Sig, sig_id)
    assert (sig.topic_count, sig.post_count) == (1, total)
    posts_by = {
        uid: db.session.scalar(select(db.func.count()).select_from(Post).where(Post.user_id == uid))
        for uid in user_ids
    }
    assert posts_by[user_ids[0]] == EACH + 1
    for uid in user_ids:
        assert db.session.get(User, uid).post_count == posts_by[uid]
    kept = _counters()
    recount_all()
    assert _counters() == kept


def test_topics_and_replies_in_several_sigs_at_once(app: Flask, f: Any) -> None:
    people = [f.user(f"writer{i}") for i in range(THREADS)]
    sigs = [f.sig(f"sig-{i}", members=people) for i in range(2)]
    seed = [f.topic(people[0], sig, f"Seed {sig.slug}") for sig in sigs]
    ids = {
        "users": [p.id for p in people],
        "sigs": [s.id for s in sigs],
        "topics": [t.id for t in seed],
    }

    def work(i: int) -> None:
        me = db.session.get(User, ids["users"][i])
        for n in range(EACH):
            if (i + n) % 3 == 0:
                services.start_topic(me, ids["sigs"][n % 2], f"New from {i}/{n}", "body")
            else:
                services.reply_to_topic(me, ids["topics"][(i + n) % 2], f"reply {i}/{n}")

    assert _run_together(app, work) == []
    for topic_id in ids["topics"]:
        numbers = list(
            db.session.scalars(
                select(Post.number).where(Post.topic_id == topic_id).order_by(Post.number)
            )
        )
        assert numbers == list(range(1, len(numbers) + 1))
    assert db.session.scalar(select(db.func.count()).select_from(Post)) == 2 + THREADS * EACH
    kept = _counters()
    recount_all()
    assert _counters() == kept


def test_deletes_hides_and_restores_race_replies_without_losing_a_count(app: Flask, f: Any) -> None:
    """Verbs that recount (delete, hide, restore) and verbs that increment (reply, new topic)
    in one SIG at once: no deadlock, and every counter equals a recount from scratch."""
    from forum.moderation import services as moderation

    people = [f.user(f"writer{i}") for i in range(THREADS)]
    root = f.sysop()
    sig = f.sig("busy", members=people)
    topics = [f.topic(people[0], sig, f"Topic {n}") for n in range(2)]
    ids = {"users": [p.id for p in people], "topics": [t.id for t in topics], "root": root.id}

    def work(i: int) -> None:
        me = db.session.get(User, ids["users"][i])
        mine = [
            services.reply_to_topic(me, ids["topics"][n % 2], f"r {i}/{n}").id for n in range(4)
        ]
        sysop = db.session.get(User, ids["root"])
        for n, post_id in enumerate(mine):
            if n == 0:
                services.delete_post(me, post_id)
            elif n == 1:
                moderation.hide_post(sysop, post_id, "race")
            elif n == 2:
                services.delete_post(me, post_id)
                services.restore_post(sysop, post_id)
            else:
                services.start_topic(me, sig.id, f"Late topic {i}", "body")

    assert _run_together(app, work) == []
    kept = _counters()
    recount_all()
    assert _counters() == kept
    db.session.expire_all()
    # The two first posts; per writer the restored reply, the untouched one and a new topic.
    assert db.session.get(Sig, sig.id).post_count == 2 + THREADS * 3


def test_readers_do_not_block_writers(app: Flask, f: Any) -> None:
    """A long read (an open read transaction) does not make a writer fail."""
    ada = f.user("ada")
    sig = f.sig("club", members=[ada])
    topic = f.topic(ada, sig, "Read while writing")
    ada_id, topic_id = ada.id, topic.id
    reading = threading.Event()
    done = threading.Event()

    def work(i: int) -> None:
        if i == 0:
            db.session.execute(text("SELECT count(*) FROM posts")).scalar()
            reading.set()  # the read transaction stays open until the writer is done
            done.wait(timeout=60)
        else:
            reading.wait(timeout=30)
            services.reply_to_topic(db.session.get(User, ada_id), topic_id, "written meanwhile")
            done.set()

    assert _run_together(app, work, threads=2) == []
    db.session.expire_all()
    assert db.session.get(Topic, topic_id).post_count == 2


@pytest.mark.slow
def test_sqlite_writers_take_turns_across_processes(app: Flask, f: Any) -> None:
    """A writer waits while another process has its turn, and goes on the moment it ends."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own machinery (WAL, the writers' turn, checkpoints)")
    import subprocess
    import sys
    import time

    ada = f.user("ada")
    sig = f.sig("club", members=[ada])
    topic = f.topic(ada, sig, "Taking turns")
    ada_id, topic_id = ada.id, topic.id
    lock_path = f"{db.engine.url.database}.write-lock"
    script = (
        "import fcntl, os, sys\n"
        f"fd = os.open({lock_path!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    command = [sys.executable, "-c", script]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        done = threading.Event()

        def work(_: int) -> None:
            services.reply_to_topic(db.session.get(User, ada_id), topic_id, "my turn")
            done.set()

        writer = threading.Thread(target=lambda: _run_together(app, work, threads=1))
        writer.start()
        assert not done.wait(timeout=0.5)  # the other process's turn is not over
        released = time.perf_counter()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert done.wait(timeout=10)
        writer.join(timeout=10)
        assert time.perf_counter() - released < 5
    db.session.expire_all()
    assert db.session.get(Topic, topic_id).post_count == 2


def test_add_row_inserts_a_row_and_hands_back_the_loaded_object(
    app: Flask, f: Any, count_queries: Any
) -> None:
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("lounge", members=[ada]), "Plain inserts")
    given = {"topic_id": topic.id, "user_id": ada.id, "number": 99, "body_raw": "x"}
    with transaction():
        post = add_row(Post, **given, body_html="<p>x</p>", created_at=utcnow())
    with count_queries() as counter:
        # Defaults filled in, nothing left to load, and the session knows the row.
        assert (post.status, post.edit_count, post.hidden_at, post.is_public) == (
            POST_VISIBLE,
            0,
            None,
            True,
        )
        assert db.session.get(Post, post.id) is post
    assert counter.count == 0
    db.session.expunge_all()
    assert db.session.get(Post, post.id).body_html == "<p>x</p>"
    # A column whose default is computed must be given: no half-made row.
    with pytest.raises(TypeError, match="created_at"), transaction():
        add_row(Post, **{**given, "number": 100}, body_html="")
    assert db.session.scalar(select(Post.id).where(Post.number == 100)) is None


def _log_pages() -> int:
    """Pages in SQLite's write-ahead log (a PASSIVE checkpoint reports them)."""
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()[1])


Run = tuple[str, bool, tuple[int, int, int]]  # mode, in the writers' turn, SQLite's result


def _watch_checkpoints(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    *,
    every: int,
    restart_pages: int,
    wait_ms: int,
    after: Callable[[str, tuple[int, int, int]], None] | None = None,
) -> list[Run]:
    """Set the checkpointer's thresholds and record every checkpoint it runs from now on."""
    checkpointer = app.extensions["forum.checkpointer"]
    queue = app.extensions["forum.write_queue"]
    monkeypatch.setattr(checkpointer, "every", every)
    monkeypatch.setattr(checkpointer, "restart_pages", restart_pages)
    monkeypatch.setattr(checkpointer, "wait_ms", wait_ms)
    runs: list[Run] = []
    real_checkpoint = checkpointer.checkpoint

    def checkpoint(mode: str) -> tuple[int, int, int]:
        result = real_checkpoint(mode)
        runs.append((mode, queue._threads.locked(), result))
        if after is not None:
            after(mode, result)
        return result

    monkeypatch.setattr(checkpointer, "checkpoint", checkpoint)
    return runs


def test_sqlite_checkpoints_after_the_turn_and_starts_the_log_over(
    app: Flask, f: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits do not copy the log back themselves: every few write transactions, the writer
    that has just left its turn does, and when the log has grown long, it waits for the
    readers of old snapshots so that the log starts over instead of growing without end."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own machinery (WAL, the writers' turn, checkpoints)")
    done = threading.Event()

    def after(mode: str, result: tuple[int, int, int]) -> None:
        if mode == "PASSIVE" and result[1] >= 40:
            done.set()  # the log is long: the reader below finishes while RESTART waits

    runs = _watch_checkpoints(
        app, monkeypatch, every=2, restart_pages=40, wait_ms=5000, after=after
    )
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() >= 10_000
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "Checkpoints")
    ada_id, topic_id = ada.id, topic.id
    db.session.commit()
    runs.clear()

    replies = [0]

    def reply(n: int) -> None:
        for _ in range(n):
            replies[0] += 1
            services.reply_to_topic(db.session.get(User, ada_id), topic_id, f"reply {replies[0]}")

    reply(2)
    # PASSIVE checkpoints (a reply may count twice: the test setup drains the search queue
    # in a transaction of its own), each after its writer passed its turn on.
    assert runs and {(mode, held) for mode, held, _ in runs} == {("PASSIVE", False)}

    # A reader holds an old snapshot: the log cannot start over while it reads.
    reading = threading.Event()

    def read() -> None:
        with app.app_context():
            db.session.execute(text("SELECT count(*) FROM posts")).scalar()
            reading.set()
            done.wait(timeout=30)
            time.sleep(0.2)  # still reading when the RESTART begins
            db.session.remove()

    reader = threading.Thread(target=read)
    reader.start()
    assert reading.wait(timeout=30)
    runs.clear()
    while not any(mode == "PASSIVE" and result[1] >= 40 for mode, _, result in runs):
        reply(2)
        assert len(runs) < 200, "the log did not grow"
    reader.join(timeout=30)
    # The RESTART that followed waited for the reader, in the writers' turn.
    long = next(i for i, (mode, _, result) in enumerate(runs) if result[1] >= 40)
    assert runs[long + 1][:2] == ("RESTART", True)
    busy, pages, copied = runs[long + 1][2]
    assert busy == 0 and pages == copied
    reply(1)  # the next writer starts the log over from its beginning
    assert _log_pages() < 40
    db.session.expire_all()
    assert db.session.get(Topic, topic_id).post_count == 1 + replies[0]


def test_a_failed_checkpoint_does_not_fail_the_reply_it_follows(
    app: Flask, f: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own machinery (WAL, the writers' turn, checkpoints)")
    checkpointer = app.extensions["forum.checkpointer"]
    monkeypatch.setattr(checkpointer, "every", 1)

    def broken(mode: str) -> tuple[int, int, int]:
        raise OSError("disk trouble")

    monkeypatch.setattr(checkpointer, "checkpoint", broken)
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "Still posted")
    post = services.reply_to_topic(ada, topic.id, "the commit stands")
    assert "checkpoint of SQLite's log failed" in caplog.text
    db.session.expire_all()
    assert db.session.get(Post, post.id).body_raw == "the commit stands"


def test_a_restart_held_up_by_a_long_read_is_not_retried_at_every_check(
    app: Flask, f: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each RESTART try holds the writers up for its wait: while a long read (a backup, a year
    of pulse) keeps the log from starting over, the next try waits until the log has grown by
    half as much again."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own machinery (WAL, the writers' turn, checkpoints)")
    runs = _watch_checkpoints(app, monkeypatch, every=1, restart_pages=40, wait_ms=10)
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "A long read")
    ada_id, topic_id = ada.id, topic.id
    db.session.commit()
    reading, done = threading.Event(), threading.Event()

    def read() -> None:
        with app.app_context():
            db.session.execute(text("SELECT count(*) FROM posts")).scalar()
            reading.set()
            done.wait(timeout=60)
            db.session.remove()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert reading.wait(timeout=30)
        runs.clear()
        for i in range(60):
            services.reply_to_topic(db.session.get(User, ada_id), topic_id, f"reply {i}")
    finally:
        done.set()
        reader.join(timeout=30)
    tries = [i for i, (mode, _, _) in enumerate(runs) if mode == "RESTART"]
    assert len(tries) >= 2, runs
    for before, after in zip(tries, tries[1:], strict=False):
        _, held, (busy, _, _) = runs[before]
        assert held and busy == 1  # in the writers' turn, held up by the reader
        grew_from, grew_to = runs[before - 1][2][1], runs[after - 1][2][1]
        assert grew_to >= grew_from + 20
        # ... and no try at the checks in between, though the log was past 40 pages.
        assert all(mode == "PASSIVE" for mode, _, _ in runs[before + 1 : after])


def test_a_read_left_open_after_the_commit_does_not_hold_up_its_own_restart(
    app: Flask, f: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After-commit work (a live notification rendered for an online member) may read through
    the request's session; that read must not be the one the RESTART waits for."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's own machinery (WAL, the writers' turn, checkpoints)")
    runs = _watch_checkpoints(app, monkeypatch, every=1, restart_pages=1, wait_ms=2000)
    ada = f.user("ada")
    db.session.commit()
    runs.clear()
    began = time.perf_counter()
    with transaction():
        db.session.get(User, ada.id).email = "ada@example.org"
        on_commit(lambda: db.session.execute(text("SELECT count(*) FROM posts")).scalar())
    assert [(mode, held) for mode, held, _ in runs] == [("PASSIVE", False), ("RESTART", True)]
    assert runs[-1][2][0] == 0  # not busy
    assert time.perf_counter() - began < 1.5  # and it did not wait for its own read
