"""Journeys through the forum in Chromium, finding elements by role and label as a person does."""

from __future__ import annotations

import re

import pytest

from .helpers import (
    expect,
    notifications_link,
    post,
    register,
    reply,
    screenshots,
    start_topic,
    tracked_link,
    unique,
    unread_notifications,
)

pytestmark = pytest.mark.e2e

MARKDOWN = (
    "Three things I learnt:\n\n"
    "- modems sing\n"
    "- sysops never sleep\n\n"
    "Read [the manual](https://example.com/manual) first.\n\n"
    "```\n"
    '10 PRINT "HELLO"\n'
    "20 GOTO 10\n"
    "```\n"
)

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])


@JS
def test_newcomer_registers_joins_a_sig_and_starts_a_topic(open_browser, forum, js):
    page = open_browser(js=js)
    name = unique("newcomer")
    register(page, name, forum)
    expect(page).to_have_title("Special interest groups · Forum")

    page.get_by_role("link", name="Retro Computing", exact=True).click()
    page.get_by_role("button", name="Join this SIG").click()
    expect(page.get_by_text("You joined Retro Computing.")).to_be_visible()

    title = unique("My first modem ")
    page.get_by_role("link", name="New topic").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Message").fill(MARKDOWN)
    page.get_by_role("button", name="Start topic").click()

    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    first = page.get_by_role("article").first
    expect(first.get_by_role("link", name=name)).to_be_visible()
    expect(first.get_by_role("listitem")).to_have_text(["modems sing", "sysops never sleep"])
    expect(first.get_by_role("link", name="the manual")).to_have_attribute(
        "href", "https://example.com/manual"
    )
    expect(first.locator("pre code")).to_have_text('10 PRINT "HELLO"\n20 GOTO 10\n')
    # Markdown markup itself is gone: it was rendered, not shown.
    expect(first).not_to_contain_text("```")
    expect(first).not_to_contain_text("[the manual]")
    screenshots(page, f"journey-1-new-topic-{'js' if js else 'no-js'}")


@JS
def test_member_replies_with_quote_and_mention(open_browser, js):
    """With JavaScript the author sees the reply arrive without reloading; without, a reload
    shows it (journey 7)."""
    author = open_browser("ada", js=js)
    title = unique("Which modem did you own ")
    url = start_topic(author, "Retro Computing", title, "Mine was a **Hayes** 2400.")
    unread_before = unread_notifications(author)
    draft = "A half-written thought that must survive live updates"
    if js:
        # The socket has connected and joined the topic's room once the network is quiet.
        author.wait_for_load_state("networkidle")
        author.get_by_label("Your reply").fill(draft)
        author.evaluate("() => { window.stillTheSamePage = true; }")  # a reload would lose it

    other = open_browser("linus", js=js, label="linus")
    other.goto(url)
    post(other, 1).get_by_role("link", name="Quote").click()
    box = other.get_by_label("Your reply")
    expect(box).to_have_value(re.compile(r"Hayes"))
    box.press("Control+End")
    box.press_sequentially("\n\n@ada a US Robotics Courier, and it sang beautifully.")
    other.get_by_role("button", name="Post reply").click()
    expect(post(other, 2)).to_be_visible()

    if js:
        expect(notifications_link(author).locator(".badge")).to_have_text(str(unread_before + 1))
        banner = author.get_by_role("status").filter(has_text="new reply")
        expect(banner).to_have_text("1 new reply — show")
        expect(post(author, 2)).to_have_count(0)
        banner.get_by_role("button", name="show").click()
        expect(banner).to_be_hidden()
        expect(author.get_by_label("Your reply")).to_have_value(draft)
        assert author.evaluate("() => window.stillTheSamePage") is True
    else:
        author.reload()
    second = post(author, 2)
    quote = second.get_by_role("blockquote")
    expect(quote).to_contain_text("Hayes")
    expect(quote.get_by_role("link", name="wrote")).to_have_attribute(
        "href", re.compile(r"^/p/\d+$")
    )
    own_words = second.get_by_role("paragraph").filter(has_text="a US Robotics Courier")
    expect(own_words.get_by_role("link", name="@ada")).to_have_attribute("href", "/u/ada")

    # Seeing the reply read its notification, and the badge went with it (live, with the
    # script); the one notification for the reply that quotes and mentions ada (a mention
    # wins) stays in the list, linking to it.
    expect(notifications_link(author).locator(".badge")).to_have_text(str(unread_before))
    notifications_link(author).click()
    expect(author.get_by_role("heading", level=1)).to_have_text("Notifications")
    author.get_by_role("link", name=f"linus mentioned you in “{title}”").click()
    expect(author).to_have_url(re.compile(r"#post-2$"))
    expect(post(author, 2)).to_contain_text("a US Robotics Courier")
    screenshots(author, f"journey-2-reply-{'js' if js else 'no-js'}")


