"""Three things the pages did that the JSON API did not: ignoring members (/api/v1/me/ignored),
a member's preferences (/api/v1/me/preferences) and splitting a topic
(/api/v1/topics/<id>/split) — through the pages' services, read models and policy; who may do
what, the scopes, and every refusal of the pages as a JSON error that writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from forum import permissions
from forum.accounts.models import User
from forum.extensions import db
from forum.messages import queries as mail_queries
from forum.messages import services as mail
from forum.messages.models import MemberIgnore
from forum.moderation.models import ModAction
from forum.notifications import services as notifications
from forum.notifications.digest import digest_choice
from forum.notifications.mail import DEFAULTS, mail_choices
from forum.topics.models import Post, Topic

from .test_api import error_of, refused_and_nothing_written, send, token_for

API = "/api/v1"


@pytest.fixture
def world(f) -> dict[str, Any]:
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    grace = f.user("grace")  # the sysop of retro
    linus = f.user("linus")  # the sysop of club only
    root = f.sysop("root")
    retro = f.sig("retro", members=[ada, bob], sysops=[grace], name="Retro Computing")
    club = f.sig("club", members=[cyd], sysops=[linus], name="Club")
    topic = f.topic(ada, retro, "The old machines", "Which was your first?")
    replies = [f.reply(u, topic, f"Reply {n}") for n, u in enumerate((bob, ada, bob, ada), 2)]
    return {
        "ada": ada,
        "bob": bob,
        "cyd": cyd,
        "grace": grace,
        "linus": linus,
        "root": root,
        "retro": retro,
        "club": club,
        "topic": topic,
        "replies": replies,  # posts #2 … #5
        "tokens": {},
    }


def tok(w: dict[str, Any], name: str, scopes: tuple[str, ...] | None = None) -> str:
    """The member's token with every scope they may hold, or with `scopes`."""
    key = (name, scopes)
    if key not in w["tokens"]:
        w["tokens"][key] = token_for(w[name], scopes)
    return str(w["tokens"][key])


def _ignored_by(user: User) -> list[int]:
    return sorted(
        db.session.scalars(
            select(MemberIgnore.ignored_id).where(MemberIgnore.user_id == user.id)
        ).all()
    )


# --- ignoring members -----------------------------------------------------------------------
def test_a_member_ignores_lists_and_stops_ignoring_members(client, world) -> None:
    ada = tok(world, "ada")
    bob, cyd = world["bob"], world["cyd"]
    assert send(client, "GET", f"{API}/me/ignored", ada).get_json() == {"items": []}

    done = send(client, "PUT", f"{API}/me/ignored/bob", ada)
    assert done.status_code == 200, done.get_json()
    assert done.get_json() == {"member": {"id": bob.id, "username": "bob"}, "ignored": True}
    assert _ignored_by(world["ada"]) == [bob.id]
    # As the page's: her notifications and mail hear nothing of him.
    assert permissions.ignores(world["ada"].id, bob.id)
    # Again, however spelled: the same answer, nothing more written.
    again = send(client, "PUT", f"{API}/me/ignored/BOB", ada)
    assert again.status_code == 200 and again.get_json()["ignored"] is True
    assert again.get_json()["member"]["username"] == "bob"
    assert _ignored_by(world["ada"]) == [bob.id]
    assert send(client, "PUT", f"{API}/me/ignored/cyd", ada).status_code == 200

    listed = send(client, "GET", f"{API}/me/ignored", tok(world, "ada", ("read",)))
    assert listed.status_code == 200
    assert listed.get_json()["items"] == [
        {"id": bob.id, "username": "bob"},
        {"id": cyd.id, "username": "cyd"},
    ]
    # The settings page lists the same.
    assert [u.username for u in mail_queries.ignored_members(world["ada"])] == ["bob", "cyd"]

    stopped = send(client, "DELETE", f"{API}/me/ignored/bob", ada)
    assert stopped.status_code == 200, stopped.get_json()
    assert stopped.get_json() == {"member": {"id": bob.id, "username": "bob"}, "ignored": False}
    assert _ignored_by(world["ada"]) == [cyd.id]
    assert send(client, "DELETE", f"{API}/me/ignored/bob", ada).get_json()["ignored"] is False
    assert _ignored_by(world["ada"]) == [cyd.id]
    # Bob's own list is his.
    assert send(client, "GET", f"{API}/me/ignored", tok(world, "bob")).get_json()["items"] == []


