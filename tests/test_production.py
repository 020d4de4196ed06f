"""The forum as it runs in production: gunicorn processes on PostgreSQL and Redis, and what
happens when Redis, PostgreSQL or a worker goes away. These start real server processes."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select, text

from forum import create_app
from forum.extensions import db

from . import factories as f
from .factories import CHEAP_PASSWORDS
from .serverkit import (
    Listener,
    Member,
    RedisServer,
    Server,
    TcpProxy,
    postgres_database,
    server_env,
    stop_all,
)

pytestmark = [
    pytest.mark.slow,
]
# (They make their own PostgreSQL database whatever the suite runs on, so the PostgreSQL pass
# skips them: tests/conftest.py.)

SHARED_REDIS = os.environ.get("FORUM_SERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _word() -> str:
    return "zq" + uuid.uuid4().hex[:10]


class Forum:
    """A migrated PostgreSQL forum with a SIG, two members and a topic; servers on demand."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.instance = workdir / "instance"
        self.instance.mkdir()
        self.servers: list[Server] = []
        app = create_app(
            {
                "DATABASE_URL": url,
                "INDEX_DIR": str(self.instance / "index"),
                "SECRET_KEY": "seed",
                "SEARCH_SYNC_ON_START": False,
                "SEARCH_DRAIN": "inline",
                "REDIS_URL": None,
                "PASSWORD_HASH_METHOD": CHEAP_PASSWORDS,
            }
        )
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
            ada, bob = f.user("ada"), f.user("bob")
            self.sig = f.sig("retro", members=[ada, bob])
            self.topic_id = f.topic(ada, self.sig, "Scale-out topic", "The first post.").id
            self.members = [f.user(f"writer{i}").username for i in range(6)]
            for name in self.members:
                f.join(db.session.scalar(select(f.User).where(f.User.username == name)), self.sig)
            db.session.remove()
            db.engine.dispose()
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))

    def serve(self, count: int = 1, **settings: str) -> list[Server]:
        env = server_env(self.url, self.instance, **settings)
        started = [Server(env, self.workdir, f"app{len(self.servers) + i}") for i in range(count)]
        self.servers += started
        for server in started:
            server.wait_ready()
        return started

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def close(self) -> None:
        stop_all(self.servers)
        self.engine.dispose()


@pytest.fixture
def forum(tmp_path: Path) -> Iterator[Forum]:
    with postgres_database() as url:
        made = Forum(url, tmp_path)
        try:
            yield made
        finally:
            made.close()


def _shared_redis() -> str:
    import redis

    try:
        redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {SHARED_REDIS}")
    return SHARED_REDIS


def _isolated(redis_url: str) -> dict[str, str]:
    """Settings that keep this test's Socket.IO messages and rate-limit counters to itself."""
    tag = uuid.uuid4().hex[:10]
    return {
        "FORUM_REDIS_URL": redis_url,
        "FORUM_SOCKETIO_CHANNEL": f"forum-test-{tag}",
        "FORUM_RATELIMIT_KEY_PREFIX": f"forum-test-{tag}",
    }


def test_two_processes_behave_as_one(forum):
    settings = _isolated(_shared_redis())
    a, b = forum.serve(2, FORUM_RATELIMIT_POST="3 per minute", **settings)
    ada, bob = Member("ada", f.PASSWORD), Member("bob", f.PASSWORD)
    ada.login(a.url)  # the session cookie made by A is good on B (the same secret key)
    bob.login(a.url)
    ada_on_b = Listener(b.url, ada)
    try:
        ada_on_b.wait_until_listening(
            settings["FORUM_REDIS_URL"], settings["FORUM_SOCKETIO_CHANNEL"]
        )
        word = _word()

        # Posted through A: B serves it, and Ada's socket on B hears of the mention.
        posted = bob.reply(a.url, forum.topic_id, f"Hello @ada from process A {word}")
        assert posted.status_code == 302, a.log()
        page = requests.get(f"{b.url}/t/{forum.topic_id}?page=1", timeout=30)
        assert page.status_code == 200 and word in page.text
        note = ada_on_b.wait_for("notification", timeout=20)
        assert note["kind"] == "mention" and word in note["excerpt"]
        # Search on B finds what A wrote (PostgreSQL full-text search, the default on this
        # database: the reply's words committed with it): the result links to the reply itself
        # (the query alone is echoed in the search box).
        number = forum.scalar("SELECT number FROM posts WHERE body_raw LIKE :w", w=f"%{word}%")
        result_link = f'href="/t/{forum.topic_id}/'
        deadline = time.monotonic() + 10
        while True:
            found = requests.get(f"{b.url}/search", params={"q": word}, timeout=30)
            assert found.status_code == 200
            hit = result_link in found.text and f"#post-{number}" in found.text
            if hit or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert hit, "search on B did not find the post made through A"
        missing = requests.get(f"{b.url}/search", params={"q": _word()}, timeout=30)
        assert missing.status_code == 200 and f"#post-{number}" not in missing.text
    finally:
        ada_on_b.close()

    # The rate limit counts across both: three replies a minute, then 429 on either process.
    assert bob.reply(b.url, forum.topic_id, "second reply, on B").status_code == 302
    assert bob.reply(a.url, forum.topic_id, "third reply, on A").status_code == 302
    limited = bob.reply(b.url, forum.topic_id, "fourth reply, on B")
    assert limited.status_code == 429
    assert forum.scalar("SELECT count(*) FROM posts WHERE topic_id = :t", t=forum.topic_id) == 4

    for server in (a, b):
        ready = requests.get(server.url + "/readyz", timeout=10).json()
        assert ready["checks"]["redis"]["ok"] is True


