"""The pulse's first screen in a browser: what changed since yesterday or last week, in light and
dark colours, axe-clean; charts drawn in the colours of the scheme (and of a theme set on <html>);
the day/week switch and the bars without JavaScript."""

from __future__ import annotations

import pytest

from .helpers import assert_accessible, expect, screenshots

pytestmark = pytest.mark.e2e

# static/css/pulse.css and forum.css: the first series' colour and the axes' (--muted).
LIGHT = "#0b5cad #5a5f66"
DARK = "#7db4f0 #a8adb4"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_morning_screen_in_light_and_dark(open_browser, scheme):
    page = open_browser("sysop", color_scheme=scheme)
    page.goto("/pulse")
    expect(page.get_by_role("heading", name="Yesterday against the day before")).to_be_visible()
    expect(page.locator('[data-change="posts"]')).to_contain_text("Posts")
    chart = page.locator("#series-activity .pulse-chart")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(chart).to_have_attribute("data-drawn", DARK if scheme == "dark" else LIGHT)
    expect(page.locator("#series-sigs .pulse-bars rect").first).to_be_attached()
    assert_accessible(page)
    screenshots(page, f"pulse-morning-{scheme}")

    switch = page.get_by_role("navigation", name="Compare")
    switch.get_by_role("link", name="Week").click()
    expect(
        page.get_by_role("heading", name="The last 7 days against the 7 days before")
    ).to_be_visible()
    expect(switch.get_by_role("link", name="Week")).to_have_attribute("aria-current", "page")
    assert_accessible(page)

    if scheme == "light":
        # A theme switch sets data-theme on <html>: the charts are drawn again in its colours,
        # the series' (pulse.css) and the axes' (forum.css) alike.
        page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
        expect(chart).to_have_attribute("data-drawn", DARK)


def test_the_switch_and_bars_work_without_javascript(open_browser):
    page = open_browser("sysop", js=False)
    page.goto("/pulse?range=7")
    page.get_by_role("navigation", name="Compare").get_by_role("link", name="Week").click()
    expect(
        page.get_by_role("heading", name="The last 7 days against the 7 days before")
    ).to_be_visible()
    assert "range=7" in page.url and "period=week" in page.url
    expect(page.locator("#series-sigs .pulse-bars")).to_be_visible()
    expect(page.locator("table[data-series='sigs']")).to_be_attached()
    page.get_by_role("link", name="Busiest SIGs", exact=True).click()
    assert page.url.endswith("#series-sigs")
    # The range picker keeps the period, and opens the answer at the range.
    page.get_by_label("Range").select_option(label="Last 90 days")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#range-heading")).to_be_visible()
    assert "range=90" in page.url and "period=week" in page.url
    assert page.url.endswith("#range-heading")
    expect(
        page.get_by_role("heading", name="The last 7 days against the 7 days before")
    ).to_be_attached()
