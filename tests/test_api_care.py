"""Member care in the JSON API (/api/v1/concerns): a member's concerns, writing to the sysops,
answers, the sysops' inbox, notes, assignment, states and "did it help?", through the care
pages' services and policy; who may do what, the scopes, bad input, the shared mail budget."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from forum.admin import services as admin_services
from forum.care import services as care
from forum.care.models import OPEN, RESOLVED, WAITING, Concern, ConcernNote
from forum.extensions import db
from forum.messages.models import ConversationMember
from forum.notifications.models import Notification

from . import dbstate
from .test_api import bearer, error_of, refused_and_nothing_written, send, token_for
from .test_concerns import care_world
from .test_permissions import MISSING_ID, TOPIC_TITLE, build_care

API = "/api/v1"


@pytest.fixture
def world(f) -> dict[str, Any]:
    w = care_world(f)
    topic = f.topic(w["ken"], w["retro"], "My posts", "The post in question.")
    return {**w, "topic": topic, "tokens": {}}


def tok(w: dict[str, Any], name: str) -> str:
    """The member's token with every scope they may hold (one per member and test)."""
    if name not in w["tokens"]:
        w["tokens"][name] = token_for(w[name])
    return str(w["tokens"][name])


def _write(w: dict[str, Any], body: str = "Where did my posts go?") -> Concern:
    return care.write_to_sysops(w["ken"], w["retro"].id, "My old posts vanished", body)


# --- the member -----------------------------------------------------------------------------
def test_a_member_writes_to_a_sigs_sysops_lists_and_reads_the_concern(client, world) -> None:
    ken = tok(world, "ken")
    made = send(
        client,
        "POST",
        f"{API}/concerns",
        ken,
        {"sig": "retro", "subject": "Help me", "body": "My **posts** vanished."},
    )
    assert made.status_code == 201, made.get_json()
    shown = made.get_json()
    concern = db.session.scalar(select(Concern))
    assert (concern.sig_id, concern.member_id, concern.state) == (
        world["retro"].id,
        world["ken"].id,
        OPEN,
    )
    assert shown["id"] == concern.id and shown["subject"] == "Help me"
    assert shown["sig"]["slug"] == "retro" and shown["state"] == "open"
    assert shown["to_whom"] == "the sysops of Retro Computing"
    assert shown["url"].endswith(f"/care/{concern.id}")
    assert shown["handling"] is None and shown["can_rate"] is False
    [message] = shown["messages"]
    assert message["from_sysops"] is False and message["author"] is None
    assert "<strong>posts</strong>" in message["body_html"]
    # The SIG's sysops hear of it, as from the page.
    told = db.session.scalars(
        select(Notification.user_id).where(Notification.kind == "concern")
    ).all()
    assert sorted(told) == sorted([world["grace"].id, world["linus"].id])

    listed = send(client, "GET", f"{API}/concerns", ken).get_json()["items"]
    assert [c["id"] for c in listed] == [concern.id]
    assert listed[0]["sig"]["name"] == "Retro Computing" and listed[0]["state"] == "open"
    read = send(client, "GET", f"{API}/concerns/{concern.id}", ken)
    assert read.status_code == 200
    assert read.get_json() == shown
    # Others' concerns are not in one's list.
    assert send(client, "GET", f"{API}/concerns", tok(world, "ada")).get_json()["items"] == []


