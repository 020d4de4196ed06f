"""Every page fits a phone: no sideways scrolling at 360 px (and 320 px for a few) for guests,
members and sysops; the header folds into a "Menu" that works without JavaScript; controls are
44 × 44 px on touch screens; posts keep long words, code and tables inside their box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import login_state
from .helpers import (
    DESKTOP,
    assert_accessible,
    expect,
    notifications_link,
    register,
    screenshots,
    start_topic,
    unique,
)

pytestmark = pytest.mark.e2e

PHONE_360 = {"width": 360, "height": 780}
PHONE_320 = {"width": 320, "height": 640}
TOUCH = 44  # px: the smallest target a finger hits reliably (WCAG 2.5.5)

LONG_WORD = "Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft" * 2
LONG_URL = "https://example.com/" + "a-very-long-path-segment-" * 12 + "?q=" + "x" * 80
LONG_BODY = f"""A post that would push a phone's page sideways, were it not for the layout.

{LONG_WORD}

{LONG_URL}

```
def a_long_line_of_code(): return "{"x" * 160}"  # scrolls inside the block, not the page
```

Inline code too: `{"inline_code_without_spaces_" * 6}`

| Column one | Column two | Column three | Column four | Column five | Column six | Column seven |
|------------|------------|--------------|-------------|-------------|------------|--------------|
| {"cell" * 12} | wide | table | that | needs | its own | scrolling |
"""

# Reports the page's overflow and the outermost elements sticking out on the right (each one's
# tag, id and classes, and how far it reaches), or null when the page fits.
OVERFLOW = """(width) => {
  const doc = document.documentElement;
  if (doc.scrollWidth <= width && window.innerWidth <= width) return null;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    [...el.classList].map((c) => "." + c).join("");
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      parts.unshift(describe(e));
    }
    return parts.join(" > ");
  };
  const scrolls = (el) => !["visible", "clip"].includes(getComputedStyle(el).overflowX);
  // Inside a box that scrolls, an element may be as wide as it likes.
  const contained = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      if (scrolls(e)) return true;
    }
    return false;
  };
  const right = (el) => el.getBoundingClientRect().right;
  const out = (x) => x > width + 0.5;
  const found = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!el.checkVisibility() || contained(el)) continue;
    // The outermost box sticking out, or a box whose own text runs out of it.
    const box = out(right(el)) && !out(right(el.parentElement));
    const text = !out(right(el)) && !scrolls(el) &&
      out(el.getBoundingClientRect().left + el.scrollWidth) &&
      ![...el.children].some((c) => out(right(c)) || c.scrollWidth > c.clientWidth);
    if (!box && !text) continue;
    const reach = box ? right(el) : el.getBoundingClientRect().left + el.scrollWidth;
    found.push(`${path(el)} (${box ? "box" : "its text"} reaches ${Math.round(reach)} px)`);
    if (found.length >= 6) break;
  }
  return { scrollWidth: doc.scrollWidth, innerWidth: window.innerWidth, culprits: found };
}"""


@dataclass
class Seeded:
    topic: str  # the topic whose posts hold long words, URLs, code and a table; two pages long
    topic_id: int
    post_id: int


@pytest.fixture(scope="module")
def seeded(browser: Any, forum: Any, logins: dict[str, Any]) -> Iterator[Seeded]:
    """ada starts the long topic and replies until it has a second page; the module's pages
    are then read by one context per role."""
    context = browser.new_context(
        base_url=forum.url,
        viewport=PHONE_360,
        storage_state=login_state(browser, forum, logins, "ada"),
    )
    page = context.new_page()
    url = start_topic(page, "Retro Computing", unique("Wide things on a narrow screen "), LONG_BODY)
    topic_id = int(re.search(r"/t/(\d+)", url).group(1))  # type: ignore[union-attr]
    post_id = int(page.locator("article#post-1").get_attribute("data-post-id") or 0)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    for number in range(2, 28):  # POSTS_PER_PAGE is 25: the pager shows
        response = page.request.post(
            f"/t/{topic_id}/reply",
            form={"csrf_token": token or "", "body": f"Reply {number}: {LONG_URL}"},
            max_redirects=0,
        )
        assert response.status in (302, 303), f"reply {number}: HTTP {response.status}"
    context.close()
    yield Seeded(topic=url, topic_id=topic_id, post_id=post_id)


def phone(
    open_browser: Any, member: str | None, viewport: dict[str, int] = PHONE_360, **options: Any
) -> Any:
    """A touch screen `viewport` wide (open_browser's contexts start at desktop size)."""
    page = open_browser(member, has_touch=True, **options)
    page.set_viewport_size(viewport)
    return page


def overflow_problems(page: Any, paths: list[str], width: int) -> list[str]:
    problems = []
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        found = page.evaluate(OVERFLOW, width)
        if found:
            problems.append(
                f"{path} at {width} px: the page is {found['scrollWidth']} px wide "
                f"(window {found['innerWidth']} px); sticking out: {'; '.join(found['culprits'])}"
            )
    return problems


def guest_pages(s: Seeded) -> list[str]:
    return [
        "/",
        "/s/retro/",
        s.topic,
        f"{s.topic}?page=2",
        "/search?q=BBS",
        "/login",
        "/register",
        "/password/forgot",
        "/u/ada",
        "/announcements",
    ]


def member_pages(s: Seeded) -> list[str]:
    return [
        "/",
        "/s/retro/",
        "/s/retro/new",
        s.topic,
        f"/t/{s.topic_id}/reply?quote={s.post_id}",
        f"/p/{s.post_id}/edit",
        "/search?q=BBS",
        "/new",
        "/notifications",
        "/bookmarks",
        "/drafts",
        "/mail",
        "/mail/new",
        "/u/ada",
        "/settings",
        "/settings/two-factor",
        "/care",
        "/s/retro/members",
        "/s/retro/library",
    ]


def sysop_pages(s: Seeded) -> list[str]:
    return [
        "/",
        "/s/retro/",
        s.topic,
        f"/p/{s.post_id}/history",
        f"/mod/topics/{s.topic_id}/split",
        f"/mod/topics/{s.topic_id}/merge?q=a",
        "/pulse",
        "/s/retro/pulse",
        "/mod",
        "/mod/log",
        "/mod/concerns",
        "/mod/filters",
        "/mod/webhooks",
        "/mod/u/ada",
        "/admin/",
        "/admin/members",
        "/admin/approvals",
        "/admin/sigs",
        "/admin/settings",
        "/admin/invites",
        "/admin/webhooks",
        "/admin/jobs/",
        "/announcements/new",
        "/s/retro/requests",
        "/s/retro/library/manage",
    ]


@pytest.mark.parametrize(
    ("member", "pages"),
    [(None, guest_pages), ("ada", member_pages), ("sysop", sysop_pages)],
    ids=["guest", "member", "sysop"],
)
def test_no_page_scrolls_sideways_at_360_px(open_browser, seeded, member, pages):
    page = phone(open_browser, member)
    problems = overflow_problems(page, pages(seeded), PHONE_360["width"])
    # The menu open does not widen the page either.
    page.goto("/")
    page.locator(".site-menu-toggle").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    found = page.evaluate(OVERFLOW, PHONE_360["width"])
    if found:
        problems.append(f"the open menu: {found}")
    assert not problems, "pages wider than the phone:\n  " + "\n  ".join(problems)


def test_a_few_pages_fit_320_px(open_browser, seeded):
    page = phone(open_browser, "sysop", viewport=PHONE_320)
    paths = ["/", seeded.topic, f"/t/{seeded.topic_id}/reply", "/search?q=BBS", "/mail", "/mod/log"]
    problems = overflow_problems(page, paths, PHONE_320["width"])
    assert not problems, "pages wider than the phone:\n  " + "\n  ".join(problems)


def test_posts_keep_code_tables_and_long_words_inside(open_browser, seeded):
    page = phone(open_browser, "ada")
    page.goto(seeded.topic)
    body = page.locator("article#post-1 .post-body")
    box = body.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE_360["width"]
    # The code block and the table scroll inside themselves.
    for selector in ("pre", "table"):
        scrolls = body.locator(selector).evaluate(
            "el => el.scrollWidth > el.clientWidth && getComputedStyle(el).overflowX === 'auto'"
        )
        assert scrolls, f"the post's {selector} should scroll inside itself"
    # Code is not tiny, and a wide screen keeps lines to about 70 characters.
    size = body.locator("pre").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size >= 13
    page.set_viewport_size(DESKTOP)
    chars = body.evaluate(
        "el => el.getBoundingClientRect().width / (parseFloat(getComputedStyle(el).fontSize) * 0.5)"
    )
    assert 55 <= chars <= 90, f"about {chars:.0f} characters a line"
    page.set_viewport_size(PHONE_360)
    # forum.js lets the keyboard reach what scrolls sideways (axe-core asks for it).
    expect(body.locator("pre")).to_have_attribute("tabindex", "0")
    expect(body.locator("table")).to_have_attribute("tabindex", "0")
    assert_accessible(page)
    screenshots(page, "layout-long-post")


def touch_problems(page: Any, locator: Any, what: str) -> list[str]:
    problems = []
    for i in range(locator.count()):
        item = locator.nth(i)
        if not item.is_visible():
            continue
        box = item.bounding_box()
        if box and (box["width"] < TOUCH - 0.5 or box["height"] < TOUCH - 0.5):
            label = (item.inner_text() or item.get_attribute("aria-label") or "").strip()[:40]
            problems.append(f"{what} {label!r}: {box['width']:.0f} × {box['height']:.0f} px")
    return problems


def test_touch_targets_are_44_px(open_browser, seeded):
    page = phone(open_browser, "ada", is_mobile=True)
    page.goto(seeded.topic)
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")
    problems = []
    problems += touch_problems(page, page.locator(".site-menu-toggle"), "menu button")
    problems += touch_problems(page, page.locator(".search-form button"), "search button")
    problems += touch_problems(
        page, page.locator(".post-actions a, .post-actions button"), "post action"
    )
    problems += touch_problems(page, page.locator(".pager a"), "pager link")
    problems += touch_problems(page, page.locator("main button:visible"), "button")
    assert page.locator(".pager a").count(), "the long topic has a second page"
    page.locator(".site-menu-toggle").click()
    problems += touch_problems(
        page, page.locator(".site-menu-panel a, .site-menu-panel button"), "menu item"
    )
    assert not problems, "too small to touch:\n  " + "\n  ".join(problems)


# The header's controls at a phone's width: how far each keeps from the screen's edges, and
# how far a button's label keeps from the button's own edges (its padding), in CSS px.
HEADER_MARGINS = """() => {
  const width = document.documentElement.clientWidth;
  const controls = [".brand", ".site-menu-toggle", ".search-form input", ".search-form button"];
  return controls.map((selector) => {
    const el = document.querySelector(selector);
    const box = el.getBoundingClientRect();
    const found = {selector, left: box.left, right: width - box.right};
    if (el.tagName === "BUTTON") {
      const label = document.createRange();
      label.selectNodeContents(el);
      const text = label.getBoundingClientRect();
      found.padding = parseFloat(getComputedStyle(el).paddingRight);
      found.labelRight = box.right - text.right;
    }
    return found;
  });
}"""


@pytest.mark.parametrize("locale", ["en-US", "de-DE", "es-ES"])
def test_the_header_keeps_its_controls_off_the_edges_at_360_px(open_browser, locale):
    """At 360 px the header's controls keep the page's margin from the screen's edges, and the
    search button its label's padding: the touch rule's min-width let the row squeeze the
    button until "Suchen" touched its edge and the screen's."""
    page = phone(open_browser, "ada", is_mobile=True, locale=locale)
    page.goto("/")
    problems = []
    for found in page.evaluate(HEADER_MARGINS):
        if found["left"] < 8 or found["right"] < 8:
            problems.append(f"{found['selector']}: {found['left']:.1f} / {found['right']:.1f} px")
        if "padding" in found and found["labelRight"] < found["padding"] - 1:
            problems.append(
                f"{found['selector']}: label {found['labelRight']:.1f} px from its edge"
            )
    assert not problems, "too close to an edge:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("js", [False, True], ids=["no-js", "js"])
def test_the_phone_menu_opens_and_closes(open_browser, js):
    page = phone(open_browser, "ada", js=js)
    page.goto("/")
    toggle = page.locator("summary.site-menu-toggle")
    expect(toggle).to_have_text(re.compile(r"^Menu\b"))  # then, when something waits, its dot
    nav = page.get_by_role("navigation", name="Main")
    expect(toggle).to_be_visible()
    expect(nav).to_be_hidden()
    # The search box stays in sight with the menu closed.
    expect(page.get_by_role("search").get_by_label("Search the forum")).to_be_visible()
    # The keyboard: Tab past the skip link and the brand to the button, Enter opens it.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    expect(page.locator("#site-menu")).to_have_attribute("open", "")
    page.keyboard.press("Tab")
    expect(nav.get_by_role("link", name="SIGs")).to_be_focused()
    if js:  # axe-core is a script: it cannot run where scripts are off
        assert_accessible(page)
    screenshots(page, f"layout-menu-open-{'js' if js else 'nojs'}")
    page.set_viewport_size(PHONE_360)  # screenshots() leaves the desktop size
    if js:
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
        expect(toggle).to_be_focused()
    else:
        toggle.click()
        expect(nav).to_be_hidden()
    # Its links work: open it and go to the settings.
    toggle.click()
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(r"/settings$"))


