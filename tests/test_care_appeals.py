"""Ban appeals among the concerns: a banned member's concern from /care/appeal is recorded as an
appeal, and the sysops tell it from other concerns (the inbox's badge and filter, the concern
page, the API, the data export); the migration that adds the column to existing concerns."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select, text

from forum import create_app
from forum.accounts import services as accounts
from forum.care import queries, services
from forum.care.models import Concern
from forum.extensions import db
from forum.messages.models import Conversation, PrivateMessage
from forum.moderation import services as mod

from .test_accessibility import check_page
from .test_api import send, token_for
from .test_concerns import care_world

API = "/api/v1"
PASSWORD = "correct-horse-battery"


@pytest.fixture
def world(f) -> dict[str, Any]:
    """The care world (tests/test_concerns.py), ken banned site-wide and appealing; ada (not
    banned) wrote an ordinary concern to the site's sysops."""
    w = care_world(f)
    w["ordinary"] = services.write_to_sysops(w["ada"], None, "Rename me", "Please rename me.")
    mod.ban_member(w["root"], w["ken"].id, "spam")
    w["appeal"] = services.appeal("ken", PASSWORD, "My ban", "Why was I banned?")
    db.session.expire_all()
    return w


def _html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.get_data(as_text=True))


def _row(page: str, subject: str) -> str:
    """The inbox's table row of the concern with this subject."""
    return next(r for r in page.split("<tr")[1:] if subject in r)


# --- the record ---------------------------------------------------------------------------------
def test_an_appeal_is_marked_and_an_ordinary_concern_is_not(world) -> None:
    assert db.session.get(Concern, world["appeal"].id).is_appeal is True
    assert db.session.get(Concern, world["ordinary"].id).is_appeal is False
    # A second message goes into the same appeal; a SIG's concern is never one.
    again = services.appeal("ken", PASSWORD, "", "Please answer.")
    assert again.id == world["appeal"].id and again.is_appeal is True
    sig_concern = services.write_to_sysops(world["ada"], world["retro"].id, "Hi", "A question.")
    assert sig_concern.is_appeal is False


def test_an_appeal_goes_into_an_appeal_never_into_another_concern(f) -> None:
    w = care_world(f)
    before = services.write_to_sysops(w["ken"], None, "Someone is harassing me", "By mail.")
    mod.ban_member(w["root"], w["ken"].id, "spam")
    appealed = services.appeal("ken", PASSWORD, "", "Please lift my ban.")
    db.session.expire_all()
    # The concern written before the ban stays what it was, and holds none of the appeal.
    assert appealed.id != before.id and appealed.is_appeal is True
    assert db.session.get(Concern, before.id).is_appeal is False
    words = db.session.scalars(
        select(PrivateMessage.body_raw).where(
            PrivateMessage.conversation_id == before.conversation_id
        )
    ).all()
    assert words == ["By mail."]
    # The next appeal goes into the open appeal, and the form reads it.
    again = services.appeal("ken", PASSWORD, "", "Please answer.")
    assert again.id == appealed.id
    assert services.appeal_status("ken", PASSWORD)[1].id == appealed.id


def test_the_appeal_form_shows_the_ban_s_reason_once_the_member_proved_who_they_are(
    browser, f
) -> None:
    w = care_world(f)
    mod.ban_member(w["root"], w["ken"].id, "Spam links in every SIG")
    guest = browser(None)
    form = guest.text("/care/appeal")
    assert "Spam links in every SIG" not in form
    assert "You have one appeal open at a time; what you write goes into it." in form
    wrong = guest.form("/care/appeal", {"login": "ken", "password": "nope"})
    assert "Spam links in every SIG" not in wrong.get_data(as_text=True)
    read = _html(guest.form("/care/appeal", {"login": "ken", "password": PASSWORD}))
    assert "Your account was banned on" in read and "Spam links in every SIG" in read
    assert "until a sysop lifts the ban" in read
    read = _html(
        browser(None).form(
            "/care/appeal",
            {"login": "ken", "password": PASSWORD},
            headers={"Accept-Language": "de"},
        )
    )
    assert "Dein Konto wurde am" in read and "Spam links in every SIG" in read


def test_a_member_who_is_not_banned_is_sent_to_the_site_s_sysops_form(browser, f) -> None:
    care_world(f)
    response = browser(None).form(
        "/care/appeal", {"login": "ken", "password": PASSWORD, "body": "Hello?"}
    )
    assert response.status_code == 400
    page = unescape(response.get_data(as_text=True))
    assert "This account is not banned: log in and write to the site's sysops." in page
    assert 'href="/care/write"' in page
    assert "write from the SIG" not in page


