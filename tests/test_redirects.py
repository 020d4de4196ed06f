"""Redirects the request names (`next`): only ever to a path of this site, and never a 500.

Every `next` goes through forum.web.safe_next. The walk below sends every hostile form of it to
every route that reads one (found by grep, and kept complete by a test that reads the views'
source), and to every other POST route of the app too.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask

from forum.accounts.models import User
from forum.announcements import services as announcements
from forum.extensions import db
from forum.messages.models import Conversation
from forum.moderation import services as moderation
from forum.moderation.models import WordFilter
from forum.web import safe_next

from .factories import PASSWORD

# What a form field or query argument holds once decoded: each one, followed by a browser (which
# drops tabs and newlines, reads "\" as "/" and percent-decodes nothing in a path), or by code
# that decodes it once more, leaves the site or breaks the Location header.
HOSTILE = [
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/x",
    "/\nSet-Cookie: a=b",
    "/\\evil.example",
    "/\\/evil.example",
    "\\\\evil.example",
    "//evil.example",
    "///evil.example",
    "/ /evil.example",
    " //evil.example",
    "\t//evil.example",
    "/\u2028/evil.example",
    "/\u200b/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "/%09/evil.example",
    "/%0A/x",
    "/%0D%0ASet-Cookie:%20a=b",
    "/%252F%252Fevil.example",
    "/%25252F%25252Fevil.example",
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "//evil.example@forum",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "",
]
SAME_SITE = [
    "/",
    "/s/retro/",
    "/t/12/some-topic?page=2#post-40",
    "/search?q=a%26b&sort=new",
    "/search?q=100%25",
    "/u/J%C3%BCrgen",
    "/u/Jürgen",
    "/s/retro/:colon",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_every_hostile_form(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", SAME_SITE)
def test_safe_next_keeps_paths_of_this_site(target):
    assert safe_next(target) == target


def assert_stays_on_the_site(response: Any, context: Any) -> None:
    """Not a 500; and a redirect goes to a path of this site, read as a browser reads it."""
    assert response.status_code != 500, context
    if response.status_code not in (301, 302, 303, 307, 308):
        return
    location = response.headers["Location"]
    assert location.startswith("/"), (context, location)
    for seen in (location, unquote(location), unquote(unquote(location))):
        assert not any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in seen), (
            context,
            location,
        )
        browser = seen.replace("\\", "/")
        assert not browser.startswith("//"), (context, location)
        parts = urlsplit(browser)
        assert not parts.scheme and not parts.netloc, (context, location)


# --- every route that reads `next` ----------------------------------------------------------
Route = tuple[str, Callable[[], str], dict[str, str]]


@pytest.fixture
def world(app: Flask, f: Any) -> dict[str, Any]:
    root = f.sysop("root")
    ada = f.user("ada")
    bob = f.user("bob")
    sig = f.sig("retro", members=[ada, bob], sysops=[ada])
    topic = f.topic(ada, sig)
    post = f.reply(bob, topic)
    notice = announcements.publish_announcement(root, None, "Site news", "For everyone")
    from forum.messages import services as mail

    conversation = mail.start_conversation(ada, "bob", "Hello", "A private word")
    report = mail.report_message(bob, conversation.last_message_id, "spam")
    spammer = f.user("spammer")
    f.join(spammer, sig)
    f.reply(spammer, topic, "Cheap pills")
    cleanup = moderation.delete_spammer(root, spammer.id, "spam")
    return {
        "f": f,
        "cleanup": cleanup,
        "root": root,
        "bob": bob,
        "sig": sig,
        "topic": topic,
        "post": post,
        "notice": notice,
        "report": report,
    }


def _new_filter(world: dict[str, Any]) -> str:
    count = db.session.scalar(db.select(db.func.count(WordFilter.id))) or 0
    made = moderation.add_word_filter(world["root"], f"badword{count}", "block")
    return f"/mod/filters/{made.id}/delete"


def _new_member(world: dict[str, Any], action: str) -> str:
    """A member of the SIG not banned yet: a refused ban (banned already) answers with the
    member's page and its form filled in, not a redirect, so each call bans someone new."""
    count = db.session.scalar(db.select(db.func.count(User.id))) or 0
    member = world["f"].user(f"member{count}")
    world["f"].join(member, world["sig"])
    return f"/mod/u/{member.username}/{action}"


