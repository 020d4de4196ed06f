"""Live replies in Chromium: a member with a topic open hears a new post in it once, whether or
not it also notifies them (a mention, a quote, a reply to their topic, a watched topic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import expect, notifications_link, reply, start_topic, unique, unread_notifications

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# Longer than a notification waits for its post's "new replies" line (realtime.js REPLY_WAIT_MS).
PAIRING_MS = 3000


def _open(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")  # the socket is connected and joined the topic
    return unread_notifications(page)


def test_a_reply_that_notifies_the_member_in_the_open_topic_is_announced_once(open_browser):
    """The topic's "1 new reply — show" line speaks of a new post; the mention notification of
    the same post, which arrives too, only counts in the header's badge. It used to speak as
    well ("New notification: … mentioned you in …"): twice for one reply. A later reply into
    the topic ada watches (she started it) is the same: one line, no notification spoken."""
    ada, margaret = open_browser("ada"), open_browser("margaret")
    title = unique("Tape drives ")
    url = start_topic(ada, "Retro Computing", title, "Which one still reads?")
    before = _open(ada, url)
    live = ada.locator("#live-region")
    banner = ada.get_by_role("status").filter(has_text="new repl")

    margaret.goto(url)
    reply(margaret, "@ada mine, a Commodore 1530, reads them all.")
    expect(notifications_link(ada).locator(".badge")).to_have_text(str(before + 1))
    expect(banner).to_have_text("1 new reply — show")
    ada.wait_for_timeout(PAIRING_MS)
    expect(live).not_to_contain_text("New notification")

    margaret.get_by_label("Your reply").fill("And a Datasette too.")
    margaret.get_by_role("button", name="Post reply").click()
    expect(notifications_link(ada).locator(".badge")).to_have_text(str(before + 2))
    expect(banner).to_have_text("2 new replies — show")
    ada.wait_for_timeout(PAIRING_MS)
    expect(live).not_to_contain_text("New notification")

    banner.get_by_role("button", name="show").click()
    expect(live).to_have_text("2 new replies shown")


def test_a_notification_from_another_topic_still_speaks_on_a_topic_page(open_browser):
    """Only the topic on screen has a line of its own: a mention elsewhere is announced at
    once, as on any other page."""
    ada, margaret = open_browser("ada"), open_browser("margaret")
    reading = start_topic(margaret, "Retro Computing", unique("Floppy sleeves "), "Paper ones?")
    title = unique("Joysticks ")
    elsewhere = start_topic(margaret, "Retro Computing", title, "Which one?")
    before = _open(ada, reading)

    margaret.goto(elsewhere)
    reply(margaret, "@ada you had a Competition Pro, right?")
    expect(notifications_link(ada).locator(".badge")).to_have_text(str(before + 1))
    expect(ada.locator("#live-region")).to_have_text(
        f"New notification: margaret mentioned you in “{title}”"
    )
    expect(ada.get_by_role("status").filter(has_text="new repl")).to_have_count(0)


# realtime.js alone, on a page of its own, with a socket the test drives (no server: the order
# and timing of the two nudges are the test's to choose).
FAKE_SOCKET = """
window.__handlers = {};
window.io = function () {
  return {
    on: function (name, fn) { window.__handlers[name] = fn; },
    emit: function () {},
    disconnect: function () {},
  };
};
"""
TOPIC_PAGE = """<!doctype html><html><body data-topic="7" data-page="1" data-pages="1">
<div id="posts"><article data-number="1"></article><article data-number="2"></article>
<article data-number="4"></article></div>
<div id="new-replies" role="status" hidden></div><div id="live-region" aria-live="polite"></div>
</body></html>"""


def _nudge(page, event, data):
    page.evaluate("([event, data]) => window.__handlers[event](data)", [event, data])


def test_a_notification_of_a_post_the_line_does_not_show_still_speaks(browser):
    """A post approved after later ones (its number, 3, is below the last shown, 4) reaches the
    open topic as `post_created`, which the "new replies" line does not show: the mention it
    carries must speak, not be paired away with a line that never spoke. A new post (5) still
    pairs: its line speaks, its notification only counts."""
    root = ROOT / "static" / "js" / "realtime.js"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.clock.install()
        page.set_content(TOPIC_PAGE)
        page.add_script_tag(content=FAKE_SOCKET)
        page.add_script_tag(content=root.read_text(encoding="utf-8"))
        live, line = page.locator("#live-region"), page.locator("#new-replies")
        mention = {"unread_count": 1, "kind": "mention", "text": "m", "url": "/p/30"}

        _nudge(page, "notification", {**mention, "topic_id": 7, "post_id": 30})
        _nudge(page, "post_created", {"topic_id": 7, "post_number": 3, "post_id": 30})
        page.clock.run_for(3000)
        expect(line).to_be_hidden()
        expect(live).to_have_text("new_notification")  # (the key: no catalog on this page)

        page.evaluate("document.getElementById('live-region').textContent = ''")
        _nudge(page, "post_created", {"topic_id": 7, "post_number": 5, "post_id": 50})
        _nudge(page, "notification", {**mention, "topic_id": 7, "post_id": 50})
        page.clock.run_for(3000)
        expect(line).to_be_visible()
        expect(live).to_have_text("")
    finally:
        context.close()
