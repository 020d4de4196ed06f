"""Reactions: one emoji per member per post from the site's set, without JavaScript and as JSON;
who reacted; the author's notification (watch levels, ignoring, mail preferences); the live
nudge; the guest page cache; the dashboard's count; a topic page's fixed number of queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum import settings
from forum.extensions import db, socketio
from forum.messages import services as mail_services
from forum.moderation import services as mod
from forum.notifications import services as notifications
from forum.notifications.models import Notification
from forum.reactions import services
from forum.reactions.models import Reaction
from forum.settings import SiteSetting
from forum.timeutil import utcnow

from .test_notification_mail import deliver

THUMBS, HEART, LAUGH = "\U0001f44d", "\u2764\ufe0f", "\U0001f602"
JSON = {"Accept": "application/json"}


@pytest.fixture
def world(f) -> tuple[Any, Any, Any, Any, Any]:
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Amiga repairs", "Recap the board first.")
    return ada, bob, sig, topic, f.first_post(topic)


def reactions_of(post_id: int) -> dict[int, str]:
    return {
        r.user_id: r.emoji
        for r in db.session.scalars(select(Reaction).where(Reaction.post_id == post_id))
    }


def reaction_notifications(user_id: int) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == user_id, Notification.kind == "reaction"
            )
        )
    )


def pressed(html: str, post_id: int) -> list[tuple[str, str, str]]:
    """(emoji, count, aria-pressed) of the count buttons under one post."""
    form = re.search(rf'<form method="post" action="/p/{post_id}/react".*?</form>', html, re.S)
    assert form, "no reaction form"
    bar = form.group(0).split("<details")[0]
    return re.findall(
        r'value="([^"]+)" class="reaction" aria-pressed="(\w+)">[^<]*<span class="count">(\d+)',
        bar,
    )


# --- reacting without JavaScript ------------------------------------------------------------
def test_a_member_reacts_changes_and_takes_back_with_plain_forms(client, f, world):
    ada, bob, sig, topic, post = world
    client.login("bob")
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    # Every offered reaction is a button of a form with a CSRF token; nothing counted yet.
    assert f'action="/p/{post.id}/react"' in page and 'name="csrf_token"' in page
    for emoji in settings.reactions():
        assert f'value="{emoji}"' in page

    response = client.form(f"/p/{post.id}/react", {"emoji": THUMBS})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/p/{post.id}")
    assert reactions_of(post.id) == {bob.id: THUMBS}
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert pressed(page, post.id) == [(THUMBS, "true", "1")]

    client.form(f"/p/{post.id}/react", {"emoji": HEART})  # another one replaces it
    assert reactions_of(post.id) == {bob.id: HEART}
    client.form(f"/p/{post.id}/react", {"emoji": HEART})  # the same one takes it back
    assert reactions_of(post.id) == {}


def test_counts_add_up_over_members_and_the_script_gets_json(make_client, f, world):
    ada, bob, sig, topic, post = world
    cyd = f.user("cyd")
    f.join(cyd, sig)
    services.set_reaction(cyd, post.id, THUMBS)
    client = make_client()
    client.login("bob")
    answer = client.form(f"/p/{post.id}/react", {"emoji": THUMBS}, headers=JSON)
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["mine"] == THUMBS and data["total"] == 2
    assert {"emoji": THUMBS, "count": 2} in data["counts"]
    assert data["groups"] == [{"emoji": THUMBS, "count": 2, "names": ["cyd", "bob"], "mine": True}]
    # A reader in good standing who is not the author sees the buttons; the author sees counts.
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert pressed(page, post.id) == [(THUMBS, "true", "2")]
    author = make_client()
    author.login("ada")
    mine = author.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert f'action="/p/{post.id}/react"' not in mine
    assert re.search(rf'href="/p/{post.id}/reactions">{THUMBS} <span class="count">2', mine)


def test_only_the_offered_reactions_are_taken_and_the_set_is_a_setting(client, f, world):
    ada, bob, sig, topic, post = world
    client.login("bob")
    pizza = "\U0001f355"
    response = client.form(f"/p/{post.id}/react", {"emoji": pizza}, follow_redirects=True)
    assert "Choose one of the reactions offered." in response.get_data(as_text=True)
    assert client.form(f"/p/{post.id}/react", {"emoji": pizza}, headers=JSON).status_code == 400
    assert reactions_of(post.id) == {}

    db.session.add(SiteSetting(key="reactions", value=f"{pizza} {THUMBS}"))
    db.session.commit()
    settings.forget()
    assert settings.reactions() == [pizza, THUMBS]
    assert client.form(f"/p/{post.id}/react", {"emoji": pizza}).status_code == 302
    assert reactions_of(post.id) == {bob.id: pizza}
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert f'value="{HEART}"' not in page


def test_the_reaction_setting_takes_emoji_only():
    setting = settings.SETTINGS["reactions"]
    assert settings.check(setting, f" {THUMBS}  {HEART} {THUMBS} ") == f"{THUMBS} {HEART}"
    nine = " ".join(chr(0x1F600 + n) for n in range(9))
    for bad in ("", "abc", f"{THUMBS} <b>", nine):
        with pytest.raises(settings.Invalid):
            settings.check(setting, bad)
    assert settings.check(setting, "\U0001f44d\U0001f3fd") == "\U0001f44d\U0001f3fd"


# --- who may react ---------------------------------------------------------------------------
def test_who_may_react(make_client, f, world):
    ada, bob, sig, topic, post = world
    reply = f.reply(bob, topic, "a reply by bob")
    guest = make_client()
    response = guest.post(f"/p/{post.id}/react", data={"emoji": THUMBS})
    assert response.status_code in (302, 400)  # to the login page, or no CSRF token at all
    # Your own post: refused, with why.
    own = make_client()
    own.login("bob")
    assert own.form(f"/p/{reply.id}/react", {"emoji": THUMBS}).status_code == 403
    # A silenced member reads but does not react.
    root = f.sysop("root")
    cyd = f.user("cyd")
    f.join(cyd, sig)
    mod.silence_member(root, cyd.id, utcnow() + timedelta(days=1), "cool down")
    silenced = make_client()
    silenced.login("cyd")
    assert silenced.form(f"/p/{post.id}/react", {"emoji": THUMBS}).status_code == 403
    # A hidden post is no post at all to a member: 404, as for an id that never existed.
    mod.hide_post(root, reply.id, "rude")
    assert (
        make_login(make_client, "ada").form(f"/p/{reply.id}/react", {"emoji": THUMBS}).status_code
        == 404
    )
    assert reactions_of(post.id) == {} and reactions_of(reply.id) == {}


def make_login(make_client: Any, name: str) -> Any:
    client = make_client()
    client.login(name)
    return client


def test_a_private_sigs_post_is_a_404_to_outsiders(make_client, f):
    ada = f.user("ada")
    f.user("eve")
    sig = f.sig("lair", visibility="private", members=[ada])
    post = f.first_post(f.topic(ada, sig, "Secret plans"))
    eve_client = make_login(make_client, "eve")
    assert eve_client.form(f"/p/{post.id}/react", {"emoji": THUMBS}).status_code == 404
    assert eve_client.get(f"/p/{post.id}/reactions").status_code == 404
    assert eve_client.get("/p/987654/reactions").status_code == 404
    assert reactions_of(post.id) == {}


# --- who reacted ---------------------------------------------------------------------------
def test_who_reacted_page_works_without_javascript(make_client, f, world):
    ada, bob, sig, topic, post = world
    cyd = f.user("cyd")
    f.join(cyd, sig)
    services.set_reaction(bob, post.id, THUMBS)
    services.set_reaction(cyd, post.id, LAUGH)
    guest = make_client()
    html = guest.get(f"/p/{post.id}/reactions").get_data(as_text=True)
    assert "Who reacted to post #1" in html
    assert f"{THUMBS}: 1 member" in html and f"{LAUGH}: 1 member" in html
    assert 'href="/u/bob"' in html and 'href="/u/cyd"' in html
    # The topic page links to it under the post, for guests too.
    page = guest.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert f'href="/p/{post.id}/reactions"' in page
    # A member reacts from there as well.
    bob_client = make_login(make_client, "bob")
    response = bob_client.form(
        f"/p/{post.id}/react", {"emoji": LAUGH, "next": f"/p/{post.id}/reactions"}
    )
    assert response.headers["Location"].endswith(f"/p/{post.id}/reactions")
    assert reactions_of(post.id) == {bob.id: LAUGH, cyd.id: LAUGH}


# --- the author hears of it ----------------------------------------------------------------
def test_the_author_is_notified_once_and_a_reaction_taken_back_takes_it_along(
    make_client, f, world
):
    ada, bob, sig, topic, post = world
    services.set_reaction(bob, post.id, THUMBS)
    (note,) = reaction_notifications(ada.id)
    assert note.actor_id == bob.id and note.post_id == post.id and note.data == {"emoji": THUMBS}
    services.set_reaction(bob, post.id, HEART)  # changed before ada read it
    (note,) = reaction_notifications(ada.id)
    assert note.data == {"emoji": HEART}
    page = make_login(make_client, "ada").get("/notifications").get_data(as_text=True)
    assert f"bob reacted {HEART} to your post in “Amiga repairs”" in page
    services.set_reaction(bob, post.id, None)
    assert reaction_notifications(ada.id) == []
    assert reaction_notifications(bob.id) == []  # nobody else hears of it


def test_a_read_reaction_notification_stays_and_is_not_repeated(f, world):
    ada, bob, sig, topic, post = world
    services.set_reaction(bob, post.id, THUMBS)
    (note,) = reaction_notifications(ada.id)
    notifications.mark_read(ada, note.id)
    services.set_reaction(bob, post.id, None)
    services.set_reaction(bob, post.id, HEART)
    assert [n.id for n in reaction_notifications(ada.id)] == [note.id]


def test_muting_the_topic_or_ignoring_the_member_keeps_it_quiet(f, world):
    ada, bob, sig, topic, post = world
    cyd = f.user("cyd")
    f.join(cyd, sig)
    notifications.set_topic_level(ada, topic.id, "muted")
    services.set_reaction(bob, post.id, THUMBS)
    assert reaction_notifications(ada.id) == []
    notifications.set_topic_level(ada, topic.id, "normal")  # reactions are addressed to her
    mail_services.ignore_member(ada, "cyd")
    services.set_reaction(cyd, post.id, THUMBS)
    assert reaction_notifications(ada.id) == []
    services.set_reaction(bob, post.id, None)
    services.set_reaction(bob, post.id, LAUGH)
    assert [n.actor_id for n in reaction_notifications(ada.id)] == [bob.id]


@pytest.mark.config(BASE_URL="https://forum.example.org")
def test_reaction_mail_follows_the_members_mail_preference(app, f, world, inbox):  # noqa: F811
    ada, bob, sig, topic, post = world
    services.set_reaction(bob, post.id, THUMBS)
    deliver(app)
    assert inbox.messages == []  # off by default
    notifications.mark_all_read(ada)
    notifications.set_mail_preferences(ada, {"reaction": "now"})
    cyd = f.user("cyd")
    f.join(cyd, sig)
    services.set_reaction(cyd, post.id, HEART)
    assert deliver(app) >= 1
    (message,) = inbox.messages
    assert "cyd reacted" in str(message["Subject"])
    assert "someone reacted to your post" in message.get_body(("plain",)).get_content()


def test_the_reaction_category_is_on_the_settings_page(client, f, world):
    client.login("ada")
    html = client.get("/settings").get_data(as_text=True)
    assert 'name="mail_reaction"' in html and "When someone reacts to my post" in html
    response = client.form(
        "/notifications/preferences", {"watch_posted": "y", "mail_reaction": "digest"}
    )
    assert response.status_code == 302
    assert world[0].preferences["mail"]["reaction"] == "digest"


# --- live counts, cached pages, the dashboard, a page's queries ------------------------------
@pytest.mark.config(PRESENCE_LOOP=False)
def test_the_topic_room_hears_that_the_counts_changed(app, make_client, f, world):
    ada, bob, sig, topic, post = world
    watcher = make_client()
    sc = socketio.test_client(app, flask_test_client=watcher)
    assert sc.emit("subscribe", {"topic_id": topic.id}, callback=True)["ok"]
    sc.get_received()
    make_login(make_client, "bob").form(f"/p/{post.id}/react", {"emoji": THUMBS})
    nudges = [e["args"][0] for e in sc.get_received() if e["name"] == "reactions_changed"]
    assert nudges == [{"topic_id": topic.id, "post_id": post.id}]  # ids only: the page asks
    counts = watcher.get(f"/p/{post.id}/reactions", headers=JSON).get_json()
    assert counts["total"] == 1 and counts["mine"] is None
    sc.disconnect()


@pytest.mark.config(PAGE_CACHE_SECONDS=60)
def test_a_guests_cached_topic_page_shows_the_new_count(make_client, f, world):
    ada, bob, sig, topic, post = world
    guest = make_client()
    url = f"/t/{topic.id}/{topic.slug}?page=1"
    assert guest.get(url).headers["X-Page-Cache"] == "miss"
    assert guest.get(url).headers["X-Page-Cache"] == "hit"
    services.set_reaction(bob, post.id, THUMBS)
    response = guest.get(url)
    assert response.headers["X-Page-Cache"] == "miss"
    assert f'{THUMBS} <span class="count">1</span>' in response.get_data(as_text=True)


def test_the_dashboard_counts_reactions(client, f, world):
    ada, bob, sig, topic, post = world
    root = f.sysop("root")
    cyd = f.user("cyd")
    f.join(cyd, sig)
    services.set_reaction(bob, post.id, THUMBS)
    services.set_reaction(cyd, post.id, HEART)
    hidden = f.reply(ada, topic, "a reply that will be hidden")
    services.set_reaction(bob, hidden.id, LAUGH)
    mod.hide_post(root, hidden.id, "rude")
    client.login("root")
    html = client.get("/pulse").get_data(as_text=True)
    assert "Reactions per day" in html and "Reactions given" in html
    csv = client.get("/pulse/reactions.csv").get_data(as_text=True)
    assert csv.splitlines()[0].startswith("Day,Reactions")
    total = sum(int(line.split(",")[1]) for line in csv.splitlines()[1:])
    assert total == 2  # the hidden post's reaction is not counted


def test_a_topic_page_counts_reactions_in_one_query(make_client, f, count_queries):
    from .test_queries import _assert_fixed, _measure, _viewers

    ada = f.user("ada")
    writers = [f.user(f"writer{i}") for i in range(4)]
    sig = f.sig("talk", members=[ada, *writers])

    def topic_with(n: int) -> Any:
        topic = f.topic(writers[0], sig, f"A topic with {n} posts")
        posts = [f.first_post(topic)] + [
            f.reply(writers[i % 4], topic, f"reply {i}") for i in range(1, n)
        ]
        for i, post in enumerate(posts):
            for who in writers[: i % 4]:
                if who.id != post.user_id:
                    services.set_reaction(who, post.id, settings.reactions()[i % 5])
        return topic

    short, long = topic_with(2), topic_with(25)
    viewers = _viewers(make_client, None, "ada")
    small = _measure(viewers, count_queries, f"/t/{short.id}/{short.slug}?page=1")
    large = _measure(viewers, count_queries, f"/t/{long.id}/{long.slug}?page=1")
    _assert_fixed(small, large)
    reaction_queries = [s for s in large["ada"][1] if "post_reactions" in s]
    assert len(reaction_queries) == 1
