"""Private mail in the JSON API (/api/v1/conversations): the mailbox, a conversation as its page
shows it, writing, adding, leaving, archiving and reporting, through the mail pages' services,
read models and policy; who may do what, the scopes, every refusal of the pages as a JSON
error that writes nothing, the shared mail budget, and the queries a read takes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.accounts.models import TL_NEW
from forum.admin import services as admin_services
from forum.care import services as care
from forum.extensions import db
from forum.messages import services as mail
from forum.messages.models import (
    Conversation,
    ConversationMember,
    MessageReport,
)
from forum.moderation import services as mod
from forum.notifications.models import Notification
from forum.timeutil import utcnow

from . import dbstate
from .test_api import bearer, error_of, refused_and_nothing_written, send, token_for
from .test_permissions import MISSING_ID, TOPIC_TITLE, build_mail

API = "/api/v1"


@pytest.fixture
def world(f) -> dict[str, Any]:
    names = ("ada", "bob", "cyd", "dan")
    users = {name: f.user(name) for name in names}
    return {**users, "root": f.sysop("root"), "tokens": {}}


def tok(w: dict[str, Any], name: str) -> str:
    """The member's token with every scope they may hold (one per member and test)."""
    if name not in w["tokens"]:
        w["tokens"][name] = token_for(w[name])
    return str(w["tokens"][name])


def _start(w: dict[str, Any], sender: str = "ada", to: str = "bob", **kwargs: Any) -> Conversation:
    return mail.start_conversation(
        w[sender], to, kwargs.get("subject", "Lunch?"), kwargs.get("body", "Noon at the pier?")
    )


def _forget() -> None:
    db.session.rollback()
    db.session.expire_all()


def _row(conversation_id: int, user: Any) -> ConversationMember:
    return db.session.get(ConversationMember, (conversation_id, user.id))


# --- happy paths ----------------------------------------------------------------------------
def test_a_member_starts_a_conversation_and_the_others_list_and_read_it(client, world) -> None:
    made = send(
        client,
        "POST",
        f"{API}/conversations",
        tok(world, "ada"),
        # (each member once, however often and however spelled)
        {
            "to": ["bob", "@cyd", "BOB", " @bob"],
            "subject": "Lunch?",
            "body": "Noon at the **pier**, @bob?",
        },
    )
    assert made.status_code == 201, made.get_json()
    shown = made.get_json()
    conversation = db.session.scalar(select(Conversation))
    assert shown["id"] == conversation.id and shown["subject"] == "Lunch?"
    assert [p["username"] for p in shown["participants"]] == ["ada", "bob", "cyd"]
    [message] = shown["messages"]
    assert message["author"] == "ada" and message["kind"] == "text"
    assert "<strong>pier</strong>" in message["body_html"] and message["body_raw"].startswith(
        "Noon"
    )
    assert message["unread"] is False and message["can_report"] is False
    assert shown["can_write"] is True and shown["url"].endswith(f"/mail/c/{conversation.id}")
    members = db.session.scalars(
        select(ConversationMember.user_id).order_by(ConversationMember.user_id)
    ).all()
    assert members == sorted(world[n].id for n in ("ada", "bob", "cyd"))
    # The recipients hear of it as from the page.
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "private_message")
    ).all()
    assert sorted(told) == sorted([world["bob"].id, world["cyd"].id])

    box = send(client, "GET", f"{API}/conversations", tok(world, "bob"))
    assert box.status_code == 200, box.get_json()
    listed = box.get_json()
    assert listed["unread"] == 1 and listed["page"] == 1 and listed["next_page"] is None
    [row] = listed["items"]
    assert (row["id"], row["kind"], row["unread"], row["archived"]) == (
        conversation.id,
        "private",
        True,
        False,
    )
    assert row["participants"] == ["ada", "cyd"] and row["last_author"] == "ada"
    assert row["excerpt"].startswith("Noon at the pier")
    # Reading it shows the message as new and marks it read, as the page does.
    read = send(client, "GET", f"{API}/conversations/{conversation.id}", tok(world, "bob"))
    assert read.status_code == 200
    assert read.get_json()["messages"][0]["unread"] is True
    assert read.get_json()["first_unread_id"] == message["id"]
    assert read.get_json()["messages"][0]["can_report"] is True
    assert _row(conversation.id, world["bob"]).last_read_message_id == message["id"]
    again = send(client, "GET", f"{API}/conversations/{conversation.id}", tok(world, "bob"))
    assert again.get_json()["messages"][0]["unread"] is False
    assert send(client, "GET", f"{API}/conversations", tok(world, "bob")).get_json()["unread"] == 0
    # Outsiders' mailboxes do not hold it.
    assert send(client, "GET", f"{API}/conversations", tok(world, "dan")).get_json()["items"] == []