def test_the_menu_button_shows_a_dot_when_something_arrives(open_browser, forum):
    """On a phone the counts sit inside the closed menu: a dot on the Menu button says something
    waits. (Read after a reload: waiting for the socket by a quiet network is flaky when the
    client falls back to long-polling; realtime.js sets the dot from the same badges it updates.)"""
    newcomer = open_browser(None, has_touch=True)
    name = unique("dot")
    register(newcomer, name, forum)  # on a wide screen, where Register is in sight
    newcomer.set_viewport_size(PHONE_360)
    newcomer.goto("/")
    dot = newcomer.locator("#menu-badge")
    expect(dot).to_be_hidden()  # nothing waits for a new member

    writer = open_browser("margaret", label="margaret")
    start_topic(writer, "Retro Computing", unique("A word for the newcomer "), f"Welcome, @{name}!")

    newcomer.reload()
    expect(dot).to_be_visible()
    box = dot.bounding_box()
    toggle = newcomer.locator("summary.site-menu-toggle").bounding_box()
    assert box and toggle
    assert toggle["x"] <= box["x"] and box["x"] + box["width"] <= toggle["x"] + toggle["width"]
    expect(newcomer.locator("summary.site-menu-toggle")).to_contain_text("(something new for you)")
    newcomer.locator("summary.site-menu-toggle").click()
    expect(notifications_link(newcomer).locator(".badge")).to_have_text("1")
    screenshots(newcomer, "layout-menu-dot")