def test_a_member_writes_to_the_sites_sysops_and_about_a_post(client, world, f) -> None:
    ken = tok(world, "ken")
    site = send(
        client, "POST", f"{API}/concerns", ken, {"subject": "My account", "body": "A question."}
    )
    assert site.status_code == 201, site.get_json()
    assert site.get_json()["sig"] is None and site.get_json()["to_whom"] == "the site's sysops"
    assert db.session.get(Concern, site.get_json()["id"]).sig_id is None
    post_id = world["topic"].first_post_id
    about = send(
        client,
        "POST",
        f"{API}/concerns",
        ken,
        {"sig": "retro", "subject": "This post", "body": "Look.", "post_id": post_id},
    )
    assert about.status_code == 201, about.get_json()
    assert about.get_json()["post"]["id"] == post_id
    assert about.get_json()["post"]["topic"]["title"] == "My posts"
    assert db.session.get(Concern, about.get_json()["id"]).post_id == post_id
    # A post of another SIG is refused, and nothing is written.
    games = f.topic(world["other"], world["games"], "Games news", "Hello games.")
    refused = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/concerns",
        ken,
        {"sig": "retro", "subject": "x", "body": "y", "post_id": games.first_post_id},
    )
    assert refused.status_code == 400
    assert error_of(refused)["message"] == "That post is in another SIG."


def test_reading_ones_concern_marks_it_read_as_its_page_does(client, world) -> None:
    concern = _write(world)
    care.reply(world["grace"], concern.id, "We are on it.")
    row = db.session.get(ConversationMember, (concern.conversation_id, world["ken"].id))
    unread_before = row.last_read_message_id
    send(client, "GET", f"{API}/concerns/{concern.id}", tok(world, "ken"))
    row = db.session.get(ConversationMember, (concern.conversation_id, world["ken"].id))
    assert row.last_read_message_id != unread_before
    assert row.last_read_message_id == max(
        m["id"]
        for m in send(client, "GET", f"{API}/concerns/{concern.id}", tok(world, "ken")).get_json()[
            "messages"
        ]
    )


