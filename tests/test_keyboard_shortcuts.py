"""Keyboard shortcuts (static/js/shortcuts.js): what the server writes for them — <body
data-shortcuts>, the help list in a <template>, the script — and the member's setting that turns
them off (WCAG 2.1.4): the settings form, the service, the API, the migration.
tests/e2e/test_shortcuts.py presses the keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from forum.accounts import services
from forum.accounts.models import User
from forum.errors import Invalid
from forum.extensions import db

from .factories import PASSWORD
from .test_api import error_of, send, token_for

API = "/api/v1"


def shortcuts_of(page: str) -> str:
    found = re.search(r'<body [^>]*data-shortcuts="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def help_of(page: str) -> str | None:
    """The help list's <template>, or None when the page has none."""
    found = re.search(r'<template id="shortcuts-help".*?</template>', page, re.S)
    return found.group(0) if found else None


def stored(user: User) -> bool:
    db.session.expire_all()
    return db.session.get(User, user.id).keyboard_shortcuts


def _profile(**extra: str) -> dict[str, str]:
    """The settings' profile form as a browser sends it: an unticked checkbox sends nothing."""
    return {
        "action": "profile",
        "profile-signature": "",
        "profile-bio": "",
        "profile-timezone": "UTC",
        "profile-language": "",
        "profile-theme": "system",
        **extra,
    }


def test_a_guest_gets_them_with_the_list_and_where_members_turn_them_off(client):
    page = client.get("/").get_data(as_text=True)
    assert shortcuts_of(page) == "on"
    assert "/static/js/shortcuts.js" in page
    listed = help_of(page)
    assert listed is not None
    assert 'data-home="/"' in listed
    assert "data-new" not in listed and "Go to New" not in listed  # New is a member's page
    for key in ("<kbd>j</kbd>", "<kbd>k</kbd>", "<kbd>r</kbd>", "<kbd>/</kbd>", "<kbd>?</kbd>"):
        assert key in listed
    assert "Members can turn them off in their settings" in listed
    # Inert until the script shows it: nothing of it is drawn without JavaScript.
    assert page.count("<dialog") == listed.count("<dialog") == 1


def test_a_member_has_them_on_until_they_turn_them_off(client, f):
    member = f.user("pilar")
    assert stored(member) is True
    client.login("pilar")
    page = client.get("/").get_data(as_text=True)
    assert shortcuts_of(page) == "on"
    listed = help_of(page)
    assert listed is not None
    assert 'data-new="/new"' in listed and "Go to New" in listed
    assert 'href="/settings#profile-keyboard_shortcuts"' in listed

    settings = client.get("/settings").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="profile-keyboard_shortcuts"[^>]*>', settings)
    assert box and "checked" in box.group(0) and 'type="checkbox"' in box.group(0)
    assert 'aria-describedby="profile-keyboard_shortcuts-hint"' in box.group(0)
    assert "Keyboard shortcuts" in settings

    response = client.form("/settings", _profile())  # the box unticked
    assert response.status_code == 302
    assert stored(member) is False
    page = client.get("/").get_data(as_text=True)
    assert shortcuts_of(page) == "off"
    assert help_of(page) is None and "shortcuts.js" not in page
    settings = client.get("/settings").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="profile-keyboard_shortcuts"[^>]*>', settings)
    assert box and "checked" not in box.group(0)

    response = client.form("/settings", _profile(**{"profile-keyboard_shortcuts": "y"}))
    assert response.status_code == 302
    assert stored(member) is True
    assert shortcuts_of(client.get("/").get_data(as_text=True)) == "on"


def test_a_refused_profile_form_keeps_them_as_they_were(client, f):
    member = f.user("quim")
    client.login("quim")
    response = client.form("/settings", _profile(**{"profile-theme": "sepia"}))
    assert response.status_code == 400
    assert stored(member) is True


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("de", ("Tastenkürzel", "Auf das Thema antworten", "Einstellungen</a>")),
        ("es", ("Atajos de teclado", "Responder al tema", "ajustes</a>")),
    ],
)
def test_the_list_and_the_setting_speak_the_readers_language(client, f, code, words):
    f.user("ines")
    client.login("ines")
    client.set_cookie("forum_lang", code)
    listed = help_of(client.get("/").get_data(as_text=True))
    assert listed is not None
    for word in words:
        assert word in listed, word
    assert "Keyboard shortcuts" not in listed and "Close" not in listed
    settings = client.get("/settings").get_data(as_text=True)
    assert words[0] in settings