def test_posting_goes_on_while_redis_is_down(forum, tmp_path):
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    listeners: list[Listener] = []
    try:
        settings = _isolated(redis_server.url)
        a, b = forum.serve(2, **settings)
        ada, bob = Member("ada", f.PASSWORD), Member("bob", f.PASSWORD)
        ada.login(a.url)
        bob.login(a.url)
        token = bob.csrf(a.url, "/settings")
        ada_on_b = Listener(b.url, ada)
        listeners.append(ada_on_b)
        ada_on_b.wait_until_listening(redis_server.url, settings["FORUM_SOCKETIO_CHANNEL"])

        redis_server.kill()
        words = [_word(), _word()]
        for server, word in zip((a, b), words, strict=True):
            posted = bob.reply(server.url, forum.topic_id, f"@ada while down {word}", token)
            assert posted.status_code == 302, server.log()
        page = requests.get(f"{b.url}/t/{forum.topic_id}?page=1", timeout=30)
        assert page.status_code == 200 and all(word in page.text for word in words)
        # The notifications were stored with the posts, and Ada reads them on either process.
        stored = forum.scalar(
            "SELECT count(*) FROM notifications n JOIN users u ON u.id = n.user_id "
            "JOIN posts p ON p.id = n.post_id WHERE u.username = 'ada' AND p.body_raw LIKE :w",
            w="%while down%",
        )
        assert stored == 2
        center = ada.http.get(f"{b.url}/notifications", timeout=30)
        assert center.status_code == 200 and all(word in center.text for word in words)
        # Still ready (a load balancer keeps it), with Redis named as a warning.
        degraded = requests.get(a.url + "/readyz", timeout=10)
        assert degraded.status_code == 200
        assert degraded.json()["status"] == "degraded"
        assert degraded.json()["checks"]["redis"]["ok"] is False
        assert requests.get(a.url + "/healthz", timeout=10).status_code == 200

        redis_server.start()  # the same port again
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(
                requests.get(s.url + "/readyz", timeout=10).json()["status"] == "ok" for s in (a, b)
            ):
                break
            time.sleep(0.3)
        else:
            pytest.fail("readyz did not recover after Redis came back")
        # Live delivery resumes: B subscribes again, and a mention posted through A reaches
        # Ada's socket on B, which stayed connected throughout.
        ada_on_b.wait_until_listening(redis_server.url, settings["FORUM_SOCKETIO_CHANNEL"])
        word = _word()
        back = bob.reply(a.url, forum.topic_id, f"@ada Redis is back {word}", token)
        assert back.status_code == 302
        while True:
            note = ada_on_b.wait_for("notification", timeout=30)
            if word in note["excerpt"]:
                break
        assert ada_on_b.client.connected
        for server in (a, b):
            assert "status=500" not in server.log()
    finally:
        for listener in listeners:
            listener.close()
        redis_server.kill()