def test_replying_adding_leaving_and_archiving(client, world, app) -> None:
    conversation = _start(world, to="bob, cyd")
    url = f"{API}/conversations/{conversation.id}"
    replied = send(client, "POST", f"{url}/messages", tok(world, "bob"), {"body": "Yes, *noon*."})
    assert replied.status_code == 201, replied.get_json()
    assert [m["author"] for m in replied.get_json()["messages"]] == ["ada", "bob"]
    assert "<em>noon</em>" in replied.get_json()["messages"][-1]["body_html"]
    assert db.session.get(Conversation, conversation.id).message_count == 2

    added = send(client, "POST", f"{url}/participants", tok(world, "ada"), {"username": "dan"})
    assert added.status_code == 200, added.get_json()
    assert [p["username"] for p in added.get_json()["participants"]] == ["ada", "bob", "cyd", "dan"]
    assert added.get_json()["messages"][-1] | {"created_at": None, "id": None} == {
        "id": None,
        "kind": "added",
        "author": "ada",
        "target": "dan",
        "unread": False,
        "folded": False,
        "hidden": False,
        "body_raw": None,
        "body_html": None,
        "created_at": None,
        "can_report": False,
    }
    # dan reads from his addition on (the site's default), as on the page.
    assert app.config["MAIL_NEW_MEMBER_SEES_HISTORY"] is False
    seen_by_dan = send(client, "GET", url, tok(world, "dan")).get_json()
    assert seen_by_dan["history_hidden"] is True
    assert [m["kind"] for m in seen_by_dan["messages"]] == ["added"]

    left = send(client, "POST", f"{url}/leave", tok(world, "cyd"))
    assert left.status_code == 204 and left.get_data() == b""
    assert _row(conversation.id, world["cyd"]).left_at is not None
    assert send(client, "GET", url, tok(world, "cyd")).status_code == 404
    assert send(client, "GET", f"{API}/conversations", tok(world, "cyd")).get_json()["items"] == []
    lines = send(client, "GET", url, tok(world, "ada")).get_json()["messages"]
    assert (lines[-1]["kind"], lines[-1]["author"]) == ("left", "cyd")

    archived = send(client, "POST", f"{url}/archive", tok(world, "bob"), {"archived": True})
    assert archived.status_code == 200 and archived.get_json()["archived"] is True
    assert _row(conversation.id, world["bob"]).archived_at is not None
    inbox = send(client, "GET", f"{API}/conversations", tok(world, "bob")).get_json()
    assert inbox["items"] == []
    kept = send(client, "GET", f"{API}/conversations?folder=archive", tok(world, "bob")).get_json()
    assert [c["id"] for c in kept["items"]] == [conversation.id] and kept["folder"] == "archive"
    assert kept["items"][0]["archived"] is True
    # A new message brings it back, as on the page.
    send(client, "POST", f"{url}/messages", tok(world, "ada"), {"body": "Still on?"})
    back = send(client, "GET", f"{API}/conversations", tok(world, "bob")).get_json()["items"]
    assert [c["id"] for c in back] == [conversation.id] and back[0]["unread"] is True
    restored = send(client, "POST", f"{url}/archive", tok(world, "ada"), {"archived": False})
    assert restored.status_code == 200 and restored.get_json()["archived"] is False


