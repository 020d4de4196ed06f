"""axe-core finds no serious or critical violation on the forum's pages, in light and dark
colours, and a member can reply with the keyboard alone."""

from __future__ import annotations

import pytest

from .helpers import assert_accessible, expect, notifications_link, screenshots, unique

pytestmark = pytest.mark.e2e

SCHEMES = pytest.mark.parametrize("scheme", ["light", "dark"])


def open_first_topic(page, sig_name="Retro Computing", title="What was your first BBS?"):
    page.goto("/")
    page.get_by_role("link", name=sig_name, exact=True).click()
    page.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


@SCHEMES
def test_guest_pages_are_accessible(open_browser, scheme):
    page = open_browser(color_scheme=scheme)
    page.goto("/")
    assert_accessible(page)
    open_first_topic(page)
    assert_accessible(page)
    page.get_by_role("link", name="Log in").first.click()
    assert_accessible(page)
    page.goto("/register")
    assert_accessible(page)


@SCHEMES
def test_member_pages_are_accessible(open_browser, scheme):
    page = open_browser("ada", color_scheme=scheme)
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Special interest groups")
    assert_accessible(page)
    screenshots(page, f"sig-index-{scheme}")

    page.get_by_role("link", name="Retro Computing", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Retro Computing")
    assert_accessible(page)

    page.get_by_role("link", name="New topic").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New topic in Retro Computing")
    assert_accessible(page)

    open_first_topic(page)
    assert_accessible(page)
    screenshots(page, f"topic-{scheme}")

    page.get_by_role("link", name="New", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New since your last visit")
    assert_accessible(page)

    notifications_link(page).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    expect(page.get_by_role("listitem").first).to_be_visible()  # the demo's mention of ada
    assert_accessible(page)

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page)


def focused(page):
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e ? (e.labels && e.labels[0] ? e.labels[0].innerText : e.innerText) : ''; }"
    )


def tab_to(page, locator, limit=80):
    """Press Tab until `locator` has the focus; fail if it never gets it."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            outline = locator.evaluate("el => getComputedStyle(el).outlineStyle")
            assert outline != "none", "the focused element shows no focus outline"
            return
    raise AssertionError(f"Tab never reached {locator}; last focus: {focused(page)!r}")


def test_member_replies_with_the_keyboard_alone(open_browser):
    page = open_browser("grace")
    open_first_topic(page)
    page.reload()  # start from the top of the page, focus on the document

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")

    box = page.get_by_label("Your reply")
    tab_to(page, box)
    words = unique("Typed without a mouse ")
    page.keyboard.type(words)
    tab_to(page, page.get_by_role("button", name="Post reply"), limit=3)
    page.keyboard.press("Enter")

    expect(page.get_by_role("article").filter(has_text=words)).to_be_visible()
    screenshots(page, "keyboard-reply")
