"""The settings page in Chromium: several forms on one page, each sent alone. What a member typed
into one and did not save comes back after sending another (failed or saved), once, and says
so; without JavaScript the form sent keeps its own input (tests/test_accounts.py)."""

from __future__ import annotations

import pytest

from .helpers import assert_accessible, expect, register, unique

pytestmark = pytest.mark.e2e


def test_what_was_typed_in_one_form_survives_sending_another(open_browser, forum, watch):
    page = open_browser(label="settings")
    register(page, unique("kit"), forum)
    page.goto("/settings")
    profile = page.locator('form[data-keep-unsent="profile"]')
    about = page.get_by_label("About me (Markdown)")
    notice = profile.locator("[data-unsent-notice]")
    expect(notice).to_be_hidden()

    # A long bio typed, then the password form sent with a wrong password: a 400 re-render.
    watch.expect_status(400, r"^/settings$")
    about.fill("Forty years of soldering:\n\nZX81, C64, and a modem I built.")
    page.get_by_label("Current password").last.fill("not my password at all")
    page.get_by_label("New password (at least 10 characters)").fill("a fine new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password.")).to_be_visible()
    expect(about).to_have_value("Forty years of soldering:\n\nZX81, C64, and a modem I built.")
    expect(notice).to_be_visible()
    assert_accessible(page)

    # Another form that saves: the signature typed meanwhile comes back too, still unsaved.
    page.get_by_label("Signature line").fill("73 de kit")
    page.get_by_role("button", name="Save private mail settings").click()
    expect(page.get_by_text("Your private mail settings are saved.")).to_be_visible()
    expect(page.get_by_label("Signature line")).to_have_value("73 de kit")
    expect(about).to_have_value("Forty years of soldering:\n\nZX81, C64, and a modem I built.")
    expect(notice).to_be_visible()

    # Once: the next visit shows what is saved.
    page.goto("/settings")
    expect(page.get_by_label("Signature line")).to_have_value("")
    expect(notice).to_be_hidden()
    page.get_by_label("Signature line").fill("73 de kit")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile is saved.")).to_be_visible()
    expect(page.get_by_label("Signature line")).to_have_value("73 de kit")
    expect(notice).to_be_hidden()


def test_a_refused_notification_form_comes_back_with_what_was_typed_elsewhere(
    open_browser, forum, watch
):
    """The notification form, sent from a page older than its choices (an hour it no longer
    offers), is refused at its own address: the settings page comes back there with the error
    beside the hour, and the signature typed in the profile form meanwhile is back too."""
    page = open_browser(label="settings-refused")
    register(page, unique("lin"), forum)
    page.goto("/settings")
    notifications = page.locator('form[data-keep-unsent="notifications"]')
    hour = notifications.get_by_label("At (your time zone)")
    # A stale page: its hour menu offers one that the forum does not.
    hour.evaluate("s => s.add(new Option('25:00', '25'))")
    hour.select_option("25")
    notifications.get_by_label("When someone quotes me").select_option("digest")
    page.get_by_label("Signature line").fill("73 de lin")

    # The response, and the console that names the page by its address with the section in it.
    watch.expect_status(400, r"^/notifications/preferences(#notifications-heading)?$")
    page.get_by_role("button", name="Save notification preferences").click()
    expect(page.get_by_text("Choose an hour from 0 to 23.")).to_be_visible()
    expect(hour).to_have_attribute("aria-invalid", "true")
    # The keyboard starts at what to mend, not at the top of the page.
    expect(hour).to_be_focused()
    # The page comes back at the form that was refused, not at the top, several forms above it.
    assert page.url.endswith("/notifications/preferences#notifications-heading"), page.url
    # The browser scrolls to the fragment once the page is laid out: wait for it.
    page.wait_for_function("() => window.scrollY > 0")
    expect(notifications.get_by_label("When someone quotes me")).to_have_value("digest")
    expect(page.get_by_label("Signature line")).to_have_value("73 de lin")
    expect(page.locator('form[data-keep-unsent="profile"] [data-unsent-notice]')).to_be_visible()
    expect(page.get_by_text("Your notification preferences are saved.")).to_have_count(0)
    assert_accessible(page)

    # Chosen again from what the page offers: saved, and shown as saved.
    hour.select_option("6")
    page.get_by_role("button", name="Save notification preferences").click()
    expect(page.get_by_text("Your notification preferences are saved.")).to_be_visible()
    expect(hour).to_have_value("6")
    expect(notifications.get_by_label("When someone quotes me")).to_have_value("digest")
