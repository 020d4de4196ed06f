"""Journey 5: a member flags a post, the SIG's sysop hides it from the moderation queue, the
member hears the outcome and other members no longer see the post."""

from __future__ import annotations

import re

import pytest

from .helpers import (
    assert_accessible,
    expect,
    notifications_link,
    post,
    reply,
    screenshots,
    start_topic,
    unique,
    unread_notifications,
)

pytestmark = pytest.mark.e2e


def test_flagged_post_is_hidden_from_the_queue_and_the_flagger_is_told(open_browser):
    title = unique("Modem deals ")
    author = open_browser("ken")
    url = start_topic(author, "Retro Computing", title, "Where do you buy old modems?")
    spammer = open_browser("linus")
    spammer.goto(url)
    spam = unique("BUY CHEAP MODEMS at spam-shop ")
    reply(spammer, spam)
    expect(post(spammer, 2)).to_contain_text(spam)

    flagger = open_browser("margaret")
    flagger.goto(url)
    unread_before = unread_notifications(flagger)
    post(flagger, 2).get_by_role("link", name="Flag").click()
    expect(flagger.get_by_role("heading", level=1)).to_have_text("Flag post #2")
    flagger.get_by_role("radio", name="Spam").check()
    flagger.get_by_role("button", name="Send to the sysops").click()
    thanks = flagger.get_by_role("status").filter(has_text="The sysops will look at this post.")
    expect(thanks).to_be_visible()
    flagger.wait_for_load_state("networkidle")  # the live connection is up

    sysop = open_browser("grace")
    sysop.goto("/")
    sysop.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile(r"^Mod queue")
    ).click()
    expect(sysop.get_by_role("heading", level=1)).to_have_text("Moderation queue")
    assert_accessible(sysop)
    item = sysop.get_by_role("article").filter(has=sysop.get_by_role("link", name=f"{title} #2"))
    expect(item).to_contain_text("spam")
    item.get_by_label("Outcome").select_option("hidden")
    item.get_by_role("button", name="Handle").click()
    expect(sysop.get_by_role("link", name=f"{title} #2")).to_have_count(0)

    # The flagger hears the outcome live, on the page still open, and reads it in the center.
    expect(notifications_link(flagger).locator(".badge")).to_have_text(str(unread_before + 1))
    notifications_link(flagger).click()
    expect(
        flagger.get_by_role(
            "link", name=f"A sysop handled the post you flagged in “{title}”: hidden."
        )
    ).to_be_visible()
    screenshots(flagger, "journey-5-flag-outcome")

    # Gone for other members and guests; the topic's first post is still there.
    for reader in (author, open_browser()):
        reader.goto(url)
        expect(post(reader, 1)).to_contain_text("Where do you buy old modems?")
        expect(reader.get_by_role("main")).not_to_contain_text(spam)

    # The sysop still reads the hidden post, set apart, and every word of it legible (it was
    # faded to 80 %: axe-core found its muted words, links and buttons below 4.5:1).
    sysop.goto(url)
    expect(post(sysop, 2)).to_contain_text(spam)
    expect(post(sysop, 2)).to_have_class(re.compile(r"\bpost-muted\b"))
    assert_accessible(sysop)
