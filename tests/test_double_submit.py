"""The double-submit rule (forum.duplicates): the same member sending the same text to the same
place within DUPLICATE_SECONDS (a double click without JavaScript, a browser's resend of a POST)
writes nothing new; the page goes to what the first submission made, saying so, and the API
answers 409 with it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.care import services as care
from forum.care.models import Concern
from forum.db import transaction
from forum.errors import Duplicate
from forum.extensions import db
from forum.messages import services as mail
from forum.messages.models import KIND_PRIVATE, Conversation, PrivateMessage
from forum.notifications.models import Notification
from forum.topics import services as topics
from forum.topics.models import Post, Topic

from .test_api import API, error_of, send, token_for

# The suite's fixtures repeat their words (tests/conftest.py turns the rule off); here it is on.
pytestmark = pytest.mark.config(DUPLICATE_SECONDS=120)

ALREADY = {
    "en": "You had already sent this; here it is.",
    "de": "Das hattest du schon gesendet; hier ist es.",
}


@pytest.fixture
def world(f) -> dict[str, Any]:
    """ada and bob, members of retro (sysop grace); a topic of bob's, a conversation bob began
    with ada, and a concern of ada's to retro's sysops."""
    f.sysop("root")
    ada, bob, grace = f.user("ada"), f.user("bob"), f.user("grace")
    retro = f.sig("retro", members=[ada, bob], sysops=[grace])
    topic = f.topic(bob, retro, "Modems", "Which modem did you have?")
    conversation = mail.start_conversation(bob, "ada", "Lunch?", "Shall we meet at noon?")
    concern = care.write_to_sysops(ada, retro.id, "My posts", "Where did they go?")
    return {
        "ada": ada,
        "bob": bob,
        "grace": grace,
        "retro": retro,
        "topic": topic,
        "conversation": conversation,
        "concern": concern,
    }


# Each place a member's text is sent from a page: its address and the form's fields, with the
# text under "body" (a second text makes it differ).
PLACES = {
    "new topic": lambda w: ("/s/retro/new", {"title": "My first modem", "body": "A 2400 baud."}),
    "reply": lambda w: (f"/t/{w['topic'].id}/reply", {"body": "A US Robotics Courier."}),
    "new conversation": lambda w: (
        "/mail/new",
        {"to": "bob", "subject": "Modems", "body": "Do you still have yours?"},
    ),
    "conversation reply": lambda w: (
        f"/mail/c/{w['conversation'].id}/reply",
        {"body": "Noon suits me."},
    ),
    "SIG's sysops": lambda w: (
        "/s/retro/sysops/write",
        {"subject": "A spammer", "body": "Someone posts adverts."},
    ),
    "site's sysops": lambda w: ("/care/write", {"subject": "My mail", "body": "It bounces."}),
    "concern reply": lambda w: (f"/care/{w['concern'].id}/reply", {"body": "Any news?"}),
}


def _written(ada) -> tuple[int, ...]:
    """What exists of ada's, and every notification: what a submission writes."""
    db.session.expire_all()

    def count(model: Any, *where: Any) -> int:
        return int(db.session.scalar(select(func.count()).select_from(model).where(*where)))

    return (
        count(Topic, Topic.user_id == ada.id),
        count(Post, Post.user_id == ada.id),
        count(
            Conversation, Conversation.created_by_id == ada.id, Conversation.kind == KIND_PRIVATE
        ),
        count(Concern, Concern.member_id == ada.id),
        count(PrivateMessage, PrivateMessage.user_id == ada.id),
        count(Notification),
    )


def _flashes(client) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


def _age_everything_of(ada, seconds: int) -> None:
    """As if ada had written all she wrote `seconds` earlier."""
    with transaction():
        for model in (Post, PrivateMessage):
            for row in db.session.scalars(select(model).where(model.user_id == ada.id)):
                row.created_at -= timedelta(seconds=seconds)