def test_the_appeal_form_records_an_appeal(browser, f) -> None:
    w = care_world(f)
    mod.ban_member(w["root"], w["ken"].id, "spam")
    response = browser(None).form(
        "/care/appeal", {"login": "ken", "password": PASSWORD, "subject": "Ban", "body": "Why?"}
    )
    assert response.status_code == 200
    assert db.session.scalar(select(Concern.is_appeal)) is True


# --- the inbox page -----------------------------------------------------------------------------
def test_the_inbox_badges_appeals_and_filters_them_without_javascript(browser, world) -> None:
    root = browser(world["root"])
    page = _html(root.get("/mod/concerns"))
    assert 'class="tag tag-appeal">Appeal<' in _row(page, "My ban")
    assert "tag-appeal" not in _row(page, "Rename me")
    assert 'href="/mod/concerns?state=open&amp;appeal=1"' in page and "Ban appeals only (1)" in page
    check_page(page, "/mod/concerns")
    only = _html(root.get("/mod/concerns?state=open&appeal=1"))
    assert "My ban" in only and "Rename me" not in only
    # The state links keep the filter, and count the appeals alone.
    assert 'href="/mod/concerns?state=resolved&amp;appeal=1"' in only
    assert "(1)" in only.split('aria-current="page"')[1].split("</a>")[0]
    check_page(only, "/mod/concerns?appeal=1")
    empty = _html(root.get("/mod/concerns?state=resolved&appeal=1"))
    assert "No ban appeals here." in empty and "My ban" not in empty
    assert root.get("/mod/concerns?appeal=yes").status_code == 404
    # The /mod section marks an overdue appeal too.
    services.check_deadlines(datetime.now(UTC) + timedelta(days=3))
    assert "tag-appeal" in _html(root.get("/mod"))


@pytest.mark.parametrize(
    ("language", "badge", "only"),
    [
        ("en", "Appeal", "Ban appeals only"),
        ("de", "Einspruch", "Nur Einsprüche gegen Sperren"),
        ("es", "Apelación", "Solo apelaciones de bloqueo"),
    ],
)
def test_the_badge_and_filter_in_each_language(browser, world, language, badge, only) -> None:
    accounts.set_language(world["root"], language)
    page = _html(browser(world["root"]).get("/mod/concerns"))
    assert f'class="tag tag-appeal">{badge}<' in page and only in page


def test_the_concern_page_says_it_is_an_appeal_and_links_the_members_tools(browser, world) -> None:
    root = browser(world["root"])
    page = _html(root.get(f"/care/{world['appeal'].id}"))
    assert "This is a ban appeal" in page and 'class="tag tag-appeal"' in page
    assert 'href="/mod/u/ken"' in page
    ordinary = _html(root.get(f"/care/{world['ordinary'].id}"))
    assert "ban appeal" not in ordinary and "tag-appeal" not in ordinary


# --- the API ------------------------------------------------------------------------------------
def test_the_api_says_which_concerns_are_appeals_and_filters_them(client, world) -> None:
    root = token_for(world["root"])
    box = send(client, "GET", f"{API}/concerns/inbox", root).get_json()
    marked = {item["subject"]: item["appeal"] for item in box["items"]}
    assert marked == {"My ban": True, "Rename me": False}
    assert box["appeal"] is False and box["counts"]["appeals"] == 1
    only = send(client, "GET", f"{API}/concerns/inbox?appeal=true", root).get_json()
    assert [i["subject"] for i in only["items"]] == ["My ban"]
    assert only["appeal"] is True and only["counts"]["open"] == 1
    none = send(client, "GET", f"{API}/concerns/inbox?state=resolved&appeal=true", root)
    assert none.get_json()["items"] == []
    assert send(client, "GET", f"{API}/concerns/inbox?appeal=perhaps", root).status_code == 400
    shown = send(client, "GET", f"{API}/concerns/{world['appeal'].id}", root).get_json()
    assert shown["appeal"] is True
    ada = token_for(world["ada"])
    mine = send(client, "GET", f"{API}/concerns", ada).get_json()
    assert [c["appeal"] for c in mine["items"]] == [False]


# --- the data export ----------------------------------------------------------------------------
def test_the_data_export_says_whether_a_concern_appealed_a_ban(world) -> None:
    assert [c["appeal"] for c in queries.account_concerns(world["ken"])] == [True]
    assert [c["appeal"] for c in queries.account_concerns(world["ada"])] == [False]


