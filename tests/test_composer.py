"""The composer: the preview endpoint (the post's own HTML, sanitized, CSRF-protected and
rate-limited), the no-JavaScript Preview button that keeps what was typed, the toolbar's
markup, and @name completion limited to the members who may read the place."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from forum.extensions import db
from forum.topics.models import Post

BODY = (
    "**Bold** and *italic*, `code`, a [link](https://example.com), @grace and @nobody.\n\n"
    "> **@bob** [wrote](/p/1):\n>\n> The C64.\n\n"
    "- one\n- two\n\n<script>alert(1)</script> [bad](javascript:alert(1))"
)


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def _posts() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Post)))


@pytest.fixture
def world(f: Any) -> Any:
    ada = f.user("ada")
    bob = f.user("bob")
    f.user("grace")
    sig = f.sig("retro", name="Retro Computing", members=[ada, bob])
    topic = f.topic(bob, sig, "Favourite machines", "The C64.")
    return ada, bob, sig, topic


def test_preview_is_the_html_the_post_gets(client, world) -> None:
    _ada, _bob, _sig, topic = world
    client.login("ada")
    preview = client.form("/preview", {"body": BODY}, headers={"Accept": "application/json"})
    assert preview.status_code == 200
    html = preview.get_json()["html"]
    assert client.form(f"/t/{topic.id}/reply", {"body": BODY}).status_code == 302
    post = db.session.scalar(select(Post).order_by(Post.id.desc()).limit(1))
    assert html == post.body_html
    assert "<strong>Bold</strong>" in html and '<a class="mention" href="/u/grace">' in html
    assert "<blockquote>" in html and "<li>one</li>" in html


def test_preview_is_sanitized(client, world) -> None:
    client.login("ada")
    html = client.form("/preview", {"body": BODY}).get_json()["html"]
    assert "<script>" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    assert 'rel="nofollow ugc noopener"' in html


def test_preview_needs_the_csrf_token_and_a_member(client, make_client, world) -> None:
    guest = make_client()
    refused = guest.post("/preview", data={"body": "hi"})
    assert refused.status_code == 400 and '"html"' not in _html(refused)
    client.login("ada")
    no_token = client.post("/preview", data={"body": "**hi**"})
    assert no_token.status_code == 400 and "<strong>" not in _html(no_token)
    token = client.csrf_token()
    ok = client.post("/preview", json={"body": "**hi**"}, headers={"X-CSRFToken": token})
    assert ok.get_json() == {"html": "<p><strong>hi</strong></p>\n"}
    # A guest with a token is sent to log in: no preview of anything for them.
    token = guest.csrf_token()
    assert guest.post("/preview", data={"body": "x", "csrf_token": token}).status_code == 302


def test_preview_gives_a_clean_error_for_bad_input(client, world) -> None:
    client.login("ada")
    token = client.csrf_token()
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    for body in ("", "   ", ["a list"], "x" * 40_000):
        response = client.post("/preview", json={"body": body}, headers=headers)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["message"]


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_PREVIEW="3 per minute")
def test_preview_is_rate_limited(client, world) -> None:
    client.login("ada")
    token = client.csrf_token()
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    for _ in range(3):
        assert client.post("/preview", json={"body": "hi"}, headers=headers).status_code == 200
    limited = client.post("/preview", json={"body": "hi"}, headers=headers)
    assert limited.status_code == 429
    assert "error" in limited.get_json()


def test_the_preview_button_keeps_the_text_and_saves_nothing(client, world) -> None:
    _ada, _bob, sig, topic = world
    client.login("ada")
    before = _posts()
    page = client.form(f"/t/{topic.id}/reply", {"body": "**Nearly** <done>", "preview": "1"})
    assert page.status_code == 200
    text = _html(page)
    preview = text.index('class="preview-static"')
    assert text.index("<strong>Nearly</strong>") > preview
    assert text.index("**Nearly** &lt;done&gt;</textarea>") > preview
    page = client.form(f"/s/{sig.slug}/new", {"title": "A title", "body": "*new*", "preview": "1"})
    assert page.status_code == 200
    text = _html(page)
    assert "<em>new</em>" in text and 'value="A title"' in text and "*new*</textarea>" in text
    post = db.session.scalar(select(Post).where(Post.topic_id == topic.id, Post.number == 1))
    page = client.form(
        f"/p/{post.id}/edit", {"body": "`edited`", "title": "Favourite machines", "preview": "1"}
    )
    # Only the author or a sysop previews an edit of a post.
    assert page.status_code == 403
    client.logout()
    client.login("bob")
    page = client.form(f"/p/{post.id}/edit", {"body": "`edited`", "preview": "1"})
    assert page.status_code == 200 and "<code>edited</code>" in _html(page)
    assert _posts() == before
    assert db.session.get(Post, post.id).body_raw == "The C64."


def test_the_reply_page_shows_a_preview_only_when_asked(client, world) -> None:
    """The no-JavaScript reply page (and its quote button's) opens with the text box alone: no
    empty "Preview" box saying nothing is posted yet before anything was previewed."""
    _ada, _bob, _sig, topic = world
    client.login("ada")
    for url in (f"/t/{topic.id}/reply", f"/t/{topic.id}/reply?quote={topic.first_post_id}"):
        page = _html(client.get(url))
        assert 'class="composer"' in page and 'class="preview-static"' not in page, url
        assert "Nothing is posted yet" not in page, url


def test_the_composer_has_an_accessible_toolbar_and_no_js_buttons(client, world) -> None:
    _ada, _bob, _sig, topic = world
    client.login("ada")
    page = _html(client.get(f"/t/{topic.id}/reply"))
    toolbar = re.search(
        r'<div class="composer-toolbar" role="toolbar"[^>]*>(.*?)</div>', page, re.S
    )
    assert toolbar is not None and 'aria-label="Formatting"' in toolbar.group(0)
    assert 'aria-controls="body"' in toolbar.group(0)
    buttons = re.findall(r"<button ([^>]*)>", toolbar.group(1))
    assert [re.search(r'data-md="(\w+)"', b).group(1) for b in buttons] == [
        "bold", "italic", "link", "quote", "code", "list",
    ]  # fmt: skip
    assert all('type="button"' in b and "aria-label=" in b for b in buttons)
    # One tab stop for the whole toolbar (roving tabindex): the first button.
    assert ['tabindex="-1"' in b for b in buttons] == [False, True, True, True, True, True]
    assert 'aria-keyshortcuts="Control+B"' in buttons[0]
    assert 'name="preview"' in page and 'name="save_draft"' in page
    assert "/static/js/composer.js" in page


def test_the_toolbars_glyphs_need_no_emoji_font(client, world) -> None:
    """Debian's Chromium without an emoji font drew the link button's 🔗 as an empty box: the
    buttons show Latin letters, common punctuation or an inline SVG (no style attribute, which
    the CSP would refuse), and keep their accessible names."""
    _ada, _bob, _sig, topic = world
    client.login("ada")
    page = _html(client.get(f"/t/{topic.id}/reply"))
    toolbar = re.search(
        r'<div class="composer-toolbar" role="toolbar"[^>]*>(.*?)</div>', page, re.S
    )
    assert toolbar is not None
    drawn = re.sub(r"<[^>]*>", "", re.sub(r'="[^"]*"', "", toolbar.group(1)))
    unusual = {c for c in drawn if ord(c) > 0xFF and not 0x2000 <= ord(c) <= 0x206F}
    assert unusual == set()
    link = re.search(r'<button [^>]*data-md="link"[^>]*>(.*?)</button>', toolbar.group(1), re.S)
    assert link is not None and 'aria-label="Link"' in link.group(0)
    assert re.search(r'<svg [^>]*aria-hidden="true"', link.group(1))
    assert "style=" not in toolbar.group(1)


def test_mention_candidates_are_only_members_who_may_read(client, f, world) -> None:
    ada, bob, _sig, topic = world
    f.user("gregor")
    club = f.sig("club", visibility="members", members=[ada, bob])
    inside = f.topic(bob, club, "Members only")
    client.login("ada")
    everyone = client.get(f"/mentions/reply:{topic.id}?q=g").get_json()
    assert everyone == {"members": ["grace", "gregor"]}
    # In a members-only SIG, only its members (and never the one asking).
    assert client.get(f"/mentions/reply:{inside.id}?q=").get_json() == {"members": []}
    assert client.get(f"/mentions/reply:{inside.id}?q=g").get_json() == {"members": []}
    assert client.get(f"/mentions/reply:{inside.id}?q=b").get_json() == {"members": ["bob"]}
    assert client.get(f"/mentions/reply:{inside.id}?q=a").get_json() == {"members": []}
    assert client.get(f"/mentions/topic:{club.id}?q=B").get_json() == {"members": ["bob"]}
    # Wildcards are plain characters here.
    assert client.get(f"/mentions/reply:{topic.id}?q=%25").get_json() == {"members": []}
    assert client.get(f"/mentions/reply:{topic.id}?q=_").get_json() == {"members": []}


def test_mention_candidates_leave_out_who_may_not_read_and_ask_as_the_reader(
    client, f, world
) -> None:
    """The list is the topic's readers (permissions.sig_readers_clause): a banned member is left
    out, the site's sysop is in (they read every SIG), and only one who may read the place may
    ask, whichever kind of place (new topic, reply, edit) the composer is for."""
    from forum.moderation.discipline import ban_member

    ada, bob, _sig, topic = world
    root = f.sysop("gatekeeper")
    gregor = f.user("gregor")
    club = f.sig("club", visibility="private", members=[ada, bob])
    inside = f.topic(bob, club, "Members only")
    mine = f.reply(ada, inside, "Mine.")
    ban_member(root, gregor.id, "spam")
    outsider = f.user("gail")
    client.login("ada")
    assert client.get(f"/mentions/reply:{topic.id}?q=g").get_json() == {
        "members": ["gail", "gatekeeper", "grace"]
    }
    assert client.get(f"/mentions/reply:{inside.id}?q=g").get_json() == {"members": ["gatekeeper"]}
    assert client.get(f"/mentions/edit:{mine.id}?q=b").get_json() == {"members": ["bob"]}
    assert client.get(f"/mentions/topic:{club.id}?q=g").get_json() == {"members": ["gatekeeper"]}
    # Someone outside the private SIG learns nothing of its readers.
    client.logout()
    client.login(outsider.username)
    for place in (f"reply:{inside.id}", f"edit:{mine.id}", f"topic:{club.id}"):
        response = client.get(f"/mentions/{place}?q=b")
        assert response.status_code in (403, 404), place
        assert "bob" not in response.get_data(as_text=True)
    client.logout()
    assert client.get(f"/mentions/reply:{topic.id}?q=g").status_code in (302, 401)


def test_a_quote_of_selected_words_is_one_the_pipeline_recognizes(client, world) -> None:
    """The script quotes selected words as content.quote_markdown quotes a whole post; such a
    reply counts as a quote of that post and notifies its author."""
    from forum.content import quote_markdown, references
    from forum.notifications.models import Notification

    _ada, bob, _sig, topic = world
    first = db.session.scalar(select(Post).where(Post.topic_id == topic.id, Post.number == 1))
    # What static/js/composer.js quoteMarkdown() makes of the selection "The C64".
    selected = f"> **@bob** [wrote](/p/{first.id}):\n>\n> The C64\n\n"
    assert selected == quote_markdown("@bob", first.id, "The C64", wrote="wrote")
    client.login("ada")
    html = client.form("/preview", {"body": selected + "Mine too."}).get_json()["html"]
    assert "<blockquote>" in html and f'href="/p/{first.id}"' in html
    assert client.form(f"/t/{topic.id}/reply", {"body": selected + "Mine too."}).status_code == 302
    assert references(selected + "Mine too.").quoted_post_ids == (first.id,)
    # Bob hears of it once (a quote's header names him, and a mention outranks a quote).
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == bob.id))
    assert list(kinds) in (["quote"], ["mention"])