@pytest.mark.parametrize("place", list(PLACES))
def test_the_same_form_sent_twice_writes_once_and_goes_to_the_first(place, world, make_client):
    url, data = PLACES[place](world)
    ada = make_client()
    ada.login("ada")
    before = _written(world["ada"])
    first = ada.form(url, data)
    assert first.status_code == 302, first.get_data(as_text=True)[:400]
    once = _written(world["ada"])
    assert once != before
    ada.get("/")  # the first one's own flash shown and gone
    second = ada.form(url, data)
    assert second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert _written(world["ada"]) == once  # no row, no notification
    assert _flashes(ada) == [("info", ALREADY["en"])]
    # ... and the page it goes to says it.
    assert ALREADY["en"] in ada.get(second.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("place", list(PLACES))
def test_another_text_or_a_later_one_is_written(place, world, make_client, app):
    url, data = PLACES[place](world)
    ada = make_client()
    ada.login("ada")
    ada.form(url, data)
    once = _written(world["ada"])
    # Other words to the same place: a second one.
    other = ada.form(url, {**data, "body": data["body"] + " Really."})
    assert other.status_code == 302
    twice = _written(world["ada"])
    assert twice[:5] > once[:5]
    # The same words once DUPLICATE_SECONDS have passed: written again.
    _age_everything_of(world["ada"], app.config["DUPLICATE_SECONDS"] + 1)
    again = ada.form(url, data)
    assert again.status_code == 302
    assert _written(world["ada"])[:5] > twice[:5]
    assert ("info", ALREADY["en"]) not in _flashes(ada)


def test_the_flash_is_in_the_readers_language(world, make_client):
    url, data = PLACES["reply"](world)
    ada = make_client()
    ada.login("ada")
    ada.form(url, data)
    ada.get("/")
    second = ada.form(url, data, headers={"Accept-Language": "de"})
    assert second.status_code == 302
    assert _flashes(ada) == [("info", ALREADY["de"])]


def test_the_same_text_elsewhere_is_not_a_repeat(world, make_client, f):
    """The place counts: the same reply in another topic, the same concern to the site's sysops
    rather than the SIG's, the same message to someone else."""
    other_topic = f.topic(world["bob"], world["retro"], "Terminals", "VT100 or VT220?")
    ada = make_client()
    ada.login("ada")
    before = _written(world["ada"])
    ada.form(f"/t/{world['topic'].id}/reply", {"body": "Both."})
    ada.form(f"/t/{other_topic.id}/reply", {"body": "Both."})
    ada.form("/s/retro/sysops/write", {"subject": "Help", "body": "Help me."})
    ada.form("/care/write", {"subject": "Help", "body": "Help me."})
    ada.form("/mail/new", {"to": "bob", "subject": "Hi", "body": "Hello."})
    ada.form("/mail/new", {"to": "grace", "subject": "Hi", "body": "Hello."})
    after = _written(world["ada"])
    assert after[1] - before[1] == 2  # posts
    assert after[2] - before[2] == 2  # conversations
    assert after[3] - before[3] == 2  # concerns


@pytest.mark.config(DUPLICATE_SECONDS=0)
def test_no_window_turns_the_rule_off(world):
    first = topics.reply_to_topic(world["ada"], world["topic"].id, "Twice on purpose.")
    second = topics.reply_to_topic(world["ada"], world["topic"].id, "Twice on purpose.")
    assert second.id != first.id and second.number == first.number + 1


def test_the_services_raise_duplicate_with_the_first_item(world):
    ada = world["ada"]
    post = topics.reply_to_topic(ada, world["topic"].id, "Once.")
    with pytest.raises(Duplicate) as caught:
        topics.reply_to_topic(ada, world["topic"].id, "Once.")
    assert caught.value.item.id == post.id
    assert caught.value.status_code == 409
    message = care.reply(ada, world["concern"].id, "Still waiting.")
    with pytest.raises(Duplicate) as caught:
        care.reply(ada, world["concern"].id, "Still waiting.")
    assert caught.value.item.id == message.id


def test_a_banned_members_appeal_sent_twice_is_one_message(world, make_client, f):
    """The appeal form (no session: name and password each time) shows the concern as it is."""
    from forum.moderation import services as mod

    cyd = f.user("cyd")
    mod.ban_member(db.session.scalar(select(type(cyd)).where(type(cyd).username == "root")),
                   cyd.id, "spam")  # fmt: skip
    guest = make_client()
    form = {"login": "cyd", "password": f.PASSWORD, "subject": "", "body": "It was not me."}
    first = guest.form("/care/appeal", form)
    assert first.status_code == 200, first.get_data(as_text=True)[:400]
    assert ALREADY["en"] not in first.get_data(as_text=True)
    count = _written(cyd)
    assert count[3] == 1  # the concern
    second = guest.form("/care/appeal", form)
    assert second.status_code == 200
    assert _written(cyd) == count
    page = second.get_data(as_text=True)
    assert ALREADY["en"] in page and "It was not me." in page


@pytest.mark.config(
    BASE_URL="https://forum.example.org", MAIL_SENDER="forum@example.org", DUPLICATE_SECONDS=120
)
def test_a_reply_mailed_twice_is_posted_once_and_not_refused(world, outbox):
    """Two mails (two Message-IDs) with the same words to the same topic: the second is a
    duplicate delivery, neither posted nor answered with a refusal."""
    from forum import mail as site_mail
    from forum.mailin import services as mailin

    from .test_mail_in import reply_mail

    address = site_mail.reply_address(world["ada"].id, world["topic"].id)
    first = mailin.receive(reply_mail(address, "By mail."), [address])
    again = reply_mail(address, "By mail.", message_id="<r2@mail.example.com>")
    second = mailin.receive(again, [address])
    assert [d.outcome for d in first + second] == [mailin.POSTED, mailin.DUPLICATE]
    posts = db.session.scalars(
        select(Post.body_raw).where(Post.topic_id == world["topic"].id, Post.number > 1)
    )
    assert list(posts) == ["By mail."]
    mailed = [p.read_text(errors="replace") for p in outbox.rglob("*") if p.is_file()]
    assert not [m for m in mailed if "By mail." in m]  # no refusal mailed back


# --- the API ----------------------------------------------------------------------------------
API_PLACES = {
    "topic": (
        lambda w: f"{API}/sigs/retro/topics",
        {"title": "Acoustic couplers", "body": "300 baud."},
        "topic",
        "/topics/",
    ),
    "post": (
        lambda w: f"{API}/topics/{w['topic'].id}/posts",
        {"body": "Mine too."},
        "post",
        "/posts/",
    ),
    "conversation": (
        lambda w: f"{API}/conversations",
        {"to": ["bob"], "subject": "Modems", "body": "Still have one?"},
        "conversation",
        "/conversations/",
    ),
    "conversation message": (
        lambda w: f"{API}/conversations/{w['conversation'].id}/messages",
        {"body": "Noon it is."},
        "message",
        "/conversations/",
    ),
    "concern": (
        lambda w: f"{API}/concerns",
        {"sig": "retro", "subject": "Adverts", "body": "Someone posts adverts."},
        "concern",
        "/concerns/",
    ),
    "concern message": (
        lambda w: f"{API}/concerns/{w['concern'].id}/messages",
        {"body": "Any news?"},
        "message",
        "/concerns/",
    ),
}


@pytest.mark.parametrize("place", list(API_PLACES))
def test_the_api_answers_a_repeat_with_409_and_the_first(place, world, client):
    url, body, kind, address = API_PLACES[place]
    secret = token_for(world["ada"])
    first = send(client, "POST", url(world), secret, body)
    assert first.status_code == 201, first.get_json()
    written = _written(world["ada"])
    second = send(client, "POST", url(world), secret, body)
    assert second.status_code == 409
    error = error_of(second)
    assert error["message"] == ALREADY["en"]
    existing = error["existing"]
    assert existing["kind"] == kind
    assert existing["url"].startswith(f"{API}{address}")
    assert _written(world["ada"]) == written
    # The address answers, and it is the first one's.
    shown = send(client, "GET", existing["url"], secret).get_json()
    if kind in ("topic", "post", "concern", "conversation"):
        assert shown["id"] == existing["id"]
