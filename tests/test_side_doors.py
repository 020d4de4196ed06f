"""Side doors into private content, found by the fifteenth security review: what a member may
no longer read (a topic moved into a private SIG, a SIG they left) stays out of notification
mail's headers and subject as it does out of its body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.db import transaction
from forum.extensions import db
from forum.jobs import queue_of
from forum.moderation import posts as moderation
from forum.moderation import topic_tools

from .mailbox import text_of
from .test_webhooks import receiver  # noqa: F401 - a fixture


def deliver(app: Any) -> int:
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


def test_mail_about_a_topic_moved_into_a_private_sig_names_neither(app, f, inbox):
    ada, root = f.user("ada"), f.sysop("root")
    with transaction():
        ada.preferences = {"mail": {"moderation": "now"}}
    open_sig = f.sig("open", members=[ada])
    council = f.sig("council", visibility="private", name="Hidden Council")
    topic = f.topic(ada, open_sig, "Mine")
    first, second = f.reply(ada, topic, "One"), f.reply(ada, topic, "Two")
    topic_tools.move_topic(root, topic.id, council.id)
    moderation.hide_post(root, first.id, "off topic")
    moderation.hide_post(root, second.id, "off topic")
    deliver(app)
    (message,) = inbox.messages
    raw = message.as_string()
    assert "Hidden Council" not in raw and "council.sigs" not in raw
    assert "Mine" not in str(message["Subject"])
    assert "Mine" not in text_of(message)


def test_the_banner_leaves_out_a_sig_the_policy_says_the_member_is_out_of(app, f, client):
    """A SIG ban takes the SIG out of a member's memberships whatever rows say (the policy's
    rule): a membership row left beside a ban (a join racing the ban) shows its SIG's
    announcements in the banner no more than on the list, where they are a 404."""
    from forum.announcements import services as announcements
    from forum.sigs.models import DISCIPLINE_BAN, SigDiscipline

    ada, bob = f.user("ada"), f.user("bob")
    council = f.sig("council", visibility="private", members=[ada, bob], name="Hidden Council")
    from forum.sigs import services as sigs

    sigs.set_sig_sysop(f.sysop("root"), council.id, ada.id, True)
    made = announcements.publish_announcement(
        ada, council.id, "Council minutes", "Only for the council.", None, None
    )
    with transaction() as session:
        session.add(
            SigDiscipline(user_id=bob.id, sig_id=council.id, kind=DISCIPLINE_BAN, reason="x")
        )
    client.login(bob)
    assert client.get(f"/announcements/{made.id}").status_code == 404
    page = client.get("/").get_data(as_text=True)
    assert "Council minutes" not in page and "Hidden Council" not in page


# --- rate limits: a button a member could press in a loop, to others' cost ------------------
def _api(client: Any, method: str, url: str, secret: str, body: Any = None) -> Any:
    from .test_api import send

    return send(client, method, f"/api/v1{url}", secret, body)


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_REPORTS="3 per minute")
def test_flags_and_reports_of_mail_spend_one_budget_by_the_pages_and_the_api(make_client, f):
    """Each flag lands in the sysops' queue (and on the SIG's webhooks), each report of a
    message in the site's: a member may not press them in a loop, by a page or by a token."""
    from forum.messages import services as mail
    from forum.messages.models import MessageReport
    from forum.moderation.models import Flag

    from .test_api import token_for

    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    posts = [f.first_post(f.topic(bob, sig, f"Topic {n}")) for n in range(4)]
    conversation = mail.start_conversation(bob, "ada", "Hello", "Buy my things.")
    browser, api = make_client(), make_client()
    browser.login(ada)
    secret = token_for(ada)
    assert browser.form(f"/p/{posts[0].id}/flag", {"reason": "spam"}).status_code == 302
    flagged = _api(api, "POST", f"/posts/{posts[1].id}/flags", secret, {"reason": "spam"})
    assert flagged.status_code == 201
    message = conversation.last_message_id
    reported = _api(api, "POST", f"/messages/{message}/report", secret, {"reason": "spam"})
    assert reported.status_code == 201
    # The budget is spent, whichever way is tried next.
    assert browser.form(f"/p/{posts[2].id}/flag", {"reason": "spam"}).status_code == 429
    refused = _api(api, "POST", f"/posts/{posts[3].id}/flags", secret, {"reason": "spam"})
    assert refused.status_code == 429
    again = browser.form(f"/mail/m/{message}/report", {"reason": "abuse"})
    assert again.status_code == 429
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Flag)) == 2
    assert db.session.scalar(select(func.count()).select_from(MessageReport)) == 1
    # The forms themselves are still shown (a GET spends nothing).
    assert browser.get(f"/p/{posts[2].id}/flag").status_code == 200


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_REACTIONS="2 per minute")
def test_reacting_by_the_api_spends_the_pages_budget(make_client, f):
    """A reaction notifies the post's author: a token is no way round the pages' budget."""
    from .test_api import token_for

    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    post = f.first_post(f.topic(bob, sig, "Say hello"))
    browser, api = make_client(), make_client()
    browser.login(ada)
    secret = token_for(ada)
    assert browser.form(f"/p/{post.id}/react", {"emoji": "👍"}).status_code == 302
    assert _api(api, "DELETE", f"/posts/{post.id}/reaction", secret).status_code == 204
    spent = _api(api, "PUT", f"/posts/{post.id}/reaction", secret, {"emoji": "👍"})
    assert spent.status_code == 429
    assert browser.form(f"/p/{post.id}/react", {"emoji": "👍"}).status_code == 429


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_REACTIONS="3 per minute")
def test_joining_and_leaving_in_a_loop_is_limited_by_the_pages_and_the_api(make_client, f):
    """Each join is a member.joined on the SIG's webhooks (and a new version of its pages):
    joining and leaving over and over is one budget per member."""
    from forum.sigs.models import Membership

    from .test_api import token_for

    ada = f.user("ada")
    sig = f.sig("retro")
    browser, api = make_client(), make_client()
    browser.login(ada)
    secret = token_for(ada)
    assert browser.form("/s/retro/join").status_code == 302
    assert browser.form("/s/retro/leave").status_code == 302
    assert _api(api, "PUT", "/sigs/retro/membership", secret).status_code == 200
    assert _api(api, "DELETE", "/sigs/retro/membership", secret).status_code == 429
    assert browser.form("/s/retro/leave").status_code == 429
    asked = browser.form("/sigs/request", {"slug": "hidden", "message": "Let me in"})
    assert asked.status_code == 429
    db.session.expire_all()
    assert db.session.scalar(select(Membership.id).where(Membership.sig_id == sig.id))