def test_the_mailbox_pages_like_the_page_and_searches_my_mail(client, world) -> None:
    first = _start(world, "bob", "ada", subject="Old and unread")
    read = _start(world, "cyd", "ada", subject="Newer but read")
    mine = _start(world, "ada", "cyd", subject="Newest, my own")
    ada = tok(world, "ada")
    send(client, "GET", f"{API}/conversations/{read.id}", ada)
    box = send(client, "GET", f"{API}/conversations", ada).get_json()
    assert [c["id"] for c in box["items"]] == [first.id, mine.id, read.id]
    assert [c["unread"] for c in box["items"]] == [True, False, False]
    for i in range(30):
        _start(world, "bob", "ada", subject=f"Bulk {i}", body=f"bulk words number{i}x")
    one = send(client, "GET", f"{API}/conversations", ada).get_json()
    assert len(one["items"]) == 30 and one["next_page"] == 2 and one["unread"] == 31
    two = send(client, "GET", f"{API}/conversations?page=2", ada).get_json()
    assert [c["subject"] for c in two["items"]] == [
        "Old and unread",
        "Newest, my own",
        "Newer but read",
    ]
    assert two["next_page"] is None
    beyond = send(client, "GET", f"{API}/conversations?page=9", ada)
    assert beyond.status_code == 404 and error_of(beyond)["message"] == "That page does not exist."
    found = send(client, "GET", f"{API}/conversations?q=words+number7x", ada).get_json()
    assert [c["subject"] for c in found["items"]] == ["Bulk 7"] and found["q"] == "words number7x"
    assert found["next_page"] is None
    assert (
        send(client, "GET", f"{API}/conversations?q=pier", tok(world, "dan")).get_json()["items"]
        == []
    )
    bad = send(client, "GET", f"{API}/conversations?folder=trash", ada)
    assert bad.status_code == 400 and error_of(bad)["field"] == "folder"


def test_a_read_carries_an_etag_and_answers_304(client, world) -> None:
    conversation = _start(world)
    bob = tok(world, "bob")
    urls = (f"{API}/conversations", f"{API}/conversations/{conversation.id}")
    etags = {}
    for url in urls:
        send(client, "GET", url, bob)  # (the first read marks it read)
        etags[url] = send(client, "GET", url, bob).headers["ETag"]
        again = client.get(url, headers={**bearer(bob), "If-None-Match": etags[url]})
        assert again.status_code == 304, url
    mail.reply_to_conversation(world["ada"], conversation.id, "And a second thing.")
    for url in urls:
        changed = client.get(url, headers={**bearer(bob), "If-None-Match": etags[url]})
        assert changed.status_code == 200 and changed.headers["ETag"] != etags[url], url


def test_hidden_reported_and_folded_messages_as_the_page_shows_them(client, world, browser) -> None:
    conversation = _start(world, body="Rude words here.")
    bob = tok(world, "bob")
    message_id = conversation.last_message_id
    reported = send(client, "POST", f"{API}/messages/{message_id}/report", bob, {"reason": "abuse"})
    assert reported.status_code == 201, reported.get_json()
    assert reported.get_json()["message_id"] == message_id
    report = db.session.scalar(select(MessageReport))
    assert (report.reporter_id, report.reason, report.message_id) == (
        world["bob"].id,
        "abuse",
        message_id,
    )
    assert report.excerpt[-1]["reported"] is True
    twice = refused_and_nothing_written(
        client, "POST", f"{API}/messages/{message_id}/report", bob, {"reason": "spam"}
    )
    assert twice.status_code == 409
    own = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/messages/{message_id}/report",
        tok(world, "ada"),
        {"reason": "spam"},
    )
    assert own.status_code == 403
    assert error_of(own)["message"] == "You cannot report your own message."
    # The sysop hides it: its participants read that it was, not what it said.
    mod.resolve_message_report(world["root"], report.id, "hidden")
    _forget()
    [shown] = send(client, "GET", f"{API}/conversations/{conversation.id}", bob).get_json()[
        "messages"
    ]
    assert shown["hidden"] is True and shown["body_raw"] is None and shown["body_html"] is None
    assert shown["can_report"] is False and shown["author"] == "ada"
    assert "Rude words" not in send(
        client, "GET", f"{API}/conversations/{conversation.id}", bob
    ).get_data(as_text=True)
    assert "Rude words" not in browser(world["bob"]).text(f"/mail/c/{conversation.id}")
    # A message of a member the reader ignores is folded, its words still there.
    later = mail.reply_to_conversation(world["ada"], conversation.id, "Sorry about that.")
    mail.ignore_member(world["bob"], "ada")
    messages = send(client, "GET", f"{API}/conversations/{conversation.id}", bob).get_json()[
        "messages"
    ]
    folded = next(m for m in messages if m["id"] == later.id)
    assert folded["folded"] is True and folded["body_raw"] == "Sorry about that."
    ada_sees = send(client, "GET", f"{API}/conversations/{conversation.id}", tok(world, "ada"))
    assert all(m["folded"] is False for m in ada_sees.get_json()["messages"])


