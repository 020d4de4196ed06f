"""The composer in Chromium: a draft kept while typing comes back after a reload, the preview
beside the text (a tab on a phone), the toolbar's Bold and its shortcuts, quoting selected
words, and the draft gone once the reply is posted."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_accessible, expect, unique

pytestmark = pytest.mark.e2e


def _open_a_topic(page, js=True):
    page.goto("/s/retro/")
    page.locator("a.topic-title").first.click()
    expect(page.get_by_role("heading", name="Reply")).to_be_visible()
    if js:
        # The composer's script has run (it reveals the toolbar): typing before it would go
        # unseen by its listeners.
        expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()


def test_draft_survives_a_reload_previews_and_formats(open_browser):
    page = open_browser("ada")
    _open_a_topic(page)
    box = page.get_by_label("Your reply")
    words = unique("draft")
    box.fill(f"Typed **{words}** before a reload")
    # Saved two seconds after the last keystroke, said in the status line.
    expect(page.locator(".draft-status")).to_have_text("Draft saved", timeout=8_000)
    # Side by side on a wide screen: the preview, cooked by the server, beside the text.
    preview = page.locator(".composer-preview .post-body")
    expect(preview.locator("strong")).to_have_text(words)

    page.reload()
    expect(box).to_have_value(f"Typed **{words}** before a reload")
    expect(page.get_by_text("Restored from your draft")).to_be_visible()
    assert_accessible(page)

    # "Quote" with nothing selected, before the member was in the box: the whole post, after
    # what the box holds (the quote of a whole post comes from the server).
    page.locator("article.post").first.get_by_role("link", name="Quote").click()
    expect(box).to_have_value(
        re.compile(r"^Typed \*\*" + words + r"\*\* before a reload\n\n> \*\*@\w+\*\* \[wrote\]")
    )

    # The toolbar: Bold around the selection, Ctrl+I for italic, one tab stop, arrow keys.
    box.fill("plain")
    box.select_text()
    page.get_by_role("toolbar", name="Formatting").get_by_role("button", name="Bold").click()
    expect(box).to_have_value("**plain**")
    box.press("End")
    box.type(" more")
    box.press("Shift+Home")
    box.press("Control+i")
    expect(box).to_have_value("***plain** more*")
    bold = page.get_by_role("button", name="Bold")
    bold.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("button", name="Italic")).to_be_focused()
    expect(page.get_by_role("button", name="Italic")).to_have_attribute("tabindex", "0")
    expect(preview.locator("em")).to_be_visible()

    # Quoting the selected words of a post inserts an attributed quote at the cursor.
    box.fill("")
    first = page.locator("article.post .post-body p").first
    first.evaluate(
        "p => { const r = document.createRange(); r.selectNodeContents(p);"
        " const s = getSelection(); s.removeAllRanges(); s.addRange(r); }"
    )
    selected = first.inner_text().strip()
    page.locator("article.post").first.get_by_role("link", name="Quote").click()
    expect(box).to_have_value(re.compile(r"^> \*\*@\w+\*\* \[wrote\]\(/p/\d+\):\n>\n> "))
    assert selected.split("\n")[0] in box.input_value()

    # Posting takes the draft with it.
    box.fill(f"Posted {words}")
    page.get_by_role("button", name="Post reply").click()
    expect(page.locator("article.post").last).to_contain_text(f"Posted {words}")
    page.goto("/drafts")
    expect(page.get_by_text(f"Typed **{words}**")).to_have_count(0)
    expect(page.get_by_text(f"Posted {words}")).to_have_count(0)


def test_preview_is_a_tab_on_a_phone(open_browser):
    page = open_browser("grace")
    _open_a_topic(page)
    page.set_viewport_size({"width": 390, "height": 800})
    box = page.get_by_label("Your reply")
    box.fill("*phone* words")
    tabs = page.get_by_role("tablist", name="Write or preview")
    expect(tabs).to_be_visible()
    tabs.get_by_role("tab", name="Preview").click()
    expect(page.locator(".composer-preview .post-body em")).to_have_text("phone")
    expect(box).to_be_hidden()
    assert_accessible(page)
    tabs.get_by_role("tab", name="Write").click()
    expect(box).to_be_visible()
    box.fill("")  # nothing left to keep


def test_mention_completion_offers_readers_by_keyboard(open_browser):
    page = open_browser("ken")
    _open_a_topic(page)
    box = page.get_by_label("Your reply")
    box.fill("")
    box.type("Thanks @gra")
    options = page.get_by_role("listbox", name="Members to mention").get_by_role("option")
    expect(options).to_have_text(["@grace"])
    expect(box).to_have_attribute("aria-activedescendant", re.compile(r"-mentions-0$"))
    box.press("Enter")
    expect(box).to_have_value("Thanks @grace ")
    expect(page.get_by_role("listbox", name="Members to mention")).to_be_hidden()
    box.fill("")


def test_a_live_reply_never_touches_the_composer(open_browser):
    page = open_browser("margaret")
    _open_a_topic(page)
    page.wait_for_load_state("networkidle")  # the socket has joined the topic's room
    box = page.get_by_label("Your reply")
    box.fill("Half a sentence, **bold** and")
    box.evaluate("b => b.setSelectionRange(5, 13)")
    page.evaluate("() => { window.stillTheSamePage = true; }")

    other = open_browser("linus", label="linus")
    other.goto(page.url)
    other.get_by_label("Your reply").fill(unique("live reply"))
    other.get_by_role("button", name="Post reply").click()

    banner = page.get_by_role("status").filter(has_text="new reply")
    expect(banner).to_have_text("1 new reply — show")
    banner.get_by_role("button", name="show").click()
    expect(banner).to_be_hidden()
    expect(box).to_have_value("Half a sentence, **bold** and")
    assert box.evaluate("b => [b.selectionStart, b.selectionEnd]") == [5, 13]
    assert page.evaluate("() => window.stillTheSamePage") is True
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    box.fill("")


def test_without_javascript_preview_and_save_draft_go_to_the_server(open_browser):
    page = open_browser("linus", js=False)
    _open_a_topic(page, js=False)
    expect(page.get_by_role("toolbar", name="Formatting")).to_be_hidden()
    box = page.get_by_label("Your reply")
    words = unique("nojs")
    box.fill(f"**{words}** typed without a script")
    page.get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator(".preview-static strong")).to_have_text(words)
    expect(box).to_have_value(f"**{words}** typed without a script")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    page.goto("/drafts")
    link = page.get_by_role("link", name=re.compile("^Reply to"))
    expect(page.get_by_text(f"**{words}** typed without a script")).to_be_visible()
    link.first.click()
    expect(page.get_by_label("Your reply")).to_have_value(f"**{words}** typed without a script")
    page.get_by_role("button", name="Discard draft").click()
    expect(page.get_by_text("The draft was deleted.")).to_be_visible()


def test_a_new_topic_is_saved_as_a_draft_before_it_has_a_title_without_javascript(open_browser):
    """The "Save draft" button did nothing on a new topic without a title yet: the browser
    asked for the title first (needed to post, not to keep a draft: the server saves it as is)."""
    page = open_browser("ken", js=False)
    page.goto("/s/retro/new")
    words = unique("untitled")
    page.get_by_label("Message (Markdown)").fill(f"{words}: the body comes first")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    expect(page.get_by_label("Message (Markdown)")).to_have_value(f"{words}: the body comes first")
    page.get_by_role("button", name="Discard draft").click()
    expect(page.get_by_text("The draft was deleted.")).to_be_visible()


def test_the_empty_preview_speaks_the_page_language_before_the_scripts_catalog(open_browser):
    """The empty preview shows as the composer starts, before the scripts' catalog may have
    arrived: its words come with the page, so a German page never says it in English."""
    page = open_browser("ada", locale="de-DE", label="german-composer")
    # A catalog that says nothing: what the scripts have until the real one arrives.
    page.route(
        re.compile(r"/i18n/\w+\.json"),
        lambda route: route.fulfill(status=200, content_type="application/json", body="{}"),
    )
    page.goto("/s/retro/")
    page.locator("a.topic-title").first.click()
    expect(page.get_by_role("toolbar", name="Formatierung")).to_be_visible()
    expect(page.locator(".composer-preview .post-body")).to_have_text(
        "Noch nichts für die Vorschau."
    )


def test_the_suggestion_lists_are_named_in_the_page_language_before_the_catalog(open_browser):
    """The @name and :emoji: lists get their names as the composer starts, on a fresh load,
    before the scripts' catalog has arrived: the page brings them, in German, and typing
    offers the German-named list."""
    page = open_browser("ada", locale="de-DE", label="german-suggestions")
    # A catalog that says nothing: what the scripts have until the real one arrives.
    page.route(
        re.compile(r"/i18n/\w+\.json"),
        lambda route: route.fulfill(status=200, content_type="application/json", body="{}"),
    )
    page.goto("/s/retro/")
    page.locator("a.topic-title").first.click()
    expect(page.get_by_role("toolbar", name="Formatierung")).to_be_visible()
    box = page.get_by_label("Deine Antwort (Markdown)")
    box_id = box.get_attribute("id")
    expect(page.locator(f"#{box_id}-mentions")).to_have_attribute(
        "aria-label", "Mitglieder zum Erwähnen"
    )
    expect(page.locator(f"#{box_id}-emoji")).to_have_attribute("aria-label", "Emojis zum Einfügen")
    box.fill("")
    box.type("Danke @gra")
    options = page.get_by_role("listbox", name="Mitglieder zum Erwähnen").get_by_role("option")
    expect(options).to_have_text(["@grace"])
    box.fill("")
