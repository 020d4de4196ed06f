"""Webhook secrets sealed at rest (forum/sealed.py): the database holds no secret a dump could sign
with; the page shows the secret that signs the deliveries; a new SECRET_KEY with the old one in
SECRET_KEY_FALLBACKS goes on signing, and a new secret (or `reseal-secrets`) moves to the new key;
a key changed without a fallback sends nothing, says so once in the log and on the page, and
"Make a new secret" mends it; the migration seals the secrets that were there, and its downgrade
opens them again."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from forum import config, create_app, sealed
from forum.accounts import services as accounts
from forum.extensions import db
from forum.webhooks import services
from forum.webhooks.models import Webhook

from . import test_webhooks
from .test_webhooks import LOOPBACK, deliveries, fresh, hooks, make_hook, register, verify

pytestmark = pytest.mark.config(**LOOPBACK)
receiver = test_webhooks.receiver  # the real HTTP receiver on loopback

OLD_KEY = "test-secret"  # conftest's SECRET_KEY
NEW_KEY = "a-new-secret-key-for-the-site"
UNREADABLE = "This secret can no longer be read: the site's secret key changed. Make a new secret."


def shown_secret(browser: Any, hook_id: int) -> str | None:
    """The secret the webhook's page shows ("Show the secret"), or None if it shows none."""
    page = browser.get(f"/mod/webhooks/{hook_id}")
    assert page.status_code == 200
    found = re.search(r'<code class="secret">([^<]*)</code>', page.get_data(as_text=True))
    return found.group(1) if found else None


def stored_row(hook_id: int) -> dict[str, Any]:
    """The webhook's row as a dump would have it."""
    fresh()
    row = db.session.execute(text("SELECT * FROM webhooks WHERE id = :id"), {"id": hook_id})
    return dict(row.mappings().one())


def new_site_key(app: Any, key: str, fallbacks: list[str]) -> None:
    """The site restarted with another SECRET_KEY (and these fallbacks)."""
    app.config["SECRET_KEY"] = key
    app.config["SECRET_KEY_FALLBACKS"] = fallbacks


def signed_by(secret: str | None, got: Any) -> bool:
    return secret is not None and verify(secret, got.headers["X-Forum-Signature"], got.body)


# --- at rest ------------------------------------------------------------------------------------
def test_the_row_holds_no_secret_and_the_page_shows_the_one_that_signs(
    app, make_client, f, receiver
) -> None:
    sysop = f.user("sysop")
    f.sig("retro", sysops=[sysop])
    browser = make_client()
    browser.login(sysop)
    assert register(browser, "retro", receiver.url, ["post.created"]).status_code == 302
    [hook] = hooks()
    shown = shown_secret(browser, hook.id)
    assert shown is not None and shown.startswith("whsec_") and len(shown) == 49
    row = stored_row(hook.id)
    assert "secret" not in row  # the clear column is gone
    dump = " ".join(str(value) for value in row.values())
    assert shown not in dump and "whsec_" not in dump
    assert shown[6:] not in dump  # nor its random part
    # What is stored is a Fernet token the site's key opens, and nothing else does.
    assert row["sealed_secret"].startswith("gAAAAA")
    assert sealed.open(row["sealed_secret"]) == shown
    app.config["SECRET_KEY"] = "another-site"
    with pytest.raises(sealed.Unreadable, match="SECRET_KEY_FALLBACKS"):
        sealed.open(row["sealed_secret"])
    with pytest.raises(sealed.Unreadable):
        sealed.open("not a token at all")
    app.config["SECRET_KEY"] = OLD_KEY
    # Each seal of the same text differs (a fresh IV and time): equal secrets are not told apart.
    assert sealed.seal(shown) != sealed.seal(shown)

    # A delivery is signed with the secret the page shows.
    assert browser.form(f"/mod/webhooks/{hook.id}/ping").status_code == 302
    [got] = receiver.wait_for(1)
    assert signed_by(shown, got)
    assert not signed_by(row["sealed_secret"], got)


def test_the_sealing_key_is_derived_for_this_purpose_alone(app) -> None:
    """HKDF from SECRET_KEY with an `info` of its own: not SECRET_KEY itself, nor what another
    purpose would derive from it."""
    import base64

    from cryptography.fernet import Fernet, InvalidToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    token = sealed.seal("whsec_abc").encode()

    def fernet(info: bytes) -> Fernet:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
        return Fernet(base64.urlsafe_b64encode(key.derive(OLD_KEY.encode())))

    assert fernet(sealed._INFO).decrypt(token) == b"whsec_abc"  # noqa: SLF001
    with pytest.raises(InvalidToken):
        fernet(b"session").decrypt(token)
    raw = OLD_KEY.encode().ljust(32, b"\0")[:32]
    with pytest.raises(InvalidToken):
        Fernet(base64.urlsafe_b64encode(raw)).decrypt(token)