@pytest.mark.parametrize("js", [False, True], ids=["no-js", "js"])
def test_wide_screens_show_the_header_as_one_row(open_browser, js):
    page = open_browser("ada", js=js)
    page.goto("/")
    expect(page.locator("summary.site-menu-toggle")).to_be_hidden()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="New", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Drafts")).to_be_visible()
    brand, search, settings = (
        page.locator(sel).bounding_box() for sel in (".brand", ".search-form", ".account-nav")
    )
    assert brand and search and settings
    links = nav.bounding_box()
    assert links
    # As before: the brand, the links and the search box in a row, the account's links after
    # them (on the same row when there is room, right-aligned under it when not).
    assert abs(brand["y"] - links["y"]) < 20 and abs(links["y"] - search["y"]) < 20
    assert brand["x"] < links["x"] < search["x"]
    assert settings["y"] >= search["y"] - 20 and settings["x"] + settings["width"] > search["x"]


def test_pages_stay_light(open_browser, seeded):
    """Lighthouse's budgets: 15 requests or fewer (the socket's long polls aside), the
    stylesheet small. Bytes over the wire are gzip's business (deploy/nginx), not counted here."""
    page = phone(open_browser, "ada")
    page.goto(seeded.topic)
    page.wait_for_load_state("load")
    entries = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter((e) => !e.name.includes('/socket.io/'))"
        ".map((e) => [e.name, e.decodedBodySize])"
    )
    assert len(entries) + 1 <= 15, f"{len(entries) + 1} requests: {entries}"
    css = [size for name, size in entries if name.endswith("forum.css")]
    assert css and css[0] < 32 * 1024


