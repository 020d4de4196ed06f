"""The test client's requests run as a server's do (tests/conftest.py): each in an app context of
its own, with its own database session and `g`, torn down after it; the test's own session then
reads what the request wrote. A socket's events run so too."""

from __future__ import annotations

from typing import Any

import pytest
from flask import g, request
from sqlalchemy import update

from forum import permissions
from forum.accounts.models import User
from forum.extensions import db, socketio

from .conftest import UnsavedTestChanges


def _ended_sessions(app) -> list[Any]:
    """The database sessions of the app contexts popped from now on."""
    ended: list[Any] = []
    # (Teardowns run last-registered first: the session is still there.)
    app.teardown_appcontext(lambda _exc: ended.append(db.session()))
    return ended


def test_a_request_has_a_session_and_g_of_its_own_torn_down_after_it(app, client, f) -> None:
    seen: dict[str, Any] = {}

    @app.get("/_probe")
    def probe() -> str:
        seen["session"] = db.session()
        seen["loaded"] = db.session.get(User, ada_id)
        seen["g"] = set(g)
        return ""

    ended = _ended_sessions(app)
    ada_id = f.user("ada").id
    g.left_by_the_test = True
    assert client.get("/_probe").status_code == 200
    assert seen["session"] is not db.session()
    assert "left_by_the_test" not in seen["g"]
    assert ended == [seen["session"]]
    # Removed at the teardown: it holds nothing more.
    assert seen["loaded"] not in seen["session"] and not seen["session"].in_transaction()
    assert "left_by_the_test" in g  # the test's own `g` is the test's


def test_with_client_the_test_sees_the_last_requests_context(client, f) -> None:
    """`with client:` keeps the last request's contexts pushed until the next request, as
    Flask's test client does, then gives the test its own back."""
    f.user("ada")
    test_session = db.session()
    with client:
        client.get("/")
        first = db.session()
        assert first is not test_session
        client.get("/login")
        assert db.session() not in (test_session, first)
    assert db.session() is test_session


def test_the_test_reads_what_a_request_wrote(app, client, f) -> None:
    @app.post("/_sign")
    def sign() -> str:
        signature = request.form["signature"]
        db.session.execute(update(User).where(User.id == ada.id).values(signature=signature))
        db.session.commit()
        return ""

    ada, root = f.user("ada"), f.sysop("root")
    sig = f.sig("retro", visibility="public")
    assert ada.signature == "" and sig.id not in permissions.memberships(ada)
    # The test's session is in a read transaction now: on SQLite, a snapshot of the database.
    assert db.session().in_transaction()
    client.form("/_sign", {"signature": "Signed"})
    assert ada.signature == "Signed"
    # Out of any transaction, the member still loaded (no expiry on commit): read afresh too.
    db.session.commit()
    assert not db.session().in_transaction() and "signature" in vars(ada)
    client.form("/_sign", {"signature": "Signed again"})
    assert ada.signature == "Signed again"
    client.login("ada")
    assert client.form(f"/s/{sig.slug}/join").status_code == 302
    # Its memberships, cached on the member, were read afresh too.
    assert sig.id in permissions.memberships(ada)
    assert root.username == "root"


def test_a_request_after_changes_the_test_did_not_commit_fails(client, f) -> None:
    ada = f.user("ada")
    ada.signature = "Not committed"
    with pytest.raises(UnsavedTestChanges, match="not committed"):
        client.get("/")
    db.session.rollback()
    db.session.add(User(username="bob", email="bob@example.com", password_hash="x"))
    db.session.flush()
    with pytest.raises(UnsavedTestChanges):
        client.get("/")
    db.session.rollback()
    assert client.get("/").status_code == 200


@pytest.mark.config(PRESENCE_LOOP=False)
def test_a_sockets_events_run_in_app_contexts_of_their_own(app, client, f) -> None:
    ended = _ended_sessions(app)
    f.user("ada")
    client.login("ada")
    socket = socketio.test_client(app, flask_test_client=client)
    assert socket.is_connected()
    assert ended and db.session() not in ended
    del ended[:]
    assert socket.emit("subscribe", {"presence": "site"}, callback=True)["ok"]
    assert len(ended) == 1 and db.session() not in ended
    socket.disconnect()
    assert len(ended) == 2 and db.session() not in ended
