"""The colour switch in Chromium: a guest without JavaScript and a member with it switch to dark,
the page is drawn dark at once (no light first), and axe-core finds nothing in dark."""

from __future__ import annotations

import pytest

from .helpers import assert_accessible, expect

pytestmark = pytest.mark.e2e

DARK_BG = "rgb(21, 23, 26)"  # forum.css: --bg of the dark palette
LIGHT_BG = "rgb(251, 251, 248)"


def drawn(page, colour: str) -> None:
    """The body's background is `colour` (a locator check: it works without JavaScript too)."""
    expect(page.locator("body")).to_have_css("background-color", colour)


def switch(page):
    return page.locator("form.theme-menu")


def test_a_guest_switches_to_dark_without_javascript(open_browser):
    page = open_browser(js=False, color_scheme="light", label="guest-nojs")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    drawn(page, LIGHT_BG)
    switch(page).get_by_role("button", name="Dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.locator('meta[name="color-scheme"]')).to_have_attribute("content", "dark")
    drawn(page, DARK_BG)
    page.get_by_role("link", name="Retro Computing", exact=True).click()
    drawn(page, DARK_BG)  # the cookie draws every later page dark
    switch(page).get_by_role("button", name="System").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    drawn(page, LIGHT_BG)  # this browser asks for light


def test_a_guest_switches_with_javascript_and_dark_pages_are_accessible(open_browser):
    page = open_browser(color_scheme="dark", label="guest-dark-system")
    page.goto("/")
    drawn(page, DARK_BG)  # "system", and this browser asks for dark
    assert_accessible(page)
    switch(page).get_by_role("button", name="Light").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(page.locator('meta[name="color-scheme"]')).to_have_attribute("content", "light")
    drawn(page, LIGHT_BG)
    switch(page).get_by_role("button", name="Dark").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.get_by_role("link", name="Retro Computing", exact=True).click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # the cookie
    assert_accessible(page)


def test_a_member_switches_with_javascript_and_keeps_it(open_browser):
    page = open_browser("linus", color_scheme="light")
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("data-theme", "system")
    page.evaluate("() => { window.stillHere = true; }")
    try:
        switch(page).get_by_role("button", name="Dark").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert page.evaluate("() => window.stillHere === true")  # no reload: the script did it
        expect(switch(page).get_by_role("button", name="Dark")).to_have_attribute(
            "aria-current", "true"
        )
        drawn(page, DARK_BG)
        # Kept on the account: the next page comes dark from the server.
        page.goto("/settings")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        expect(page.get_by_label("Colours")).to_have_value("dark")
        assert_accessible(page)
        page.goto("/")
        page.get_by_role("link", name="Retro Computing", exact=True).click()
        page.get_by_role("link", name="What was your first BBS?").click()
        drawn(page, DARK_BG)
        assert_accessible(page)
    finally:
        switch(page).get_by_role("button", name="System").click()
        expect(page.locator("html")).to_have_attribute("data-theme", "system")