# --- the migration ------------------------------------------------------------------------------
BEFORE = "0034_sig_invites"


def test_the_migration_adds_the_column_and_existing_concerns_are_not_appeals(
    base_config: dict[str, Any], empty_database: str
) -> None:
    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    now = datetime.now(UTC)
    with migrated.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            _insert_ken(conn, now)
            conn.execute(
                text(
                    "INSERT INTO conversations (id, subject, created_at, last_message_id, "
                    "last_message_at, message_count) VALUES (1, 'Old', :now, 0, :now, 0)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO concerns (id, conversation_id, member_id, source, state, "
                    "created_at, due_at, escalate_at, last_activity_at) VALUES (1, 1, 1, "
                    "'written', 'open', :now, :now, :now, :now)"
                ),
                {"now": now},
            )
        assert "is_appeal" not in {c["name"] for c in inspect(db.engine).get_columns("concerns")}
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, is_appeal FROM concerns")).all()
        assert [(i, bool(a)) for i, a in rows] == [(1, False)]
        with warnings.catch_warnings():
            # SQLite's batch mode reflects the tables concerns refers to (the SIG page's index).
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            downgrade(revision=BEFORE)
        columns = {c["name"] for c in inspect(db.engine).get_columns("concerns")}
        assert "is_appeal" not in columns
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM concerns")).scalar_one() == 1
        upgrade()
        db.session.remove()
        db.engine.dispose()


# --- the appeal's own subject, in each reader's language ----------------------------------------
def test_an_appeal_without_a_subject_is_titled_in_each_reader_s_language(
    browser, client, f
) -> None:
    """The form's subject may stay empty: the forum's "My account's ban" is said to each reader
    in their language, not frozen in the language the banned member's browser asked for."""
    w = care_world(f)
    mod.ban_member(w["root"], w["ken"].id, "spam")
    accounts.set_language(w["root"], "es")
    accounts.set_language(w["grace"], "de")
    guest = browser(None)
    response = guest.form(
        "/care/appeal",
        {"login": "ken", "password": PASSWORD, "subject": "", "body": "Warum?"},
        headers={"Accept-Language": "de"},
    )
    assert response.status_code == 200
    assert "Die Sperre meines Kontos" in response.get_data(as_text=True)
    concern = db.session.scalar(select(Concern))
    conversation = db.session.get(Conversation, concern.conversation_id)
    assert (conversation.subject, conversation.subject_kind) == ("", "appeal")
    root = browser(w["root"])
    for url in ("/mod/concerns", f"/care/{concern.id}"):
        page = unescape(_html(root.get(url)))
        assert "El bloqueo de mi cuenta" in page, url
        assert "Die Sperre" not in page and "My account's ban" not in page, url
    shown = send(client, "GET", f"{API}/concerns/{concern.id}", token_for(w["root"])).get_json()
    assert shown["subject"] == "El bloqueo de mi cuenta"
    # The same row, to a reader of English.
    accounts.set_language(w["root"], "en")
    assert "My account's ban" in unescape(_html(browser(w["root"]).get("/mod/concerns")))
    # A subject the member typed stays as typed.
    services.reply(w["root"], concern.id, "Wir schauen es uns an.", resolve=True)
    mod.ban_member(w["root"], w["ada"].id, "spam")
    typed = services.appeal("ada", PASSWORD, "Mi bloqueo", "¿Por qué?")
    typed_row = db.session.get(Conversation, typed.conversation_id)
    assert (typed_row.subject, typed_row.subject_kind) == ("Mi bloqueo", None)


SUBJECTS_BEFORE = "0038_posts_hidden_by_flags"


