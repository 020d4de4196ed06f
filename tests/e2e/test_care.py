"""Member care in Chromium: a page to the sysops on duty, as the sysops who have it open see it."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_accessible, expect, unique

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