def test_a_concern_is_in_the_mailbox_without_its_sysops_name_and_not_read_here(
    client, world, browser
) -> None:
    concern = care.write_to_sysops(world["ada"], None, "My account", "Rename me please.")
    care.reply(world["root"], concern.id, "Done it for you.")
    ada = tok(world, "ada")
    [row] = send(client, "GET", f"{API}/conversations", ada).get_json()["items"]
    assert row["kind"] == "concern" and row["id"] == concern.conversation_id
    assert row["participants"] == [] and row["last_author"] is None
    assert row["excerpt"].startswith("Done it")
    assert "root" not in send(client, "GET", f"{API}/conversations", ada).get_data(as_text=True)
    # The mailbox page names no sysop either.
    assert "root:" not in browser(world["ada"]).text("/mail")
    # It is read through /concerns; here it is the same 404 as a missing conversation.
    here = send(client, "GET", f"{API}/conversations/{concern.conversation_id}", ada)
    missing = send(client, "GET", f"{API}/conversations/{MISSING_ID}", ada)
    assert here.status_code == 404 and here.get_json() == missing.get_json()
    refused = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/conversations/{concern.conversation_id}/messages",
        ada,
        {"body": "x"},
    )
    assert refused.status_code == 404


# --- who may: participants, guests, scopes --------------------------------------------------
def test_a_guest_is_asked_to_log_in_and_writes_nothing(client, world) -> None:
    conversation = _start(world)
    for url in (f"{API}/conversations", f"{API}/conversations/{conversation.id}"):
        answer = send(client, "GET", url)
        assert answer.status_code == 401 and "Noon" not in answer.get_data(as_text=True)
        assert error_of(answer)["message"] == "Log in, or send a personal access token, first."
    for url, body in (
        (f"{API}/conversations", {"to": ["bob"], "subject": "Hi", "body": "x"}),
        (f"{API}/conversations/{conversation.id}/messages", {"body": "x"}),
    ):
        # A write without a token or the page's CSRF token is refused before anything.
        assert refused_and_nothing_written(client, "POST", url, None, body).status_code == 400


def test_a_token_without_the_scope_is_refused_and_writes_nothing(client, world) -> None:
    conversation = _start(world)
    url = f"{API}/conversations/{conversation.id}"
    read_only = token_for(world["bob"], ("read",))
    for target, body in (
        (f"{url}/messages", {"body": "more"}),
        (f"{url}/participants", {"username": "cyd"}),
        (f"{url}/leave", None),
        (f"{url}/archive", {"archived": True}),
        (f"{API}/conversations", {"to": ["ada"], "subject": "Hi", "body": "x"}),
        (f"{API}/messages/{conversation.last_message_id}/report", {"reason": "spam"}),
    ):
        refused = refused_and_nothing_written(client, "POST", target, read_only, body)
        assert refused.status_code == 403 and "write" in error_of(refused)["message"], target
    write_only = token_for(world["bob"], ("write",))
    for target in (url, f"{API}/conversations"):
        refused = send(client, "GET", target, write_only)
        assert refused.status_code == 403 and "read" in error_of(refused)["message"]
    assert send(client, "GET", url, read_only).status_code == 200


def test_who_may_not_manage_a_conversation_is_told_so_and_adds_nobody(client, world) -> None:
    """The API asks the pages' rule (permissions.manage_conversation_problem): `can_add` says
    it, and an addition by whom someone in the conversation takes no mail from is a 403."""
    conversation = _start(world, to="bob, cyd")
    mail.ignore_member(world["cyd"], "ada")
    url = f"{API}/conversations/{conversation.id}"
    assert send(client, "GET", url, tok(world, "ada")).get_json()["can_add"] is False
    assert send(client, "GET", url, tok(world, "bob")).get_json()["can_add"] is True
    refused = refused_and_nothing_written(
        client, "POST", f"{url}/participants", tok(world, "ada"), {"username": "dan"}
    )
    assert refused.status_code == 403
    assert error_of(refused)["message"] == "cyd does not accept private mail."
    added = send(client, "POST", f"{url}/participants", tok(world, "bob"), {"username": "dan"})
    assert added.status_code == 200 and added.get_json()["can_add"] is True