def test_database_outage_is_a_503_and_recovers(forum):
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    try:
        via_proxy = forum.url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        assert via_proxy != forum.url
        saved_url, forum.url = forum.url, via_proxy
        [a] = forum.serve(1)
        forum.url = saved_url
        ada = Member("ada", f.PASSWORD)
        ada.login(a.url)
        token = ada.csrf(a.url, "/settings")
        topic = f"{a.url}/t/{forum.topic_id}?page=1"
        assert ada.http.get(topic, timeout=30).status_code == 200
        assert requests.get(topic, timeout=30).status_code == 200

        proxy.cut()
        for client in (ada.http, requests):
            down = client.get(topic, timeout=30)
            assert down.status_code == 503, a.log()
            assert "cannot reach its database" in down.text
        posted = ada.reply(a.url, forum.topic_id, "lost to the outage", token)
        assert posted.status_code == 503
        ready = requests.get(a.url + "/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False

        proxy.restore()
        # The first requests after the database returns already work: pooled connections that
        # died are replaced (pool_pre_ping), not handed out.
        for _ in range(5):
            assert ada.http.get(topic, timeout=30).status_code == 200
            assert requests.get(topic, timeout=30).status_code == 200
        assert ada.reply(a.url, forum.topic_id, "after the outage", token).status_code == 302
        assert requests.get(a.url + "/readyz", timeout=30).status_code == 200
        assert "status=500" not in a.log()
        assert forum.scalar("SELECT count(*) FROM posts WHERE body_raw = 'lost to the outage'") == 0
    finally:
        proxy.stop()


def test_killed_worker_loses_no_committed_post(forum):
    [a] = forum.serve(1, FORUM_RATELIMIT_ENABLED="false")
    [old_worker] = a.worker_pids()
    writers = [Member(name, f.PASSWORD) for name in forum.members]
    tokens = []
    for writer in writers:
        writer.login(a.url)
        tokens.append(writer.csrf(a.url, "/settings"))
    acknowledged: list[str] = []
    started_after_kill: list[str] = []  # acknowledged replies sent once the worker was dead
    failed = 0
    lock = threading.Lock()
    killed_at = float("inf")
    stop = threading.Event()

    def write(writer: Member, token: str) -> None:
        nonlocal failed
        while not stop.is_set():
            body = f"{writer.username} {_word()}"
            sent_at = time.monotonic()
            try:
                status = writer.reply(a.url, forum.topic_id, body, token).status_code
            except requests.RequestException:
                status = 0
            with lock:
                if status == 302:
                    acknowledged.append(body)
                    if sent_at > killed_at:
                        started_after_kill.append(body)
                else:
                    failed += 1

    threads = [
        threading.Thread(target=write, args=pair) for pair in zip(writers, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    # Two seconds of posting (and at least one reply acknowledged), then the kill; then posting
    # goes on for four seconds, and until a reply sent after the kill is acknowledged: the new
    # worker imports the app before it answers, which a busy machine makes slow.
    stop_at = time.monotonic() + 6.0
    try:
        _wait_for(lambda: acknowledged, 20, "no reply was acknowledged before the kill", least=2.0)
        with lock:
            before_kill = len(acknowledged)
        os.kill(old_worker, signal.SIGKILL)
        killed_at = time.monotonic()
        _wait_for(lambda: started_after_kill, 30, "posting did not resume after the kill")
        time.sleep(max(0.0, stop_at - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    [new_worker] = a.worker_pids()
    assert new_worker != old_worker
    assert before_kill > 0 and len(acknowledged) > before_kill, "posting resumed after the kill"
    with forum.engine.connect() as conn:
        stored = set(conn.execute(text("SELECT body_raw FROM posts")).scalars())
        counters = conn.execute(
            text(
                "SELECT t.post_count, t.highest_post_number, count(p.id), max(p.number) "
                "FROM topics t JOIN posts p ON p.topic_id = t.id WHERE t.id = :t "
                "GROUP BY t.id"
            ),
            {"t": forum.topic_id},
        ).one()
    missing = [body for body in acknowledged if body not in stored]
    assert not missing, f"{len(missing)} acknowledged posts were lost"
    # Every post that committed did so whole: the counters match the rows.
    assert counters[0] == counters[2] and counters[1] == counters[3]


def _wait_for(done: Any, wait: float, message: str, least: float = 0.0) -> None:
    """Return once `done()` is true and `least` seconds have passed; fail after `wait` s."""
    start = time.monotonic()
    while not (done() and time.monotonic() - start >= least):
        if time.monotonic() - start > wait:
            pytest.fail(message)
        time.sleep(0.05)