def test_a_button_that_cannot_be_used_looks_it(open_browser, forum):
    """A new account may not send private mail yet: the page says why, and its Send button,
    disabled, is drawn faded with a not-allowed pointer rather than as a live primary button."""
    page = open_browser(label="newcomer")
    register(page, unique("fresh"), forum)
    page.goto("/mail/new?to=ada")
    expect(page.get_by_text("New accounts cannot send private mail yet.")).to_be_visible()
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_disabled()
    expect(send).to_have_css("cursor", "not-allowed")
    expect(send).to_have_css("opacity", "0.5")


PHONE_375 = {"width": 375, "height": 812}
# What a sysop or a member types as a reason or a note may be one long word: a URL, or a
# keyboard held down.
LONG_REASON = "https://spam.example/" + "R" * 470


def test_long_typed_reasons_and_notes_stay_inside_375_px(open_browser, forum):
    """A spammer cleaned up with a long unbroken reason: the topic's "hidden by a sysop: …" tag,
    the member's sysop page (status, warnings, notes, history, recent posts), the log and the
    queue (a flag's note) wrap the reason rather than widen a phone's page."""
    spammer = open_browser(label="spammer")
    name = unique("spamr")
    register(spammer, name, forum)
    spammer.goto("/s/retro/")
    spammer.get_by_role("button", name="Join this SIG").click()
    expect(spammer.get_by_text("You joined Retro Computing.")).to_be_visible()
    topic = start_topic(spammer, "Retro Computing", unique("Cheap modems "), "BUY" + "X" * 300)
    post_id = spammer.locator("article#post-1").get_attribute("data-post-id")

    flagger = open_browser("margaret")
    flagger.goto(f"/p/{post_id}/flag")
    flagger.get_by_role("radio", name="Spam").check()
    flagger.get_by_label(re.compile("^Anything the sysops should know")).fill(LONG_REASON)
    flagger.get_by_role("button", name="Send to the sysops").click()
    expect(flagger.get_by_text("The sysops will look at this post.")).to_be_visible()

    sysop = phone(open_browser, "sysop", viewport=PHONE_375)
    sysop.goto(f"/mod/u/{name}")
    token = sysop.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    retro = sysop.locator('select[name="remove-sig"] option', has_text="Retro Computing")
    sig_id = retro.get_attribute("value") or ""
    for action, form in [
        ("note", {"note-body": LONG_REASON, "note-sig": "0"}),
        ("warn", {"warn-reason": LONG_REASON, "warn-sig": "0"}),
        ("remove", {"remove-sig": sig_id, "remove-reason": LONG_REASON, "remove-ban": "y"}),
    ]:
        response = sysop.request.post(
            f"/mod/u/{name}/{action}",
            form={f"{action}-csrf_token": token, **form},
            max_redirects=0,
        )
        assert response.status in (302, 303), f"{action}: HTTP {response.status}"
    problems = overflow_problems(sysop, ["/mod"], PHONE_375["width"])

    sysop.goto(f"/mod/u/{name}/spam")
    sysop.get_by_label("Reason (for the log)").fill(LONG_REASON)
    sysop.get_by_role("button", name="Delete spammer").click()
    expect(
        sysop.get_by_text(re.compile(r" is banned site-wide and signed out; 1 post was hidden\."))
    ).to_be_visible()
    problems += overflow_problems(
        sysop, [topic, f"/mod/u/{name}", f"/mod/log?member={name}"], PHONE_375["width"]
    )
    assert not problems, "pages wider than the phone:\n  " + "\n  ".join(problems)
    sysop.goto(topic)
    expect(sysop.locator("article#post-1 .tag-private")).to_contain_text(LONG_REASON)