def test_a_concern_read_carries_an_etag_and_answers_304(client, world) -> None:
    concern = _write(world)
    url = f"{API}/concerns/{concern.id}"
    first = send(client, "GET", url, tok(world, "grace"))
    etag = first.headers["ETag"]
    again = client.get(url, headers={**bearer(tok(world, "grace")), "If-None-Match": etag})
    assert again.status_code == 304
    care.add_note(world["linus"], concern.id, "Looked at it.")
    changed = client.get(url, headers={**bearer(tok(world, "grace")), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    inbox = send(client, "GET", f"{API}/concerns/inbox", tok(world, "grace"))
    assert inbox.headers["ETag"]
    headers = {**bearer(tok(world, "grace")), "If-None-Match": inbox.headers["ETag"]}
    assert client.get(f"{API}/concerns/inbox", headers=headers).status_code == 304


def test_a_hidden_message_is_shown_without_its_words_as_on_the_page(client, world) -> None:
    from forum.db import transaction
    from forum.messages.models import PrivateMessage
    from forum.timeutil import utcnow

    concern = _write(world, "Some words to hide.")
    with transaction():
        message = db.session.scalar(select(PrivateMessage))
        message.hidden_at = utcnow()
    for who in ("ken", "grace"):
        [shown] = send(client, "GET", f"{API}/concerns/{concern.id}", tok(world, who)).get_json()[
            "messages"
        ]
        assert shown["hidden"] is True and shown["body_raw"] is None and shown["body_html"] is None
    assert "Some words" not in client.get(f"/care/{concern.id}").get_data(as_text=True)


def test_a_concern_and_the_inbox_take_the_same_queries_for_few_and_many(
    client, world, count_queries
) -> None:
    concern = _write(world)
    care.reply(world["grace"], concern.id, "first answer")
    care.add_note(world["linus"], concern.id, "first note")
    grace = tok(world, "grace")
    send(client, "GET", f"{API}/me", grace)  # (the token's first use is noted)

    def measure() -> tuple[int, int]:
        counts = []
        for url in (f"{API}/concerns/{concern.id}", f"{API}/concerns/inbox?state=waiting"):
            db.session.expire_all()
            with count_queries() as counter:
                assert send(client, "GET", url, grace).status_code == 200
            counts.append(counter.count)
        return counts[0], counts[1]

    few = measure()
    for i in range(6):
        care.reply(world["ken"] if i % 2 else world["grace"], concern.id, f"message {i}")
        care.add_note(world["linus"], concern.id, f"note {i}")
        other = care.write_to_sysops(world["ada"], world["retro"].id, f"More {i}", "Words.")
        care.reply(world["linus"], other.id, "Answered.")
    many = measure()
    detail = send(client, "GET", f"{API}/concerns/{concern.id}", grace).get_json()
    assert len(detail["messages"]) == 8 and len(detail["handling"]["notes"]) == 7
    box = send(client, "GET", f"{API}/concerns/inbox?state=waiting", grace).get_json()
    assert len(box["items"]) == 6  # (the first is open again: ken wrote last)
    assert few == many


# --- the sysops and the member, in turn -----------------------------------------------------
def test_the_sysops_answer_as_the_sysops_and_the_lifecycle_follows(client, world) -> None:
    concern = _write(world)
    url = f"{API}/concerns/{concern.id}"
    ken, grace = tok(world, "ken"), tok(world, "grace")
    answered = send(client, "POST", f"{url}/messages", grace, {"body": "Which posts?"})
    assert answered.status_code == 201, answered.get_json()
    seen_by_grace = answered.get_json()
    assert seen_by_grace["state"] == "waiting"
    assert [m["author"] for m in seen_by_grace["messages"]] == [None, "grace"]
    handling = seen_by_grace["handling"]
    assert handling["assignee"]["username"] == "grace"
    assert handling["member"]["username"] == "ken"
    assert [u["username"] for u in handling["sysops"]] == ["grace", "linus", "root"]
    assert handling["first_response_at"] is not None and handling["overdue"] is False
    # The member reads "the sysops": no name, no handling.
    seen_by_ken = send(client, "GET", url, ken).get_json()
    assert [m["from_sysops"] for m in seen_by_ken["messages"]] == [False, True]
    assert [m["author"] for m in seen_by_ken["messages"]] == [None, None]
    assert seen_by_ken["handling"] is None
    assert "grace" not in send(client, "GET", url, ken).get_data(as_text=True)

    again = send(client, "POST", f"{url}/messages", ken, {"body": "The ones from May."})
    assert again.status_code == 201 and again.get_json()["state"] == "open"
    # A member does not resolve: that is the sysops' verb.
    refused = refused_and_nothing_written(
        client, "POST", f"{url}/messages", ken, {"body": "done?", "resolve": True}
    )
    assert refused.status_code == 403
    done = send(client, "POST", f"{url}/messages", grace, {"body": "Restored.", "resolve": True})
    assert done.status_code == 201 and done.get_json()["state"] == "resolved"
    assert db.session.get(Concern, concern.id).state == RESOLVED

    offered = send(client, "GET", url, ken).get_json()
    assert offered["can_rate"] is True and offered["helped"] is None
    assert send(client, "GET", url, grace).get_json()["can_rate"] is False
    rated = send(client, "POST", f"{url}/rating", ken, {"helped": True})
    assert rated.status_code == 200, rated.get_json()
    assert rated.get_json()["helped"] is True and rated.get_json()["can_rate"] is False
    assert db.session.get(Concern, concern.id).helped is True
    twice = refused_and_nothing_written(client, "POST", f"{url}/rating", ken, {"helped": False})
    assert twice.status_code == 409
    assert (
        refused_and_nothing_written(
            client, "POST", f"{url}/rating", grace, {"helped": False}
        ).status_code
        == 409
    )


def test_notes_assignment_and_states_are_the_sysops_and_notes_stay_theirs(client, world) -> None:
    concern = _write(world)
    url = f"{API}/concerns/{concern.id}"
    ken, grace = tok(world, "ken"), tok(world, "grace")
    noted = send(client, "POST", f"{url}/notes", grace, {"body": "Ken asked *twice* before."})
    assert noted.status_code == 201, noted.get_json()
    [note] = noted.get_json()["handling"]["notes"]
    assert note["author"] == "grace" and "<em>twice</em>" in note["body_html"]
    assert db.session.scalar(select(ConcernNote.body_raw)) == "Ken asked *twice* before."
    assert "twice" not in send(client, "GET", url, ken).get_data(as_text=True)
    assert send(client, "GET", url, tok(world, "linus")).get_json()["handling"]["notes"][0][
        "body_raw"
    ] == ("Ken asked *twice* before.")

    assigned = send(client, "POST", f"{url}/assign", grace, {"assignee": "linus"})
    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["handling"]["assignee"]["username"] == "linus"
    assert db.session.get(Concern, concern.id).assignee_id == world["linus"].id
    not_a_sysop = refused_and_nothing_written(
        client, "POST", f"{url}/assign", grace, {"assignee": "ken"}
    )
    assert not_a_sysop.status_code == 400 and error_of(not_a_sysop)["field"] == "assignee"
    nobody = send(client, "POST", f"{url}/assign", grace, {"assignee": None})
    assert nobody.status_code == 200 and nobody.get_json()["handling"]["assignee"] is None

    for state in (WAITING, RESOLVED, OPEN):
        changed = send(client, "POST", f"{url}/state", grace, {"state": state})
        assert changed.status_code == 200 and changed.get_json()["state"] == state
        assert db.session.get(Concern, concern.id).state == state
    bad = refused_and_nothing_written(client, "POST", f"{url}/state", grace, {"state": "closed"})
    assert bad.status_code == 400 and error_of(bad)["field"] == "state"


def test_the_inbox_by_state_and_sig(client, world) -> None:
    first = _write(world)
    second = _write(world, "And another thing.")
    care.reply(world["grace"], second.id, "Answered.")
    site = care.write_to_sysops(world["ada"], None, "Site question", "Hello site.")
    grace = tok(world, "grace")

    box = send(client, "GET", f"{API}/concerns/inbox", grace)
    assert box.status_code == 200, box.get_json()
    data = box.get_json()
    assert data["state"] == "open" and data["sig"] is None
    assert [c["id"] for c in data["items"]] == [first.id]
    assert data["counts"] == {"open": 1, "waiting": 1, "resolved": 0, "overdue": 0, "appeals": 0}
    row = data["items"][0]
    assert row["member"]["username"] == "ken" and row["assignee"] is None
    assert row["to_whom"] == "the sysops of Retro Computing"
    waiting = send(client, "GET", f"{API}/concerns/inbox?state=waiting&sig=retro", grace)
    assert [c["id"] for c in waiting.get_json()["items"]] == [second.id]
    assert waiting.get_json()["items"][0]["assignee"]["username"] == "grace"
    assert waiting.get_json()["sig"]["slug"] == "retro"

    # The global sysop's inbox holds every SIG's and the site's.
    everything = send(client, "GET", f"{API}/concerns/inbox", tok(world, "root")).get_json()
    assert {c["id"] for c in everything["items"]} == {first.id, site.id}
    # Another SIG's sysop has an inbox, without these; not this SIG's.
    other = tok(world, "other")
    assert send(client, "GET", f"{API}/concerns/inbox", other).get_json()["items"] == []
    assert send(client, "GET", f"{API}/concerns/inbox?sig=retro", other).status_code == 404
    # A member has none; an unknown state or SIG is a clear error.
    assert send(client, "GET", f"{API}/concerns/inbox", tok(world, "ken")).status_code == 404
    bad = send(client, "GET", f"{API}/concerns/inbox?state=closed", grace)
    assert bad.status_code == 400 and error_of(bad)["field"] == "state"
    unknown = send(client, "GET", f"{API}/concerns/inbox?sig=nowhere", grace)
    assert unknown.status_code == 404 and error_of(unknown)["message"] == "No such SIG."


# --- scopes and refusals --------------------------------------------------------------------
def test_a_token_without_the_scope_is_refused_before_anything_is_looked_up(client, world) -> None:
    concern = _write(world)
    url = f"{API}/concerns/{concern.id}"
    read_only = token_for(world["ken"], ("read",))
    refused = refused_and_nothing_written(
        client, "POST", f"{url}/messages", read_only, {"body": "more"}
    )
    assert refused.status_code == 403 and "write" in error_of(refused)["message"]
    write_only = token_for(world["ken"], ("write",))
    assert send(client, "GET", url, write_only).status_code == 403
    # A sysop's token without "moderate" answers, but does not note, assign, resolve.
    weak = token_for(world["grace"], ("read", "write"))
    for path, body in (
        ("notes", {"body": "a note"}),
        ("assign", {"assignee": "grace"}),
        ("state", {"state": "resolved"}),
        ("messages", {"body": "Fixed.", "resolve": True}),
    ):
        for target in (url, f"{API}/concerns/{MISSING_ID}"):
            answer = refused_and_nothing_written(client, "POST", f"{target}/{path}", weak, body)
            assert answer.status_code == 403 and "moderate" in error_of(answer)["message"]
    assert send(client, "POST", f"{url}/messages", weak, {"body": "On it."}).status_code == 201


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        (None, "subject", 400),
        ({}, "subject", 400),
        ({"sig": "retro", "subject": "", "body": "x"}, "subject", 400),
        ({"sig": "retro", "subject": "Hi", "body": ""}, "body", 400),
        ({"sig": "retro", "subject": "Hi", "body": "   \n  "}, "body", 400),
        ({"sig": "retro", "subject": "Hi", "body": "x" * 30_001}, "body", 400),
        ({"sig": "retro", "subject": "x" * 201, "body": "Hi"}, "subject", 400),
        ({"sig": "retro", "subject": "Hi", "body": "x", "to": "grace"}, "to", 400),
        ({"sig": "retro", "subject": "Hi", "body": 7}, "body", 400),
        ({"sig": "no-such-sig", "subject": "Hi", "body": "x"}, None, 404),
        ({"sig": "not a slug", "subject": "Hi", "body": "x"}, "sig", 400),
    ],
    ids=[
        "no body",
        "empty object",
        "empty subject",
        "empty body",
        "blank body",
        "too long",
        "subject too long",
        "unknown field",
        "not text",
        "unknown SIG",
        "not a slug",
    ],
)
def test_bad_input_to_write_is_a_clear_error_and_writes_nothing(
    client, world, body, field, status
) -> None:
    refused = refused_and_nothing_written(
        client, "POST", f"{API}/concerns", tok(world, "ken"), body
    )
    assert refused.status_code == status
    error = error_of(refused)
    if field is not None:
        assert error["field"] == field, error
    if status == 404:
        assert error["message"] == "No such SIG."
    if body and len(str(body.get("body", ""))) > 30_000:
        # The service's own limit, in its words (the schema's bound is wider).
        assert "30,000" in error["message"]