@pytest.mark.config(
    RATELIMIT_ENABLED=True,
    RATELIMIT_WEBHOOK_TESTS="2 per minute",
    BASE_URL="http://forum.example.org",
    WEBHOOK_ALLOW_PRIVATE_TARGETS=True,
)
def test_webhook_pings_and_redeliveries_are_limited(make_client, f, receiver):  # noqa: F811
    """Each ping or redelivery is a request to the receiver, retried when it fails: a sysop's
    button pressed in a loop would make the forum flood any address it is given."""
    from forum.webhooks import services as webhooks
    from forum.webhooks.models import WebhookDelivery

    sysop = f.user("sysop")
    sig = f.sig("retro", sysops=[sysop])
    hook = webhooks.create_webhook(sysop, sig.id, receiver.url, ["post.created"])
    browser = make_client()
    browser.login(sysop)
    assert browser.form(f"/mod/webhooks/{hook.id}/ping").status_code == 302
    receiver.wait_for(1)
    db.session.expire_all()
    first = db.session.scalar(select(WebhookDelivery.id).order_by(WebhookDelivery.id))
    assert browser.form(f"/mod/webhooks/deliveries/{first}/redeliver").status_code == 302
    assert browser.form(f"/mod/webhooks/{hook.id}/ping").status_code == 429
    assert browser.form(f"/mod/webhooks/deliveries/{first}/redeliver").status_code == 429
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2


# --- the API: a private thing answers as a missing one, to whoever may not know it ----------
PRIVATE_WORDS = ("Hidden Council", "Secret plans", "secret plans", "Paging the council",
                 "Council minutes", "Council concern", "Mail of the council")  # fmt: skip
MISSING = 987_654


