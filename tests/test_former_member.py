"""A deleted account reads as "Former member", in the reader's language, on every page, in mail,
feeds, notifications and the API; its profile address answers 410 Gone; `@former-<id>` neither
links nor notifies (forum/accounts/former.py holds the rule)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from forum import settings
from forum.accounts import former
from forum.accounts.models import User
from forum.admin import services as admin
from forum.db import transaction
from forum.errors import Invalid, NotFound
from forum.extensions import db
from forum.jobs import queue_of
from forum.messages import services as messages
from forum.messages.models import MemberIgnore
from forum.moderation import discipline
from forum.moderation import services as mod
from forum.notifications.models import Notification
from forum.search import indexer
from forum.search.backend import WhooshBackend
from forum.topics import services as topics
from forum.webhooks import services as webhooks
from forum.webhooks.models import WebhookDelivery

from .factories import PASSWORD
from .mailbox import text_of
from .test_api import send, token_for

LABEL = {"en": "Former member", "de": "Ehemaliges Mitglied", "es": "Antiguo miembro"}
LANGUAGES = list(LABEL)


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def speak(user: User, language: str) -> None:
    with transaction():
        db.session.get(User, user.id).language = None if language == "en" else language


@pytest.fixture
def world(app: Flask, f: Any, client: Any, tmp_path: Path) -> dict[str, Any]:
    """Ada starts a topic and replies in it, is mentioned and quoted by Bob, is warned in the
    moderation log, writes private mail with Bob and mentions him; then she deletes her account
    through "Delete my account"."""
    app.config["INDEX_DIR"] = str(tmp_path / "index")
    indexer.replace_backend(app, WhooshBackend(app.config["INDEX_DIR"]))
    indexer.rebuild()
    root = f.sysop("root")
    ada, bob = f.user("ada"), f.user("bob")
    retro = f.sig("retro", members=[ada, bob], name="Retro")
    topic = f.topic(ada, retro, "Keeping floppies", "How do you keep floppies dry?")
    ada_reply = f.reply(ada, topic, "Adding that 5.25 inch floppies are tricky, @bob.")
    quote = topics.quote_text(bob, ada_reply.id)
    f.reply(bob, topic, quote + "Thanks @ada, a dry box works.")
    alone = f.topic(ada, retro, "Ada's own corner", "Nobody answered this one.")
    mod.warn_member(root, ada.id, "Be kind.")
    talk = messages.start_conversation(ada, "bob", "Ada and Bob talk", "Ada's private words.")
    messages.reply_to_conversation(bob, talk.id, "Bob's private answer.")
    client.login("ada")
    response = client.form("/settings/delete", {"delete-password": PASSWORD})
    assert response.status_code == 302
    client.logout()
    ada = db.session.get(User, ada.id)
    assert former.is_former(ada.username)
    return {
        "root": root,
        "ada": ada,
        "bob": bob,
        "retro": retro,
        "topic": topic,
        "alone": alone,
        "ada_reply": ada_reply,
        "talk": talk,
    }


def shows_former(page: str, language: str) -> None:
    assert LABEL[language] in page, page[:2000]
    assert "former-" not in page


@pytest.mark.parametrize("language", LANGUAGES)
def test_public_pages_say_former_member_in_the_readers_language(
    make_client: Any, world: dict[str, Any], language: str
) -> None:
    guest = make_client()
    headers = {"Accept-Language": language}
    topic, alone = world["topic"], world["alone"]
    thread = html(guest.get(f"/t/{topic.id}/{topic.slug}", headers=headers))
    shows_former(thread, language)
    assert "Adding that 5.25 inch floppies are tricky" in thread
    # Muted, no profile link, the neutral avatar, no name for a quote to mention.
    assert f'<span class="muted member-former">{LABEL[language]}</span>' in thread
    assert f'data-author-label="{LABEL[language]}"' in thread
    listing = html(guest.get("/s/retro/", headers=headers))
    shows_former(listing, language)
    assert listing.count(LABEL[language]) >= 3  # started by (twice), last poster of her corner
    assert alone.title.replace("'", "&#39;") in listing
    results = html(guest.get("/search", query_string={"q": "floppies"}, headers=headers))
    assert "search-result-title" in results
    shows_former(results, language)
    feed = html(guest.get(f"/t/{topic.id}/feed.atom", headers=headers))
    shows_former(feed, language)
    assert f"<name>{LABEL[language]}</name>" in feed


@pytest.mark.parametrize("language", LANGUAGES)
def test_members_pages_say_former_member_in_their_language(
    make_client: Any, world: dict[str, Any], language: str
) -> None:
    root, bob = world["root"], world["bob"]
    speak(root, language)
    speak(bob, language)
    sysop = make_client()
    sysop.login("root")
    log = html(sysop.get("/mod/log"))
    shows_former(log, language)
    members = html(sysop.get("/admin/members"))
    shows_former(members, language)
    reader = make_client()
    reader.login("bob")
    mailbox = html(reader.get("/mail"))
    shows_former(mailbox, language)
    conversation = html(reader.get(f"/mail/c/{world['talk'].id}"))
    shows_former(conversation, language)
    assert "Ada&#39;s private words." in conversation or "Ada's private words." in conversation
    notifications = html(reader.get("/notifications"))
    shows_former(notifications, language)  # "Former member mentioned you in …"


def test_the_profile_answers_gone(make_client: Any, world: dict[str, Any]) -> None:
    name = world["ada"].username
    guest = make_client()
    for language, label in LABEL.items():
        response = guest.get(f"/u/{name}", headers={"Accept-Language": language})
        assert response.status_code == 410
        assert label in html(response)
    assert guest.get(f"/u/{name.upper()}").status_code == 410
    assert guest.get(f"/u/{name}/card").status_code == 410
    assert guest.get(f"/u/{name}/feed.atom").status_code == 404
    assert guest.get(f"/api/v1/members/{name}").status_code == 404
    assert guest.get("/u/ada").status_code == 410  # her old name, retired (test_retired_usernames)


def test_mentioning_the_placeholder_neither_links_nor_notifies(
    world: dict[str, Any], f: Any
) -> None:
    ada, bob = world["ada"], world["bob"]
    post = f.reply(bob, world["topic"], f"Where did @{ada.username} go?")
    assert 'class="mention"' not in post.body_html
    assert f"@{ada.username}" in post.body_html  # the words as written, no link
    to_her = select(func.count()).where(Notification.user_id == ada.id)
    assert db.session.scalar(to_her) == 0
    assert ada.username not in topics.mention_candidates(bob, world["retro"], "former")


def test_quoting_a_former_members_post_mentions_no_one(
    make_client: Any, world: dict[str, Any]
) -> None:
    bob = make_client()
    bob.login("bob")
    answer = bob.get(
        f"/p/{world['ada_reply'].id}/quote", headers={"Accept": "application/json"}
    ).get_json()
    assert answer["markdown"].startswith("> **Former member** [wrote]")
    assert "former-" not in answer["markdown"] and "@" not in answer["markdown"].split("\n")[0]


def test_private_mail_cannot_be_sent_to_the_placeholder(world: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        messages.start_conversation(world["bob"], world["ada"].username, "Hello?", "Still there?")


def test_the_api_shows_a_former_member_as_null(make_client: Any, world: dict[str, Any]) -> None:
    topic = world["topic"]
    guest = make_client()
    detail = guest.get(f"/api/v1/topics/{topic.id}").get_json()
    assert detail["author"] is None
    posts = guest.get(f"/api/v1/topics/{topic.id}/posts").get_json()
    authors = [p["author"] for p in posts["items"]]
    assert authors[:2] == [None, None] and authors[2]["username"] == "bob"
    listing = guest.get("/api/v1/sigs/retro/topics").get_json()
    assert "former-" not in str(listing)
    reader = make_client()
    reader.login("bob")
    mailbox = reader.get("/api/v1/conversations").get_json()
    assert "former-" not in str(mailbox)
    talk = reader.get(f"/api/v1/conversations/{world['talk'].id}").get_json()
    assert [p["username"] for p in talk["participants"]] == ["bob"]
    assert talk["messages"][0]["author"] is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_mail_sent_afterwards_names_a_former_member(
    app: Flask, f: Any, client: Any, inbox: Any, language: str
) -> None:
    """Ada mentions Bob; the notification mail waits NOTIFY_MAIL_DELAY; she deletes her
    account meanwhile: the mail says "Former member", in Bob's language."""
    ada, bob = f.user("ada"), f.user("bob")
    speak(bob, language)
    sig = f.sig("retro", members=[ada, bob])
    f.reply(ada, f.topic(bob, sig, "Amiga"), "@bob look at this")
    client.login("ada")
    assert client.form("/settings/delete", {"delete-password": PASSWORD}).status_code == 302
    inbox.messages.clear()  # her confirmation
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    assert queue_of(app).run_due(later) == 1
    (message,) = inbox.messages
    assert LABEL[language] in message["Subject"]
    text = text_of(message)
    assert LABEL[language] in text and "former-" not in text + message["Subject"]