MAIL_PROBES = [
    ("GET", "/conversations/{c}", None),
    ("GET", "/conversations/{c}?page=1", None),
    ("POST", "/conversations/{c}/messages", {"body": "let me in"}),
    ("POST", "/conversations/{c}/participants", {"username": "outsider"}),
    ("POST", "/conversations/{c}/leave", None),
    ("POST", "/conversations/{c}/archive", {"archived": True}),
    ("POST", "/messages/{m}/report", {"reason": "spam"}),
]


@pytest.mark.parametrize("role", ["outsider", "sig_sysop", "root", "former"])
def test_a_conversation_one_is_not_in_answers_as_a_missing_one(client, f, role: str) -> None:
    world = build_mail(f)
    secret = token_for(world.users[role])
    send(client, "GET", f"{API}/me", secret)
    for method, pattern, body in MAIL_PROBES:
        answers = []
        for c, m in ((world.conversation_id, world.message_id), (MISSING_ID, MISSING_ID)):
            url = API + pattern.format(c=c, m=m)
            before = dbstate.snapshot()
            response = send(client, method, url, secret, body)
            assert not dbstate.diff(before, dbstate.snapshot()), (role, url)
            answers.append((response.status_code, response.get_json()))
        assert answers[0] == answers[1], (role, method, pattern, answers)
        assert answers[0][0] == 404
        assert TOPIC_TITLE not in str(answers[0]) and "secret plans" not in str(answers[0])
    # Nor is it in their mailbox.
    box = send(client, "GET", f"{API}/conversations", secret).get_json()
    assert world.conversation_id not in [c["id"] for c in box["items"]]


# --- every refusal of the pages, as a JSON error that writes nothing ------------------------
def test_ignoring_and_mail_off_and_a_banned_member_refuse_the_sender(client, world) -> None:
    mail.ignore_member(world["bob"], "ada")
    mail.set_mail_preferences(world["cyd"], "sysops", notify=True)
    ada = tok(world, "ada")
    for name in ("bob", "cyd"):
        refused = refused_and_nothing_written(
            client,
            "POST",
            f"{API}/conversations",
            ada,
            {"to": ["dan", name], "subject": "Hi", "body": "Kept text"},
        )
        assert refused.status_code == 400
        error = error_of(refused)
        # The same words whichever rule refused, as on the page: nobody learns they are ignored.
        assert (error["field"], error["message"]) == ("to", f"{name} does not accept private mail.")
    # In a conversation where someone ignores the writer, the writer writes no more.
    conversation = mail.start_conversation(world["root"], "ada, bob", "From the sysop", "Hello.")
    url = f"{API}/conversations/{conversation.id}"
    refused = refused_and_nothing_written(client, "POST", f"{url}/messages", ada, {"body": "Hi"})
    assert refused.status_code == 400
    assert error_of(refused)["message"] == "bob does not accept private mail."
    seen = send(client, "GET", url, ada).get_json()
    assert (
        seen["can_write"] is False and seen["write_problem"] == "bob does not accept private mail."
    )
    # Nor may anyone add a member who ignores someone in it.
    with_dan = _start(world, to="dan")
    added = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/conversations/{with_dan.id}/participants",
        tok(world, "dan"),
        {"username": "bob"},
    )
    assert added.status_code == 400
    assert (error_of(added)["field"], error_of(added)["message"]) == (
        "username",
        "bob does not accept private mail.",
    )
    # The sysop gets through.
    sysop = send(
        client,
        "POST",
        f"{API}/conversations",
        tok(world, "root"),
        {"to": ["bob", "cyd"], "subject": "Notice", "body": "From the sysop."},
    )
    assert sysop.status_code == 201, sysop.get_json()


