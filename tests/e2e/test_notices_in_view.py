"""On a phone, the notice after a form that opens the page at a post or a heading (an edit, a
flag, a reaction and a bookmark without JavaScript, a sysop's hide, a deletion, the mail
settings) is in view: beside what the page opened at, not on top, where the jump left it off
the screen. With JavaScript and without; said once (forum.web.notices)."""

from __future__ import annotations

import re

import pytest

from .helpers import PHONE, assert_accessible, expect, post, reply, start_topic, unique

pytestmark = pytest.mark.e2e

# Long posts: a post further down opens the page well below its top.
LONG = "\n\n".join(f"Paragraph {n}: a modem, a cable and a terminal program." for n in range(30))


def phone(open_browser, who, js):
    page = open_browser(who, js=js, has_touch=True, is_mobile=True)
    page.set_viewport_size(PHONE)
    return page


def said_in_view(page, text):
    """The notice is on the screen, and in one status region (a screen reader says it once)."""
    notice = page.get_by_role("status").filter(has_text=text)
    expect(notice).to_have_count(1)
    expect(notice).to_be_in_viewport()
    return notice


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_notice_after_a_post_form_is_in_view_on_a_phone(open_browser, js):
    title = unique("Modem notices ")
    author = phone(open_browser, "ken", js)
    url = start_topic(author, "Retro Computing", title, LONG)
    writer = phone(open_browser, "linus", js)
    writer.goto(url)
    reply(writer, unique("First answer ") + "\n\n" + LONG)
    expect(post(writer, 2)).to_be_visible()
    reply(writer, unique("Second answer ") + "\n\n" + LONG)
    expect(post(writer, 3)).to_be_visible()

    # Edit: "Saved." at the top of the post the page opens at.
    writer.goto(url + "?page=1")
    post(writer, 2).get_by_role("link", name="Edit", exact=True).click()
    writer.locator("textarea[name=body]").fill(unique("Edited answer ") + "\n\n" + LONG)
    writer.get_by_role("button", name="Save", exact=True).click()
    expect(writer).to_have_url(re.compile(r"#post-2$"))
    notice = said_in_view(writer, "Saved.")
    assert writer.evaluate("() => window.scrollY") > 1000  # well below the page's top
    expect(post(writer, 2).get_by_role("status")).to_have_text("Saved.")
    expect(notice).to_have_css("display", "block")
    if js:
        assert_accessible(writer)

    # A flag, and (without JavaScript: with it they answer in place) a reaction and a bookmark.
    author.goto(url + "?page=1")
    post(author, 3).get_by_role("link", name="Flag").click()
    author.get_by_role("radio", name="Spam").check()
    author.get_by_role("button", name="Send to the sysops").click()
    said_in_view(author, "Thank you. The sysops will look at this post.")
    if not js:
        post(author, 3).locator("details.react-picker summary").click()
        post(author, 3).get_by_role("button", name="👍").first.click()
        said_in_view(author, "You reacted with 👍.")
        expect(post(author, 3).get_by_role("status")).to_have_text("You reacted with 👍.")
        post(author, 3).get_by_role("button", name="☆ Bookmark").click()
        said_in_view(author, "Bookmarked. Find it under Bookmarks.")

    # A sysop hides it from the post's menu.
    sysop = phone(open_browser, "grace", js)
    sysop.goto(url + "?page=1")
    menu = post(sysop, 3).locator("details.sysop-menu")
    menu.locator("summary").tap()
    menu.get_by_role("button", name="Hide", exact=True).tap()
    said_in_view(sysop, "The post is hidden.")
    expect(post(sysop, 3).get_by_role("status")).to_have_text("The post is hidden.")

    # Its author deletes one: gone from the page he sees, which stays at its top, and so does
    # the notice.
    writer.goto(url + "?page=1")
    post(writer, 2).get_by_role("button", name="Delete").click()
    said_in_view(writer, "The post was deleted.")
    expect(post(writer, 2)).to_have_count(0)


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_settings_notice_is_beside_its_heading_on_a_phone(open_browser, js):
    page = phone(open_browser, "margaret", js)
    page.goto("/settings")
    page.get_by_role("button", name="Save private mail settings").click()
    expect(page).to_have_url(re.compile(r"#mail-heading$"))
    said_in_view(page, "Your private mail settings are saved.")
