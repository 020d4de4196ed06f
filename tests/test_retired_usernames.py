"""A deleted account's name is retired: no one else may register it (others' posts still say
"@ada"), in any case; the forum keeps only a keyed digest of it; the migration that adds the
table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from forum import create_app
from forum.accounts import services
from forum.accounts.deletion import delete_account
from forum.accounts.models import RetiredUsername, User
from forum.errors import Invalid
from forum.extensions import db

from .factories import PASSWORD
from .mailbox import mails
from .test_accounts import finish_link

MESSAGE = "That name belonged to an account that was deleted. Please choose another."


@pytest.fixture
def gone(f: Any) -> None:
    """Ada deleted her account; Bob is still here."""
    f.user("bob")
    ada = f.user("ada")
    delete_account(ada, PASSWORD)


def user_count() -> int:
    return db.session.scalar(select(db.func.count()).select_from(User))


@pytest.mark.parametrize("typed", ["ada", "ADA", "aDa", " Ada "])
def test_registering_a_deleted_accounts_name_is_refused(client, outbox: Path, gone, typed) -> None:
    before, sent = user_count(), len(mails(outbox))
    response = client.form("/register", {"username": typed, "email": "newcomer@example.com"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert MESSAGE in page
    assert f'value="{typed}"' in page or f'value="{typed.strip()}"' in page  # kept in the form
    assert user_count() == before and len(mails(outbox)) == sent


def test_the_services_refuse_it_too(gone) -> None:
    with pytest.raises(Invalid) as exc:
        services.register_member("Ada", "newcomer@example.com", PASSWORD)
    assert exc.value.field == "username" and str(exc.value.message) == MESSAGE
    assert services.find_by_email("newcomer@example.com") is None


def test_an_unrelated_name_works(client, outbox: Path, gone) -> None:
    response = client.form("/register", {"username": "adalovelace", "email": "al@example.com"})
    assert response.status_code == 302
    assert services.register_member("ada2", "ada2@example.com", PASSWORD).username == "ada2"
    with pytest.raises(Invalid):  # only the retired name itself is refused
        services.register_member("ada", "ada3@example.com", PASSWORD)


def test_a_registration_link_sent_before_the_deletion_cannot_take_the_name(
    client, f, outbox: Path
) -> None:
    client.form("/register", {"username": "zed", "email": "zed@example.com"})
    link = finish_link(mails(outbox)[-1])
    delete_account(f.user("Zed", email="z@example.com"), PASSWORD)  # "Zed" is retired now
    before = user_count()
    response = client.form(link, {"password": "a-fine-long-password"})
    assert response.status_code == 400 and MESSAGE in response.get_data(as_text=True)
    assert user_count() == before and services.find_by_email("zed@example.com") is None


def test_a_username_change_to_it_is_refused(gone) -> None:
    # There is no rename yet; every path that sets a name goes through the one check.
    with pytest.raises(Invalid) as exc:
        services._check_username("Ada")
    assert str(exc.value.message) == MESSAGE
    assert services._check_username("bob") == "bob"


def test_the_table_keeps_no_plain_name(gone) -> None:
    rows = db.session.execute(select(RetiredUsername.__table__)).all()
    assert len(rows) == 1
    for value in rows[0]:
        assert "ada" not in str(value).lower()
    assert len(rows[0].digest) == 64


def test_a_rotated_secret_key_keeps_the_name_retired(app, gone) -> None:
    old = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-new-secret-key-for-the-site"
    app.config["SECRET_KEY_FALLBACKS"] = [old]
    try:
        with pytest.raises(Invalid):
            services._check_username("ada")
    finally:
        app.config["SECRET_KEY"] = old
        app.config["SECRET_KEY_FALLBACKS"] = []


# --- the migration ------------------------------------------------------------------------------
BEFORE = "0035_concern_appeals"


def test_the_migration_adds_and_drops_the_table(
    base_config: dict[str, Any], empty_database: str
) -> None:
    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    with migrated.app_context():
        upgrade(revision=BEFORE)
        assert "retired_usernames" not in inspect(db.engine).get_table_names()
        upgrade()
        assert "retired_usernames" in inspect(db.engine).get_table_names()
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO retired_usernames (digest, retired_at) VALUES ('x', :now)"),
                {"now": "2026-12-06 15:00:00"},
            )
        downgrade(revision=BEFORE)
        assert "retired_usernames" not in inspect(db.engine).get_table_names()
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_a_deleted_accounts_old_address_says_it_is_gone(client, f, gone) -> None:
    """Older posts still link "@ada" to /u/ada: it answers 410 and says why, in any case; a
    name that never was stays a 404."""
    for path in ("/u/ada", "/u/ADA", "/u/ada/card"):
        response = client.get(path)
        assert response.status_code == 410, path
        assert "This member deleted their account." in response.get_data(as_text=True)
    assert client.get("/u/bob").status_code == 200
    assert client.get("/u/nobody").status_code == 404
    assert client.get("/u/nobody/card").status_code == 404