def test_new_lists_unread_topic_and_lands_on_first_unread_post(open_browser):
    writer = open_browser("margaret")
    title = unique("Acoustic couplers ")
    url = start_topic(writer, "Retro Computing", title, "Who still has one?")

    reader = open_browser("ken")
    reader.goto(url)  # reads post 1
    expect(post(reader, 1)).to_be_visible()

    writer.goto(url)
    reply(writer, "Mine is in the attic.")
    expect(post(writer, 2)).to_be_visible()
    reply(writer, "Found it: a 300 baud one.")
    expect(post(writer, 3)).to_be_visible()

    reader.get_by_role("link", name="New", exact=True).click()
    expect(reader.get_by_role("heading", level=1)).to_have_text("New since your last visit")
    row = reader.get_by_role("row").filter(has=reader.get_by_role("link", name=title))
    expect(row).to_contain_text("2 unread")
    row.get_by_role("link", name=title).click()

    expect(reader).to_have_url(re.compile(r"#post-2$"))
    expect(post(reader, 2)).to_be_in_viewport()
    expect(post(reader, 2)).to_contain_text("Mine is in the attic.")

    reader.get_by_role("link", name="New", exact=True).click()
    expect(reader.get_by_role("heading", level=1)).to_have_text("New since your last visit")
    expect(reader.get_by_role("link", name=title)).to_have_count(0)
    screenshots(reader, "journey-3-new-after-reading")


def test_tracking_a_sig_counts_its_new_topics_live_without_notifications(open_browser):
    reader = open_browser("ken")
    reader.goto("/")
    reader.get_by_role("link", name="Retro Computing", exact=True).click()
    reader.get_by_label("Notifications for this SIG").select_option("tracking")
    reader.get_by_role("button", name="Save").click()
    expect(reader.get_by_text("Notifications for Retro Computing: tracking.")).to_be_visible()
    tracked_before = int(tracked_link(reader).locator(".badge").inner_text())
    notes_before = unread_notifications(reader)
    reader.wait_for_load_state("networkidle")  # the socket is connected

    writer = open_browser("margaret", label="margaret")
    title = unique("Tracked, not notified ")
    start_topic(writer, "Retro Computing", title, "An ordinary new topic.")

    expect(tracked_link(reader).locator(".badge")).to_have_text(str(tracked_before + 1))
    assert unread_notifications(reader) == notes_before  # tracking sends no notification
    tracked_link(reader).click()
    expect(reader.get_by_role("heading", level=1)).to_have_text("Tracked topics with unread posts")
    row = reader.get_by_role("row").filter(has=reader.get_by_role("link", name=title))
    expect(row).to_contain_text("new")
    screenshots(reader, "journey-tracked-topics")


def test_outsider_gets_404_for_a_private_sigs_topic(open_browser, watch):
    insider = open_browser("grace")
    insider.goto("/")
    insider.get_by_role("link", name="Sysop Lounge", exact=True).click()
    insider.get_by_role("link", name="Moderation guidelines draft").click()
    expect(insider.get_by_role("heading", level=1)).to_have_text("Moderation guidelines draft")
    topic_url = insider.url.split("#")[0]
    path = topic_url.removeprefix(watch.forum.url)

    watch.expect_status(404, "^" + re.escape(path) + "$")
    watch.expect_status(404, "^/s/sysop-lounge/$")
    for who in ("ada", None):
        outsider = open_browser(who, label=who or "guest")
        response = outsider.goto(topic_url)
        assert response is not None and response.status == 404
        expect(outsider.get_by_role("heading", level=1)).to_contain_text("Not found")
        expect(outsider.get_by_role("main")).not_to_contain_text("zeppelin")
        expect(outsider.get_by_role("main")).not_to_contain_text("Moderation guidelines")
        response = outsider.goto("/s/sysop-lounge/")
        assert response is not None and response.status == 404
    outsider.goto(topic_url)
    screenshots(outsider, "journey-6-private-topic-404")