def test_bad_input_in_a_concern_is_a_clear_error_and_writes_nothing(client, world) -> None:
    concern = _write(world)
    url = f"{API}/concerns/{concern.id}"
    ken, grace = tok(world, "ken"), tok(world, "grace")
    for secret, path, body, field in (
        (ken, "messages", None, "body"),
        (ken, "messages", {"body": ""}, "body"),
        (ken, "messages", {"body": " "}, "body"),
        (ken, "messages", {"body": "x" * 30_001}, "body"),
        (grace, "notes", {"body": ""}, "body"),
        (grace, "notes", {"body": "x" * 5_001}, "body"),
        (grace, "assign", {}, "assignee"),
        (ken, "rating", {"helped": "yes"}, "helped"),
    ):
        refused = refused_and_nothing_written(client, "POST", f"{url}/{path}", secret, body)
        assert refused.status_code == 400, (path, body)
        assert error_of(refused).get("field") == field, (path, body, error_of(refused))


def test_writing_to_ones_own_sigs_sysops_is_refused(client, world) -> None:
    refused = refused_and_nothing_written(
        client,
        "POST",
        f"{API}/concerns",
        tok(world, "grace"),
        {"sig": "retro", "subject": "Hi", "body": "Me?"},
    )
    assert refused.status_code == 403
    assert error_of(refused)["message"] == "You are one of this SIG's sysops."