def test_the_rule_is_a_name_check() -> None:
    assert former.is_former("former-12") and former.is_former("Former-12")
    for name in (None, "", "former-", "former-x", "formerly", "ada", "x-former-1"):
        assert not former.is_former(name)
    assert former.display("ada") == "ada" and former.display(None) is None
    assert former.public("former-3") is None and former.public("ada") == "ada"


def test_one_may_stop_ignoring_a_former_member_but_not_start(
    make_client: Any, f: Any, client: Any
) -> None:
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    messages.ignore_member(bob, "ada")
    client.login("ada")
    assert client.form("/settings/delete", {"delete-password": PASSWORD}).status_code == 302
    name = db.session.get(User, ada.id).username
    reader = make_client()
    reader.login("bob")
    settings = html(reader.get("/settings"))
    assert "Members you ignore" in settings and LABEL["en"] in settings
    assert f'href="/u/{name}"' not in settings
    with pytest.raises(NotFound):
        messages.ignore_member(cyd, name)
    messages.unignore_member(bob, name)


# --- what the review found still leaking the placeholder --------------------------------------
def delete_account(make_client: Any, user: User) -> str:
    """The member deletes their account through "Delete my account"; their placeholder name."""
    own = make_client()
    own.login(user.username)
    assert own.form("/settings/delete", {"delete-password": PASSWORD}).status_code == 302
    name = db.session.get(User, user.id).username
    assert former.is_former(name)
    return name