def test_ignoring_is_refused_as_on_the_page_and_writes_nothing(client, world) -> None:
    ada = tok(world, "ada")
    yourself = refused_and_nothing_written(client, "PUT", f"{API}/me/ignored/ada", ada)
    assert yourself.status_code == 400
    assert error_of(yourself)["message"] == "You cannot ignore yourself."
    the_sysop = refused_and_nothing_written(client, "PUT", f"{API}/me/ignored/root", ada)
    assert the_sysop.status_code == 400
    assert error_of(the_sysop)["message"] == "The sysop cannot be ignored."
    for method in ("PUT", "DELETE"):
        unknown = refused_and_nothing_written(client, method, f"{API}/me/ignored/nobody", ada)
        assert unknown.status_code == 404 and error_of(unknown)["message"] == "No such member."
        # A read-only token: the scope, before anything is looked up.
        read_only = tok(world, "ada", ("read",))
        for name in ("bob", "nobody"):
            scoped = refused_and_nothing_written(
                client, method, f"{API}/me/ignored/{name}", read_only
            )
            assert scoped.status_code == 403
        # A guest: a write without a token is a browser's, without its CSRF token.
        assert refused_and_nothing_written(client, method, f"{API}/me/ignored/bob", None)
    assert client.get(f"{API}/me/ignored").status_code == 401
    assert _ignored_by(world["ada"]) == []


# --- preferences ----------------------------------------------------------------------------
def test_a_member_reads_their_preferences_as_settings_shows_them(client, world, app) -> None:
    shown = send(client, "GET", f"{API}/me/preferences", tok(world, "ada", ("read",)))
    assert shown.status_code == 200, shown.get_json()
    prefs = shown.get_json()
    assert prefs["language"] is None and prefs["timezone"] == "UTC"
    assert prefs["notifications"] == {
        "watch_topics_i_post_in": True,
        "mail": DEFAULTS,
        "digest": {
            "frequency": app.config["DIGEST_FREQUENCY"],
            "hour": app.config["DIGEST_HOUR"],
            "weekday": app.config["DIGEST_WEEKDAY"],
        },
    }
    assert prefs["private_mail"] == {"accept_from": "everyone", "notify": True}
    assert client.get(f"{API}/me/preferences").status_code == 401


