"""Redis is optional at run time: with a Redis of the test's own killed or frozen (SIGSTOP),
pages render, replies commit and answer in their usual time, rate limits count in memory, the
outage is logged once, and the forum uses Redis again as soon as it is back (forum.redisconn)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from .conftest import Client
from .serverkit import RedisServer

pytestmark = pytest.mark.faults


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.kill()


def _timed(call, *args, **kwargs):
    start = time.monotonic()
    try:
        return call(*args, **kwargs), time.monotonic() - start
    except redis.RedisError as exc:
        return exc, time.monotonic() - start


def _wait_until(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s")


def test_a_frozen_redis_costs_one_timeout_then_calls_fail_at_once(own_redis):
    from forum import redisconn

    client = redisconn.client(own_redis.url, timeout=0.5, retry=0.2)
    assert client.ping() is True
    own_redis.pause()
    first, took = _timed(client.set, "k", "v")
    assert isinstance(first, redis.TimeoutError) and took < 0.9
    for _ in range(20):  # the breaker is open: nobody waits on the network
        later, took = _timed(client.get, "k")
        assert isinstance(later, redisconn.Unavailable) and took < 0.05
    own_redis.resume()
    back = _wait_until(lambda: _timed(client.ping)[0] is True, timeout=5)
    assert back < 1.5
    assert redisconn.breaker(own_redis.url).up


def test_a_killed_redis_is_used_again_within_a_retry_interval_of_its_return(own_redis):
    from forum import redisconn

    client = redisconn.client(own_redis.url, timeout=0.5, retry=0.2)
    assert client.set("k", "v") is True
    own_redis.kill()
    failed, took = _timed(client.get, "k")
    assert isinstance(failed, redis.ConnectionError) and took < 0.5
    assert not redisconn.breaker(own_redis.url).up
    own_redis.start()  # the same port again, empty
    assert _wait_until(lambda: _timed(client.ping)[0] is True, timeout=5) < 1.5


@pytest.fixture
def forum_on(app, make_app, own_redis, f, request):
    """An app (a server process) whose Redis is `own_redis`, rate limits on, with a SIG and a
    topic; returns (app, member client, guest client, topic). A `config` mark's settings apply
    to it too."""
    tag = uuid.uuid4().hex[:8]
    marker = request.node.get_closest_marker("config")
    settings = dict(
        REDIS_URL=own_redis.url,
        SOCKETIO_CHANNEL=f"forum-test-{tag}",
        RATELIMIT_KEY_PREFIX=f"forum-test-{tag}",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=own_redis.url,
        RATELIMIT_POST="1000 per minute",
        RATELIMIT_LOGIN="1000 per minute",
        REDIS_TIMEOUT=0.5,
        REDIS_RETRY_SECONDS=0.2,
    )
    other = make_app(**{**settings, **(marker.kwargs if marker else {})})
    other.test_client_class = Client
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Redis week", "The first post.")
    from forum.extensions import limiter

    with other.app_context():
        member, guest = other.test_client(), other.test_client()
        member.login("ada")
        try:
            yield other, member, guest, topic
        finally:
            # The limiter is one object for every app of the test process: its fallback flag
            # must not outlive this test.
            limiter._storage_dead = False  # noqa: SLF001


def _pages_and_a_reply(member, guest, topic, n: int) -> list[float]:
    """Fetch the pages that show who's online and post a reply; each must answer normally."""
    took = []
    for client in (member, guest):
        for path in ("/", "/s/retro/"):
            response, seconds = _timed(client.get, path)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            took.append(seconds)
    token = member.csrf_token()
    start = time.monotonic()
    reply = member.post(f"/t/{topic.id}/reply", data={"body": f"Reply {n}", "csrf_token": token})
    took.append(time.monotonic() - start)
    assert reply.status_code == 302, reply.get_data(as_text=True)[:300]
    return took


@pytest.mark.parametrize("fault", ["kill", "stop"])
def test_pages_and_replies_go_on_without_redis(forum_on, own_redis, caplog, fault):
    other, member, guest, topic = forum_on
    page = guest.get("/").get_data(as_text=True)
    assert "Cannot tell right now" not in page and "No members" in page
    _pages_and_a_reply(member, guest, topic, 0)

    with caplog.at_level(logging.WARNING):
        own_redis.kill() if fault == "kill" else own_redis.pause()
        first = _pages_and_a_reply(member, guest, topic, 1)
        # One timeout at most (the call that found Redis frozen), then at once.
        assert sum(first) < 2.5, first
        for n in range(2, 6):
            later = _pages_and_a_reply(member, guest, topic, n)
            assert max(later) < 0.5, later
        online = guest.get("/s/retro/").get_data(as_text=True)
        assert "Cannot tell right now" in online

    # Logged once (by the breaker; and once by the rate limiter falling back to memory), not
    # once a call.
    redis_lines = [r for r in caplog.records if "Redis" in r.getMessage()]
    assert len([r for r in redis_lines if "is not answering" in r.getMessage()]) == 1
    assert len([r for r in caplog.records if "falling back" in r.getMessage()]) <= 1
    assert not [r for r in caplog.records if "Cannot publish" in r.getMessage()]
    assert not [r for r in caplog.records if r.exc_info]

    from forum.topics.models import Post

    with other.app_context():
        from sqlalchemy import func, select

        from forum.extensions import db

        stored = db.session.scalar(select(func.count(Post.id)).where(Post.topic_id == topic.id))
    assert stored == 1 + 6

    from forum import redisconn

    if fault == "kill":
        own_redis.start()
    else:
        own_redis.resume()
    breaker = redisconn.breaker(own_redis.url)
    assert _wait_until(lambda: breaker.up, timeout=5) < 1.5
    assert "Cannot tell right now" not in guest.get("/s/retro/").get_data(as_text=True)


def test_the_online_box_says_it_cannot_tell(forum_on, own_redis):
    _, _, guest, _ = forum_on
    own_redis.kill()
    page = guest.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Cannot tell right now" in html and "No members" not in html


@pytest.mark.config(RATELIMIT_POST="2 per minute")
def test_rate_limits_count_in_memory_while_redis_is_down(forum_on, own_redis, caplog):
    other, member, _, topic = forum_on
    from forum.extensions import limiter

    own_redis.kill()
    token = member.csrf_token()
    with caplog.at_level(logging.WARNING):
        statuses = [
            member.post(f"/t/{topic.id}/reply", data={"body": f"r{n}", "csrf_token": token})
            for n in range(3)
        ]
    assert limiter._storage_dead  # noqa: SLF001 - Flask-Limiter's own flag for its fallback
    assert [s.status_code for s in statuses] == [302, 302, 429]
    assert len([r for r in caplog.records if "falling back" in r.getMessage()]) == 1


def test_readyz_stays_ready_with_a_warning(forum_on, own_redis):
    _, _, guest, _ = forum_on
    assert guest.get("/readyz").get_json()["status"] == "ok"
    own_redis.pause()
    start = time.monotonic()
    response = guest.get("/readyz")
    assert time.monotonic() - start < 1.5
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "degraded" and body["warnings"][0].startswith("redis: ")
