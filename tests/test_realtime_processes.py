"""Two real server processes joined by Redis: a reply posted through process A reaches a
python-socketio client connected to process B, and logging out, leaving a private SIG or a SIG
turning private through A takes effect on B's sockets at once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from forum import create_app
from forum.extensions import db

from . import factories as f
from .factories import CHEAP_PASSWORDS
from .serverkit import Listener, Member, Server, migrated_sqlite, server_env, stop_all

pytestmark = pytest.mark.slow

REDIS = os.environ.get("FORUM_SERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS}")
    return REDIS


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[dict[str, Any]]:
    redis_url = _redis_or_skip()
    instance = tmp_path / "instance"
    instance.mkdir()
    database = migrated_sqlite(tmp_path / "forum.db")
    app = create_app(
        {"DATABASE_URL": database, "INDEX_DIR": str(instance / "index"), "SECRET_KEY": "seed",
         "SEARCH_SYNC_ON_START": False, "SEARCH_DRAIN": "inline", "REDIS_URL": None,
         "PASSWORD_HASH_METHOD": CHEAP_PASSWORDS}
    )  # fmt: skip
    with app.app_context():
        ada, bob = f.user("ada"), f.user("bob")
        f.user("root", sysop=True)
        sig = f.sig("retro", members=[ada, bob])
        secret = f.sig("secret", visibility="private", members=[ada, bob])
        lounge = f.sig("lounge", members=[ada])  # public: bob reads it without joining
        ids = {
            "topic": f.topic(ada, sig, "Scale-out topic", "The first post.").id,
            "secret_topic": f.topic(ada, secret, "Hidden topic", "Shh.").id,
            "secret_slug": secret.slug,
            "lounge": lounge.id,
            "lounge_topic": f.topic(ada, lounge, "Lounge talk", "Open to all, for now.").id,
        }
        assert db.session.scalar(select(f.User.id).where(f.User.username == "bob"))
        db.session.remove()
        db.engine.dispose()
    # A channel of this run's own: other tests and forums on the same Redis hear nothing.
    tag = uuid.uuid4().hex[:10]
    env = server_env(
        database, instance, FORUM_REDIS_URL=redis_url,
        FORUM_SOCKETIO_CHANNEL=f"forum-rt-test-{tag}", FORUM_RATELIMIT_KEY_PREFIX=f"rt-{tag}",
    )  # fmt: skip
    servers = [Server(env, tmp_path, name) for name in ("a", "b")]
    listeners: list[Listener] = []
    try:
        for server in servers:
            server.wait_ready()
        yield {
            "a": servers[0], "b": servers[1], "ids": ids, "listeners": listeners,
            "redis": redis_url, "channel": f"forum-rt-test-{tag}",
        }  # fmt: skip
    finally:
        for listener in listeners:
            listener.close()
        stop_all(servers)


def test_reply_through_a_reaches_a_socket_on_b(two_processes):
    a, b, ids = two_processes["a"], two_processes["b"], two_processes["ids"]
    ada, bob = Member("ada", f.PASSWORD), Member("bob", f.PASSWORD)
    ada.login(a.url)  # the cookie from A is good on B (same secret key)
    bob.login(a.url)
    listener = Listener(b.url, ada)
    two_processes["listeners"].append(listener)
    listener.wait_until_listening(two_processes["redis"], two_processes["channel"])
    assert listener.subscribe(topic_id=ids["topic"]) == {
        "ok": True,
        "room": f"topic:{ids['topic']}",
    }

    response = bob.reply(a.url, ids["topic"], "Hello @ada, from process A")
    assert response.status_code == 302, response.text[:300]
    created = listener.wait_for("post_created")
    assert set(created) == {"topic_id", "post_number", "post_id"}
    assert created["topic_id"] == ids["topic"] and created["post_number"] == 2
    note = listener.wait_for("notification")
    assert note == {
        "unread_count": 2,  # the answer to her request to join the private SIG, and this
        "kind": "mention",
        "text": "bob mentioned you in “Scale-out topic”",  # in her language (English)
        "excerpt": "Hello @ada, from process A",
        "url": f"/p/{created['post_id']}",
        # Which topic and post, for a page showing that topic to pair it with its own line.
        "topic_id": ids["topic"],
        "post_id": created["post_id"],
    }


def test_logout_and_leaving_a_sig_on_a_act_on_sockets_on_b(two_processes):
    a, b, ids = two_processes["a"], two_processes["b"], two_processes["ids"]
    ada, bob = Member("ada", f.PASSWORD), Member("bob", f.PASSWORD)
    ada.login(a.url)
    bob.login(a.url)
    bob_socket = Listener(b.url, bob)
    ada_socket = Listener(b.url, ada)
    two_processes["listeners"] += [bob_socket, ada_socket]
    bob_socket.wait_until_listening(two_processes["redis"], two_processes["channel"])
    assert bob_socket.subscribe(topic_id=ids["secret_topic"])["ok"] is True
    assert bob_socket.subscribe(topic_id=ids["topic"])["ok"] is True

    # Bob leaves the private SIG through A: B's socket leaves its topic rooms.
    left = bob.http.post(
        f"{a.url}/s/{ids['secret_slug']}/leave",
        data={"csrf_token": bob.csrf(a.url, "/settings")},
        allow_redirects=False,
        timeout=30,
    )
    assert left.status_code == 302
    assert ada.reply(a.url, ids["secret_topic"], "after bob left").status_code == 302
    assert ada.reply(a.url, ids["topic"], "public news").status_code == 302
    created = bob_socket.wait_for("post_created")
    assert created["topic_id"] == ids["topic"]  # the secret topic's post never arrived

    # Ada logs out through A: her socket on B is closed at once.
    out = ada.http.post(
        f"{a.url}/logout", data={"csrf_token": ada.csrf(a.url, "/settings")},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert out.status_code == 302
    ada_socket.wait_for("disconnect")
    assert not ada_socket.client.connected
    assert bob_socket.client.connected


def test_a_sig_turning_private_on_a_takes_outsiders_sockets_on_b_out_of_its_rooms(two_processes):
    a, b, ids = two_processes["a"], two_processes["b"], two_processes["ids"]
    ada, bob, root = (
        Member("ada", f.PASSWORD),
        Member("bob", f.PASSWORD),
        Member("root", f.PASSWORD),
    )
    for member in (ada, bob, root):
        member.login(a.url)
    ada_socket, bob_socket = Listener(b.url, ada), Listener(b.url, bob)
    two_processes["listeners"] += [ada_socket, bob_socket]
    ada_socket.wait_until_listening(two_processes["redis"], two_processes["channel"])
    for socket in (ada_socket, bob_socket):
        assert socket.subscribe(topic_id=ids["lounge_topic"])["ok"] is True
        assert socket.subscribe(topic_id=ids["topic"])["ok"] is True

    # The global sysop makes the lounge private through A.
    changed = root.http.post(
        f"{a.url}/admin/sigs/{ids['lounge']}",
        data={"csrf_token": root.csrf(a.url, "/settings"), "sig-name": "Lounge",
              "sig-slug": "lounge", "sig-description": "", "sig-visibility": "private",
              "sig-language": "en"},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert changed.status_code == 302, changed.text[:500]
    assert ada.reply(a.url, ids["lounge_topic"], "members only now").status_code == 302
    assert ada.reply(a.url, ids["topic"], "public news").status_code == 302

    # Ada, a member, still hears the lounge; bob's socket on B was taken out of its room: the
    # next event he gets is the public topic's, sent after the lounge's.
    assert ada_socket.wait_for("post_created")["topic_id"] == ids["lounge_topic"]
    assert bob_socket.wait_for("post_created")["topic_id"] == ids["topic"]
    assert bob_socket.client.connected
    assert bob_socket.subscribe(topic_id=ids["lounge_topic"]) == {
        "ok": False,
        "error": "Not found.",
    }


def test_the_socket_declines_per_message_compression(two_processes):
    """Browsers offer permessage-deflate; the forum's tiny nudges are sent uncompressed, so a
    message to 500 sockets is not compressed 500 times (see forum.realtime.NoSocketCompression)."""
    import socket as sockets

    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, Request
    from wsproto.extensions import PerMessageDeflate

    b = two_processes["b"]
    ws = WSConnection(ConnectionType.CLIENT)
    with sockets.create_connection(("127.0.0.1", b.port), timeout=10) as conn:
        offer = Request(
            host=f"127.0.0.1:{b.port}",
            target="/socket.io/?EIO=4&transport=websocket",
            extensions=[PerMessageDeflate()],
        )
        conn.sendall(ws.send(offer))
        accepted = None
        while accepted is None:
            ws.receive_data(conn.recv(65536))
            accepted = next((e for e in ws.events() if isinstance(e, AcceptConnection)), None)
    assert accepted.extensions == []
