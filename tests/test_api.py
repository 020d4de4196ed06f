"""The JSON API (/api/v1): its reads and writes through the same services and permission policy
as the pages, its answers' shapes, cursors and ETags, hostile JSON, and the role × visibility
matrix of every operation (no private title leaks through any of them)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from forum.api import services as api_services
from forum.extensions import db
from forum.moderation import services as mod
from forum.timeutil import utcnow
from forum.topics.models import Post, Topic

from . import dbstate
from .test_permissions import ROLES, SIG_NAME, TOPIC_TITLE, World, build

API = "/api/v1"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)$")


def token_for(user: Any, scopes: tuple[str, ...] | None = None) -> str:
    from forum import permissions

    scopes = scopes or permissions.token_scopes_for(user)
    return api_services.create_token(user, "tests", scopes, 30).secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def send(client: Any, method: str, url: str, secret: str | None = None, body: Any = None) -> Any:
    headers = bearer(secret) if secret else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.open(url, method=method, **kwargs)


def error_of(response: Any) -> dict[str, Any]:
    data = response.get_json()
    assert set(data) == {"error"}, data
    error = data["error"]
    assert error["status"] == response.status_code
    assert error["title"] and error["message"]
    return error


def refused_and_nothing_written(client: Any, method: str, url: str, secret, body=None) -> Any:
    """Send; the answer is an API error and the database is as it was (tests/dbstate)."""
    if secret:
        send(client, "GET", f"{API}/me", secret)  # (a token's first use is noted)
    db.session.expire_all()
    before = dbstate.snapshot()
    response = send(client, method, url, secret, body)
    after = dbstate.snapshot()
    assert response.status_code >= 400, response.get_json()
    assert dbstate.diff(before, after) == [], response.get_json()
    error_of(response)
    return response


# --- reads ----------------------------------------------------------------------------------


def test_a_guest_reads_public_sigs_topics_and_posts_raw_and_cooked(client, f) -> None:
    ada = f.user("ada")
    public = f.sig("retro", members=[ada], name="Retro Computing")
    f.sig("club", visibility="members", name="Members Club")
    f.sig("lair", visibility="private", name="Hidden Lair")
    topic = f.topic(ada, public, "Hello **world**", "Some *Markdown* here.")

    sigs = client.get(f"{API}/sigs")
    assert sigs.status_code == 200
    names = [s["name"] for s in sigs.get_json()["items"]]
    assert names == ["Members Club", "Retro Computing"] or set(names) == {
        "Members Club",
        "Retro Computing",
    }
    assert "Hidden Lair" not in sigs.get_data(as_text=True)
    club = next(s for s in sigs.get_json()["items"] if s["slug"] == "club")
    assert club["can_read"] is False and club["membership"] is None

    sig = client.get(f"{API}/sigs/retro").get_json()
    assert sig["id"] == public.id and sig["topic_count"] == 1 and sig["join"] == "closed"
    assert sig["url"].endswith("/s/retro/")

    listing = client.get(f"{API}/sigs/retro/topics").get_json()
    assert [t["id"] for t in listing["items"]] == [topic.id]
    assert listing["next_cursor"] is None
    shown = listing["items"][0]
    assert shown["author"] == {"id": ada.id, "username": "ada"}
    assert ISO_UTC.match(shown["created_at"]), shown["created_at"]

    detail = client.get(f"{API}/topics/{topic.id}").get_json()
    assert detail["title"] == "Hello **world**" and detail["can_reply"] is False
    assert detail["reply_problem"]

    posts = client.get(f"{API}/topics/{topic.id}/posts").get_json()["items"]
    assert len(posts) == 1
    post = posts[0]
    assert post["body_raw"] == "Some *Markdown* here."
    assert "<em>Markdown</em>" in post["body_html"]
    assert post["status"] == "visible" and post["number"] == 1
    assert post["permissions"] == {"edit": False, "delete": False, "flag": False, "moderate": False}
    assert client.get(f"{API}/posts/{post['id']}").get_json() == post


def test_answers_are_json_with_the_error_form(client, f) -> None:
    missing = client.get(f"{API}/topics/999999")
    assert missing.status_code == 404 and missing.mimetype == "application/json"
    assert error_of(missing)["message"] == "No such topic."
    nowhere = client.get(f"{API}/no-such-operation")
    assert nowhere.status_code == 404 and error_of(nowhere)
    wrong_method = client.put(f"{API}/sigs")
    assert wrong_method.status_code == 405 and error_of(wrong_method)
    me = client.get(f"{API}/me")
    assert me.status_code == 401 and error_of(me)
    assert me.headers["WWW-Authenticate"].startswith("Bearer")


def test_topics_are_listed_with_a_cursor_in_the_pages_order(client, f) -> None:
    ada = f.user("ada")
    root = f.sysop("root")
    sig = f.sig("retro", members=[ada])
    made = [f.topic(ada, sig, f"Topic number {n}") for n in range(7)]
    mod.pin_topic(root, made[2].id)
    expected = [made[2].id] + [t.id for t in reversed(made) if t.id != made[2].id]

    seen: list[int] = []
    cursor = None
    for _ in range(10):
        url = f"{API}/sigs/retro/topics?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).get_json()
        seen += [t["id"] for t in page["items"]]
        assert len(page["items"]) <= 3
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # A reply moves a topic to the top meanwhile: the cursor's place still holds.
        if len(seen) == 3:
            f.reply(ada, db.session.get(Topic, made[0].id), "bump")
    # The bumped topic moved ahead of the cursor: every other one once, in order.
    assert seen == [t for t in expected if t != made[0].id]
    assert len(set(seen)) == len(seen)


def test_posts_are_listed_by_number_with_a_cursor(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Long one")
    for n in range(5):
        f.reply(ada, topic, f"reply {n}")
    numbers: list[int] = []
    cursor = None
    while True:
        url = f"{API}/topics/{topic.id}/posts?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).get_json()
        numbers += [p["number"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert numbers == [1, 2, 3, 4, 5, 6]
    bad = client.get(f"{API}/topics/{topic.id}/posts?limit=500")
    assert bad.status_code == 400 and error_of(bad)["field"] == "limit"
    bad = client.get(f"{API}/sigs/{sig.slug}/topics?cursor=nonsense")
    assert bad.status_code == 400 and error_of(bad)["field"] == "cursor"


def test_reads_carry_an_etag_and_answer_304(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Cached")
    first = client.get(f"{API}/topics/{topic.id}/posts")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "Authorization" in first.headers["Vary"]
    again = client.get(f"{API}/topics/{topic.id}/posts", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    f.reply(ada, topic, "news")
    changed = client.get(f"{API}/topics/{topic.id}/posts", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


# --- writes with a token --------------------------------------------------------------------


def test_a_token_posts_a_reply_without_csrf_and_it_shows_on_the_page(client, f) -> None:
    ada = f.user("ada")
    bob = f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Say hello")
    secret = token_for(bob, ("read", "write"))

    made = send(
        client, "POST", f"{API}/topics/{topic.id}/posts", secret, {"body": "Hi from **curl**"}
    )
    assert made.status_code == 201, made.get_json()
    post = made.get_json()
    assert post["author"]["username"] == "bob"
    assert post["body_html"].count("<strong>curl</strong>") == 1
    assert post["permissions"]["edit"] and post["permissions"]["delete"]
    assert "Hi from" in client.get(f"/t/{topic.id}").get_data(as_text=True)
    # No cookie was set by a token's request.
    assert "Set-Cookie" not in made.headers


def test_reacting_through_the_api_follows_the_pages_rules(client, f) -> None:
    ada, bob, eve = f.user("ada"), f.user("bob"), f.user("eve")
    retro = f.sig("retro", members=[ada, bob])
    hidden = f.sig("hidden", visibility="private", members=[ada])
    post = f.first_post(f.topic(ada, retro, "Say hello"))
    secret = token_for(bob, ("read", "write"))
    url = f"{API}/posts/{post.id}/reaction"

    made = send(client, "PUT", url, secret, {"emoji": "👍"})
    assert made.status_code == 200, made.get_json()
    counts = {c["emoji"]: c["count"] for c in made.get_json()["counts"]}
    assert counts["👍"] == 1 and made.get_json()["mine"] == "👍"
    # Another emoji replaces it: still one reaction per member and post.
    again = send(client, "PUT", url, secret, {"emoji": "❤️"}).get_json()
    counts = {c["emoji"]: c["count"] for c in again["counts"]}
    assert counts["👍"] == 0 and counts["❤️"] == 1 and again["mine"] == "❤️"
    # What the page offers is all there is.
    refused = send(client, "PUT", url, secret, {"emoji": "🦄"})
    assert refused.status_code == 400 and error_of(refused)["field"] == "emoji"
    assert send(client, "DELETE", url, secret).status_code == 204
    assert send(client, "GET", f"{API}/posts/{post.id}", secret).status_code == 200
    counts = {c["emoji"]: c["count"] for c in send(client, "PUT", url, secret, {"emoji": "👍"})
              .get_json()["counts"]}  # fmt: skip
    assert sum(counts.values()) == 1
    # A read-only token may not, and a post in a SIG one may not read is not there at all.
    assert send(client, "PUT", url, token_for(bob, ("read",)), {"emoji": "👍"}).status_code == 403
    secret_post = f.first_post(f.topic(ada, hidden, "Private matters"))
    missing = send(client, "PUT", f"{API}/posts/{secret_post.id}/reaction", token_for(eve),
                   {"emoji": "👍"})  # fmt: skip
    assert missing.status_code == 404 and "Private matters" not in missing.get_data(as_text=True)
    assert send(client, "PUT", url, None, {"emoji": "👍"}).status_code in (400, 401, 403)


@pytest.mark.config(PRESENCE_LOOP=False)
def test_a_reply_by_token_reaches_the_pages_open_on_the_topic_live(app, make_client, f) -> None:
    from forum.extensions import socketio

    ada = f.user("ada")
    bob = f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Live one")
    reader = make_client()
    reader.login("ada")
    socket = socketio.test_client(app, flask_test_client=reader)
    assert socket.emit("subscribe", {"topic_id": topic.id}, callback=True)["ok"] is True
    made = send(
        make_client(),
        "POST",
        f"{API}/topics/{topic.id}/posts",
        token_for(bob),
        {"body": "Live from curl"},
    )
    assert made.status_code == 201
    nudges = [e["args"][0] for e in socket.get_received() if e["name"] == "post_created"]
    assert nudges == [{"topic_id": topic.id, "post_number": 2, "post_id": made.get_json()["id"]}]
    socket.disconnect()


def test_starting_editing_and_deleting_through_the_api(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    secret = token_for(ada, ("read", "write"))

    made = send(
        client,
        "POST",
        f"{API}/sigs/retro/topics",
        secret,
        {"title": "From a script", "body": "First words"},
    )
    assert made.status_code == 201, made.get_json()
    topic = made.get_json()
    assert topic["sig"] == {"id": sig.id, "slug": "retro", "name": sig.name}
    post_id = topic["first_post_id"]

    edited = send(
        client,
        "PATCH",
        f"{API}/posts/{post_id}",
        secret,
        {"body": "Better words", "title": "Renamed by a script"},
    )
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["body_raw"] == "Better words" and edited.get_json()["edit_count"] == 1
    assert client.get(f"{API}/topics/{topic['id']}").get_json()["title"] == "Renamed by a script"

    reply = send(
        client, "POST", f"{API}/topics/{topic['id']}/posts", secret, {"body": "a second post"}
    )
    reply_id = reply.get_json()["id"]
    gone = send(client, "DELETE", f"{API}/posts/{reply_id}", secret)
    assert gone.status_code == 204 and gone.data == b""
    assert send(client, "GET", f"{API}/posts/{reply_id}", secret).status_code == 404
    assert db.session.get(Post, reply_id).deleted_at is not None


def test_join_and_leave(client, f) -> None:
    ada = f.user("ada")
    f.sig("retro")
    secret = token_for(ada)
    joined = send(client, "PUT", f"{API}/sigs/retro/membership", secret)
    assert joined.status_code == 200 and joined.get_json()["status"] == "joined"
    assert (
        send(client, "GET", f"{API}/sigs/retro", secret).get_json()["membership"]["role"]
        == "member"
    )
    again = send(client, "PUT", f"{API}/sigs/retro/membership", secret)
    assert again.status_code == 409 and error_of(again)
    left = send(client, "DELETE", f"{API}/sigs/retro/membership", secret)
    assert left.status_code == 200 and left.get_json()["status"] == "left"
    assert send(client, "DELETE", f"{API}/sigs/retro/membership", secret).status_code == 409


def test_me_and_a_public_profile(client, f) -> None:
    ada = f.user("ada")
    f.sig("lair", visibility="private", members=[ada], name="Hidden Lair")
    f.sig("retro", members=[ada], name="Retro")
    secret = token_for(ada, ("read",))
    me = send(client, "GET", f"{API}/me", secret).get_json()
    assert me["username"] == "ada" and me["email"] == "ada@example.com"
    assert me["scopes"] == ["read"] and me["standing"]["problem"] is None
    assert {s["name"] for s in me["sigs"]} == {"Hidden Lair", "Retro"}
    public = client.get(f"{API}/members/ada").get_json()
    assert "email" not in public and [s["name"] for s in public["sigs"]] == ["Retro"]
    assert client.get(f"{API}/members/nobody").status_code == 404


def test_notifications_list_and_mark_read(client, f) -> None:
    ada = f.user("ada")
    bob = f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Ping")
    f.reply(bob, topic, "Hey @ada, look")
    secret = token_for(ada)
    listing = send(client, "GET", f"{API}/notifications", secret).get_json()
    assert listing["unread"] == 1 and listing["next_page"] is None
    item = listing["items"][0]
    assert item["kind"] == "mention" and "bob" in item["text"] and item["read"] is False
    done = send(client, "POST", f"{API}/notifications/{item['id']}/read", secret)
    assert done.get_json() == {"marked": 1, "unread": 0}
    other = token_for(bob)
    assert send(client, "POST", f"{API}/notifications/{item['id']}/read", other).status_code == 404
    assert send(client, "POST", f"{API}/notifications/read", secret).get_json()["marked"] == 0


@pytest.mark.search
def test_search_finds_only_what_the_reader_may_read(client, f) -> None:
    ada = f.user("ada")
    public = f.sig("retro", members=[ada])
    lair = f.sig("lair", visibility="private", members=[ada], name=SIG_NAME)
    f.topic(ada, public, "Zebra crossing", "zebra stripes everywhere")
    f.topic(ada, lair, TOPIC_TITLE, "zebra in the lair")
    guest = client.get(f"{API}/search?q=zebra").get_json()
    assert [h["topic"]["title"] for h in guest["items"]] == ["Zebra crossing"]
    assert TOPIC_TITLE not in json.dumps(guest) and SIG_NAME not in json.dumps(guest)
    member = send(client, "GET", f"{API}/search?q=zebra", token_for(ada)).get_json()
    assert {h["topic"]["title"] for h in member["items"]} == {"Zebra crossing", TOPIC_TITLE}
    assert client.get(f"{API}/search").status_code == 400


# --- moderation -----------------------------------------------------------------------------


def test_sysop_actions_for_those_allowed(client, f) -> None:
    ada = f.user("ada")
    boss = f.user("boss")
    root = f.sysop("root")
    sig = f.sig("retro", members=[ada], sysops=[boss])
    other = f.sig("other", sysops=[boss])
    topic = f.topic(ada, sig, "Moderate me")
    post = f.reply(ada, topic, "a rude reply")
    member, sysop = token_for(ada), token_for(boss)

    flag = send(
        client,
        "POST",
        f"{API}/posts/{post.id}/flags",
        token_for(boss, ("read", "write")),
        {"reason": "abuse"},
    )
    assert flag.status_code == 201 and flag.get_json()["reason"] == "abuse"
    assert (
        send(client, "POST", f"{API}/posts/{post.id}/hide", member, {"reason": "no"}).status_code
        == 403
    )
    # The token's scope is a ceiling: a sysop's write-only token does not moderate.
    weak = token_for(boss, ("read", "write"))
    refused = send(client, "POST", f"{API}/posts/{post.id}/hide", weak, {"reason": "rude"})
    assert refused.status_code == 403 and "moderate" in error_of(refused)["message"]
    hidden = send(client, "POST", f"{API}/posts/{post.id}/hide", sysop, {"reason": "rude"})
    assert hidden.status_code == 200 and hidden.get_json()["status"] == "hidden"
    assert client.get(f"{API}/posts/{post.id}").status_code == 404
    assert send(client, "POST", f"{API}/posts/{post.id}/hide", sysop, {}).status_code == 409
    assert (
        send(client, "POST", f"{API}/posts/{post.id}/unhide", sysop).get_json()["status"]
        == "visible"
    )

    locked = send(client, "POST", f"{API}/topics/{topic.id}/lock", sysop, {"reason": "cool down"})
    assert locked.status_code == 200 and locked.get_json()["locked"] is True
    closed = send(client, "POST", f"{API}/topics/{topic.id}/posts", member, {"body": "me too"})
    assert closed.status_code == 403 and "locked" in error_of(closed)["message"]
    assert (
        send(client, "POST", f"{API}/topics/{topic.id}/unlock", sysop).get_json()["locked"] is False
    )

    moved = send(client, "POST", f"{API}/topics/{topic.id}/move", sysop, {"sig": other.slug})
    assert moved.status_code == 200 and moved.get_json()["sig"]["slug"] == "other"

    until = (utcnow() + timedelta(days=3)).isoformat()
    in_sig = send(
        client,
        "POST",
        f"{API}/members/ada/suspend",
        sysop,
        {"until": until, "reason": "Cool off.", "sig": sig.slug},
    )
    assert in_sig.status_code == 200, in_sig.get_json()
    assert in_sig.get_json()["sig"]["slug"] == "retro"
    suspended = send(
        client, "POST", f"{API}/sigs/retro/topics", member, {"title": "Still here?", "body": "x"}
    )
    assert suspended.status_code == 403 and "suspended" in error_of(suspended)["message"]
    # Site-wide: the sysop alone, and with the admin scope.
    assert (
        send(
            client, "POST", f"{API}/members/ada/suspend", sysop, {"until": until, "reason": "Out."}
        ).status_code
        == 403
    )
    no_admin = token_for(root, ("read", "write", "moderate"))
    assert (
        send(
            client,
            "POST",
            f"{API}/members/ada/suspend",
            no_admin,
            {"until": until, "reason": "Out."},
        ).status_code
        == 403
    )
    site = send(
        client,
        "POST",
        f"{API}/members/ada/suspend",
        token_for(root),
        {"until": until, "reason": "Out."},
    )
    assert site.status_code == 200 and site.get_json()["sig"] is None
    naive = send(
        client,
        "POST",
        f"{API}/members/ada/suspend",
        token_for(root),
        {"until": "2030-01-01T00:00:00", "reason": "x"},
    )
    assert naive.status_code == 400 and error_of(naive)["field"] == "until"


# --- hostile input --------------------------------------------------------------------------


@pytest.fixture
def writer(client, f) -> tuple[Any, Topic, str]:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Target")
    return client, topic, token_for(ada)


def _raw(
    client: Any, url: str, secret: str, data: bytes, mimetype: str = "application/json"
) -> Any:
    return client.post(url, data=data, headers={**bearer(secret), "Content-Type": mimetype})


HOSTILE = {
    "lone surrogate": b'{"body": "half a pair \\ud800 here"}',
    "lone low surrogate key": b'{"\\udc00": "x", "body": "ok"}',
    "NUL": b'{"body": "nul \\u0000 inside"}',
    "raw NUL byte in JSON text": b'{"body": "nul \x00 inside"}',
    "not UTF-8": b'{"body": "\xff\xfe latin"}',
    "not JSON": b'{"body": ',
    "NaN": b'{"body": "x", "reply_to_post_id": NaN}',
    "deeply nested": b'{"body": "x", "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "nested a little too deep": b'{"body": "x", "extra": ' + b"[" * 40 + b"]" * 40 + b"}",
    "number for text": b'{"body": 12345}',
    "text for a number": b'{"body": "x", "reply_to_post_id": "7"}',
    "boolean for text": b'{"body": true}',
    "array for an object": b'["body", "x"]',
    "null body": b"null",
    "empty object": b"{}",
    "unknown field": b'{"body": "x", "admin": true}',
    "huge id": b'{"body": "x", "reply_to_post_id": 99999999999999999999999}',
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_json_is_a_clear_400_and_nothing_is_stored(writer, case: str) -> None:
    client, topic, secret = writer
    before = dbstate.snapshot()
    response = _raw(client, f"{API}/topics/{topic.id}/posts", secret, HOSTILE[case])
    assert response.status_code == 400, (case, response.get_data(as_text=True)[:300])
    error = error_of(response)
    assert len(error["message"]) < 500
    changed = set(dbstate.diff(before, dbstate.snapshot())) - {"api_tokens"}
    assert not changed, changed


def test_a_10_mb_string_is_refused_whole(writer) -> None:
    client, topic, secret = writer
    before = dbstate.count(Post)
    body = json.dumps({"body": "x" * (10 * 1024 * 1024)}).encode()
    response = _raw(client, f"{API}/topics/{topic.id}/posts", secret, body)
    assert response.status_code == 413 and error_of(response)
    # Under the request limit but over the post limit: the service's own 400.
    long = _raw(
        client,
        f"{API}/topics/{topic.id}/posts",
        secret,
        json.dumps({"body": "y" * 90_000}).encode(),
    )
    assert long.status_code == 400 and error_of(long)["field"] == "body"
    assert dbstate.count(Post) == before


def test_a_body_that_is_not_json_is_415(writer) -> None:
    client, topic, secret = writer
    response = _raw(
        client,
        f"{API}/topics/{topic.id}/posts",
        secret,
        b"body=hello",
        "application/x-www-form-urlencoded",
    )
    assert response.status_code == 415 and error_of(response)


def test_an_id_past_the_largest_is_a_plain_404_for_every_method(client) -> None:
    for method in ("GET", "PATCH", "DELETE", "POST"):
        for url in (f"{API}/posts/2147483648", f"{API}/topics/99999999999/posts"):
            response = client.open(url, method=method, json={"body": "x"})
            assert response.status_code == 404, (method, url, response.status_code)
            assert "Allow" not in response.headers


def test_a_nul_in_the_query_or_path_is_400(client) -> None:
    assert client.get(f"{API}/search?q=a%00b").status_code == 400
    assert error_of(client.get(f"{API}/sigs/a%00b"))["status"] == 400


# --- the matrix: every operation as every role in every kind of SIG -------------------------


@dataclass(frozen=True)
class Op:
    name: str
    method: str
    url: Callable[[World], str]
    # Status per visibility, one per role in ROLES order (guest, member, outsider, sig_sysop,
    # other_sysop, root).
    expect: dict[str, str]
    body: Callable[[World], Any] = lambda w: None


def _same(row: str) -> dict[str, str]:
    return {"public": row, "members": row, "private": row}


READ = {
    "public": "200 200 200 200 200 200",
    "members": "403 200 403 200 403 200",
    "private": "404 200 404 200 404 200",
}
# A write without a token is a browser's: the guest's has no CSRF token, so it is a 400.
POSTING = {
    "public": "400 201 201 201 201 201",
    "members": "400 201 403 201 403 201",
    "private": "400 201 404 201 404 201",
}
OWN_WRITE = {
    "public": "400 {ok} 403 {ok} 403 {ok}",
    "members": "400 {ok} 403 {ok} 403 {ok}",
    "private": "400 {ok} 404 {ok} 404 {ok}",
}
# A token's scope is asked before anything is looked up: members' tokens hold no "moderate",
# so they get the same 403 for any id, seen or not (nothing to learn from it).
MODERATE = {
    "public": "400 403 403 200 403 200",
    "members": "400 403 403 200 403 200",
    "private": "400 403 403 200 404 200",
}


def _fill(rows: dict[str, str], ok: str) -> dict[str, str]:
    return {k: v.format(ok=ok) for k, v in rows.items()}


def _fresh_topic(w: World) -> Topic:
    return w.f.topic(w.users["author"], w.sig, "Another plan", "For a sysop to lock.")


def _authors_reply(w: World) -> int:
    return int(w.f.reply(w.users["author"], w.topic, "the author's reply to flag").id)


OPS = [
    Op("list SIGs", "GET", lambda w: f"{API}/sigs", _same("200 200 200 200 200 200")),
    Op(
        "show SIG",
        "GET",
        lambda w: f"{API}/sigs/{w.sig.slug}",
        {**_same("200 200 200 200 200 200"), "private": "404 200 404 200 404 200"},
    ),
    Op("list topics", "GET", lambda w: f"{API}/sigs/{w.sig.slug}/topics", READ),
    Op(
        "start topic",
        "POST",
        lambda w: f"{API}/sigs/{w.sig.slug}/topics",
        POSTING,
        body=lambda w: {"title": "A new plan", "body": "Its first post."},
    ),
    Op("show topic", "GET", lambda w: f"{API}/topics/{w.topic.id}", READ),
    Op("list posts", "GET", lambda w: f"{API}/topics/{w.topic.id}/posts", READ),
    Op(
        "reply",
        "POST",
        lambda w: f"{API}/topics/{w.topic.id}/posts",
        POSTING,
        body=lambda w: {"body": "a reply through the API"},
    ),
    Op("show post", "GET", lambda w: f"{API}/posts/{w.reply.id}", READ),
    Op(
        "edit post",
        "PATCH",
        lambda w: f"{API}/posts/{w.reply.id}",
        _fill(OWN_WRITE, "200"),
        body=lambda w: {"body": f"edited at {utcnow().isoformat()}"},
    ),
    Op(
        "delete post",
        "DELETE",
        lambda w: f"{API}/posts/{w.fresh_reply().id}",
        _fill(OWN_WRITE, "204"),
    ),
    Op(
        "join",
        "PUT",
        lambda w: f"{API}/sigs/{w.sig.slug}/membership",
        {
            "public": "400 409 200 409 200 200",
            "members": "400 409 200 409 200 200",
            # A private SIG is joined by request; outsiders may not know it exists.
            "private": "400 409 404 409 404 400",
        },
    ),
    Op(
        "leave",
        "DELETE",
        lambda w: f"{API}/sigs/{w.sig.slug}/membership",
        {
            "public": "400 200 409 200 409 409",
            "members": "400 200 409 200 409 409",
            "private": "400 200 404 200 404 409",
        },
    ),
    Op(
        "flag",
        "POST",
        # A post of its own for each role: enough weighted flags hide a post (trust levels).
        lambda w: f"{API}/posts/{_authors_reply(w)}/flags",
        {
            "public": "400 201 201 201 201 201",
            "members": "400 201 403 201 403 201",
            "private": "400 201 404 201 404 201",
        },
        body=lambda w: {"reason": "spam"},
    ),
    Op(
        "hide",
        "POST",
        lambda w: f"{API}/posts/{w.fresh_reply().id}/hide",
        MODERATE,
        body=lambda w: {"reason": "rude"},
    ),
    Op(
        "lock",
        "POST",
        lambda w: f"{API}/topics/{_fresh_topic(w).id}/lock",
        MODERATE,
        body=lambda w: {"reason": "enough"},
    ),
    Op(
        "move",
        "POST",
        lambda w: f"{API}/topics/{_fresh_topic(w).id}/move",
        # Nobody moderates both SIGs but the sysop; "elsewhere" is the other sysop's.
        {
            "public": "400 403 403 403 403 200",
            "members": "400 403 403 403 403 200",
            # "elsewhere" is private too: the SIG's sysop may not know it exists.
            "private": "400 403 403 404 404 200",
        },
        body=lambda w: {"sig": "elsewhere"},
    ),
    Op(
        "split",
        "POST",
        lambda w: f"{API}/topics/{w.topic.id}/split",
        {
            "public": "400 403 403 201 403 201",
            "members": "400 403 403 201 403 201",
            "private": "400 403 403 201 404 201",
        },
        body=lambda w: {"posts": [w.fresh_reply().id], "title": "A plan of its own"},
    ),
    Op(
        "suspend in the SIG",
        "POST",
        lambda w: f"{API}/members/{w.fresh_member().username}/suspend",
        {
            "public": "400 403 403 200 403 200",
            "members": "400 403 403 200 403 200",
            "private": "400 403 403 200 404 200",
        },
        body=lambda w: {
            "until": (utcnow() + timedelta(days=2)).isoformat(),
            "reason": "Cool off.",
            "sig": w.sig.slug,
        },
    ),
    Op(
        "the author's profile",
        "GET",
        lambda w: f"{API}/members/author",
        _same("200 200 200 200 200 200"),
    ),
    Op(
        "search",
        "GET",
        lambda w: f"{API}/search?q=secret%20plans",
        _same("200 200 200 200 200 200"),
    ),
    Op("me", "GET", lambda w: f"{API}/me", _same("401 200 200 200 200 200")),
    Op("notifications", "GET", lambda w: f"{API}/notifications", _same("401 200 200 200 200 200")),
    Op("ignored", "GET", lambda w: f"{API}/me/ignored", _same("401 200 200 200 200 200")),
    Op(
        "ignore the author",
        "PUT",
        lambda w: f"{API}/me/ignored/author",
        _same("400 200 200 200 200 200"),
    ),
    Op("preferences", "GET", lambda w: f"{API}/me/preferences", _same("401 200 200 200 200 200")),
    Op(
        "change preferences",
        "PATCH",
        lambda w: f"{API}/me/preferences",
        _same("400 200 200 200 200 200"),
        body=lambda w: {"language": "de", "notifications": {"mail": {"quote": "now"}}},
    ),
]


@pytest.mark.parametrize(
    ("op", "visibility"),
    [
        pytest.param(op, v, id=f"{op.name}-{v}", marks=[pytest.mark.search] * (op.name == "search"))
        for op in OPS
        for v in op.expect
    ],
)
def test_api_matrix(client, f, op: Op, visibility: str) -> None:
    world = build(f, visibility)
    expected = dict(zip(ROLES, op.expect[visibility].split(), strict=True))
    secrets = {}
    for role in ROLES:
        user = world.user(role)
        if user is not None:
            secrets[role] = token_for(user)
            # The token's first use notes it: done before the snapshots.
            send(client, "GET", f"{API}/me", secrets[role])
    failures = []
    for role in ROLES:
        url = op.url(world)
        body = op.body(world)
        db.session.expire_all()
        before = dbstate.snapshot()
        response = send(client, op.method, url, secrets.get(role), body)
        after = dbstate.snapshot()
        if str(response.status_code) != expected[role]:
            failures.append(
                f"{role}: expected {expected[role]}, got {response.status_code} for "
                f"{op.method} {url}: {response.get_data(as_text=True)[:200]}"
            )
        text = response.get_data(as_text=True)
        reads_it = role in ("member", "sig_sysop", "root") or visibility == "public"
        if not reads_it:
            assert TOPIC_TITLE not in text, f"{role} sees the topic's title in {op.name}"
            if visibility == "private":
                assert SIG_NAME not in text, f"{role} sees the private SIG's name in {op.name}"
        if response.status_code >= 400:
            assert response.status_code != 500
            error_of(response)
            changed = dbstate.diff(before, after)
            assert not changed, f"{role} was refused but {changed} changed"
    assert not failures, "\n".join(failures)


# --- an invisible post or topic answers exactly as a missing one ----------------------------

MISSING = 987_654
PROBES = [
    ("GET", "/posts/{post}", None),
    ("PATCH", "/posts/{post}", {"body": "probe body"}),
    ("DELETE", "/posts/{post}", None),
    ("POST", "/posts/{post}/flags", {"reason": "spam"}),
    ("POST", "/posts/{post}/hide", {"reason": "x"}),
    ("GET", "/topics/{topic}", None),
    ("GET", "/topics/{topic}/posts", None),
    ("POST", "/topics/{topic}/posts", {"body": "probe body"}),
    ("POST", "/topics/{topic}/lock", {}),
    ("POST", "/topics/{topic}/split", {"posts": [MISSING], "title": "A probe"}),
]


@pytest.mark.parametrize("visibility", ["public", "private"])
def test_an_invisible_post_answers_like_a_missing_one(client, f, visibility: str) -> None:
    from .test_permissions import _invisible_things

    world, things = _invisible_things(f, visibility)
    secret = token_for(world.user("member"))
    for label, (post_id, topic_id) in things.items():
        if label == "post in the SIG":
            continue
        for method, pattern, body in PROBES:
            if "{post}" in pattern and label in ("pending topic",):
                continue
            if "{topic}" in pattern and label in ("hidden post", "pending post", "deleted post"):
                continue
            answers = []
            for values in (
                {"post": post_id, "topic": topic_id},
                {"post": MISSING, "topic": MISSING},
            ):
                response = send(client, method, API + pattern.format(**values), secret, body)
                answers.append((response.status_code, response.get_json()))
            assert answers[0] == answers[1], f"{label}: {method} {pattern}: {answers}"


# --- cost -----------------------------------------------------------------------------------


def test_listings_take_the_same_number_of_queries_for_few_and_many(
    client, f, count_queries
) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    few = f.topic(ada, sig, "Few posts")
    many = f.topic(ada, sig, "Many posts")
    for n in range(12):
        f.reply(ada, many, f"reply {n}")
    secret = token_for(ada)
    send(client, "GET", f"{API}/me", secret)  # the token's first use is noted once

    def cost(url: str) -> int:
        db.session.expire_all()
        with count_queries() as counted:
            assert send(client, "GET", url, secret).status_code == 200
        return counted.count

    assert cost(f"{API}/topics/{few.id}/posts") == cost(f"{API}/topics/{many.id}/posts")
    small = cost(f"{API}/sigs/retro/topics?limit=1")
    for n in range(8):
        f.topic(ada, sig, f"Another topic {n}")
    assert cost(f"{API}/sigs/retro/topics?limit=10") == small
    assert cost(f"{API}/sigs") <= 6
