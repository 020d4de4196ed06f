"""Notices where the member is looking: a form whose page opens at an element (a post, a
message, a settings heading: a redirect to `…#post-3`) shows its notice beside that element,
not on top of the page, which the jump leaves off a phone's screen (forum.web.notices). Once,
in one status region, without JavaScript; on top as before when the page opens at its top or
has no such element. tests/e2e/test_notices_in_view.py sees it at a phone's size."""

from __future__ import annotations

import re
from typing import Any

import pytest

from forum.care import services as care
from forum.messages import services as mail
from forum.web import NOTICES_AT

THUMBS = "\U0001f44d"
TOP = '<div class="flashes" role="status">'


@pytest.fixture
def world(f) -> dict[str, Any]:
    """ada and bob, members of retro (sysop grace); a topic of bob's with ada's reply; a
    conversation bob began with ada; a concern of ada's to retro's sysops."""
    f.sysop("root")
    ada, bob, grace = f.user("ada"), f.user("bob"), f.user("grace")
    retro = f.sig("retro", members=[ada, bob], sysops=[grace])
    topic = f.topic(bob, retro, "Modems", "Which modem did you have?")
    post = f.reply(ada, topic, "A US Robotics Courier.")
    return {
        "ada": ada,
        "grace": grace,
        "topic": topic,
        "post": post,
        "conversation": mail.start_conversation(bob, "ada", "Lunch?", "Shall we meet at noon?"),
        "concern": care.write_to_sysops(ada, retro.id, "My posts", "Where did they go?"),
    }


def landing(client, response) -> tuple[str, str]:
    """Follow the redirects as a browser does: the #fragment the page opens at (a Location
    without one keeps the last one's) and the page."""
    fragment = ""
    while 300 <= response.status_code < 400:
        path, _hash, found = response.headers["Location"].partition("#")
        fragment = found or fragment
        response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return fragment, response.get_data(as_text=True)


def beside(element_id: str, text: str) -> re.Pattern[str]:
    """The notice as the first thing in the element (a post, a message), or right under it (a
    heading)."""
    return re.compile(
        rf'id="{re.escape(element_id)}"[^>]*>(?:[^<]*</h\d>|\s*<h\d[^>]*>[^<]*</h\d>)?\s*'
        rf'<div class="flashes flashes-beside" role="status">\s*'
        rf'<p class="flash flash-\w+">{re.escape(text)}</p>\s*</div>'
    )


def member(make_client, who) -> Any:
    """A browser logged in as `who`, its "Welcome back" shown and gone."""
    client = make_client()
    client.login(who)
    client.get("/")
    return client


def notices_waiting(client) -> tuple[Any, Any]:
    with client.session_transaction() as session:
        return session.get("_flashes"), session.get(NOTICES_AT)