def test_a_new_account_only_answers_and_a_silenced_one_writes_none(client, world, f) -> None:
    newcomer = f.user("newcomer", trust_level=TL_NEW)
    refused = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/conversations",
        token_for(newcomer),
        {"to": ["ada"], "subject": "Hi", "body": "Hello!"},
    )
    assert refused.status_code == 403
    assert error_of(refused)["message"].startswith("New accounts cannot send private mail yet.")
    # A new account answers mail another member wrote to it, and adds nobody to it.
    conversation = _start(world, to="newcomer")
    read = send(client, "GET", f"{API}/conversations/{conversation.id}", token_for(newcomer))
    assert read.status_code == 200 and read.get_json()["can_write"] is True
    assert read.get_json()["write_problem"] is None
    answer = send(
        client,
        "POST",
        f"{API}/conversations/{conversation.id}/messages",
        token_for(newcomer),
        {"body": "Thanks!"},
    )
    assert answer.status_code == 201, answer.get_json()
    added = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/conversations/{conversation.id}/participants",
        token_for(newcomer),
        {"username": "bob"},
    )
    assert added.status_code == 403
    assert error_of(added)["message"].startswith("New accounts cannot send private mail yet.")
    world["ada"].silenced_until = utcnow() + timedelta(days=1)
    db.session.commit()
    silenced = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/conversations",
        tok(world, "ada"),
        {"to": ["bob"], "subject": "Hi", "body": "Hello!"},
    )
    assert silenced.status_code == 403 and "silenced" in error_of(silenced)["message"]


@pytest.mark.config(MAIL_MIN_ACCOUNT_AGE_HOURS=24)
def test_an_account_younger_than_the_sites_minimum_may_not_write_mail(client, world) -> None:
    refused = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/conversations",
        tok(world, "ada"),
        {"to": ["bob"], "subject": "Hi", "body": "Hello!"},
    )
    assert refused.status_code == 403 and "after 24 hours" in error_of(refused)["message"]
    made = send(
        client,
        "POST",
        f"{API}/conversations",
        tok(world, "root"),
        {"to": ["ada"], "subject": "Hi", "body": "The sysop is never held back."},
    )
    assert made.status_code == 201


def _new(**fields: Any) -> dict[str, Any]:
    return {"to": ["bob"], "subject": "Hi", "body": "x", **fields}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (None, "to", None),
        ({}, "to", None),
        (_new(to=[]), "to", None),
        (_new(to="bob"), "to", None),
        (_new(subject=""), "subject", None),
        (_new(subject="   "), "subject", "Give the conversation a subject."),
        (_new(subject="x" * 201), "subject", "“subject” may be at most 200 characters"),
        (_new(body=""), "body", None),
        (_new(body="  \n "), "body", "Write something first."),
        (_new(body="x" * 30_001), "body", "Messages are limited to 30,000 characters"),
        (_new(body=7), "body", None),
        (_new(cc=["cyd"]), "cc", None),
        (_new(to=["bob", "nobody_here"]), "to", "There is no member named nobody_here."),
        (_new(to=["ghost1", "ghost2"]), "to", "There are no members named ghost1, ghost2."),
        (_new(to=["ada"]), "to", "Private mail is for writing to someone else."),
        (_new(to=["bob", "cyd", "dan"]), "to", "A conversation holds at most 3 members, you"),
    ],
    ids=[
        "no body", "empty object", "nobody", "not a list", "empty subject", "blank subject",
        "subject too long", "empty body", "blank body", "body too long", "body not text",
        "unknown field", "unknown member", "unknown members", "oneself", "too many recipients",
    ],
)  # fmt: skip
def test_bad_input_to_start_is_a_clear_error_and_writes_nothing(
    client, world, body, field, message
) -> None:
    admin_services.update_settings(world["root"], {"mail_max_participants": "3"})
    refused = refused_and_nothing_written(
        client, "POST", f"{API}/conversations", tok(world, "ada"), body
    )
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["field"] == field, error
    if message is not None:
        assert error["message"].startswith(message), error
    assert db.session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_bad_input_in_a_conversation_is_a_clear_error_and_writes_nothing(client, world) -> None:
    conversation = _start(world, to="bob, cyd")
    url = f"{API}/conversations/{conversation.id}"
    message_id = conversation.last_message_id
    bob = tok(world, "bob")
    for path, body, status, field, message in (
        ("messages", None, 400, "body", None),
        ("messages", {"body": ""}, 400, "body", None),
        ("messages", {"body": " "}, 400, "body", "Write something first."),
        ("messages", {"body": "x" * 30_001}, 400, "body", "Messages are limited to"),
        ("participants", {"username": "nobody_here"}, 400, "username", "There is no member"),
        ("participants", {"username": "cyd"}, 400, "username", "cyd is in this conversation"),
        ("participants", {"username": "cyd dan"}, 400, "username", "Name one member to add."),
        ("participants", {}, 400, "username", None),
        ("archive", {"archived": "yes"}, 400, "archived", None),
    ):
        refused = refused_and_nothing_written(client, "POST", f"{url}/{path}", bob, body)
        assert refused.status_code == status, (path, body, refused.get_json())
        error = error_of(refused)
        assert error.get("field") == field, (path, body, error)
        if message is not None:
            assert error["message"].startswith(message), (path, body, error)
    for body, field, message in (
        ({"reason": "rude"}, "reason", None),
        ({"reason": "other"}, "note", "Tell the sysop what is wrong with this message."),
        (
            {"reason": "spam", "note": "x" * 501},
            "note",
            "“note” may be at most 500 characters long.",
        ),
    ):
        refused = refused_and_nothing_written(
            client, "POST", f"{API}/messages/{message_id}/report", bob, body
        )
        assert refused.status_code == 400 and error_of(refused)["field"] == field, body
        if message is not None:
            assert error_of(refused)["message"] == message
    # A full conversation takes nobody more.
    admin_services.update_settings(world["root"], {"mail_max_participants": "3"})
    full = refused_and_nothing_written(
        client, "POST", f"{url}/participants", bob, {"username": "dan"}
    )
    assert error_of(full)["message"] == "This conversation has its 3 members already."
    # Everyone else gone: nothing more to write.
    for name in ("ada", "cyd"):
        mail.leave_conversation(world[name], conversation.id)
    alone = refused_and_nothing_written(client, "POST", f"{url}/messages", bob, {"body": "Hi?"})
    assert error_of(alone)["message"] == "Everyone else has left this conversation."