def test_a_member_changes_what_they_send_and_nothing_else(client, world) -> None:
    ada = tok(world, "ada")
    changed = send(
        client,
        "PATCH",
        f"{API}/me/preferences",
        ada,
        {
            "language": "de",
            "timezone": "Europe/Berlin",
            "theme": "dark",
            "notifications": {
                "watch_topics_i_post_in": False,
                "mail": {"quote": "digest", "mention": "off"},
                "digest": {"frequency": "weekly", "hour": 7, "weekday": 4},
            },
            "private_mail": {"accept_from": "sysops"},
        },
    )
    assert changed.status_code == 200, changed.get_json()
    prefs = changed.get_json()
    assert (prefs["language"], prefs["timezone"], prefs["theme"]) == ("de", "Europe/Berlin", "dark")
    assert prefs["notifications"]["mail"] == {**DEFAULTS, "quote": "digest", "mention": "off"}
    assert prefs["notifications"]["digest"] == {"frequency": "weekly", "hour": 7, "weekday": 4}
    assert prefs["private_mail"] == {"accept_from": "sysops", "notify": True}
    # Kept where the pages read them.
    ada_now = db.session.get(User, world["ada"].id)
    assert (ada_now.language, ada_now.timezone, ada_now.theme) == ("de", "Europe/Berlin", "dark")
    assert notifications.watches_posted_topics(ada_now) is False
    assert mail_choices(ada_now)["quote"] == "digest"
    assert digest_choice(ada_now).weekday == 4
    assert mail.mail_from(ada_now) == "sysops" and mail.notifies_mail(ada_now) is True
    assert permissions.accepts_mail_problem(world["bob"], ada_now) is not None
    # The browser is not asked for her time zone any more, as after the settings form.
    assert db.session.get(User, world["ada"].id).preferences.get("timezone_set") is True
    # The API answers her in German now.
    empty = send(client, "PATCH", f"{API}/me/preferences", ada, {})
    assert error_of(empty)["message"] == "Schick mindestens eine Einstellung, die du ändern willst."

    # A part of a group: the rest of it stays; null is "as the browser asks".
    again = send(
        client,
        "PATCH",
        f"{API}/me/preferences",
        ada,
        {
            "language": None,
            "notifications": {"digest": {"hour": 21}, "mail": {"quote": "now"}},
            "private_mail": {"notify": False},
        },
    )
    assert again.status_code == 200, again.get_json()
    prefs = again.get_json()
    assert prefs["language"] is None and prefs["timezone"] == "Europe/Berlin"
    assert prefs["notifications"]["digest"] == {"frequency": "weekly", "hour": 21, "weekday": 4}
    assert prefs["notifications"]["mail"] == {**DEFAULTS, "mention": "off", "quote": "now"}
    assert prefs["notifications"]["watch_topics_i_post_in"] is False
    assert prefs["private_mail"] == {"accept_from": "sysops", "notify": False}
    assert send(client, "GET", f"{API}/me/preferences", ada).get_json() == prefs
    # Bob's are his own.
    bobs = send(client, "GET", f"{API}/me/preferences", tok(world, "bob")).get_json()
    assert bobs["language"] is None and bobs["private_mail"]["accept_from"] == "everyone"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"language": "de", "timezone": "Mars/Olympus_Mons"},
            "timezone",
            "Unknown time zone; use a name like Europe/Berlin.",
        ),
        ({"language": "fr"}, "language", "Choose English, Deutsch or Español."),
        ({"theme": "pink", "language": "es"}, "theme", "Choose Light, Dark or System."),
        (
            {"language": "de", "notifications": {"mail": {"reply": "now", "quote": "hourly"}}},
            "notifications.mail.quote",
            "Choose off, immediately or in the digest.",
        ),
        (
            {"notifications": {"digest": {"frequency": "hourly"}}},
            "notifications.digest.frequency",
            "Choose daily, weekly or never.",
        ),
        (
            {"notifications": {"digest": {"frequency": "daily", "hour": 24}}},
            "notifications.digest.hour",
            "Choose an hour from 0 to 23.",
        ),
        (
            {"notifications": {"digest": {"weekday": 7}}},
            "notifications.digest.weekday",
            "Choose a day of the week.",
        ),
        # Every other part valid and sent first: none of it is kept.
        (
            {
                "language": "de",
                "timezone": "Europe/Berlin",
                "theme": "dark",
                "notifications": {"watch_topics_i_post_in": False, "mail": {"quote": "now"}},
                "private_mail": {"notify": False, "accept_from": "friends"},
            },
            "private_mail.accept_from",
            "Choose who may send you private mail.",
        ),
        # Nothing to change.
        (None, None, "Send at least one preference to change."),
        ({}, None, "Send at least one preference to change."),
        ({"notifications": {}}, "notifications", "Send at least one preference to change."),
        ({"private_mail": {}}, "private_mail", "Send at least one preference to change."),
        (
            {"language": "de", "notifications": {"watch_topics_i_post_in": True, "mail": {}}},
            "notifications.mail",
            "Send at least one preference to change.",
        ),
        (
            {"notifications": {"digest": {}}},
            "notifications.digest",
            "Send at least one preference to change.",
        ),
        # The shape: the API's own checks.
        ({"timezone": None}, "timezone", None),
        ({"notifications": {"watch_topics_i_post_in": "no"}}, None, None),
        ({"signature": "mine"}, "signature", None),
        ({"notifications": {"mail": {"gossip": "now"}}}, "notifications.mail.gossip", None),
    ],
)
def test_bad_preferences_are_refused_with_the_pages_message_and_keep_nothing(
    client, world, body, field, message
) -> None:
    refused = refused_and_nothing_written(
        client, "PATCH", f"{API}/me/preferences", tok(world, "ada"), body
    )
    assert refused.status_code == 400
    error = error_of(refused)
    if field is not None:
        assert error["field"] == field, error
    if message is not None:
        assert error["message"] == message


def test_preferences_need_the_write_scope_and_a_member(client, world) -> None:
    body = {"language": "de"}
    scoped = refused_and_nothing_written(
        client, "PATCH", f"{API}/me/preferences", tok(world, "ada", ("read",)), body
    )
    assert scoped.status_code == 403
    assert refused_and_nothing_written(client, "PATCH", f"{API}/me/preferences", None, body)
    assert db.session.get(User, world["ada"].id).language is None


# --- splitting a topic ----------------------------------------------------------------------
def _numbers(topic_id: int) -> list[tuple[int, int]]:
    return [
        (p.id, p.number)
        for p in db.session.scalars(
            select(Post).where(Post.topic_id == topic_id).order_by(Post.number)
        )
    ]


def _log() -> list[tuple[Any, ...]]:
    return [
        (a.actor_id, a.action, a.sig_id, a.other_sig_id, a.target_user_id, a.reason, a.details)
        for a in db.session.scalars(select(ModAction).order_by(ModAction.id))
    ]


