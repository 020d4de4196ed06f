"""Several processes writing at once (gunicorn workers): no lock error, no update lost."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.search.documents import SigScope
from forum.search.parsing import parse

PROCESSES = 4
POSTS_EACH = 10


def _write_posts(config: dict[str, Any], user_id: int, topic_id: int, go: Any) -> None:
    """One worker: reply, then edit every other reply and delete every third, through services."""
    from forum import create_app
    from forum.accounts.models import User
    from forum.extensions import db
    from forum.topics import services

    app = create_app(config)
    with app.app_context():
        user = db.session.get(User, user_id)
        go.wait(30)
        ids = [
            services.reply_to_topic(user, topic_id, f"initial text w{user_id} n{i}").id
            for i in range(POSTS_EACH)
        ]
        for i, post_id in enumerate(ids):
            if i % 2 == 0:
                services.edit_post(user, post_id, f"edited text w{user_id} n{i}")
            if i % 3 == 0:
                services.delete_post(user, post_id)
        indexer.get_backend(app).close()
        db.session.remove()
        db.engine.dispose()


def test_concurrent_writers_in_separate_processes_leave_the_index_equal_to_the_database(
    app, base_config, f, tmp_path: Path
):
    index_dir = str(tmp_path / "index")
    app.config["INDEX_DIR"] = index_dir
    indexer.replace_backend(app, WhooshBackend(index_dir))
    writers = [f.user(f"writer{n}") for n in range(PROCESSES)]
    sig = f.sig("busy", members=writers)
    topic = f.topic(writers[0], sig, "Busy topic", "Everyone replies at once.")

    config = {**base_config, "INDEX_DIR": index_dir, "SEARCH_WRITE_TIMEOUT": 30.0}
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    procs = [ctx.Process(target=_write_posts, args=(config, w.id, topic.id, go)) for w in writers]
    for p in procs:
        p.start()
    go.set()
    for p in procs:
        p.join(180)
    # Every worker finished cleanly: with EVENTS_RAISE on, an index error would have failed it.
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    backend = indexer.get_backend(app)
    assert indexer.backlog() == 0
    expected = indexer.readable_post_ids()
    assert len(expected) == 1 + PROCESSES * (POSTS_EACH - len(range(0, POSTS_EACH, 3)))
    assert backend.indexed_post_ids() == expected

    # And the index holds the newest text of each post, not an older copy.
    def total(q: str) -> int:
        found = backend.search(parse(q), SigScope(allowed=None), newest=False, offset=0, limit=500)
        return len(found.hits)

    edited_alive = [i for i in range(POSTS_EACH) if i % 2 == 0 and i % 3 != 0]
    initial_alive = [i for i in range(POSTS_EACH) if i % 2 != 0 and i % 3 != 0]
    assert total("edited") == PROCESSES * len(edited_alive)
    assert total("initial") == PROCESSES * len(initial_alive)
    for w in writers:
        assert total(f'"edited text w{w.id}"') == len(edited_alive)
