"""`flask forum backup` / `flask forum restore`: a seeded forum round-trips table by table."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from forum import demo
from forum.extensions import db
from forum.ops import backup as backup_module
from forum.topics.models import Post, Topic

from .dbstate import snapshot


def _cli(app, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["forum", *args])
    assert result.exit_code == 0, result.output
    return result


def test_backup_and_restore_round_trip_every_table(app, f, tmp_path):
    ada = demo.seed()["ada"]
    before = snapshot(statistics=True)
    assert sum(len(rows) for rows in before.values()) > 50
    assert before["posts"] and before["users"] and before["sigs"]

    path = tmp_path / "forum.backup"
    result = _cli(app, "backup", str(path))
    assert "Backup written" in result.output and path.stat().st_size > 0

    # Change the forum after the backup: a new SIG, topic and reply, and a deleted post.
    extra = f.sig("after-backup", members=[ada])
    topic = f.topic(ada, extra, "Written after the backup")
    f.reply(ada, topic, "also after")
    changed = snapshot(statistics=True)
    assert changed != before

    result = _cli(app, "restore", "--yes", str(path))
    assert "Restored from" in result.output
    after = snapshot(statistics=True)
    for name, rows in before.items():
        assert after[name] == rows, f"table {name} differs after restore"

    # The restored forum keeps working: new rows get fresh ids, pages render.
    topic = db.session.scalar(select(Topic).order_by(Topic.id).limit(1))
    f.reply(ada, topic, "after the restore")
    assert db.session.scalar(select(func.count()).select_from(Post)) == len(before["posts"]) + 1


@pytest.mark.search
def test_restore_says_to_rebuild_a_whoosh_index(app, tmp_path):
    """Whoosh's index lies on disk beside the database: after a restore it still holds what the
    database no longer does, so the command says to rebuild it."""
    path = tmp_path / "forum.backup"
    _cli(app, "backup", str(path))
    result = _cli(app, "restore", "--yes", str(path))
    assert "Rebuild the search index (`flask forum reindex`)" in result.output


def test_restore_with_postgresql_search_only_says_to_restart(app, tmp_path, monkeypatch):
    """PostgreSQL's search lives in the database and comes back with it: nothing to rebuild."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's search needs PostgreSQL (FORUM_TEST_DATABASE_URL)")
    # (What the command says depends on the configured backend alone.)
    monkeypatch.setitem(app.config, "SEARCH_BACKEND", "postgres")
    path = tmp_path / "forum.backup"
    _cli(app, "backup", str(path))
    result = _cli(app, "restore", "--yes", str(path))
    assert "Restored from" in result.output and "Restart the app servers." in result.output
    assert "reindex" not in result.output


def test_restore_asks_before_replacing_everything(app, f, tmp_path):
    f.sig("kept")
    path = tmp_path / "forum.backup"
    _cli(app, "backup", str(path))
    result = app.test_cli_runner().invoke(args=["forum", "restore", str(path)], input="n\n")
    assert result.exit_code != 0
    assert "replaces everything" in result.output


def test_restore_refuses_a_file_that_is_not_a_backup(app, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"this is not a backup at all")
    result = app.test_cli_runner().invoke(args=["forum", "restore", "--yes", str(junk)])
    assert result.exit_code != 0
    assert "Error" in result.output


def test_sqlite_backup_is_consistent_while_members_post(app, f, tmp_path):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite online backup API")
    ada = f.user("ada")
    sig = f.sig("busy", members=[ada])
    topic = f.topic(ada, sig, "Busy topic")
    stop = threading.Event()
    written = []

    def keep_posting() -> None:
        with app.app_context():
            while not stop.is_set() and len(written) < 400:
                written.append(f.reply(ada, db.session.get(Topic, topic.id), "busy").id)
            db.session.remove()

    writer = threading.Thread(target=keep_posting)
    writer.start()
    try:
        while len(written) < 20:
            threading.Event().wait(0.01)
        path = backup_module.backup(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path / "live.db")
    finally:
        stop.set()
        writer.join()

    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # The topic's stored counter matches its posts: each reply's transaction is whole.
        post_count, stored = copy.execute(
            "SELECT (SELECT count(*) FROM posts WHERE topic_id = ?),"
            " (SELECT post_count FROM topics WHERE id = ?)",
            (topic.id, topic.id),
        ).fetchone()
    finally:
        copy.close()
    assert post_count == stored
    assert 20 <= post_count - 1 <= len(written)
