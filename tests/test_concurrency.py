"""Writers at the same time: every post is saved, numbered once, and counted exactly.

Each thread has its own app context, so its own session and connection, as requests in a
threaded server do. On SQLite this goes through WAL and BEGIN IMMEDIATE (writers queue on the
busy timeout instead of failing with "database is locked"); on PostgreSQL through the topic row
lock that hands out post numbers.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, text

from forum.accounts.models import User
from forum.counters import recount_all
from forum.extensions import db
from forum.sigs.models import Sig
from forum.topics import services
from forum.topics.models import Post, Topic

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
        # SQLite's caches, all connections together, are held near 8 MB (forum.sqlite).
        assert conn.exec_driver_sql("PRAGMA soft_heap_limit").scalar() == 8 * 1024 * 1024


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


def test_sqlite_leaves_checkpoints_of_its_log_to_sqlite(app: Flask) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        # ... and cuts the log's file back when it starts over.
        assert conn.exec_driver_sql("PRAGMA journal_size_limit").scalar() == 16 * 1024 * 1024


def test_checkpoint_command_truncates_sqlites_log(app: Flask, f: Any) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "Checkpoints")
    services.reply_to_topic(ada, topic.id, "a page or two for the log")
    db.session.commit()  # no read of ours left open to hold the log
    log = Path(f"{db.engine.url.database}-wal")
    assert log.stat().st_size > 0

    result = app.test_cli_runner().invoke(args=["forum", "checkpoint"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "wal_checkpoint(TRUNCATE): busy=0 log=0 checkpointed=0"
    assert log.stat().st_size == 0
    db.session.expire_all()
    assert db.session.get(Topic, topic.id).post_count == 2


def test_checkpoint_command_says_when_a_reader_held_the_log(app: Flask, f: Any) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    ada = f.user("ada")
    topic = f.topic(ada, f.sig("club", members=[ada]), "Checkpoints")
    db.session.commit()
    with db.engine.connect() as reader:
        reader.exec_driver_sql("SELECT count(*) FROM posts").scalar()  # an old snapshot
        services.reply_to_topic(ada, topic.id, "written after the reader began")
        db.session.commit()
        result = app.test_cli_runner().invoke(args=["forum", "checkpoint", "--wait", "0.05"])
    assert result.exit_code == 1, result.output
    assert "busy=1" in result.output and "Run the checkpoint again later" in result.output


def test_checkpoint_command_is_a_no_op_on_postgresql(app: Flask) -> None:
    if db.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL keeps no SQLite log")
    result = app.test_cli_runner().invoke(args=["forum", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Nothing to do: postgresql has no SQLite write-ahead log."
