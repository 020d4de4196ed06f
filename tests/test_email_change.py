"""A changed email address is used only once the link mailed to it is opened (once); until then
mail keeps going to the old one. Members whose address is not verified get no notification mail
and no digest. Mail goes to a real SMTP server on loopback."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.jobs import queue_of
from forum.notifications.digest import queue_digests
from forum.timeutil import utcnow

from .mailbox import text_of

BASE = pytest.mark.config(BASE_URL="http://forum.example.org")
LINK_RE = re.compile(r"http://forum\.example\.org(/settings/email/[\w.-]+)")


def deliver(app: Any) -> int:
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


def change(client: Any, new: str, password: str = "correct-horse-battery") -> Any:
    return client.form(
        "/settings",
        {"action": "email", "email-email": new, "email-current_password": password},
    )


@BASE
def test_a_new_address_is_used_once_its_link_is_opened_and_the_link_works_once(
    app, f, inbox, client
):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    client.login(ada)
    response = change(client, "ada@new.example.net")
    assert response.status_code == 302
    (confirm,) = inbox.to("ada@new.example.net")
    assert confirm["Subject"] == "Confirm your new address on Forum"
    path = LINK_RE.search(text_of(confirm)).group(1)  # type: ignore[union-attr]
    # Not used yet: the account and its mail stay on the old address.
    assert db.session.get(User, ada.id).email == "ada@example.com"
    f.reply(bob, topic, "@ada before the change")
    deliver(app)
    assert len(inbox.to("ada@example.com")) == 1 and len(inbox.to("ada@new.example.net")) == 1
    # A link scanner's GET changes nothing; the button does.
    client.logout()
    page = client.get(path)
    assert page.status_code == 200 and "ada@new.example.net" in page.get_data(as_text=True)
    assert db.session.get(User, ada.id).email == "ada@example.com"
    assert client.form(path).status_code == 302
    user = db.session.get(User, ada.id)
    assert user.email == "ada@new.example.net" and user.email_verified_at is not None
    # The old address hears of the change.
    (told,) = inbox.to("ada@example.com")[1:]
    assert told["Subject"] == "Your address on Forum was changed"
    assert "ada@new.example.net" in text_of(told)
    f.reply(bob, topic, "@ada after the change")
    deliver(app)
    assert len(inbox.to("ada@new.example.net")) == 2 and len(inbox.to("ada@example.com")) == 2
    # The link works once.
    again = client.form(path)
    assert again.status_code == 400
    assert "used already" in again.get_data(as_text=True)
    # And the new address signs in.
    client.login("ada@new.example.net")


@BASE
def test_a_change_needs_the_password_and_a_free_allowed_address(app, f, inbox, client):
    from forum import settings
    from forum.settings import SiteSetting

    ada, bob = f.user("ada"), f.user("bob")
    client.login(ada)
    wrong = change(client, "ada@new.example.net", password="not-my-password")
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    assert change(client, "not-an-address").status_code == 400
    with transaction() as session:
        session.add(SiteSetting(key="blocked_email_domains", value="spam.example"))
    settings.forget()
    blocked = change(client, "ada@spam.example")
    assert blocked.status_code == 400
    assert inbox.messages == []
    # Taken by another account: the same answer, and the address hears only that it is taken.
    assert change(client, "bob@example.com").status_code == 302
    (note,) = inbox.to("bob@example.com")
    assert "already belongs to an account" in text_of(note)
    assert "/settings/email/" not in text_of(note)
    assert db.session.get(User, bob.id).email == "bob@example.com"


@BASE
def test_an_expired_or_forged_link_is_refused(app, f, inbox, client):
    ada = f.user("ada")
    client.login(ada)
    change(client, "ada@new.example.net")
    path = LINK_RE.search(text_of(inbox.messages[0])).group(1)  # type: ignore[union-attr]
    assert client.get(path[:-3] + "xyz").status_code == 400
    app.config["EMAIL_CHANGE_MAX_AGE"] = -1
    page = client.get(path)
    assert page.status_code == 400 and "expired" in page.get_data(as_text=True)


@BASE
def test_the_confirmation_is_in_the_members_language(app, f, inbox, client):
    ada = f.user("ada")
    with transaction():
        ada.language = "de"
    client.login(ada)
    change(client, "ada@new.example.net")
    (confirm,) = inbox.messages
    assert confirm["Subject"] == "Forum: Bestätige deine neue E-Mail-Adresse"


@BASE
def test_unverified_members_get_no_notification_mail_and_no_digest(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    with transaction():
        ada.email_verified_at = None
    sig = f.sig("retro", members=[ada, bob])
    f.reply(bob, f.topic(bob, sig), "@ada hello")
    deliver(app)
    now = utcnow()
    app.config["DIGEST_HOUR"] = now.hour
    queue_digests(now)
    assert inbox.to("ada@example.com") == []
    # Registration's link verifies the address; so does create-sysop's operator.
    assert f.user("cyd").email_verified_at is not None