def test_a_sigs_sysop_splits_replies_into_a_new_topic_logged_as_the_page_logs_it(
    client, world, make_client
) -> None:
    topic, replies = world["topic"], world["replies"]
    chosen = [replies[2].id, replies[0].id]  # #4 and #2, in any order
    made = send(
        client,
        "POST",
        f"{API}/topics/{topic.id}/split",
        tok(world, "grace"),
        {"posts": chosen, "title": "  The first machines  ", "reason": "Its own subject"},
    )
    assert made.status_code == 201, made.get_json()
    shown = made.get_json()
    new = db.session.scalar(select(Topic).where(Topic.id == shown["id"]))
    assert new is not None and new.id != topic.id
    assert shown["title"] == "The first machines" and shown["sig"]["slug"] == "retro"
    assert shown["post_count"] == 2 and shown["first_post_id"] == replies[0].id
    assert shown["author"]["username"] == "bob" and f"/t/{new.id}" in shown["url"]
    assert _numbers(new.id) == [(replies[0].id, 1), (replies[2].id, 2)]
    assert [n for _, n in _numbers(topic.id)] == [1, 3, 5]
    [logged] = _log()
    grace, retro = world["grace"], world["retro"]
    assert logged == (
        grace.id,
        "split_topic",
        retro.id,
        None,
        world["bob"].id,
        "Its own subject",
        "2 post(s) from “The old machines” into “The first machines”",
    )

    # The split page, on the same kind of choice, logs the same.
    browser = make_client()
    browser.login("grace")
    page = browser.form(
        f"/mod/topics/{topic.id}/split",
        {
            "posts": [str(replies[1].id), str(replies[3].id)],
            "title": "The first machines",
            "sig": str(retro.id),
            "reason": "Its own subject",
        },
    )
    assert page.status_code == 302
    by_page = _log()[-1]
    assert by_page[:5] == (grace.id, "split_topic", retro.id, None, world["ada"].id)
    assert by_page[5:] == logged[5:]


def test_splitting_every_reply_after_the_first_chosen_into_another_sig(client, world) -> None:
    topic, replies = world["topic"], world["replies"]
    made = send(
        client,
        "POST",
        f"{API}/topics/{topic.id}/split",
        tok(world, "root"),
        {"posts": [replies[1].id], "and_later": True, "title": "The tail", "sig": "club"},
    )
    assert made.status_code == 201, made.get_json()
    shown = made.get_json()
    assert shown["sig"]["slug"] == "club" and shown["post_count"] == 3
    assert _numbers(shown["id"]) == [(p.id, n) for n, p in enumerate(replies[1:], 1)]
    assert [n for _, n in _numbers(topic.id)] == [1, 2]
    # In both SIGs' logs, as a split into another SIG from the page is.
    retro, club = world["retro"], world["club"]
    assert [(row[2], row[3]) for row in _log()] == [(retro.id, club.id), (club.id, retro.id)]


def test_splitting_is_refused_as_on_the_page_and_writes_nothing(client, world) -> None:
    topic, replies = world["topic"], world["replies"]
    url = f"{API}/topics/{topic.id}/split"
    body = {"posts": [replies[0].id], "title": "A new topic"}
    grace = tok(world, "grace")
    # Who: a guest (no CSRF token), a member's token (no moderate scope), a sysop's token
    # without it, the sysop of another SIG.
    assert refused_and_nothing_written(client, "POST", url, None, body).status_code == 400
    for secret in (tok(world, "ada"), tok(world, "grace", ("read", "write"))):
        assert refused_and_nothing_written(client, "POST", url, secret, body).status_code == 403
    other = refused_and_nothing_written(client, "POST", url, tok(world, "linus"), body)
    assert other.status_code == 403
    # What: the pages' refusals, with their field.
    first_post = db.session.scalar(
        select(Post.id).where(Post.topic_id == topic.id, Post.number == 1)
    )
    elsewhere = world["replies"][0].id
    for wrong, status, field, message in (
        ({"posts": []}, 400, "posts", "Choose at least one post to split off."),
        (
            {"posts": [first_post, elsewhere]},
            400,
            "posts",
            "The first post stays with its topic; choose replies only.",
        ),
        ({"title": "ab"}, 400, "title", "Give the new topic a title of at least 3 characters."),
        ({"sig": "club"}, 403, None, "You do not moderate Club, so you cannot move topics there."),
        ({"sig": "nowhere"}, 404, None, None),
        ({"posts": ["2"]}, 400, "posts.0", None),
        ({"later": True}, 400, "later", None),
    ):
        refused = refused_and_nothing_written(client, "POST", url, grace, {**body, **wrong})
        assert refused.status_code == status, refused.get_json()
        error = error_of(refused)
        if field is not None:
            assert error["field"] == field, error
        if message is not None:
            assert error["message"] == message, error
    # A reply of another topic.
    stranger = world["replies"][0]
    other_topic = send(
        client,
        "POST",
        f"{API}/sigs/retro/topics",
        tok(world, "ada"),
        {"title": "Another topic", "body": "Its first post."},
    ).get_json()["id"]
    wrong_topic = refused_and_nothing_written(
        client, "POST", f"{API}/topics/{other_topic}/split", grace, {**body, "posts": [stranger.id]}
    )
    assert error_of(wrong_topic)["message"] == "Some of the chosen posts are not in this topic."
    missing = refused_and_nothing_written(client, "POST", f"{API}/topics/987654/split", grace, body)
    assert missing.status_code == 404
    assert [n for _, n in _numbers(topic.id)] == [1, 2, 3, 4, 5]