def _body_for(schema: dict[str, Any] | None, doc: dict[str, Any]) -> Any:
    """A body with each required field of the schema filled in (the same for the private
    thing and the missing one: what the comparison needs is that both get the same)."""
    if schema is None:
        return None
    if "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "anyOf" in schema:
        return _body_for(next(s for s in schema["anyOf"] if s.get("type") != "null"), doc)
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties", {})
        wanted = schema.get("required", [])
        # A SIG named is the other sysop's own, where they may move or split to.
        return {n: "open" if n == "sig" else _body_for(props[n], doc) for n in wanted}
    return {"string": "Probe words", "integer": 24, "boolean": True, "array": [MISSING]}[kind]


def _private_world(f: Any) -> tuple[dict[str, Any], dict[str, Any | None]]:
    """A private SIG with one of each thing the API names by an id or a slug; and readers who
    may know none of them exist."""
    from forum.announcements import services as announcements
    from forum.care import services as care
    from forum.messages import services as mail
    from forum.moderation import services as moderation
    from forum.notifications.models import Notification

    root, ada, sam = f.sysop("root"), f.user("ada"), f.user("sam")
    eve, bad, sus, otto, lou = (f.user(n) for n in ("eve", "bad", "sus", "otto", "lou"))
    council = f.sig("council", visibility="private", name="Hidden Council", members=[ada, lou])
    f.sig("open", members=[eve], sysops=[otto])
    from forum.sigs import services as sigs

    sigs.set_sig_sysop(root, council.id, sam.id, True)
    topic = f.topic(ada, council, "Secret plans", "The secret plans, in full.")
    reply = f.reply(sam, topic, "More secret plans.")
    made = announcements.publish_announcement(
        sam, council.id, "Council minutes", "Only for the council.", None, None
    )
    concern = care.write_to_sysops(ada, council.id, "Council concern", "About the secret plans.")
    care.set_duty(sam, council.id, True)
    page = care.page_sysops(ada, council.id, "Paging the council")
    conversation = mail.start_conversation(ada, "sam", "Mail of the council", "The secret plans.")
    notification = db.session.scalar(
        select(Notification.id).where(Notification.user_id == ada.id).order_by(Notification.id)
    )
    assert notification is not None
    values = {
        "slug": council.slug,
        "topic_id": topic.id,
        "post_id": reply.id,
        "announcement_id": made.id,
        "concern_id": concern.id,
        "page_id": page.id,
        "conversation_id": conversation.id,
        "message_id": conversation.last_message_id,
        "notification_id": notification,
    }
    from .test_api import token_for

    readers: dict[str, Any | None] = {"guest": None}
    for name, who in (("outsider", eve), ("banned", bad), ("suspended", sus),
                      ("other_sysop", otto), ("left", lou)):  # fmt: skip
        readers[name] = token_for(who)
    sigs.leave_sig(lou, council.id)
    moderation.ban_member(root, bad.id, "spam")
    moderation.suspend_member(root, sus.id, datetime.now(UTC) + timedelta(days=3), "rude")
    return values, readers


def test_every_api_route_answers_for_a_private_thing_as_for_a_missing_one(client, f):
    """Walks the API's own document, so that a route added later is walked too: for each
    route that names something by an id or a slug, each of those who may not know the private
    SIG's things (a guest, a member outside it, a banned or suspended member, the sysop of
    another SIG, a member who left it) gets for the private thing exactly what they get for an
    id that was never used (a 404, not a 403 that says it is there), no word of it, and
    nothing is written."""
    from . import dbstate
    from .test_api import send

    values, readers = _private_world(f)
    doc = client.get("/api/v1/openapi.json").get_json()
    for secret in readers.values():
        send(client, "GET", "/api/v1/me", secret)  # (a token's first use is noted once)
    walked, failures = 0, []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            if not names or names == ["username"]:
                continue  # (a member's name is no secret: the member pages show it)
            unknown = set(names) - set(values)
            assert not unknown, f"{method} {path}: give the test a private {unknown}"
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body = _body_for(schema.get("schema"), doc)
            private = path.format(**values).removeprefix("/api/v1")
            missing = path.format(**{k: MISSING for k in values} | {"slug": "no-such-sig"})
            missing = missing.removeprefix("/api/v1")
            for role, secret in readers.items():
                db.session.expire_all()
                before = dbstate.snapshot()
                got = send(client, method.upper(), f"/api/v1{private}", secret, body)
                changed = dbstate.diff(before, dbstate.snapshot())
                other = send(client, method.upper(), f"/api/v1{missing}", secret, body)
                text = got.get_data(as_text=True)
                walked += 1
                if (got.status_code, got.get_json()) != (other.status_code, other.get_json()):
                    failures.append(
                        f"{role}: {method.upper()} {private} answers {got.status_code} "
                        f"{text[:160]}, a missing one {other.status_code}"
                    )
                if got.status_code < 400 or changed:
                    failures.append(f"{role}: {method.upper()} {private} did it: {changed}")
                leaked = [w for w in PRIVATE_WORDS if w in text]
                if leaked:
                    failures.append(f"{role}: {method.upper()} {private} says {leaked}")
    assert walked > 200
    assert not failures, "\n".join(failures)