def payloads() -> dict[str, dict[str, Any]]:
    db.session.commit()
    db.session.expire_all()
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))
    return {row.event: json.loads(row.payload) for row in rows}


@pytest.mark.config(BASE_URL="http://forum.example.org", WEBHOOK_ALLOW_PRIVATE_TARGETS=True)
def test_webhook_payloads_give_a_former_member_as_null(
    f: Any, make_client: Any, job_queue: Any
) -> None:
    """A post held for approval is approved after its writer deleted the account; an old post
    of a deleted account is flagged: `author` is null, as for an account that is gone."""
    root = f.sysop("root")
    sysop, ada, bob, newbie = f.user("sysop"), f.user("ada"), f.user("bob"), f.user("newbie")
    sig = f.sig("retro", sysops=[sysop], members=[ada, bob, newbie])
    old = f.reply(ada, f.topic(bob, sig, "Floppies"), "Keep them dry.")
    admin.update_settings(root, {"approval_threshold": "1"})
    settings.forget()
    waiting = f.topic(newbie, sig, "Waiting topic", "Held for approval.")
    events = ["topic.created", "post.created", "post.flagged"]
    webhooks.create_webhook(sysop, sig.id, "http://127.0.0.1:9/hook", events)
    delete_account(make_client, newbie)
    delete_account(make_client, ada)
    mod.approve_post(sysop, waiting.first_post_id)
    mod.flag_post(bob, old.id, "spam")
    sent = payloads()
    assert set(sent) == set(events)
    for event in events:
        assert sent[event]["post"]["author"] is None, sent[event]
        assert "former-" not in json.dumps(sent[event])