def next_routes(world: dict[str, Any]) -> dict[str, Route]:
    """endpoint: (method, URL (made fresh for each call), form data)."""
    post, topic, sig = world["post"].id, world["topic"].id, world["sig"].id

    def at(url: str) -> Callable[[], str]:
        return lambda: url

    routes: dict[str, Route] = {
        "accounts.login": ("GET", at("/login"), {}),
        "accounts.language": ("POST", at("/language"), {"language": "de"}),
        "accounts.choose_theme": ("POST", at("/theme"), {"theme": "dark"}),
        "drafts.delete": ("POST", at(f"/drafts/reply:{topic}/delete"), {}),
        "announcements.dismiss": ("POST", at(f"/announcements/{world['notice'].id}/dismiss"), {}),
        "admin.set_role": ("POST", at(f"/admin/members/{world['root'].id}/role"), {"role": "x"}),
        "moderation.resolve": ("POST", at(f"/mod/posts/{post}/resolve"), {"outcome": "x"}),
        "moderation.claim": ("POST", at(f"/mod/posts/{post}/claim"), {}),
        "moderation.resolve_message_report": (
            "POST",
            at(f"/mod/mail/{world['report'].id}/resolve"),
            # Handled, then (each next hostile target) already handled: both redirect (a
            # refused outcome for a report still in the queue is its form shown again, 400).
            {"outcome": "dismissed"},
        ),
        "messages.ignore": ("POST", at("/u/ada/ignore"), {}),
        "bookmarks.bookmark": ("POST", at(f"/p/{post}/bookmark"), {"remind": ""}),
        "bookmarks.remove": ("POST", at(f"/p/{post}/bookmark/delete"), {}),
        "accounts.resume_mail": ("POST", at("/settings/mail/resume"), {}),
        "pulse.welcome": (
            "POST",
            at("/pulse/welcome"),
            {"sig_id": str(sig), "user_id": str(world["bob"].id)},
        ),
        "moderation.unclaim": ("POST", at(f"/mod/posts/{post}/unclaim"), {}),
        "moderation.review_note": ("POST", at(f"/mod/posts/{post}/note"), {"body": "seen"}),
        "moderation.hide": ("POST", at(f"/mod/posts/{post}/hide"), {"reason": "r"}),
        "moderation.unhide": ("POST", at(f"/mod/posts/{post}/unhide"), {}),
        "moderation.approve": ("POST", at(f"/mod/posts/{post}/approve"), {}),
        "moderation.reject": ("POST", at(f"/mod/posts/{post}/reject"), {"reason": "r"}),
        "moderation.approval_threshold": ("POST", at(f"/mod/sigs/{sig}/approval"), {}),
        "moderation.remove_filter": ("POST", lambda: _new_filter(world), {}),
        "moderation.member_note": ("POST", at("/mod/u/bob/note"), {"note-body": "a note"}),
        "moderation.warn": (
            "POST",
            at("/mod/u/bob/warn"),
            {"warn-reason": "be kind", "warn-sig": str(sig)},
        ),
        "moderation.suspend": (
            "POST",
            at("/mod/u/bob/suspend"),
            {"suspend-reason": "cool off", "suspend-days": "1", "suspend-sig": str(sig)},
        ),
        "moderation.silence": (
            "POST",
            at("/mod/u/bob/silence"),
            {"silence-reason": "cool off", "silence-days": "1"},
        ),
        "moderation.ban": ("POST", lambda: _new_member(world, "ban"), {"ban-reason": "spam"}),
        "moderation.remove": (
            "POST",
            at("/mod/u/bob/remove"),
            {"remove-sig": str(sig), "remove-reason": "off topic"},
        ),
        "moderation.undo_cleanup": ("POST", at(f"/mod/cleanups/{world['cleanup'].id}/undo"), {}),
        "moderation.lift": (
            "POST",
            at("/mod/u/bob/lift"),
            {"lift-kind": "silence", "lift-reason": "ok"},
        ),
    }
    for verb in ("lock", "unlock", "pin", "unpin", "delete", "restore"):
        routes[f"moderation.topic_{verb}"] = (
            "POST",
            at(f"/mod/topics/{topic}/{verb}"),
            {"reason": "r"},
        )
    return routes


# Views that read `next` say one of these (moderation's _run and _member_action go through
# _back, which asks safe_next; the footer forms through _back_with_cookie).
NEXT_READERS = ("safe_next(", "redirect_back(", '"next"', "next.data", "_back_with_cookie(")
MODERATION_NEXT_READERS = ("_run(", "_back(", "_member_action(")


def test_the_walk_covers_every_view_that_reads_next(app, world):
    readers = set()
    for endpoint, view in app.view_functions.items():
        module = getattr(view, "__module__", "")
        if not module.startswith("forum."):
            continue
        source = inspect.getsource(view)
        tokens = NEXT_READERS + (
            MODERATION_NEXT_READERS if module == "forum.moderation.views" else ()
        )
        if any(token in source for token in tokens):
            readers.add(endpoint)
    # Registration's two steps take a guest and a mailed link: tests/test_sig_invites.py walks
    # them (test_registration_with_a_hostile_next_lands_on_the_site).
    guests = {"accounts.login", "accounts.register", "accounts.finish_registration"}
    assert readers == set(next_routes(world)) | guests