@pytest.mark.config(RATELIMIT_ENABLED=True)
def test_writing_to_the_sysops_shares_the_pages_mail_budget(make_client, world) -> None:
    admin_services.update_settings(world["root"], {"mail_rate_limit": "2 per minute"})
    concern = _write(world)
    client = make_client()
    ken = tok(world, "ken")
    first = send(client, "POST", f"{API}/concerns/{concern.id}/messages", ken, {"body": "one"})
    assert first.status_code == 201
    second = send(
        client, "POST", f"{API}/concerns", token_for(world["ken"]), {"subject": "a", "body": "b"}
    )
    assert second.status_code == 201
    spent = send(client, "POST", f"{API}/concerns/{concern.id}/messages", ken, {"body": "three"})
    assert spent.status_code == 429 and error_of(spent)["status"] == 429
    assert int(spent.headers["Retry-After"]) > 0
    page = make_client()
    page.login("ken")
    assert page.form(f"/care/{concern.id}/reply", {"body": "from the page"}).status_code == 429


# --- the matrix: every operation as every role ----------------------------------------------
# Roles of tests/test_permissions.py's care world: a guest, the member who wrote the concern,
# another member, the SIG's sysop, the sysop of another SIG, the global sysop, and a sysop
# dismissed from the SIG after the concern was written. Each holds a token with every scope
# they may have (members: read and write; sysops: moderate too). A guest's write has no CSRF
# token: 400. A member's token holds no "moderate": 403 for any id, before anything is read.
CARE_ROLES = ("guest", "member", "outsider", "sig_sysop", "other_sysop", "root", "removed")
ROUTES = [
    ("read", "GET", lambda w: f"/concerns/{w.concern().id}", None,
     "401 200 404 200 404 200 404"),
    ("my concerns", "GET", lambda w: "/concerns", None, "401 200 200 200 200 200 200"),
    ("write", "POST", lambda w: "/concerns",
     lambda w: {"sig": w.world.sig.slug, "subject": "Hello", "body": "A question."},
     "400 201 201 403 201 403 201"),
    ("write to the site's sysops", "POST", lambda w: "/concerns",
     lambda w: {"subject": "Hello", "body": "A question."}, "400 201 201 201 201 403 201"),
    ("write in it", "POST", lambda w: f"/concerns/{w.concern().id}/messages",
     lambda w: {"body": "more words"}, "400 201 404 201 404 201 404"),
    ("answer and resolve", "POST", lambda w: f"/concerns/{w.concern().id}/messages",
     lambda w: {"body": "done", "resolve": True}, "400 403 403 201 404 201 403"),
    ("note", "POST", lambda w: f"/concerns/{w.concern().id}/notes",
     lambda w: {"body": "a note"}, "400 403 403 201 404 201 403"),
    ("resolve", "POST", lambda w: f"/concerns/{w.concern().id}/state",
     lambda w: {"state": "resolved"}, "400 403 403 200 404 200 403"),
    ("assign", "POST", lambda w: f"/concerns/{w.concern().id}/assign",
     lambda w: {"assignee": "sigsysop"}, "400 403 403 200 404 200 403"),
    ("it helped", "POST", lambda w: f"/concerns/{w.concern(resolved=True).id}/rating",
     lambda w: {"helped": True}, "400 200 404 409 404 409 404"),
    ("inbox", "GET", lambda w: "/concerns/inbox", None, "401 404 404 200 200 200 404"),
    ("a SIG's inbox", "GET", lambda w: f"/concerns/inbox?sig={w.world.sig.slug}", None,
     "401 404 404 200 404 200 404"),
    # The SIG page's care box, duty, deadlines and pages (tests/test_permissions.py's
    # CARE_ROUTES for the pages: a flashed refusal there is a 403 here).
    ("a SIG's care box", "GET", lambda w: f"/sigs/{w.world.sig.slug}/care", None,
     "200 200 200 200 200 200 200"),
    ("go on duty", "PUT", lambda w: f"/sigs/{w.world.sig.slug}/care/duty",
     lambda w: {"on": True}, "400 403 403 200 403 200 403"),
    ("deadlines", "PUT", lambda w: f"/sigs/{w.world.sig.slug}/care/deadlines",
     lambda w: {"response_hours": 5, "escalate_hours": 10}, "400 403 403 200 403 200 403"),
    ("my duty", "GET", lambda w: "/concerns/duty", None, "401 200 200 200 200 200 200"),
    ("page", "POST", lambda w: f"/sigs/{w.world.sig.slug}/care/pages",
     lambda w: {"body": "help"}, "400 201 201 403 201 403 201"),
    ("page status", "GET", lambda w: f"/concerns/pages/{w.page().id}", None,
     "401 200 404 200 404 200 404"),
    ("waiting pages", "GET", lambda w: "/concerns/pages", None, "401 404 404 200 200 200 404"),
    ("take a page", "POST", lambda w: f"/concerns/pages/{w.page().id}/take", None,
     "400 403 403 201 404 201 403"),
]  # fmt: skip