# Each form: who sends it, and (its address, its fields), the element the page opens at, the
# notice. Those of a post are sent from its topic page, as a phone's member presses them.
FORMS = {
    "edit": ("ada", lambda w: (f"/p/{w['post'].id}/edit", {"body": "A Courier HST."}),
             "post-2", "Saved."),
    # By a sysop, who still sees it (its author does not: below).
    "delete": ("grace", lambda w: (f"/p/{w['post'].id}/delete", {}),
               "post-2", "The post was deleted."),
    "restore": ("grace", lambda w: (f"/p/{w['post'].id}/restore", {}), "post-2", "Restored."),
    # Without JavaScript a reaction and the bookmark button come back through the post's
    # permalink (/p/ID), which sends on to the post on its page.
    "reaction": ("bob", lambda w: (f"/p/{w['post'].id}/react", {"emoji": THUMBS}),
                 "post-2", f"You reacted with {THUMBS}."),
    "bookmark": ("bob", lambda w: (f"/p/{w['post'].id}/bookmark", {}),
                 "post-2", "Bookmarked. Find it under Bookmarks."),
    "flag": ("bob", lambda w: (f"/p/{w['post'].id}/flag", {"reason": "other", "note": "Hm"}),
             "post-2", "Thank you. The sysops will look at this post."),
    "hide": ("grace", lambda w: (f"/mod/posts/{w['post'].id}/hide", {"reason": "Off topic"}),
             "post-2", "The post is hidden."),
    "private mail settings": (
        "ada", lambda _w: ("/settings/mail", {"mail_from": "everyone", "notify": "y"}),
        "mail-heading", "Your private mail settings are saved.",
    ),
    "sysop note": (
        "grace", lambda w: (f"/care/{w['concern'].id}/note", {"note-body": "Asked root."}),
        "notes", "Your note is saved; only the sysops see it.",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(FORMS))
def test_the_notice_is_beside_what_the_page_opens_at(name, world, make_client):
    who, form, element_id, text = FORMS[name]
    if name == "restore":
        member(make_client, "ada").form(f"/p/{world['post'].id}/delete")
    client = member(make_client, who)
    url, data = form(world)
    fragment, page = landing(client, client.form(url, data))
    assert fragment == element_id
    assert beside(element_id, text).search(page), page[page.find(f'id="{element_id}"') :][:600]
    # Once: not on top of the page as well (one status region says it).
    assert page.count(text) == 1 and TOP not in page
    assert notices_waiting(client) == (None, None)
    # The next page has no notice left anywhere.
    assert text not in client.get("/").get_data(as_text=True)


def test_a_reply_sent_twice_says_so_beside_the_first_one(world, make_client, app):
    app.config["DUPLICATE_SECONDS"] = 120
    ada = member(make_client, "ada")
    url = f"/mail/c/{world['conversation'].id}/reply"
    first = ada.form(url, {"body": "Noon suits me."})
    fragment, _page = landing(ada, first)
    fragment, page = landing(ada, ada.form(url, {"body": "Noon suits me."}))
    assert fragment.startswith("message-")
    assert beside(fragment, "You had already sent this; here it is.").search(page)
    assert TOP not in page


def test_a_page_that_opens_at_its_top_keeps_its_notice_on_top(world, make_client):
    """A form whose page opens at its top (a reaction sent with the topic page as its `next`):
    the notice on top, where the member is looking, and the key naming a place is gone."""
    bob = member(make_client, "bob")
    topic = world["topic"]
    page_url = f"/t/{topic.id}/{topic.slug}?page=1"
    bob.form(f"/p/{world['post'].id}/react", {"emoji": THUMBS, "next": "/p/1"})  # a place...
    response = bob.form(f"/p/{world['post'].id}/react", {"emoji": THUMBS, "next": page_url})
    assert notices_waiting(bob)[1] is None  # ...which the redirect without one forgot
    fragment, page = landing(bob, response)
    assert fragment == ""
    notices = page.index(TOP)
    assert page.index('<main id="main"') < notices < page.index('id="post-1"')
    assert "Your reaction was taken back." in page[notices : page.index('id="post-1"')]
    assert "flashes-beside" not in page


def test_a_notice_whose_element_is_not_on_the_page_is_on_top(world, make_client):
    """The page opens at an element it does not draw (the post its author deleted, which she no
    longer sees): the browser stays at the top, and so does the notice, not lost."""
    ada = member(make_client, "ada")
    fragment, page = landing(ada, ada.form(f"/p/{world['post'].id}/delete"))
    assert fragment == "post-2" and 'id="post-2"' not in page
    assert page.count("The post was deleted.") == 1
    assert page.index(TOP) < page.index("The post was deleted.") < page.index('id="post-1"')
    assert notices_waiting(ada) == (None, None)


def test_joining_by_posting_keeps_its_undo_button_beside_the_reply(f, world, make_client):
    """The notice with a button (joined by posting: Leave) goes beside the reply too."""
    carol = f.user("carol")
    topic = world["topic"]
    client = member(make_client, carol)
    fragment, page = landing(client, client.form(f"/t/{topic.id}/reply", {"body": "Me too."}))
    assert fragment == "post-3"
    notice = re.search(
        r'id="post-3"[^>]*>\s*<div class="flashes flashes-beside" role="status">\s*'
        r'<div class="flash flash-\w+">You joined Retro to post here\.',
        page,
    )
    assert notice, page[page.find('id="post-3"') :][:600]
    assert TOP not in page and 'name="csrf_token"' in page[notice.end() : notice.end() + 400]