# --- the budget and the cost ----------------------------------------------------------------
@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_mail_shares_the_pages_mail_budget(make_client, world) -> None:
    admin_services.update_settings(world["root"], {"mail_rate_limit": "3 per minute"})
    conversation = _start(world)
    client = make_client()
    ada = tok(world, "ada")
    url = f"{API}/conversations/{conversation.id}"
    assert send(client, "POST", f"{url}/messages", ada, {"body": "one"}).status_code == 201
    made = send(
        client,
        "POST",
        f"{API}/conversations",
        token_for(world["ada"]),
        {"to": ["cyd"], "subject": "a", "body": "b"},
    )
    assert made.status_code == 201
    page = make_client()
    page.login("ada")
    assert (
        page.form(f"/mail/c/{conversation.id}/reply", {"body": "from the page"}).status_code == 302
    )
    before = dbstate.snapshot()
    spent = send(client, "POST", f"{url}/participants", ada, {"username": "dan"})
    assert spent.status_code == 429 and error_of(spent)["status"] == 429
    assert int(spent.headers["Retry-After"]) > 0
    assert dbstate.diff(before, dbstate.snapshot()) == []
    # Reading, leaving and archiving spend none of it.
    assert send(client, "GET", url, ada).status_code == 200
    assert send(client, "POST", f"{url}/archive", ada, {"archived": True}).status_code == 200


def test_the_mailbox_and_a_conversation_take_the_same_queries_for_few_and_many(
    client, world, count_queries
) -> None:
    first = _start(world, "bob", "ada, cyd", subject="First")
    ada = tok(world, "ada")
    send(client, "GET", f"{API}/me", ada)  # (the token's first use is noted)

    def measure() -> tuple[int, int]:
        counts = []
        for url in (f"{API}/conversations", f"{API}/conversations/{first.id}?page=1"):
            send(client, "GET", url, ada)  # (marks it read: the measured read writes nothing)
            with count_queries() as counter:
                assert send(client, "GET", url, ada).status_code == 200
            counts.append(counter.count)
        return counts[0], counts[1]

    few = measure()
    for i in range(12):
        _start(world, ["bob", "cyd"][i % 2], "ada", subject=f"More {i}")
        mail.reply_to_conversation(world[["bob", "cyd"][i % 2]], first.id, f"message {i}")
    many = measure()
    box = send(client, "GET", f"{API}/conversations", ada).get_json()
    assert len(box["items"]) == 13
    detail = send(client, "GET", f"{API}/conversations/{first.id}?page=1", ada).get_json()
    assert len(detail["messages"]) == 13
    assert few == many, (few, many)
