"""Journey 4: search finds a topic by a word in its body and highlights it, and a private SIG's
words stay hidden from outsiders."""

from __future__ import annotations

import pytest

from .helpers import (
    assert_accessible,
    expect,
    screenshots,
    search_for,
    search_for_new,
    start_topic,
    unique,
)

pytestmark = pytest.mark.e2e


def test_search_finds_a_body_word_and_keeps_private_sigs_private(open_browser):
    word = unique("theremin")
    title = unique("Strange noises from the modem ")
    author = open_browser("ada")
    start_topic(author, "Retro Computing", title, f"It sounds like a {word} at 2400 baud.")

    reader = open_browser("ken")
    reader.goto("/")
    search_for_new(reader, word, title)
    result = reader.get_by_role("listitem").filter(has=reader.get_by_role("link", name=title))
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text([word])
    result.get_by_role("link", name=title).click()
    expect(reader.get_by_role("heading", level=1)).to_have_text(title)

    # "zeppelin" is only in the private Sysop Lounge: its SIG sysop finds it, an outsider does not.
    insider = open_browser("grace")
    insider.goto("/")
    search_for(insider, "zeppelin")
    expect(insider.get_by_role("link", name="Moderation guidelines draft")).to_be_visible()
    assert_accessible(insider)

    search_for(reader, "zeppelin")
    expect(reader.get_by_text("Nothing found for “zeppelin”.")).to_be_visible()
    expect(reader.get_by_role("main")).not_to_contain_text("Moderation guidelines")
    screenshots(reader, "journey-4-search-private-word")