# --- files: every route that serves them, after the reader's access has gone ----------------
def test_a_private_sigs_files_close_to_a_member_who_left_by_every_route(f, make_client):
    """A post's file (and each of its thumbnails) and a library file (its page, its download,
    a version's download) of a private SIG: read while a member, a 404 the moment they leave,
    in the same browser, as for bytes never uploaded; a deleted post's file closes too."""
    import io

    from forum.files import library
    from forum.files import services as files
    from forum.files.models import LibraryVersion

    from .test_files import _post_with, png, uploaded

    alice, bob, carl = f.user("alice"), f.user("bob"), f.user("carl")
    owner = f.user("owner")
    lair = f.sig("lair", visibility="private", members=[alice, bob, carl], sysops=[owner])
    topic = f.topic(alice, lair, "Secret plans", "Plans.")
    author = make_client()
    author.login(alice)
    kept = uploaded(author, png(1600, 1200), "plan.png", lair)
    _post_with(author, topic, kept)
    gone = uploaded(author, png(1200, 900, "blue"), "draft.png", lair)
    doomed = _post_with(author, topic, gone)
    entry = library.upload_to_library(
        owner, lair.id, None, "Secret tool", "", "secret", io.BytesIO(b"10 PRINT\n"), "tool.bas"
    )
    version = db.session.get(LibraryVersion, entry.current_version_id)
    assert version is not None
    urls = [
        kept["url"],
        kept["url"] + "?s=s",
        kept["url"] + "?s=m",
        f"/s/lair/library/{entry.id}",
        f"/s/lair/library/{entry.id}/download",
        f"/s/lair/library/{entry.id}/v/1/download",
        files.file_url(version.sha256, version.name),
    ]
    reader, other = make_client(), make_client()
    reader.login(bob)
    other.login(carl)
    for url in [*urls, gone["url"]]:
        assert reader.get(url).status_code == 200, url
    from forum.sigs import services as sigs

    sigs.leave_sig(bob, lair.id)
    never = reader.get("/files/" + "0" * 64 + "/plan.png", headers={"Accept": "application/json"})
    for url in urls:
        answer = reader.get(url, headers={"Accept": "application/json"})
        assert answer.status_code == 404, url
        if url.startswith("/files/"):
            assert answer.get_json() == never.get_json(), url
        assert b"Secret" not in answer.data, url
    # A file of a deleted post: a 404 to the members who read it a moment before.
    from forum.topics import services as topics

    topics.delete_post(alice, doomed.id)
    assert other.get(gone["url"]).status_code == 404
    assert other.get(gone["url"] + "?s=s").status_code == 404
    assert other.get(kept["url"]).status_code == 200  # (the other post's file stays)
    # A library file's id under another SIG's address is no file, even to a member.
    f.sig("open", members=[carl])
    for url in (f"/s/open/library/{entry.id}", f"/s/open/library/{entry.id}/download"):
        assert other.get(url).status_code == 404, url


