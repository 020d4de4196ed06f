"""The matrices' worlds, put back from their rows (tests/worlds.py), are the worlds the services
built: every row the same, the objects loaded, and new rows taking new ids."""

from __future__ import annotations

import uuid

import pytest

from forum.accounts.models import User
from forum.extensions import db

from . import dbstate, worlds
from .conftest import _clear
from .test_permissions import World, build


def test_a_world_put_back_is_the_world_built(app, f) -> None:
    if not worlds._may_load():
        pytest.skip("PostgreSQL as a role that is no superuser: every world is built afresh")
    key = ("test_worlds", uuid.uuid4().hex)  # (a key of its own: built here, not reused)
    built = worlds.once(key, lambda: build(f, "members"))
    rows = dbstate.snapshot(statistics=True)
    ids = {role: user.id for role, user in built.users.items() if user is not None}
    db.session.expunge_all()
    _clear(app)
    assert dbstate.count(User) == 0

    again: World = worlds.once(key, lambda: build(f, "members"))

    assert dbstate.snapshot(statistics=True) == rows
    assert {role: user.id for role, user in again.users.items() if user is not None} == ids
    assert again.users["guest"] is None and again.f is f
    assert again.topic.sig_id == again.sig.id and again.reply.topic_id == again.topic.id
    # The ids go on from the rows put back, as they would from the rows written.
    newest = max(row[0] for row in rows["posts"])
    assert again.fresh_reply().id == newest + 1
    assert f.user().id == max(ids.values()) + 1