def test_the_api_ignore_list_leaves_a_former_member_out_and_stops_the_same_way(
    client: Any, f: Any, make_client: Any
) -> None:
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    messages.ignore_member(bob, "ada")
    messages.ignore_member(bob, "cyd")
    name = delete_account(make_client, ada)
    secret = token_for(bob)
    listed = send(client, "GET", "/api/v1/me/ignored", secret)
    assert listed.status_code == 200
    assert listed.get_json() == {"items": [{"id": cyd.id, "username": "cyd"}]}
    # Stopping answers the same the first time and every time after: nobody named.
    for _ in range(2):
        stopped = send(client, "DELETE", f"/api/v1/me/ignored/{name}", secret)
        assert stopped.status_code == 200, stopped.get_json()
        assert stopped.get_json() == {"member": None, "ignored": False}
    rows = select(func.count()).where(MemberIgnore.user_id == bob.id)
    assert db.session.scalar(rows) == 1  # cyd's
    assert send(client, "PUT", f"/api/v1/me/ignored/{name}", secret).status_code == 404
    assert send(client, "DELETE", "/api/v1/me/ignored/former-999999", secret).status_code == 404


@pytest.mark.parametrize("language", LANGUAGES)
def test_stopping_to_ignore_a_former_member_says_former_member(
    make_client: Any, f: Any, language: str
) -> None:
    ada, bob = f.user("ada"), f.user("bob")
    speak(bob, language)
    messages.ignore_member(bob, "ada")
    name = delete_account(make_client, ada)
    reader = make_client()
    reader.login("bob")
    form = {"value": "unignore", "next": "/settings"}
    for _ in range(2):  # the second time: "You do not ignore …"
        page = html(reader.form(f"/u/{name}/ignore", form, follow_redirects=True))
        assert LABEL[language] in page and name not in page


def without_addresses(page: str) -> str:
    """The page's words: the addresses (and the moderation log's filter field, with what the
    address asks) still name the account, so sysops may still clean up after it."""
    page = re.sub(r'(?:href|action|content)="(?:https?:/)?/[^"]*"', "", page)
    return re.sub(r'value="[^"]*"', "", page)


@pytest.mark.parametrize("language", LANGUAGES)
def test_sysop_pages_name_a_former_member_by_the_label(
    make_client: Any, f: Any, language: str
) -> None:
    root, ada, bob = f.sysop("root"), f.user("ada"), f.user("bob")
    speak(root, language)
    sig = f.sig("retro", members=[ada, bob])
    post = f.reply(ada, f.topic(bob, sig, "Floppies"), "Buy cheap floppies")
    discipline.add_member_note(root, ada.id, "Sold floppies before.")
    name = delete_account(make_client, ada)
    mod.flag_post(bob, post.id, "spam")
    sysop = make_client()
    sysop.login("root")
    label = LABEL[language]
    tools = html(sysop.get(f"/mod/u/{name}"))
    spam = html(sysop.get(f"/mod/u/{name}/spam"))
    queue = html(sysop.get("/mod"))
    for page in (tools, spam, queue):
        assert label in page
        assert name not in without_addresses(page), without_addresses(page)
    if language == "en":
        assert 'data-confirm="Suspend Former member?"' in tools
        assert "<title>Delete spammer Former member" in spam
    else:  # the notes' heading is in her language too
        assert "Notes on" not in queue
    assert f"/mod/u/{name}/spam" in queue  # the cleanup is still offered
    cleaned = sysop.form(f"/mod/u/{name}/spam", {"reason": "spam"}, follow_redirects=True)
    assert label in html(cleaned) and name not in without_addresses(html(cleaned))