def test_a_library_files_hostile_name_is_cleaned_on_the_way_in_and_out(f, make_client):
    """The library takes names as the composer does: no path, no direction override, no
    extension a browser would run (markup is refused whatever it is called)."""
    from forum.files.models import LibraryFile

    from .test_library import _upload

    ana = f.user("ana")
    sig = f.sig("retro", sysops=[ana])
    browser = make_client()
    browser.login(ana)
    page = b"<html><script>x</script>"
    markup = _upload(browser, sig, None, "Pretty picture", page, name="p.png")
    assert markup.status_code == 400 and "HTML and SVG" in markup.get_data(as_text=True)
    name = "../../evil\u202egnp." + "a" * 300 + ".html"
    made = _upload(browser, sig, None, "A plain file", b"plain words\n", name=name)
    assert made.status_code == 302
    entry = db.session.scalars(select(LibraryFile).order_by(LibraryFile.id.desc())).first()
    assert entry is not None
    got = browser.get(f"/s/retro/library/{entry.id}/download")
    disposition = got.headers["Content-Disposition"]
    assert got.status_code == 200 and disposition.startswith("attachment;")
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    shown = disposition.split("filename*")[0]
    assert "/" not in shown and ".." not in shown and "\u202e" not in disposition
    assert ".html" not in disposition and shown.rstrip('"; ').endswith(".txt")


# --- the guest page cache ---------------------------------------------------------------------
def _guest_page(client: Any, path: str) -> tuple[int, str, str | None]:
    response = client.get(path)
    return (
        response.status_code,
        response.get_data(as_text=True),
        response.headers.get("X-Page-Cache"),
    )


@pytest.mark.config(PAGE_CACHE_SECONDS=30)
def test_a_removed_announcement_leaves_the_guests_cached_pages_at_once(client, f):
    """An announcement posted by mistake (a password, a private matter) and removed at once:
    the pages guests share held its banner, and nothing told the cache it was gone, so every
    process served it PAGE_CACHE_SECONDS more. Removing one that shows now ends it as "End
    now" does, for the cache too."""
    from forum.announcements import services as announcements

    root, ada = f.sysop("root"), f.user("ada")
    sig = f.sig("lounge", members=[ada])
    topic = f.topic(ada, sig, "Cached topic")
    made = announcements.publish_announcement(
        root, None, "Wrong words", "The server password is hunter2.", None, None
    )
    paths = ["/", "/s/lounge/", f"/t/{topic.id}"]
    for path in paths:
        _guest_page(client, path)
        status, body, state = _guest_page(client, path)
        assert (status, state) == (200, "hit") and "hunter2" in body, path
    announcements.delete_announcement(root, made.id)
    for path in paths:
        status, body, _state = _guest_page(client, path)
        assert status == 200 and "hunter2" not in body and "Wrong words" not in body, path


@pytest.mark.config(PAGE_CACHE_SECONDS=30)
def test_a_topic_moved_merged_or_deleted_out_of_sight_leaves_the_guests_cache(client, f):
    """What the pagecache tests do not walk: a topic moved into a private SIG, merged into one
    there, deleted by a sysop, its author's spam swept: the guests' copies of the topic, its
    SIG and the index go at once."""
    from forum.moderation import services as moderation

    root, ada, spammer = f.sysop("root"), f.user("ada"), f.user("spammer")
    sig = f.sig("lounge", members=[ada, spammer])
    council = f.sig("council", visibility="private", name="Hidden Council")
    titles = ["Moved away", "Merged away", "Deleted away", "Swept away"]
    topics = {t: f.topic(spammer if t == "Swept away" else ada, sig, t) for t in titles}
    target = f.topic(root, council, "Council business")

    def cached_everywhere(title: str) -> list[str]:
        paths = ["/", "/s/lounge/", f"/t/{topics[title].id}"]
        for path in paths:
            _guest_page(client, path)
            status, body, state = _guest_page(client, path)
            assert state == "hit", path
        return paths

    actions = {
        "Moved away": lambda t: moderation.move_topic(root, t.id, council.id, "private now"),
        "Merged away": lambda t: moderation.merge_topics(root, t.id, target.id, "belongs there"),
        "Deleted away": lambda t: moderation.delete_topic(root, t.id, "gone"),
        "Swept away": lambda t: moderation.delete_spammer(root, spammer.id, "spam"),
    }
    for title, action in actions.items():
        paths = cached_everywhere(title)
        action(topics[title])
        for path in paths:
            status, body, state = _guest_page(client, path)
            assert title not in body and "Hidden Council" not in body, (title, path, status)