def test_a_topic_title_of_one_long_word_stays_inside_375_px(open_browser):
    """A title may be one unbroken word (a URL, a file name, a key held down): the topic's
    heading, the notification of a mention in it, the SIG's list and "New" wrap it rather than
    widen a phone's page (the topic was 3318 px wide, the notifications 1926 px)."""
    title = unique("W" * 150)
    author = open_browser("ada")
    topic = start_topic(author, "Retro Computing", title, "@ken look at this one.")
    reader = phone(open_browser, "ken", viewport=PHONE_375)
    reader.goto("/notifications")
    expect(reader.get_by_role("link", name=re.compile(title))).to_be_visible()
    problems = overflow_problems(
        reader, [topic, "/notifications", "/s/retro/", "/new"], PHONE_375["width"]
    )
    assert not problems, "pages wider than the phone:\n  " + "\n  ".join(problems)


def test_a_new_token_and_the_token_list_fit_a_phone(open_browser):
    """The page that shows a new API token once: its example `curl` command, one 110-character
    line in a <pre>, made the page 907 px wide on a 390 px phone, and the list of tokens
    stacked its cells with no word of which was the scope, the expiry or the last use."""
    page = phone(open_browser, "ken")
    page.goto("/settings/tokens")
    page.locator("input[name=name]").fill(unique("phone script "))
    page.get_by_role("checkbox", name=re.compile(r"^read")).check()
    page.get_by_role("button", name="Make token").click()
    expect(page.get_by_role("heading", name="Your new token")).to_be_visible()
    expect(page.locator(".token-secret pre")).to_contain_text("curl -H")
    assert page.evaluate(OVERFLOW, PHONE_360["width"]) is None
    row = page.locator("table.tokens tbody tr").first
    labels = row.locator("td[data-label]").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    assert labels == ['"Token: "', '"Scopes: "', '"Made: "', '"Expires: "', '"Last used: "']