# --- a new secret key, the old one in the fallbacks -------------------------------------------
def test_a_new_key_with_the_old_in_the_fallbacks_keeps_signing_and_a_new_secret_moves_to_it(
    app, make_client, f, receiver
) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    browser = make_client()
    browser.login(sysop)
    before = shown_secret(browser, hook.id)

    new_site_key(app, NEW_KEY, [OLD_KEY])
    # The sysop's session, signed with the old key, holds (Flask reads the fallbacks too), and
    # the page shows the same secret, which goes on signing.
    assert shown_secret(browser, hook.id) == before
    f.reply(ada, topic, "After the move")
    [got] = receiver.wait_for(1)
    assert signed_by(before, got)
    assert deliveries()[0].status == "delivered"

    # "Make a new secret" seals it with the new key: it opens without the fallback.
    assert browser.form(f"/mod/webhooks/{hook.id}/secret").status_code == 302
    after = shown_secret(browser, hook.id)
    assert after is not None and after != before
    app.config["SECRET_KEY_FALLBACKS"] = []
    browser = make_client()
    browser.login(sysop)
    assert shown_secret(browser, hook.id) == after
    services.ping(sysop, hook.id)
    got = receiver.wait_for(2)[-1]
    assert signed_by(after, got) and not signed_by(before, got)


def test_reseal_secrets_moves_every_secret_to_the_new_key(app, f) -> None:
    root, sysop = f.sysop("root"), f.user("sysop")
    sig = f.sig("retro", sysops=[sysop])
    first = make_hook(sysop, sig, "http://127.0.0.1:9/a", ["post.created"])
    second = make_hook(root, None, "http://127.0.0.1:9/b", ["topic.created"])
    secrets = {h.id: services.readable_secret(h) for h in (first, second)}
    app.config["SECRET_KEY"] = "a-key-long-gone"  # a third webhook, sealed with a lost key
    lost = make_hook(sysop, sig, "http://127.0.0.1:9/c", ["member.joined"])

    new_site_key(app, NEW_KEY, [OLD_KEY])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["forum", "reseal-secrets"])
    assert result.exit_code == 1, result.output
    assert "Resealed 2 webhook secrets" in result.output
    assert "1 open with no key" in result.output

    app.config["SECRET_KEY_FALLBACKS"] = []  # the old key may go now
    for hook in hooks():
        assert services.readable_secret(hook) == secrets.get(hook.id)
    assert services.readable_secret(db.session.get(Webhook, lost.id)) is None

    # Given back the lost key, the command moves that one too, and is done.
    new_site_key(app, NEW_KEY, ["a-key-long-gone"])
    result = runner.invoke(args=["forum", "reseal-secrets"])
    assert result.exit_code == 0 and "Resealed 3 webhook secrets" in result.output
    app.config["SECRET_KEY_FALLBACKS"] = []
    assert all(services.readable_secret(hook) is not None for hook in hooks())


def test_the_fallbacks_setting_takes_a_list_or_keys_separated_by_commas(
    make_app, monkeypatch
) -> None:
    assert config.key_list(None) == [] and config.key_list("") == []
    assert config.key_list("old-one, older-one") == ["old-one", "older-one"]
    assert config.key_list("old-one older-one") == ["old-one", "older-one"]
    assert config.key_list(["old-one"]) == ["old-one"]
    monkeypatch.setenv("FORUM_SECRET_KEY_FALLBACKS", "k1,k2")
    assert make_app().config["SECRET_KEY_FALLBACKS"] == ["k1", "k2"]
    monkeypatch.setenv("FORUM_SECRET_KEY_FALLBACKS", '["k3"]')
    assert make_app().config["SECRET_KEY_FALLBACKS"] == ["k3"]


