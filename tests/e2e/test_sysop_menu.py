"""A sysop hides a post from its "Moderate" menu in two taps, on a phone, with JavaScript on and
off; the menu and the pages it leads to pass axe-core."""

from __future__ import annotations

import pytest

from .helpers import PHONE, assert_accessible, expect, post, reply, start_topic, unique

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("js", [True, False], ids=["js", "no-js"])
def test_a_sysop_hides_a_post_from_the_menu_in_two_taps_on_a_phone(open_browser, js):
    title = unique("Modem menus ")
    author = open_browser("ken")
    url = start_topic(author, "Retro Computing", title, "Which modem for a BBS?")
    spam = unique("CHEAP MODEMS at spam-shop ")
    spammer = open_browser("linus")
    spammer.goto(url)
    reply(spammer, spam)
    expect(post(spammer, 2)).to_contain_text(spam)

    sysop = open_browser("grace", js=js, has_touch=True, is_mobile=True)
    sysop.set_viewport_size(PHONE)
    sysop.goto(url)
    menu = post(sysop, 2).locator("details.sysop-menu")
    hide = menu.get_by_role("button", name="Hide", exact=True)
    expect(hide).to_be_hidden()  # closed: the post is not cluttered with forms
    if js:  # (axe needs JavaScript; the markup is the same without it)
        assert_accessible(sysop)
    menu.locator("summary").tap()  # one
    expect(hide).to_be_visible()
    expect(menu.get_by_role("link", name="Suspend the author")).to_be_visible()
    expect(
        menu.get_by_role("link", name="Remove from SIG and hide all their posts here")
    ).to_have_class("danger")
    if js:
        assert_accessible(sysop)
    hide.tap()  # two
    expect(sysop.get_by_role("status").filter(has_text="The post is hidden.")).to_be_visible()
    expect(post(sysop, 2)).to_contain_text("hidden by a sysop")
    # The same menu now offers Unhide.
    post(sysop, 2).locator("details.sysop-menu summary").tap()
    expect(post(sysop, 2).get_by_role("button", name="Unhide")).to_be_visible()

    for reader in (author, open_browser()):
        reader.goto(url)
        expect(post(reader, 1)).to_contain_text("Which modem for a BBS?")
        expect(reader.get_by_role("main")).not_to_contain_text(spam)


def test_the_menu_works_from_the_keyboard_and_deleting_a_topic_confirms(open_browser):
    title = unique("Keyboard menus ")
    author = open_browser("ken")
    url = start_topic(author, "Retro Computing", title, "Typed with a keyboard.")
    sysop = open_browser("grace")
    sysop.goto(url)
    summary = sysop.locator("details.topic-tools > summary")
    summary.focus()
    sysop.keyboard.press("Enter")
    lock = sysop.locator("details.topic-tools").get_by_role("button", name="Lock")
    expect(lock).to_be_visible()
    sysop.keyboard.press("Escape")  # closes, focus back on the menu's summary
    expect(lock).to_be_hidden()
    expect(summary).to_be_focused()
    # Delete topic is destructive: it looks it, and the browser asks (the test's browser agrees,
    # and then no confirmation page follows).
    summary.click()
    delete = sysop.locator("details.topic-tools").get_by_role("button", name="Delete topic")
    expect(delete).to_have_class("danger")
    expect(
        sysop.locator("details.topic-tools form[data-confirm]").filter(
            has=sysop.get_by_role("button", name="Delete topic")
        )
    ).to_have_count(1)
    delete.click()
    expect(sysop.get_by_role("status").filter(has_text="The topic is deleted.")).to_be_visible()


def test_without_javascript_deleting_a_topic_asks_on_a_page(open_browser):
    title = unique("No script menus ")
    author = open_browser("ken")
    url = start_topic(author, "Retro Computing", title, "No scripts here.")
    sysop = open_browser("grace", js=False)
    sysop.goto(url)
    sysop.locator("details.topic-tools > summary").click()
    sysop.locator("details.topic-tools").get_by_role("button", name="Delete topic").click()
    expect(sysop.get_by_role("heading", level=1)).to_have_text(f"Delete the topic “{title}”?")
    expect(sysop.get_by_role("button", name="Delete topic")).to_have_class("danger")
    sysop.get_by_label("Reason").fill("duplicate")
    sysop.get_by_role("button", name="Delete topic").click()
    expect(sysop.get_by_role("status").filter(has_text="The topic is deleted.")).to_be_visible()


def test_the_merge_search_is_a_combobox_with_javascript(open_browser):
    word = unique("Couplers")
    author = open_browser("ken")
    source = start_topic(author, "Retro Computing", f"{word} first", "One.")
    start_topic(author, "Retro Computing", f"{word} second", "Two.")
    sysop = open_browser("grace")
    sysop.goto(source)
    sysop.locator("details.topic-tools > summary").click()
    sysop.locator("details.topic-tools").get_by_role("link", name="Merge").click()
    box = sysop.get_by_role("combobox", name="Find the other topic")
    box.fill(word)
    option = sysop.get_by_role("option", name=f"{word} second")
    expect(option).to_be_visible()
    assert_accessible(sysop)
    box.press("ArrowDown")
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(option).to_be_hidden()
    expect(sysop.get_by_role("radio", name=f"{word} second")).to_be_checked()
    sysop.get_by_role("button", name="Merge", exact=True).click()
    expect(sysop.get_by_role("status").filter(has_text="The topics are merged.")).to_be_visible()
    expect(sysop.get_by_role("heading", level=1)).to_contain_text(f"{word} second")