def test_number_and_date_fields_look_like_the_other_fields(open_browser):
    """A suspension's days, an announcement's start and end, Pulse's range: the browser's own
    fields, 13 px text in a 20 px box beside the forum's 16 px fields, a thumb's miss on a
    phone."""
    page = open_browser("sysop")

    def look(locator: Any) -> list[str]:
        return locator.evaluate(
            "e => { const s = getComputedStyle(e); "
            "return [s.fontSize, s.paddingTop, s.borderTopColor, s.backgroundColor]; }"
        )

    page.goto("/announcements/new")
    title = look(page.locator("input[name=title]"))
    assert look(page.locator("input[type=datetime-local]").first) == title
    page.goto("/mod/u/ada")
    assert look(page.locator("input[type=number]").first) == title
    page.goto("/pulse")
    assert look(page.locator("input[type=date]").first) == title


def test_a_phone_shows_the_announcements_excerpt_whole(open_browser):
    """On a 390 px phone the banner clamped the message to two lines and cut it mid-sentence
    ("von 10 bis 12 Uhr nicht…"): it now ends at a sentence and wraps whole."""
    page = phone(open_browser, "sysop", viewport={"width": 390, "height": 844})
    title = unique("Wartung am Samstag ")
    body = (
        "Am Samstag ist das Forum von 10 bis 12 Uhr nicht erreichbar, weil wir die Datenbank "
        "umziehen. Was du bis dahin schreibst, bleibt erhalten."
    )
    page.goto("/announcements/new")
    page.locator("input[name=title]").fill(title)
    page.locator("textarea[name=body]").fill(body)
    page.locator("form.post-form button[type=submit].primary").click()
    page.goto("/")
    item = page.locator(".announcement-item", has_text=title)
    excerpt = item.locator(".announcement-excerpt")
    try:
        expect(excerpt).to_have_text(body)
        clipped = excerpt.evaluate("e => e.scrollHeight > e.clientHeight + 1")
        assert clipped is False
    finally:
        item.get_by_role("link", name=title).click()
        page.once("dialog", lambda dialog: dialog.accept())  # "Remove this announcement?"
        page.locator("form[action$='/delete'] button[type=submit]").click()
        expect(page.locator(".announcement-item", has_text=title)).to_have_count(0)
