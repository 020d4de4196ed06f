"""The commands a newcomer runs first (`make run`): seed-demo, dev-server, and their output."""

from __future__ import annotations

from sqlalchemy import func, select

from forum.accounts.models import User
from forum.extensions import db


def _members() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_seed_demo_fills_an_empty_forum(app):
    result = app.test_cli_runner().invoke(args=["forum", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo content added." in result.output
    assert _members() == 6


def test_seed_demo_on_a_forum_with_members_says_so_in_one_line(app, f):
    f.user("ada")
    result = app.test_cli_runner().invoke(args=["forum", "seed-demo"])
    # A refusal (exit status 1) in one line, not a traceback from a clashing username.
    assert result.exit_code == 1
    assert result.output == "Error: The forum has members already: demo content not added.\n"
    assert isinstance(result.exception, SystemExit)
    assert _members() == 1


def test_seed_demo_if_empty_on_a_forum_with_members_succeeds_quietly(app, f):
    f.user("ada")
    result = app.test_cli_runner().invoke(args=["forum", "seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert result.output == "The forum has members already: demo content not added.\n"
    assert _members() == 1