def test_the_service_sets_them_and_refuses_what_is_not_on_or_off(f):
    member = f.user("rosa")
    services.set_keyboard_shortcuts(member, False)
    assert stored(member) is False
    with pytest.raises(Invalid) as refused:
        services.set_keyboard_shortcuts(member, "yes")  # type: ignore[arg-type]
    assert refused.value.field == "keyboard_shortcuts"
    assert stored(member) is False
    # The profile form's service leaves them be unless it is told.
    member = db.session.get(User, member.id)
    services.update_profile(member, signature="hi", bio="")
    assert stored(member) is False
    services.update_profile(member, signature="hi", bio="", keyboard_shortcuts=True)
    assert stored(member) is True


def test_the_api_shows_and_changes_them(client, f):
    member = f.user("ada")
    secret = token_for(member)
    prefs = send(client, "GET", f"{API}/me/preferences", secret).get_json()
    assert prefs["keyboard_shortcuts"] is True
    changed = send(client, "PATCH", f"{API}/me/preferences", secret, {"keyboard_shortcuts": False})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["keyboard_shortcuts"] is False
    assert stored(member) is False
    for bad in ("off", None, 0):
        refused = send(
            client, "PATCH", f"{API}/me/preferences", secret, {"keyboard_shortcuts": bad}
        )
        assert refused.status_code == 400, refused.get_json()
        assert error_of(refused)["field"] == "keyboard_shortcuts"
    assert stored(member) is False


def test_the_data_export_says_it_and_a_deleted_account_forgets_it(client, f):
    import io
    import json
    import zipfile

    from forum.accounts import deletion

    member = f.user("pilar")
    services.set_keyboard_shortcuts(member, False)
    client.login("pilar")
    response = client.form("/settings/data")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert json.loads(archive.read("preferences.json"))["keyboard_shortcuts"] is False
    deletion.delete_account(db.session.get(User, member.id), PASSWORD)
    assert stored(member) is True  # the default: nothing the member chose is kept


def test_the_migration_turns_them_on_for_every_member_and_its_downgrade_keeps_the_members(
    base_config: dict[str, Any], empty_database: str
) -> None:
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from forum import create_app

    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    now = datetime.now(UTC)

    def columns() -> set[str]:
        return {c["name"] for c in inspect(db.engine).get_columns("users")}

    with migrated.app_context():
        upgrade(revision="0046_member_last_locale")
        assert "keyboard_shortcuts" not in columns()
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, email, password_hash, role, created_at, "
                    "session_token, post_count, topic_count, signature, bio_raw, bio_html, "
                    "timezone, preferences) VALUES (1, 'pilar', 'p@example.com', 'x', "
                    "'member', :now, 'token', 0, 0, '', '', '', 'UTC', '{}')"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO sigs (id, slug, name, description, visibility, language, "
                    "position, created_at, topic_count, post_count, member_count) VALUES (1, "
                    "'retro', 'Retro', '', 'public', 'en', 0, :now, 0, 0, 0)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO memberships (user_id, sig_id, role, joined_at) "
                    "VALUES (1, 1, 'member', :now)"
                ),
                {"now": now},
            )
        upgrade(revision="0047_member_keyboard_shortcuts")
        with db.engine.begin() as conn:
            rows = conn.execute(text("SELECT id, keyboard_shortcuts FROM users")).all()
            assert [(r[0], bool(r[1])) for r in rows] == [(1, True)]
            # A member added later without naming it has them on too (the column's default).
            conn.execute(
                text(
                    "INSERT INTO users (id, username, email, password_hash, role, created_at, "
                    "session_token, post_count, topic_count, signature, bio_raw, bio_html, "
                    "timezone, preferences) VALUES (2, 'ken', 'k@example.com', 'x', "
                    "'member', :now, 'token2', 0, 0, '', '', '', 'UTC', '{}')"
                ),
                {"now": now},
            )
            assert bool(
                conn.execute(text("SELECT keyboard_shortcuts FROM users WHERE id = 2")).scalar_one()
            )
        downgrade(revision="0046_member_last_locale")
        assert "keyboard_shortcuts" not in columns()
        with db.engine.connect() as conn:
            # Dropping the column copied no table: nothing that hangs on a member went.
            assert conn.execute(text("SELECT count(*) FROM memberships")).scalar_one() == 1
        upgrade()
        db.session.remove()
        db.engine.dispose()
