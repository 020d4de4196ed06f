"""A journey in German in Chromium: a newcomer whose browser speaks German registers, starts a
topic in the Stammtisch and hears of a mention live, in German; the pages stay accessible."""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from .helpers import assert_accessible, expect, finish_link, post, screenshots, unique

pytestmark = pytest.mark.e2e


def test_a_german_newcomer_registers_posts_and_hears_of_a_mention_in_german(open_browser, forum):
    page = open_browser(locale="de-DE", timezone_id="Europe/Berlin", label="german")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page).to_have_title("Interessengruppen · Forum")

    name = unique("neuling")
    page.get_by_role("link", name="Registrieren").click()
    page.get_by_label("Benutzername").fill(name)
    page.get_by_label("E-Mail").fill(f"{name}@example.com")
    page.get_by_role("button", name="Registrieren").click()
    expect(page.get_by_text(f"Wir haben eine Mail an {name}@example.com geschickt")).to_be_visible()
    # The mail is German too (the language of the page that asked for it).
    link = finish_link(forum.instance / "outbox", f"{name}@example.com")
    mails = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in (forum.instance / "outbox").glob("*.eml")
    ]
    mine = [m for m in mails if m["To"] == f"{name}@example.com"]
    assert mine and mine[0]["Subject"].startswith("Forum: Registrierung abschließen")
    assert f"Hallo {name}," in mine[0].get_content()
    page.goto(link)
    page.get_by_label("Passwort (mindestens 10 Zeichen)").fill("richtig pferd batterie")
    page.get_by_role("button", name="Mein Konto anlegen").click()
    expect(page.get_by_text(f"Willkommen, {name}! Tritt einer SIG bei")).to_be_visible()

    page.get_by_role("link", name="Stammtisch", exact=True).click()
    page.get_by_role("button", name="Dieser SIG beitreten").click()
    expect(page.get_by_text("Du bist Stammtisch beigetreten.")).to_be_visible()

    title = unique("Grüße aus Köln ")
    page.get_by_role("link", name="Neues Thema").click()
    page.get_by_label("Titel").fill(title)
    page.get_by_label("Nachricht (Markdown)").fill("Hallo zusammen! Wer hat noch einen C64?")
    page.get_by_role("button", name="Thema beginnen").click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    first = post(page, 1)
    # Dates in German, in the browser's zone (sent once at the first page), relative in words.
    expect(first.locator("time")).to_have_text("gerade eben")
    expect(first.locator("time")).to_have_attribute("title", re.compile(r"^\d\d\.\d\d\.\d{4}"))
    assert_accessible(page)
    # Reading the SIG's list meanwhile: on the topic itself, its own "1 neue Antwort" line
    # would speak of the reply, not the notification (tests/e2e/test_live_replies.py).
    topic_url = page.url
    page.get_by_role("link", name="Stammtisch", exact=True).first.click()
    expect(page.get_by_role("heading", level=1, name="Stammtisch")).to_be_visible()
    # The socket has connected and joined the rooms once the network is quiet.
    page.wait_for_load_state("networkidle")

    ada = open_browser("ada")
    ada.goto(topic_url)
    ada.get_by_label("Your reply").fill(f"@{name} Willkommen im Stammtisch!")
    ada.get_by_role("button", name="Post reply").click()
    expect(post(ada, 2)).to_be_visible()

    # The newcomer hears of it without reloading, in German: the badge, and the live region
    # that screen readers announce.
    notifications = page.get_by_role("navigation", name="Hauptmenü").get_by_role(
        "link", name=re.compile(r"^Benachrichtigungen")
    )
    expect(notifications.locator(".badge")).to_have_text("1")
    expect(page.locator("#live-region")).to_have_text(
        f"Neue Benachrichtigung: ada hat dich in „{title}“ erwähnt"
    )
    notifications.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Benachrichtigungen")
    expect(page.get_by_role("link", name=f"ada hat dich in „{title}“ erwähnt")).to_be_visible()
    assert_accessible(page)
    screenshots(page, "journey-german-notification")


def test_one_click_switches_the_language_without_javascript(open_browser):
    page = open_browser(js=False, locale="en-US", label="switcher")
    page.goto("/search")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page).to_have_url(re.compile(r"/search$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Buscar")
    # Remembered on the next page.
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Grupos de interés")
    expect(page.get_by_role("button", name="Español")).to_have_attribute("aria-current", "true")


def test_a_guest_reads_times_in_their_browsers_zone(open_browser):
    """The page's script keeps a guest's zone in a cookie, URL-encoded ("Asia%2FTokyo"), which
    the server read raw: an unknown zone, so every guest read every time in UTC."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    page = open_browser(locale="de-DE", timezone_id="Asia/Tokyo", label="tokyo")
    page.goto("/s/retro/")
    expect(page.locator("time").first).to_be_visible()
    assert any(c["name"] == "forum_tz" for c in page.context.cookies())
    page.reload()  # the next page knows the zone
    stamp = page.locator("time").first
    moment = datetime.fromisoformat(stamp.get_attribute("datetime") or "")
    assert (
        stamp.get_attribute("title")
        == f"{moment.astimezone(ZoneInfo('Asia/Tokyo')):%d.%m.%Y, %H:%M}"
    )
