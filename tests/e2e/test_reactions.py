"""Around the posts in Chromium: reacting with JavaScript (no reload, counts live in the
author's open page, who reacted on hover and focus), the same with plain forms, a bookmark,
and the member card on a name."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_accessible, expect, post, screenshots, start_topic, unique

pytestmark = pytest.mark.e2e

THUMBS = "\U0001f44d"


def test_reacting_with_javascript_is_live_for_the_author(open_browser):
    author = open_browser("grace")
    title = unique("Null modem cables ")
    url = start_topic(author, "Retro Computing", title, "Which pins cross over?")

    reader = open_browser("ada")
    reader.goto(url)
    first = post(reader, 1)
    first.get_by_text("React", exact=True).click()  # the picker (a <details>)
    first.get_by_role("button", name=THUMBS).click()
    # Sent with fetch: the page stays, the count shows pressed, screen readers hear it.
    counted = first.locator(".reactions > button.reaction")
    expect(counted).to_have_count(1)
    expect(counted).to_have_text(f"{THUMBS} 1")
    expect(counted).to_have_attribute("aria-pressed", "true")
    expect(reader.locator("#live-region")).to_have_text(f"You reacted with {THUMBS}.")
    expect(reader).to_have_url(url)
    assert_accessible(reader)

    # The author's open page follows without a reload: the count, then who, on hover.
    shown = post(author, 1).locator(".reactions .reaction")
    expect(shown).to_have_text(f"{THUMBS} 1")
    shown.hover()
    tip = author.get_by_role("tooltip")
    expect(tip).to_have_text(f"ada reacted with {THUMBS}")
    expect(shown).to_have_attribute("aria-describedby", "reaction-tip")
    screenshots(author, "reactions-who-reacted")

    # Keyboard: focus shows the same names; pressing it again takes the reaction back.
    counted.focus()
    expect(reader.get_by_role("tooltip")).to_have_text(f"ada reacted with {THUMBS}")
    reader.keyboard.press("Enter")
    expect(first.locator(".reactions > button.reaction")).to_have_count(0)
    expect(reader.locator("#live-region")).to_have_text("Your reaction was taken back.")
    expect(post(author, 1).locator(".reactions .reaction")).to_have_count(0)

    # A bookmark from the same tray, then the notification the author got is there to open.
    first.get_by_role("button", name=re.compile("Bookmark")).click()
    expect(first.get_by_role("link", name=re.compile("Bookmarked"))).to_be_visible()
    reader.goto("/bookmarks")
    expect(reader.get_by_role("link", name=re.compile(re.escape(title)))).to_be_visible()
    assert_accessible(reader)


def test_reacting_without_javascript_uses_plain_forms(open_browser):
    author = open_browser("margaret")
    title = unique("Acoustic couplers ")
    url = start_topic(author, "Retro Computing", title, "Who still has one?")

    reader = open_browser("ken", js=False)
    reader.goto(url)
    first = post(reader, 1)
    first.get_by_text("React", exact=True).click()
    first.get_by_role("button", name=THUMBS).click()
    expect(reader.get_by_text(f"You reacted with {THUMBS}.")).to_be_visible()
    expect(post(reader, 1).locator(".reactions > button.reaction")).to_have_text(f"{THUMBS} 1")
    post(reader, 1).get_by_role("link", name="Who reacted").click()
    expect(reader.get_by_role("heading", level=1)).to_have_text("Who reacted to post #1")
    expect(reader.locator("main").get_by_role("link", name="ken")).to_be_visible()
    # (axe needs JavaScript: the page is checked in a browser with it below.)
    checker = open_browser("ken")
    checker.goto(reader.url)
    assert_accessible(checker)


def test_a_members_name_opens_their_card_and_is_a_link_without_javascript(open_browser):
    author = open_browser("linus")
    title = unique("BBS door games ")
    url = start_topic(author, "Retro Computing", title, "Legend of the Red Dragon?")

    reader = open_browser("ada")
    reader.goto(url)
    name = post(reader, 1).get_by_role("link", name="linus", exact=True)
    name.click()
    card = reader.get_by_role("dialog", name="linus")
    expect(card).to_be_visible()
    expect(card).to_contain_text("Joined")
    expect(card).to_contain_text("SIGs in common")
    expect(card.get_by_role("link", name="linus", exact=True)).to_be_focused()
    expect(card.get_by_role("link", name="View profile")).to_be_visible()
    assert_accessible(reader)
    reader.keyboard.press("Escape")
    expect(card).to_have_count(0)
    expect(name).to_be_focused()

    plain = open_browser("ada", js=False)
    plain.goto(url)
    post(plain, 1).get_by_role("link", name="linus", exact=True).click()
    expect(plain).to_have_url(re.compile(r"/u/linus$"))
