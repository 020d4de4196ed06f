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
