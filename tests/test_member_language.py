"""The language a member is addressed in outside their requests (live notifications, mail,
digests) when they follow their browser: the one they last read the forum in (users.last_locale,
noted at sign-in and when a page's language changes; forum.i18n.language_of)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db, socketio
from forum.jobs import queue_of
from forum.messages import services as messages
from forum.notifications.digest import queue_digests
from forum.sigs.models import Sig

from .factories import PASSWORD
from .mailbox import text_of

pytestmark = pytest.mark.config(PRESENCE_LOOP=False)


def reads_in(client: Any, code: str) -> Any:
    """The browser asks for `code` from now on (its Accept-Language, on every request)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = code
    return client


def noted(user: User) -> str | None:
    db.session.expire_all()
    return db.session.get(User, user.id).last_locale


def deliver(app: Any) -> None:
    """Let NOTIFY_MAIL_DELAY pass (tests/test_notification_mail.py)."""
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    queue_of(app).run_due(later)


def user_writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().upper().startswith("UPDATE USERS")]


@pytest.fixture
def forum(f):
    pilar, ken = f.user("pilar"), f.user("ken")
    sig = f.sig("retro", members=[pilar, ken])
    topic = f.topic(pilar, sig, title="Amiga")
    return pilar, ken, topic


def test_live_notifications_follow_the_language_of_the_members_pages(app, client, f, forum):
    pilar, ken, topic = forum
    reads_in(client, "es-ES,es;q=0.9,en;q=0.5").login("pilar")
    assert 'lang="es"' in client.get("/").get_data(as_text=True)
    sc = socketio.test_client(app, flask_test_client=client)
    post = f.reply(ken, topic, "@pilar mira esto")
    notes = [e["args"][0] for e in sc.get_received() if e["name"] == "notification"]
    assert [(n["kind"], n["text"], n["url"]) for n in notes] == [
        ("mention", "ken te mencionó en «Amiga»", f"/p/{post.id}")
    ]
    messages.start_conversation(ken, "pilar", "Hola", "¿Qué tal?")
    (note,) = [e["args"][0] for e in sc.get_received() if e["name"] == "notification"]
    assert note["text"] == "ken te ha enviado correo privado: «Hola»"


def test_notification_mail_and_digest_follow_it_too(app, client, f, forum, inbox):
    pilar, ken, topic = forum
    reads_in(client, "es").login("pilar")
    f.reply(ken, topic, "@pilar mira esto")
    deliver(app)
    (mail,) = inbox.to("pilar@example.com")
    assert mail["Subject"] == "[Forum] ken te mencionó en «Amiga»"
    assert "Hola, pilar" in text_of(mail)
    f.topic(ken, db.session.get(Sig, topic.sig_id), "Noticias")
    now = datetime.now(UTC)
    app.config["DIGEST_HOUR"] = now.hour
    queue_digests(now)
    digest = inbox.to("pilar@example.com")[-1]
    assert digest["Subject"].startswith("[Forum] Tu resumen diario")


def test_the_members_own_setting_wins(app, client, f, forum, inbox):
    pilar, ken, topic = forum
    reads_in(client, "es").login("pilar")
    assert noted(pilar) == "es"
    with transaction():
        db.session.get(User, pilar.id).language = "de"
    f.reply(ken, topic, "@pilar schau mal")
    deliver(app)
    (mail,) = inbox.to("pilar@example.com")
    assert mail["Subject"] == "[Forum] ken hat dich in „Amiga“ erwähnt"


def test_reading_in_german_later_changes_it(app, client, f, forum, inbox):
    pilar, ken, topic = forum
    reads_in(client, "es").login("pilar")
    assert noted(pilar) == "es"
    assert 'lang="de"' in reads_in(client, "de").get("/").get_data(as_text=True)
    assert noted(pilar) == "de"
    f.reply(ken, topic, "@pilar schau mal")
    deliver(app)
    (mail,) = inbox.to("pilar@example.com")
    assert mail["Subject"] == "[Forum] ken hat dich in „Amiga“ erwähnt"


