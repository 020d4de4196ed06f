"""Keyboard shortcuts in Chromium (static/js/shortcuts.js): j / k move the focus from post to post
and row to row, r goes to the reply box, / to the search box, ? opens the list (a modal dialog
that Escape closes, the focus going back), typing in a field types, and a member who turned them
off in their settings gets none (tests/test_keyboard_shortcuts.py checks the server's side)."""

from __future__ import annotations

import re

import pytest

from .helpers import (
    assert_accessible,
    expect,
    post,
    register,
    reply,
    search_for_new,
    start_topic,
    unique,
)

pytestmark = pytest.mark.e2e

LIGHT_ACCENT = "rgb(11, 92, 173)"  # forum.css: --accent, the ring j / k draw
DARK_ACCENT = "rgb(125, 180, 240)"


def focused_tag(page) -> str:
    return page.evaluate("() => document.activeElement.tagName")


def test_a_member_reads_a_topic_by_keyboard(open_browser):
    page = open_browser("ken", color_scheme="light")
    title = unique("Keys")
    url = start_topic(page, "Python Programming", title, "The first post, to read by keyboard.")
    reply(page, "The second post, one j further down.")
    expect(post(page, 2)).to_be_visible()
    page.goto(url)  # from the top, scripts loaded

    page.keyboard.press("j")
    expect(post(page, 1)).to_be_focused()
    expect(post(page, 1)).to_have_class(re.compile(r"\bshortcut-current\b"))
    expect(post(page, 1)).to_have_css("outline-color", LIGHT_ACCENT)
    expect(post(page, 1)).to_have_css("outline-style", "solid")
    page.keyboard.press("j")
    expect(post(page, 2)).to_be_focused()
    page.keyboard.press("j")  # the last: it stays
    expect(post(page, 2)).to_be_focused()
    page.keyboard.press("k")
    expect(post(page, 1)).to_be_focused()
    expect(post(page, 2)).not_to_have_class(re.compile(r"\bshortcut-current\b"))
    page.keyboard.press("j")
    expect(post(page, 2)).to_be_focused()

    # ? opens the list, the first thing in it to press is "Close"; Escape shuts it and the
    # focus goes back to the post it was on.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    expect(dialog.get_by_role("link", name="settings")).to_have_attribute(
        "href", "/settings#profile-keyboard_shortcuts"
    )
    assert_accessible(page)
    page.keyboard.press("j")  # a key inside the dialog moves nothing behind it
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(post(page, 2)).to_be_focused()
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(post(page, 2)).to_be_focused()

    # r: the reply box; a j typed there is a j.
    box = page.get_by_label("Your reply")
    page.keyboard.press("r")
    expect(box).to_be_focused()
    expect(box).to_have_value("")  # the r did not go in
    page.keyboard.type("jk?r")
    expect(box).to_have_value("jk?r")
    expect(box).to_be_focused()
    expect(dialog).to_be_hidden()

    # Alt or Ctrl with a key is the browser's, never a shortcut.
    page.locator("h1").click()
    page.keyboard.press("Alt+j")
    page.keyboard.press("Control+j")
    assert focused_tag(page) == "MAIN"  # where the click left it (<main tabindex="-1">)

    # / the search box, typed into as any field; j on the results goes to the first.
    page.keyboard.press("/")
    search = page.get_by_role("search").get_by_label("Search the forum")
    expect(search).to_be_focused()
    page.keyboard.type("j")
    expect(search).to_have_value("j")
    search_for_new(page, title, title)
    page.wait_for_load_state("load")
    page.keyboard.press("j")
    expect(
        page.locator(".search-results > li").first.get_by_role("link", name=title)
    ).to_be_focused()

    # g then n: New; g then h: the SIGs.
    page.locator("h1").click()
    page.keyboard.press("g")
    page.keyboard.press("n")
    expect(page).to_have_url(re.compile(r"/new$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("New since your last visit")
    page.wait_for_load_state("load")  # its scripts too: the next keys are theirs
    page.keyboard.press("g")
    page.keyboard.press("h")
    expect(page.get_by_role("heading", level=1)).to_have_text("Special interest groups")


def test_a_guest_moves_through_a_sigs_topics_in_dark_and_r_asks_to_log_in(open_browser):
    page = open_browser(color_scheme="dark", label="guest-dark")
    page.goto("/s/python/")
    rows = page.locator("table.topic-list > tbody > tr")
    expect(rows.first).to_be_visible()
    page.keyboard.press("j")
    expect(rows.nth(0).locator("a.topic-title")).to_be_focused()
    expect(rows.nth(0)).to_have_css("outline-color", DARK_ACCENT)
    page.keyboard.press("j")
    expect(rows.nth(1).locator("a.topic-title")).to_be_focused()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("Members can turn them off in their settings")
    expect(dialog).not_to_contain_text("Go to New")  # New is a member's page
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(rows.nth(1).locator("a.topic-title")).to_be_focused()
    # On a topic, r has no box to go to: it follows "Log in to reply".
    page.goto("/s/retro/")
    page.get_by_role("link", name="What was your first BBS?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What was your first BBS?")
    page.wait_for_load_state("load")
    page.keyboard.press("r")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")


def test_a_member_who_turned_them_off_gets_none(open_browser, forum):
    page = open_browser(label="no-shortcuts")
    register(page, unique("quiet"), forum)
    page.goto("/settings")
    setting = page.get_by_label("Keyboard shortcuts")
    expect(setting).to_be_checked()
    setting.uncheck()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_label("Keyboard shortcuts")).not_to_be_checked()
    expect(page.locator("body")).to_have_attribute("data-shortcuts", "off")

    page.goto("/s/retro/")
    page.get_by_role("link", name="What was your first BBS?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What was your first BBS?")
    page.wait_for_load_state("load")
    for key in ("j", "k", "r", "/", "?", "g", "h"):
        page.keyboard.press(key)
    assert focused_tag(page) == "BODY"
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("What was your first BBS?")
    expect(post(page, 1)).not_to_be_focused()


def test_a_guest_turns_them_off_in_this_browser(open_browser):
    """A guest has no settings: the list's button turns the single keys off in this browser
    (WCAG 2.1.4), on this page and the next."""
    page = open_browser(label="guest-off")
    page.goto("/s/python/")
    rows = page.locator("table.topic-list > tbody > tr")
    expect(rows.first).to_be_visible()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_contain_text("until you log in or clear this site’s data")
    dialog.get_by_role("button", name="Turn them off in this browser").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.keyboard.press("j")
    expect(rows.nth(0).locator("a.topic-title")).not_to_be_focused()
    page.reload()
    page.wait_for_load_state("load")
    for key in ("j", "?"):
        page.keyboard.press(key)
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert focused_tag(page) == "BODY"