@pytest.mark.parametrize("route", ROUTES, ids=[r[0] for r in ROUTES])
def test_api_care_matrix(client, f, route) -> None:
    name, method, url_of, body_of, expect = route
    world = build_care(f, "public")
    expected = dict(zip(CARE_ROLES, expect.split(), strict=True))
    secrets = {}
    for role in CARE_ROLES:
        user = world.users[role]
        if user is not None:
            secrets[role] = token_for(user)
            send(client, "GET", f"{API}/me", secrets[role])  # (its first use is noted)
    failures = []
    for role in CARE_ROLES:
        url = API + url_of(world)
        body = body_of(world) if body_of else None
        db.session.expire_all()
        before = dbstate.snapshot()
        response = send(client, method, url, secrets.get(role), body)
        after = dbstate.snapshot()
        if str(response.status_code) != expected[role]:
            failures.append(
                f"{role}: expected {expected[role]}, got {response.status_code} for {method} "
                f"{url}: {response.get_data(as_text=True)[:200]}"
            )
        if response.status_code >= 400:
            text = response.get_data(as_text=True)
            assert TOPIC_TITLE not in text and "secret plans" not in text, f"{role}: a leak"
            error_of(response)
            assert not dbstate.diff(before, after), f"{role} was refused but rows changed"
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["outsider", "other_sysop", "removed"])
def test_a_concern_one_may_not_read_answers_as_a_missing_one(client, f, role: str) -> None:
    world = build_care(f, "public")
    concern = world.first  # type: ignore[attr-defined]
    secret = token_for(world.users[role])
    probes = [
        ("GET", "/concerns/{c}", None),
        ("POST", "/concerns/{c}/messages", {"body": "probe"}),
        ("POST", "/concerns/{c}/notes", {"body": "probe"}),
        ("POST", "/concerns/{c}/state", {"state": "resolved"}),
        ("POST", "/concerns/{c}/assign", {"assignee": None}),
        ("POST", "/concerns/{c}/rating", {"helped": True}),
    ]
    for method, pattern, body in probes:
        answers = []
        for c in (concern.id, MISSING_ID):
            response = send(client, method, API + pattern.format(c=c), secret, body)
            answers.append((response.status_code, response.get_json()))
        assert answers[0] == answers[1], (method, pattern, answers)
        assert answers[0][0] in (403, 404)