def test_the_migration_reads_the_old_page_and_appeal_subjects(
    base_config: dict[str, Any], empty_database: str
) -> None:
    """Rows from before kept a sentence in their writer's language: the upgrade keeps a page's
    words and marks the appeal's own subject; anything else is shown as stored; the downgrade
    writes the English back."""
    migrated = create_app({**base_config, "DATABASE_URL": empty_database})
    now = datetime.now(UTC)
    subjects = {
        1: ("Ruf: Modem tot", "page", None),
        2: ("Llamada: ¿hay alguien?", "page", None),
        3: ("Page: anyone?", "page", None),
        4: ("Die Sperre meines Kontos", "written", None),
        5: ("My account's ban", "written", None),
        6: ("Ruf: typed by hand", "written", None),  # not a page: as stored
        7: ("My account's ban", "written", 1),  # to a SIG's sysops: not the appeal's own
        8: ("Seite: something", "page", None),  # not a shape the forum wrote: as stored
    }
    with migrated.app_context():
        upgrade(revision=SUBJECTS_BEFORE)
        with db.engine.begin() as conn:
            _insert_ken(conn, now)
            _insert_retro(conn, now)
            for cid, (subject, source, sig_id) in subjects.items():
                conn.execute(
                    text(
                        "INSERT INTO conversations (id, subject, kind, created_at, "
                        "last_message_id, last_message_at, message_count) VALUES (:id, "
                        ":subject, 'concern', :now, 0, :now, 0)"
                    ),
                    {"id": cid, "subject": subject, "now": now},
                )
                conn.execute(
                    text(
                        "INSERT INTO concerns (id, conversation_id, sig_id, member_id, source, "
                        "is_appeal, state, created_at, due_at, escalate_at, last_activity_at) "
                        "VALUES (:id, :id, :sig, 1, :source, false, 'open', :now, :now, :now, "
                        ":now)"
                    ),
                    {"id": cid, "sig": sig_id, "source": source, "now": now},
                )
            # Private mail is never touched, whatever its subject.
            conn.execute(
                text(
                    "INSERT INTO conversations (id, subject, kind, created_at, last_message_id, "
                    "last_message_at, message_count) VALUES (9, 'Ruf: Mail', 'private', :now, "
                    "0, :now, 0)"
                ),
                {"now": now},
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = dict(
                (i, (s, k))
                for i, s, k in conn.execute(
                    text("SELECT id, subject, subject_kind FROM conversations")
                ).all()
            )
        assert rows == {
            1: ("Modem tot", "page"),
            2: ("¿hay alguien?", "page"),
            3: ("anyone?", "page"),
            4: ("", "appeal"),
            5: ("", "appeal"),
            6: ("Ruf: typed by hand", None),
            7: ("My account's ban", None),
            8: ("Seite: something", None),
            9: ("Ruf: Mail", None),
        }
        downgrade(revision=SUBJECTS_BEFORE)
        assert "subject_kind" not in {
            c["name"] for c in inspect(db.engine).get_columns("conversations")
        }
        with db.engine.connect() as conn:
            back = dict(conn.execute(text("SELECT id, subject FROM conversations")).all())
        assert back == {
            1: "Page: Modem tot",
            2: "Page: ¿hay alguien?",
            3: "Page: anyone?",
            4: "My account's ban",
            5: "My account's ban",
            6: "Ruf: typed by hand",
            7: "My account's ban",
            8: "Seite: something",
            9: "Ruf: Mail",
        }
        upgrade()
        db.session.remove()
        db.engine.dispose()


def _insert_ken(conn: Any, now: datetime) -> None:
    """A member row written by hand, for the migration tests (the models may be ahead)."""
    conn.execute(
        text(
            "INSERT INTO users (id, username, email, password_hash, role, created_at, "
            "session_token, post_count, topic_count, signature, bio_raw, bio_html, "
            "timezone, preferences) VALUES (1, 'ken', 'ken@example.com', 'x', 'member', "
            ":now, 'token', 0, 0, '', '', '', 'UTC', '{}')"
        ),
        {"now": now},
    )


def _insert_retro(conn: Any, now: datetime) -> None:
    """SIG 1, "retro", written by hand for the migration tests, as _insert_ken."""
    conn.execute(
        text(
            "INSERT INTO sigs (id, slug, name, description, visibility, language, position, "
            "created_at, topic_count, post_count, member_count) VALUES (1, 'retro', 'Retro', "
            "'', 'public', 'en', 0, :now, 0, 0, 0)"
        ),
        {"now": now},
    )


# --- the appeal form ----------------------------------------------------------------------------
def test_a_wrong_password_keeps_the_appeal_s_words_and_clears_the_password(browser, f) -> None:
    w = care_world(f)
    mod.ban_member(w["root"], w["ken"].id, "spam")
    typed = {"login": "ken", "password": "wrong", "subject": "Ban", "body": "Please hear me out."}
    response = browser(None).form("/care/appeal", typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Wrong username or password." in page
    assert "Please hear me out.</textarea>" in page
    assert 'value="Ban"' in page and 'value="wrong"' not in page
    assert db.session.scalar(select(Concern.id)) is None