# --- a new secret key, no fallback: degrade, never break ----------------------------------------
def test_a_changed_key_without_fallback_sends_nothing_and_asks_for_a_new_secret(
    app, make_client, f, receiver, caplog
) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    new_site_key(app, NEW_KEY, [])

    # Deliveries: not sent, ended at once (no retry mends it), one clear log line each.
    with caplog.at_level(logging.WARNING, logger="forum.webhooks.services"):
        f.reply(ada, topic, "Nobody hears this")
        f.reply(ada, topic, "Nor this")
    assert receiver.got == []
    unsent = deliveries(hook)
    assert [d.status for d in unsent] == ["failed", "failed"]
    assert all(d.attempts == 0 and d.next_attempt_at is None for d in unsent)
    # Kept as a code, not a sentence in the language of the job that wrote it.
    assert [d.last_error for d in unsent] == [services.ENDED_SECRET_UNREADABLE] * 2
    lines = [r for r in caplog.records if r.name == "forum.webhooks.services"]
    assert len(lines) == 2
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert f"webhook {hook.id}: delivery {unsent[0].id} not sent" in lines[0].getMessage()
    assert "SECRET_KEY_FALLBACKS" in lines[0].getMessage()
    assert "Traceback" not in caplog.text
    [hook] = hooks()
    assert hook.active and hook.failure_streak == 0  # the receiver was not at fault

    # The page: a clear message instead of the secret, in the reader's language, never a 500.
    browser = make_client()
    browser.login(sysop)
    page = browser.get(f"/mod/webhooks/{hook.id}")
    assert page.status_code == 200
    page_text = page.get_data(as_text=True)
    assert UNREADABLE in unescape(page_text)
    assert 'class="secret"' not in page_text and "Make a new secret" in page_text
    # Ping and "Send again" say the same, and send nothing.
    ping = browser.form(f"/mod/webhooks/{hook.id}/ping", follow_redirects=True)
    assert ping.status_code == 200 and "secret can no longer be read" in ping.get_data(True)
    again = browser.form(f"/mod/webhooks/deliveries/{unsent[0].id}/redeliver")
    assert again.status_code == 302
    assert len(deliveries(hook)) == 2 and receiver.got == []
    accounts.set_language(sysop, "de")
    german = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
    assert "Dieses Geheimnis kann nicht mehr gelesen werden" in german
    # Each delivery says why it was not sent, in the reader's language.
    assert german.count("nicht gesendet: sein Geheimnis konnte nicht mehr gelesen werden") == 2
    accounts.set_language(sysop, "es")
    spanish = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
    assert "Este secreto ya no se puede leer" in spanish
    assert spanish.count("no se envió: su secreto ya no se podía leer") == 2
    accounts.set_language(sysop, "en")

    # "Make a new secret" mends it: sealed with the new key, shown, signing again.
    made = browser.form(f"/mod/webhooks/{hook.id}/secret", follow_redirects=True)
    assert made.status_code == 200 and "A new secret was made" in made.get_data(True)
    secret = shown_secret(browser, hook.id)
    assert secret is not None
    assert browser.form(f"/mod/webhooks/deliveries/{unsent[0].id}/redeliver").status_code == 302
    [got] = receiver.wait_for(1)
    assert signed_by(secret, got) and got.json["post"]["excerpt"] == "Nobody hears this"


# --- the migration ------------------------------------------------------------------------------
BEFORE = "0032_search_slices"


def test_the_migration_seals_the_secrets_there_and_the_downgrade_opens_them(
    base_config, empty_database, caplog
) -> None:
    settings = {**base_config, "DATABASE_URL": empty_database, "SECRET_KEY": "the-sites-key"}
    migrated = create_app(settings)
    now = datetime.now(UTC)
    with migrated.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            for n in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO webhooks (id, url, description, secret, events, active, "
                        "failure_streak, created_at) VALUES (:id, :url, '', :secret, "
                        "'post.created', :yes, 0, :now)"
                    ),
                    {"id": n, "url": f"https://example.org/{n}", "secret": f"whsec_old{n}",
                     "yes": True, "now": now},
                )  # fmt: skip
            # A delivery in the log: the migration keeps it (a copy of the table would not).
            conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (webhook_id, event, event_id, payload, "
                    "status, attempts, created_at) VALUES (1, 'ping', 'e1', '{}', 'delivered', "
                    "1, :now)"
                ),
                {"now": now},
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, sealed_secret FROM webhooks ORDER BY id")).all()
            columns = [c for c in conn.execute(text("SELECT * FROM webhooks")).keys()]
            kept = conn.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one()
        assert "secret" not in columns and kept == 1
        assert [sealed.open(token) for _id, token in rows] == ["whsec_old1", "whsec_old2"]
        assert all("whsec_" not in token for _id, token in rows)
        # The app reads them through the services as it reads new ones.
        hook = db.session.scalars(select(Webhook).where(Webhook.id == 1)).one()
        assert services.readable_secret(hook) == "whsec_old1"
        db.session.remove()

        # The downgrade needs the key that sealed them: with another, it stops, changing nothing.
        migrated.config["SECRET_KEY"] = "not-the-sites-key"
        with pytest.raises(SystemExit):  # (Flask-Migrate logs the error and exits)
            downgrade(revision=BEFORE)
        assert "webhook 1's secret does not open with this SECRET_KEY" in caplog.text
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT sealed_secret FROM webhooks")).all()
        migrated.config["SECRET_KEY"] = "the-sites-key"
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            back = conn.execute(text("SELECT id, secret FROM webhooks ORDER BY id")).all()
            kept = conn.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar_one()
        assert [tuple(r) for r in back] == [(1, "whsec_old1"), (2, "whsec_old2")] and kept == 1
        db.session.remove()
        db.engine.dispose()
