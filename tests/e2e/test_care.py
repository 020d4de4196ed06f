"""Member care in Chromium: a page to the sysops on duty, as the sysops who have it open see it."""

from __future__ import annotations

import re

import pytest

from .helpers import (
    PHONE,
    assert_accessible,
    expect,
    notifications_link,
    unique,
    unread_notifications,
)

pytestmark = pytest.mark.e2e


def test_a_page_another_sysop_took_stops_offering_take_it(open_browser):
    """A sysop on duty who opened the page (from its notification, say) is told live that
    another sysop took it: the page reloads to say so, and "Take it" is gone rather than
    failing when pressed."""
    grace, root, ken = open_browser("grace"), open_browser("sysop"), open_browser("ken")
    for sysop in (grace, root):
        sysop.goto("/s/retro/")
        go = sysop.get_by_role("button", name="Go on duty")
        if go.count():
            go.click()
        expect(sysop.get_by_text("You are on duty here")).to_be_visible()
    ken.goto("/s/retro/")
    ken.get_by_label("In a few words, what is it about?").fill(unique("My modem "))
    ken.get_by_role("button", name="Page a sysop").click()
    expect(ken).to_have_url(re.compile(r"/care/pages/\d+$"))

    grace.goto(ken.url)
    expect(grace.get_by_role("button", name="Take it")).to_be_visible()
    grace.wait_for_load_state("networkidle")  # the socket is connected
    root.goto(ken.url)
    root.get_by_role("button", name="Take it").click()
    expect(root).to_have_url(re.compile(r"/care/\d+$"))

    status = grace.locator("#care-page-status")
    expect(status).to_contain_text("Another sysop took this page and answers the member.")
    expect(grace.get_by_role("button", name="Take it")).to_have_count(0)
    assert_accessible(grace)


def test_a_page_is_announced_once_to_a_sysop_on_duty(open_browser):
    """A sysop on duty with any page open hears a page once: its banner (an assertive alert,
    with the member's words) speaks; its notification, which arrives too, only counts in the
    header's badge and stays out of the live region that screen readers announce."""
    grace, linus = open_browser("grace"), open_browser("linus")
    grace.goto("/s/retro/")
    go = grace.get_by_role("button", name="Go on duty")
    if go.count():
        go.click()
    expect(grace.get_by_text("You are on duty here")).to_be_visible()
    grace.wait_for_load_state("networkidle")  # the socket is connected
    before = unread_notifications(grace)

    words = unique("The disk drive clicks ")
    linus.goto("/s/retro/")
    linus.get_by_label("In a few words, what is it about?").fill(words)
    linus.get_by_role("button", name="Page a sysop").click()
    expect(linus).to_have_url(re.compile(r"/care/pages/\d+$"))

    alert = grace.get_by_role("alert").filter(has_text=words)
    expect(alert).to_have_text(f"linus pages the sysops of Retro Computing: “{words}”")
    expect(notifications_link(grace).locator(".badge")).to_have_text(str(before + 1))
    # Longer than the notification waits for its banner (realtime.js CARE_WAIT_MS).
    grace.wait_for_timeout(3000)
    live = grace.locator("#live-region")
    expect(live).not_to_contain_text("New notification")
    expect(live).not_to_contain_text("pages the sysops")
    assert_accessible(grace)


def test_a_new_message_in_an_open_concern_is_announced_once(open_browser):
    """The member with their concern open hears the sysops' answer once: the concern's page
    says what is new in it; the notification of the same answer only counts in the badge."""
    grace, linus = open_browser("grace"), open_browser("linus")
    linus.goto("/s/retro/sysops/write")
    linus.get_by_label("Subject").fill(unique("Lost my drafts "))
    linus.get_by_label("What is it about? (Markdown)").fill("They were there yesterday.")
    linus.get_by_role("button", name=re.compile("^Send to ")).click()
    expect(linus).to_have_url(re.compile(r"/care/\d+$"))
    linus.wait_for_load_state("networkidle")  # the socket is connected
    before = unread_notifications(linus)

    grace.goto(linus.url)
    grace.get_by_label(re.compile("Markdown")).fill("Found them: look in your drafts list.")
    grace.get_by_role("button", name="Send", exact=True).click()
    expect(grace).to_have_url(re.compile(r"/care/\d+"))

    live = linus.locator("#live-region")
    expect(live).to_contain_text("New in this concern.")
    expect(linus.get_by_text("Found them: look in your drafts list.")).to_be_visible()
    expect(notifications_link(linus).locator(".badge")).to_have_text(str(before + 1))
    # Longer than a notification waits for its page to speak (realtime.js CARE_WAIT_MS).
    linus.wait_for_timeout(3000)
    expect(live).to_contain_text("New in this concern.")
    expect(live).not_to_contain_text("New notification")


