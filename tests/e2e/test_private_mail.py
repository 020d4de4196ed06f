"""Private mail in Chromium: a message that arrives on the conversation the member has open is
announced once, by the line that offers to show it; its notification only counts in the badge."""

from __future__ import annotations

import pytest

from .helpers import expect, notifications_link, unique

pytestmark = pytest.mark.e2e

# Every text the live region is given, in order (announce() empties it first: skipped).
RECORD = """() => {
  window.__spoken = [];
  const region = document.getElementById("live-region");
  new MutationObserver(() => {
    const text = region.textContent.trim();
    if (text) window.__spoken.push(text);
  }).observe(region, { childList: true, subtree: true, characterData: true });
}"""


def test_a_message_in_the_open_conversation_is_announced_once(open_browser):
    subject = unique("Saturday ")
    ken = open_browser("ken")
    ken.goto("/mail/new?to=ada")
    ken.get_by_label("Subject").fill(subject)
    ken.get_by_label("Message (Markdown)").fill("Shall we meet on Saturday?")
    ken.get_by_role("button", name="Send").click()
    expect(ken.get_by_role("heading", level=1)).to_have_text(subject)

    ada = open_browser("ada")
    ada.goto(ken.url)
    expect(ada.get_by_text("Shall we meet on Saturday?")).to_be_visible()
    ada.wait_for_load_state("networkidle")  # the socket is connected
    ada.evaluate(RECORD)
    before = int(notifications_link(ada).locator(".badge").inner_text())

    ken.get_by_label("Your reply (Markdown)").fill("Or Sunday?")
    ken.get_by_role("button", name="Send").click()

    expect(ada.locator("#mail-live")).to_be_visible()
    expect(notifications_link(ada).locator(".badge")).to_have_text(str(before + 1))
    ada.wait_for_timeout(1000)  # anything else the socket had to say has been said
    assert ada.evaluate("window.__spoken") == ["New message in this conversation. Show it"]