def test_the_menus_language_is_noted_too(client, forum):
    pilar, _ken, _topic = forum
    reads_in(client, "en").login("pilar")
    assert noted(pilar) == "en"
    client.set_cookie("forum_lang", "es")
    client.get("/")
    assert noted(pilar) == "es"


def test_what_is_not_a_page_notes_nothing(client, forum):
    # The API's JSON, a feed, a redirect: a client or a hop, not the language the member reads.
    pilar, _ken, _topic = forum
    reads_in(client, "es").login("pilar")
    reads_in(client, "de")
    assert client.get("/api/v1/me/ignored").status_code == 200
    assert client.get("/i18n/de.json").status_code == 200
    assert client.get("/login").status_code == 302
    assert noted(pilar) == "es"


def test_a_member_not_seen_since_keeps_english(app, f, forum, inbox):
    pilar, ken, topic = forum
    assert noted(pilar) is None
    f.reply(ken, topic, "@pilar look")
    deliver(app)
    (mail,) = inbox.to("pilar@example.com")
    assert mail["Subject"] == "[Forum] ken mentioned you in “Amiga”"


def test_a_page_view_writes_only_when_the_language_changed(client, forum, count_queries):
    pilar, _ken, _topic = forum
    reads_in(client, "es").login("pilar")
    client.get("/")
    with count_queries() as unchanged:
        assert client.get("/").status_code == 200
    assert user_writes(unchanged.statements) == []
    reads_in(client, "de")
    with count_queries() as changed:
        assert client.get("/").status_code == 200
    assert len(user_writes(changed.statements)) == 1
    with count_queries() as again:
        assert client.get("/").status_code == 200
    assert user_writes(again.statements) == []
    assert noted(pilar) == "de"


def test_guests_write_nothing(client, forum, count_queries):
    pilar, _ken, _topic = forum
    reads_in(client, "es")
    with count_queries() as guest:
        assert 'lang="es"' in client.get("/").get_data(as_text=True)
    assert [s for s in guest.statements if not s.lstrip().upper().startswith("SELECT")] == []
    assert noted(pilar) is None


def test_the_settings_say_mail_follows_the_last_language_read(client, forum):
    reads_in(client, "en").login("pilar")
    page = client.get("/settings").get_data(as_text=True)
    assert "the language you last read the forum in" in page
    page = reads_in(client, "de").get("/settings").get_data(as_text=True)
    assert "in der Sprache, in der du das Forum zuletzt gelesen hast" in page
    page = reads_in(client, "es").get("/settings").get_data(as_text=True)
    assert "en el idioma en que leíste el foro por última vez" in page


def test_a_deleted_account_forgets_it(client, forum):
    from forum.accounts import deletion

    pilar, _ken, _topic = forum
    reads_in(client, "es").login("pilar")
    assert noted(pilar) == "es"
    deletion.delete_account(db.session.get(User, pilar.id), PASSWORD)
    assert noted(pilar) is None


def test_the_data_export_says_it(client, forum):
    import io
    import json
    import zipfile

    reads_in(client, "es").login("pilar")
    response = client.form("/settings/data")
    assert response.status_code == 200, response.status_code
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        preferences = json.loads(archive.read("preferences.json"))
    assert preferences["language"] is None and preferences["last_locale"] == "es"


