"""Database faults give clean answers: a database that takes no writes (read-only or full) is a
503 that says the forum is read-only while reads go on, and `/readyz` says so; a connection that
dies under a request is never a bare 500; each 503 logs one line, not a traceback."""

from __future__ import annotations

import logging
import os

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from .conftest import Client

pytestmark = pytest.mark.faults


def _read_only_app(make_app, database_url: str):
    """Another app (a server process) on the test's database that may not write to it: SQLite
    opened read-only, or PostgreSQL sessions with default_transaction_read_only (a standby)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        other = make_app(DATABASE_URL=f"sqlite:///file:{url.database}?mode=ro&uri=true")
    else:
        other = make_app(
            SQLALCHEMY_ENGINE_OPTIONS={
                "pool_pre_ping": True,
                "connect_args": {"options": "-c default_transaction_read_only=on"},
            }
        )
    other.test_client_class = Client
    return other


@pytest.fixture
def board(f):
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Read-only week", "The first post.")
    f.reply(ada, topic, "A second post.")
    return {"ada": ada, "sig": sig, "topic": topic}


def test_a_read_only_database_serves_pages_and_refuses_writes_with_a_503(
    app, client, make_app, database_url, board, caplog
):
    client.login("ada")  # through the writable app: the cookie is good on both
    token = client.csrf_token()
    session_cookie = client.get_cookie("session")
    assert session_cookie is not None
    read_only = _read_only_app(make_app, database_url)
    topic = board["topic"]
    with read_only.app_context(), caplog.at_level(logging.INFO):
        member, guest = read_only.test_client(), read_only.test_client()
        member.set_cookie("session", session_cookie.value)
        for who in (member, guest):
            for path in ("/", "/s/retro/", f"/t/{topic.id}"):
                page = who.get(path)
                assert page.status_code == 200, (path, page.get_data(as_text=True)[:300])
        assert "A second post." in member.get(f"/t/{topic.id}").get_data(as_text=True)

        reply = member.post(f"/t/{topic.id}/reply", data={"body": "Lost?", "csrf_token": token})
        assert reply.status_code == 503
        text = reply.get_data(as_text=True)
        assert "read-only right now" in text and "cannot reach its database" not in text
        assert reply.headers["Retry-After"]
        as_json = member.post(
            f"/t/{topic.id}/reply",
            data={"body": "Lost?", "csrf_token": token},
            headers={"Accept": "application/json"},
        )
        assert as_json.status_code == 503
        assert "read-only" in as_json.get_json()["error"]["message"]

        ready = guest.get("/readyz")
        assert ready.status_code == 503
        writes = ready.get_json()["checks"]["database_writes"]
        assert writes["ok"] is False and writes["error"]
        assert ready.get_json()["checks"]["database"]["ok"] is True

    refusals = [r for r in caplog.records if r.getMessage().startswith("read-only: POST")]
    assert len(refusals) == 2 and all(r.exc_info is None for r in refusals)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    # Nothing was half-written: the writable app sees the two posts it had.
    assert "Lost?" not in client.get(f"/t/{topic.id}").get_data(as_text=True)


def test_a_session_that_cannot_end_is_not_a_bare_error(make_app, board, monkeypatch, caplog):
    """The database died under the request (a PostgreSQL crash): ending the session (its
    rollback) fails after the page was chosen. That must not escape Flask."""
    # An app whose requests each push and pop their own app context, as in a server (the `app`
    # fixture keeps one open for the whole test, so its teardown would run only at the end).
    server = make_app()
    guest = server.test_client()
    real_close = Session.close
    broken = {"left": 1}

    def close(self):
        if broken["left"]:
            broken["left"] -= 1
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))
        return real_close(self)

    page = f"/t/{board['topic'].id}"
    assert guest.get(page).status_code == 200
    monkeypatch.setattr(Session, "close", close)
    with caplog.at_level(logging.WARNING):
        response = guest.get(page)
    assert response.status_code == 200
    assert broken["left"] == 0
    ended = [r for r in caplog.records if "ending a request's database session" in r.getMessage()]
    assert len(ended) == 1 and ended[0].exc_info is None
    assert guest.get(page).status_code == 200


def test_an_unreachable_database_logs_one_line_per_503(app, client, board, monkeypatch, caplog):
    from forum.topics import queries

    def down(*args, **kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused\nDETAIL: more"))

    monkeypatch.setattr(queries, "topic_page", down)
    with caplog.at_level(logging.INFO):
        response = client.get(f"/t/{board['topic'].id}")
    assert response.status_code == 503
    assert "cannot reach its database" in response.get_data(as_text=True)
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "DETAIL" not in lines[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info]


def test_a_write_lock_file_this_process_may_not_open_is_read_only(
    app, client, board, monkeypatch, database_url
):
    """SQLite's writers take turns on an flock of `<database>.write-lock`, opened for writing
    before SQLite is: not permitted (or a read-only folder) is the same 503 as a read-only
    database, not a 500."""
    if make_url(database_url).get_backend_name() != "sqlite":
        pytest.skip("the write lock file is SQLite's")
    client.login("ada")
    token = client.csrf_token()
    real_open = os.open

    def guarded(path, *args, **kwargs):
        if str(path).endswith(".write-lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    # The process opens the lock file once: drop the descriptor it has.
    for queue in [v for v in app.extensions.values() if hasattr(v, "_pid")]:
        queue._pid = 0  # noqa: SLF001
    monkeypatch.setattr(os, "open", guarded)
    topic = board["topic"]
    reply = client.post(f"/t/{topic.id}/reply", data={"body": "Locked out", "csrf_token": token})
    assert reply.status_code == 503
    assert "read-only right now" in reply.get_data(as_text=True)
    assert client.get(f"/t/{topic.id}").status_code == 200
    assert client.get("/readyz").status_code == 503
    monkeypatch.undo()
    posted = client.post(f"/t/{topic.id}/reply", data={"body": "Back", "csrf_token": token})
    assert posted.status_code == 302
    assert client.get("/readyz").status_code == 200