def test_every_route_that_reads_next_stays_on_the_site(app, make_client, world):
    sysop = make_client()
    sysop.login("root")
    token = sysop.csrf_token()
    walked = 0
    for endpoint, (method, url_of, data) in next_routes(world).items():
        for target in HOSTILE:
            url = url_of()
            if method == "GET":
                response = sysop.get(url, query_string={"next": target})
            else:
                response = sysop.post(url, data={**data, "next": target, "csrf_token": token})
            context = (endpoint, url, target)
            # The route got as far as its redirect: `next` was read, and refused.
            assert response.status_code in (302, 303), (context, response.status_code)
            assert_stays_on_the_site(response, context)
            walked += 1
        # ... and a path of this site is still where the member goes back to.
        response = (
            sysop.get(url_of(), query_string={"next": "/s/retro/"})
            if method == "GET"
            else sysop.post(url_of(), data={**data, "next": "/s/retro/", "csrf_token": token})
        )
        assert response.headers["Location"] == "/s/retro/", endpoint
    assert walked == len(next_routes(world)) * len(HOSTILE)


@pytest.mark.parametrize("target", HOSTILE)
def test_login_with_a_hostile_next_lands_on_the_site(client, f, target):
    f.user("ada")
    page = client.get("/login", query_string={"next": target})
    assert page.status_code == 200
    response = client.form("/login", {"login": "ada", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert_stays_on_the_site(response, target)
    assert response.headers["Location"] == "/"


def test_the_review_case_dismissing_the_banner(client, world):
    """/\\t/evil.example went to //evil.example, and /%0A/x was a 500."""
    client.login("root")
    url = f"/announcements/{world['notice'].id}/dismiss"
    for target in ("/\t/evil.example", "/\n/x"):
        response = client.form(url, {"next": target})
        assert response.status_code == 302
        assert response.headers["Location"] == "/announcements"
    # The same, sent as a browser encodes the form.
    token = client.csrf_token()
    for body in (b"next=/%09/evil.example", b"next=/%0A/x"):
        response = client.post(
            url,
            data=body + b"&csrf_token=" + token.encode(),
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 302
        assert response.headers["Location"] == "/announcements"


def test_a_page_that_answered_a_form_sends_its_buttons_back_to_the_form(app, client, world):
    """A refused form is shown at the address it was sent to (/mail/c/1/reply), which answers
    only POST: the banner's Dismiss and the footer's language and colour buttons sent the
    reader back there, to a 405. They go back to the page the form was on (its Referer's
    path), else the front page; what was typed is gone either way, the page is not."""
    conversation = db.session.scalar(db.select(Conversation.id).order_by(Conversation.id))
    bob_client = client
    bob_client.login("bob")
    app.config["MAX_POST_LENGTH"] = 100
    here = f"/mail/c/{conversation}?page=1"
    refused = bob_client.form(
        f"/mail/c/{conversation}/reply",
        {"body": "x" * 101},
        headers={"Referer": f"http://localhost{here}"},
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    backs = re.findall(r'<input type="hidden" name="next" value="([^"]*)">', html)
    assert len(backs) >= 3  # the banner's Dismiss, the language and the colour buttons
    assert set(backs) == {here}, backs
    elsewhere = bob_client.form(
        f"/mail/c/{conversation}/reply",
        {"body": "x" * 101},
        headers={"Referer": "https://evil.example/mail/c/1"},
    )
    # Only a path is taken from a Referer, whatever site it names (the Host header, which the
    # client chooses, is no test of that): the buttons stay on this site.
    others = elsewhere.get_data(as_text=True)
    assert set(re.findall(r'name="next" value="([^"]*)"', others)) == {"/mail/c/1"}
    assert "evil.example" not in others
    bare = bob_client.form(f"/mail/c/{conversation}/reply", {"body": "x" * 101})
    assert set(re.findall(r'name="next" value="([^"]*)"', bare.get_data(as_text=True))) == {"/"}
    # A page read with GET comes back to itself, its query too.
    page = bob_client.get(f"/mail/c/{conversation}?page=1").get_data(as_text=True)
    assert set(re.findall(r'name="next" value="([^"]*)"', page)) == {here}


# --- and every other POST route -------------------------------------------------------------
def test_no_post_route_redirects_off_the_site_or_fails_on_a_hostile_next(app, make_client, world):
    """Routes that do not read `next` must not trip over one either (or read it some other
    way): every POST route, with the worst forms of it."""
    values = {
        "slug": world["sig"].slug,
        "topic_id": world["topic"].id,
        "post_id": world["post"].id,
        "username": "bob",
        "user_id": world["root"].id,
        "sig_id": world["sig"].id,
        "announcement_id": world["notice"].id,
    }
    sysop = make_client()
    sysop.login("root")
    token = sysop.csrf_token()
    checked = 0
    # Deleting goes last, so that what the other routes act on is still there.
    rules = sorted(app.url_map.iter_rules(), key=lambda r: ("delete" in r.endpoint, r.endpoint))
    for rule in rules:
        if "POST" not in (rule.methods or ()) or rule.endpoint == "accounts.logout":
            continue
        built = rule.build({name: values.get(name, 1) for name in rule.arguments}, False)
        assert built is not None, rule
        for target in ("/\t/evil.example", "/\n/x", "//evil.example", "https://evil.example/"):
            response = sysop.post(built[1], data={"next": target, "csrf_token": token})
            assert_stays_on_the_site(response, (rule.endpoint, target))
            checked += 1
    assert checked >= 4 * 40