def test_the_member_waits_without_the_page_reloading(open_browser, watch):
    """The member's waiting page reloaded itself every 20 seconds with JavaScript on too
    (axe-core: meta-refresh, critical), sending a screen reader to its top each time. With a
    script, the page changes when told: once a sysop takes the page it opens the conversation,
    also when the socket was away while that happened (it asks again on coming back)."""
    grace, ken = open_browser("grace"), open_browser("ken")
    grace.goto("/s/retro/")
    go = grace.get_by_role("button", name="Go on duty")
    if go.count():
        go.click()
    expect(grace.get_by_text("You are on duty here")).to_be_visible()
    ken.goto("/s/retro/")
    ken.get_by_label("In a few words, what is it about?").fill(unique("My printer "))
    ken.get_by_role("button", name="Page a sysop").click()
    expect(ken).to_have_url(re.compile(r"/care/pages/\d+$"))
    expect(ken.locator("#care-page-status")).to_contain_text("The sysops on duty are paged")
    assert_accessible(ken)

    ken.wait_for_load_state("networkidle")  # the socket is connected
    ken.context.set_offline(True)
    grace.goto(ken.url)
    grace.get_by_role("button", name="Take it").click()
    expect(grace).to_have_url(re.compile(r"/care/\d+$"))
    ken.context.set_offline(False)
    expect(ken).to_have_url(re.compile(r"/care/\d+$"), timeout=30_000)
    # The socket's polls while the network was cut failed, as the test meant them to.
    watch.problems[:] = [p for p in watch.problems if "ERR_INTERNET_DISCONNECTED" not in p]


def test_a_page_rings_where_the_sysop_is_reading(open_browser):
    """The line saying a member pages the sysops was put at the top of the page only: a sysop
    on duty reading down a topic on a phone saw nothing (the sound is optional), while the
    member waits three minutes at most. It stays in view as they scroll."""
    grace, ken = open_browser("grace"), open_browser("ken")
    grace.set_viewport_size(PHONE)
    grace.goto("/s/retro/")
    go = grace.get_by_role("button", name="Go on duty")
    if go.count():
        go.click()
    expect(grace.get_by_text("You are on duty here")).to_be_visible()
    grace.goto("/t/1")
    grace.wait_for_load_state("networkidle")  # the socket is connected
    grace.keyboard.press("End")
    grace.wait_for_function("() => window.scrollY > 1000")

    ken.goto("/s/retro/")
    words = unique("My disk drive ")
    ken.get_by_label("In a few words, what is it about?").fill(words)
    ken.get_by_role("button", name="Page a sysop").click()
    expect(ken).to_have_url(re.compile(r"/care/pages/\d+$"))

    alert = grace.get_by_role("alert").filter(has_text=words)
    expect(alert).to_be_visible()
    expect(alert).to_be_in_viewport()


def test_a_banner_silences_its_own_notification_only_not_a_later_one(open_browser):
    """A banner pairs with the notification of its address that comes with it (within twice
    realtime.js's CARE_WAIT_MS), not with every later one: the member who paged, reading
    elsewhere, is told by a banner that a sysop took the page (the concern's address), and
    later hears the sysop's answer in that concern, which only a notification brings there.
    A banner used to silence its address for as long as the page stayed open."""
    # margaret pages: a member may page three times an hour, and ken's are the other tests'.
    grace, member = open_browser("grace"), open_browser("margaret")
    grace.goto("/s/retro/")
    go = grace.get_by_role("button", name="Go on duty")
    if go.count():
        go.click()
    expect(grace.get_by_text("You are on duty here")).to_be_visible()
    member.goto("/s/retro/")
    member.get_by_label("In a few words, what is it about?").fill(unique("My joystick "))
    member.get_by_role("button", name="Page a sysop").click()
    expect(member).to_have_url(re.compile(r"/care/pages/\d+$"))
    paged = member.url
    member.goto("/t/1")  # reading a topic while the sysops are paged
    member.wait_for_load_state("networkidle")  # the socket is connected
    before = unread_notifications(member)

    grace.goto(paged)
    grace.get_by_role("button", name="Take it").click()
    expect(grace).to_have_url(re.compile(r"/care/\d+$"))
    concern = re.sub(r"^https?://[^/]+", "", grace.url)
    banner = member.get_by_role("alert").filter(
        has_text="A sysop is here: your page became a live conversation."
    )
    expect(banner.get_by_role("link")).to_have_attribute("href", concern)
    live = member.locator("#live-region")
    # Longer than a banner and its notification pair (2 × CARE_WAIT_MS).
    member.wait_for_timeout(4500)
    expect(live).not_to_contain_text("New notification")

    grace.get_by_label(re.compile("Markdown")).fill("Hello Margaret, which joystick is it?")
    grace.get_by_role("button", name="Send", exact=True).click()
    expect(notifications_link(member).locator(".badge")).to_have_text(str(before + 1))
    # Spoken, after waiting CARE_WAIT_MS for a banner of its own that does not come.
    expect(live).to_have_text(
        "New notification: The sysops of Retro Computing answered your concern"
    )