def test_the_migration_adds_the_column_and_its_downgrade_keeps_the_members(
    base_config: dict[str, Any], empty_database: str
) -> None:
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text

    from forum import create_app

    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    now = datetime.now(UTC)
    with migrated.app_context():
        upgrade(revision="0045_held_jobs")
        assert "last_locale" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, email, password_hash, role, created_at, "
                    "session_token, post_count, topic_count, signature, bio_raw, bio_html, "
                    "timezone, preferences, language) VALUES (1, 'pilar', 'p@example.com', "
                    "'x', 'member', :now, 'token', 0, 0, '', '', '', 'UTC', '{}', NULL)"
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
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, language, last_locale FROM users")).all()
        assert [tuple(r) for r in rows] == [(1, None, None)]  # English until they come back
        downgrade(revision="0045_held_jobs")
        assert "last_locale" not in {c["name"] for c in inspect(db.engine).get_columns("users")}
        with db.engine.connect() as conn:
            # Dropping the column copied no table: nothing that hangs on a member went.
            assert conn.execute(text("SELECT count(*) FROM memberships")).scalar_one() == 1
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_a_page_read_in_another_language_is_served_while_writes_are_refused(
    client, forum, write_lock_refused
):
    """Noting the language is a convenience: a volume that refuses writes (shown first by the
    SQLite writers' lock file, which cannot be opened) must not cost the member the page."""
    pilar, _ken, topic = forum
    reads_in(client, "es").login("pilar")
    write_lock_refused.start()
    page = reads_in(client, "de").get(f"/t/{topic.id}")
    assert page.status_code == 200
    assert 'lang="de"' in page.get_data(as_text=True)
    write_lock_refused.stop()
    assert noted(pilar) == "es"


@pytest.mark.parametrize(
    ("code", "finish_subject", "finish_body", "approved_subject", "approved_body", "other"),
    [
        # The site's name leads the subject and is named as the forum it is in the body, so
        # any name reads naturally (not "auf Forum", "en Forum").
        (
            "de",
            "Forum: Registrierung abschließen",
            "um deine Registrierung im Forum „Forum“ abzuschließen,",
            "Forum: Dein Konto ist freigegeben",
            "ein Sysop hat dein Konto im Forum „Forum“ freigegeben:",
            "es",
        ),
        (
            "es",
            "Forum: Termina tu registro",
            "para terminar tu registro en el foro «Forum»,",
            "Forum: Tu cuenta está aprobada",
            "un sysop aprobó tu cuenta en el foro «Forum»:",
            "de",
        ),
    ],
)
def test_registering_on_a_page_notes_its_language_and_leaves_the_choice_open(
    client, f, outbox, code, finish_subject, finish_body, approved_subject, approved_body, other
):
    """A newcomer who registers on a German page is addressed in German (the mail that
    finishes it, and after it the mail telling them a sysop approved the account), but has
    chosen no language: registering stored the page's as their setting, and their pages then
    stopped following their browser. It is noted as the language they last read the forum in."""
    import re

    from forum.admin.services import decide_account, update_settings

    from .mailbox import mails

    root = f.sysop("root")
    update_settings(root, {"account_approval": "1"})
    reads_in(client, code)
    sent = client.form("/register", {"username": "neu", "email": "neu@example.com"})
    assert sent.status_code == 302
    (message,) = [m for m in mails(outbox) if m["To"] == "neu@example.com"]
    assert message["Subject"].startswith(finish_subject)
    assert finish_body in message.get_content()
    link = re.search(r"https?://[^/]+(/register/finish/\S+)", message.get_content())
    assert link is not None
    assert client.form(link.group(1), {"password": PASSWORD}).status_code == 302

    newcomer = db.session.scalar(select(User).where(User.username == "neu"))
    assert newcomer is not None
    assert (newcomer.language, noted(newcomer)) == (None, code)
    # Their settings offer "as the browser" as what is chosen.
    settings = client.get("/settings").get_data(as_text=True)
    chosen = re.search(r'<select[^>]*name="profile-language".*?</select>', settings, re.S)
    assert chosen is not None and '<option selected value="">' in chosen.group(0)

    decide_account(root, newcomer.id, True)
    approved = [m for m in mails(outbox) if m["To"] == "neu@example.com"][-1]
    assert approved["Subject"] == approved_subject
    assert approved_body in approved.get_content()
    # Their browser asks for another language: the pages follow it, as for any member who
    # chose none, and so does the language noted for their mail.
    page = reads_in(client, other).get("/").get_data(as_text=True)
    assert f'lang="{other}"' in page
    assert noted(newcomer) == other
