"""`:name:` emoji completion in the composer, in Chromium: by keyboard alone, told to a screen
reader (the ARIA 1.2 listbox a textbox owns, the active option, a live count), over the page
(nothing below the text box moves), axe-clean, the list fetched only once it is wanted; and
without JavaScript, `:name:` typed in full becomes its emoji when the reply is posted."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_accessible, expect, unique

pytestmark = pytest.mark.e2e

BUDGET_REQUESTS = 15


def _open_a_topic(page, js=True):
    page.goto("/s/retro/")
    page.locator("a.topic-title").first.click()
    expect(page.get_by_role("heading", name="Reply")).to_be_visible()
    if js:
        expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()


def test_emoji_completion_by_keyboard_for_a_screen_reader(open_browser):
    page = open_browser("ada")
    sent = []  # (address, bytes on the wire) of every request the page makes
    page.on(
        "requestfinished",
        lambda request: sent.append((request.url, request.sizes()["responseBodySize"])),
    )
    _open_a_topic(page)
    # The topic's page alone, with its reply box, as a first visit loads it (no cache).
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sent.clear()
    page.reload()
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    page.wait_for_load_state("networkidle")
    # The emoji list is not part of the page, which stays within its requests. (Its bytes are
    # not asserted here: uncompressed, the topic page with its reply box was over 100 KiB before
    # emoji completion came; the completion adds about 4.5 KB to composer.js and nothing else.)
    # The socket's own requests are left out, as test_layout's page weights do: with
    # long-polling (before the WebSocket upgrade, or instead of it) their number is timing.
    loaded = [(url, size) for url, size in sent if "/socket.io/" not in url]
    assert len(loaded) <= BUDGET_REQUESTS, loaded
    assert not [url for url, _ in loaded if "/emoji.json" in url]

    box = page.get_by_label("Your reply")
    box.focus()
    box.fill("")
    below = _gap_under(page, box)
    page.keyboard.type("Great :s")  # one letter: nothing asked yet
    page.wait_for_timeout(300)
    assert not [url for url, _ in sent if "/emoji.json" in url]
    listbox = page.get_by_role("listbox", name="Emoji to insert")
    expect(listbox).to_be_hidden()

    # (Waited for as an event: the list can be shown before the browser reports the request
    # finished, so reading `sent` right after the list appears raced it on a loaded machine.)
    with page.expect_event("requestfinished", lambda r: "/emoji.json" in r.url) as emoji_list:
        page.keyboard.type("mi")
    options = listbox.get_by_role("option")
    expect(listbox).to_be_visible()
    expect(options.first).to_have_text("😄 :smile:")
    count = options.count()
    assert 1 < count <= 8
    assert all(":smi" in text for text in options.all_inner_texts())
    # Small on the wire, asked for once.
    assert emoji_list.value.sizes()["responseBodySize"] < 30_000
    assert len([url for url, _ in sent if "/emoji.json" in url]) == 1

    # What a screen reader is told: a textbox owning the listbox, the active option, a count.
    list_id = listbox.get_attribute("id")
    assert list_id in box.get_attribute("aria-controls").split()
    expect(box).to_have_attribute("aria-autocomplete", "list")
    expect(box).to_have_attribute("aria-activedescendant", f"{list_id}-0")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("status").filter(has_text="emoji suggested")).to_have_text(
        f"{count} emoji suggested"
    )
    # Over the page: the buttons under the text box have not moved.
    # (Measured from the text box: on a loaded machine the whole composer once moved 42 px
    # down meanwhile, pushed by the page above it filling in late; the list moved nothing.)
    assert _gap_under(page, box) == below
    assert_accessible(page)

    # Arrow keys move the active option (and wrap), Enter inserts its emoji at the cursor.
    page.keyboard.press("ArrowDown")
    expect(box).to_have_attribute("aria-activedescendant", f"{list_id}-1")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.first).to_have_attribute("aria-selected", "false")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(box).to_have_attribute("aria-activedescendant", f"{list_id}-{count - 1}")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(box).to_have_value("Great 😄")
    expect(listbox).to_be_hidden()
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile("."))
    expect(box).to_be_focused()

    # Tab inserts too, in the middle of the text; Escape closes without inserting.
    page.keyboard.type(" and :tad")
    expect(options.first).to_have_text("🎉 :tada:")
    page.keyboard.press("Tab")
    expect(box).to_have_value("Great 😄 and 🎉")
    expect(box).to_be_focused()
    page.keyboard.press("Home")
    page.keyboard.type(":heart_ey ")
    page.keyboard.press("Backspace")
    expect(listbox).to_be_visible()
    page.keyboard.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_value(":heart_eyGreat 😄 and 🎉")
    # Not inside a word or a time, and nothing for a name that is none.
    box.fill("")
    page.keyboard.type("at 12:30 and word:sm and :zzzq")
    page.wait_for_timeout(300)
    expect(listbox).to_be_hidden()
    # The @name completion is still there beside it, and the list was fetched once in all.
    box.fill("")
    page.keyboard.type("Thanks @gra")
    members = page.get_by_role("listbox", name="Members to mention")
    expect(members.get_by_role("option")).to_have_text(["@grace"])
    page.keyboard.press("Enter")
    expect(box).to_have_value("Thanks @grace ")
    assert len([url for url, _ in sent if "/emoji.json" in url]) == 1
    box.fill("")


def _gap_under(page, box) -> tuple[float, float]:
    """Where the composer's buttons sit, measured from the text box's bottom left corner."""
    buttons, text = page.locator(".composer-buttons").bounding_box(), box.bounding_box()
    return buttons["x"] - text["x"], buttons["y"] - (text["y"] + text["height"])


def test_without_javascript_a_shortcode_becomes_its_emoji_when_posted(open_browser):
    page = open_browser("linus", js=False)
    _open_a_topic(page, js=False)
    words = unique("shortcode")
    box = page.get_by_label("Your reply")
    box.fill(f"{words} :tada: and `:tada:`")
    page.get_by_role("button", name="Post reply").click()
    last = page.locator("article.post").last
    expect(last).to_contain_text(f"{words} 🎉 and :tada:")
    expect(last.locator("code")).to_have_text(":tada:")


def test_the_open_list_is_accessible_in_dark_colours_on_a_phone(open_browser):
    page = open_browser("grace", color_scheme="dark")
    _open_a_topic(page)
    page.set_viewport_size({"width": 390, "height": 844})
    box = page.get_by_label("Your reply")
    box.fill("")
    box.press_sequentially("Nice :thu")
    listbox = page.get_by_role("listbox", name="Emoji to insert")
    expect(listbox.get_by_role("option").first).to_have_text("👍 :thumbsup:")
    # Inside the screen's width, over the page.
    shown = listbox.bounding_box()
    assert shown["x"] >= 0 and shown["x"] + shown["width"] <= 390
    assert_accessible(page)
    box.press("Escape")
    expect(listbox).to_be_hidden()
    box.fill("")
