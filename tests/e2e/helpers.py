"""Helpers the journeys share: what a member does step by step, screenshots, axe-core."""

from __future__ import annotations

import email
import email.policy
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - conftest skips every e2e test then
    expect = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE = ROOT / "static" / "vendor" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def screenshots(page: Page, name: str) -> list[Path]:
    """The page at desktop and phone widths, in test-artifacts/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        path = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.set_viewport_size(DESKTOP)
    return paths


def axe_violations(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page, one readable line per node."""
    assert AXE.exists(), f"{AXE} is missing: run `make setup` (it vendors axe-core from npm)"
    # After a click that navigates, the next page's document must be there to take the script.
    page.wait_for_load_state("domcontentloaded")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Loaded from the forum's own origin, so the page's CSP allows it.
        page.add_script_tag(url="/static/vendor/axe.min.js")
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        for node in violation["nodes"]:
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} at "
                f"{' '.join(node['target'])}: {node.get('failureSummary', '')}"
            )
    return found


def assert_accessible(page: Page) -> None:
    found = axe_violations(page)
    assert not found, f"axe-core on {page.url}:\n  " + "\n  ".join(found)


def unique(word: str) -> str:
    """A word no other test (or the demo content) uses."""
    return f"{word}{secrets.token_hex(3)}"


# --- The server's log -----------------------------------------------------------------------

# The forum's own code: the package in this checkout. Anchored on the checkout's path, so a
# library frame (the virtualenv inside the checkout, a site-packages elsewhere) is never taken for
# the forum's own, whatever the folders on the way are called (a checkout at /srv/forum/...).
PACKAGE = ROOT / "forum"


def is_own_frame(path: str, package: Path = PACKAGE) -> bool:
    """Whether a traceback's `File "..."` is the forum's own code."""
    frame = Path(path)
    if not frame.is_absolute():
        frame = ROOT / frame
    return frame.resolve().is_relative_to(package.resolve())


def is_browser_going_away(excerpt: str, package: Path = PACKAGE) -> bool:
    """The dev server logs a WebSocket that the browser closed with 1001 ("going away": the
    page navigated) while a frame was being sent. That is a normal close, not a forum error.
    When it happens during the upgrade's probe, engine.io's WSGI adapter turns the closed socket
    into a bare OSError raised from its send(). Either way the error is raised outside the
    forum's code (the forum's WSGI middleware may be on the way, passing the call through)."""
    frames = re.findall(r'File "([^"]+)"', excerpt)
    if not frames or is_own_frame(frames[-1], package):
        return False
    if "ConnectionClosed: Connection closed: 1001" in excerpt:
        return True
    return frames[-1].endswith("_websocket_wsgi.py") and excerpt.rstrip().endswith("OSError")


# --- What a member does, step by step (by role and label, as a person finds things) ---


def register(page, name, forum):
    """The form, then the link in the mail (read from the server's outbox) to choose a password."""
    page.goto("/")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("Username").fill(name)
    page.get_by_label("Email").fill(f"{name}@example.com")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text(f"we sent a mail to {name}@example.com")).to_be_visible()
    page.goto(finish_link(forum.instance / "outbox", f"{name}@example.com"))
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_text(f"Welcome, {name}!")).to_be_visible()


def finish_link(outbox, address, timeout=10.0):
    """The registration link mailed to this address (the server writes mail in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
            mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if mail["To"] != address:
                continue  # other tests' mail in the shared outbox (some of it multipart)
            text = mail.get_body(preferencelist=("plain",))
            found = re.search(
                r"https?://\S+/register/finish/\S+", text.get_content() if text else ""
            )
            if found:
                return found.group(0)
        time.sleep(0.05)
    raise AssertionError(f"no registration mail to {address} in {outbox}")


def start_topic(page, sig_name, title, body):
    """From the SIG index: open the SIG, press "New topic", fill the form and send it."""
    page.goto("/")
    page.get_by_role("link", name=sig_name, exact=True).click()
    page.get_by_role("link", name="New topic").click()
    page.get_by_label("Title").fill(title)
    page.get_by_label("Message").fill(body)
    page.get_by_role("button", name="Start topic").click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    return page.url.split("#")[0]


def reply(page, text):
    """Type into the reply box under the topic and post it."""
    page.get_by_label("Your reply").fill(text)
    page.get_by_role("button", name="Post reply").click()


def notifications_link(page):
    """The header's "Notifications" link; its badge holds the unread count."""
    return page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile(r"^Notifications")
    )


def tracked_link(page):
    """The header's "Tracked" link; its badge counts tracked topics with unread posts."""
    return page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile(r"^Tracked")
    )


def unread_notifications(page):
    return int(notifications_link(page).locator(".badge").inner_text())


def post(page, number):
    """The article of post #number on the topic page."""
    return page.locator(f"article#post-{number}")


def search_for(page, words):
    """Type into the header's search box and press Enter, as a person does."""
    box = page.get_by_role("search").get_by_label("Search the forum")
    box.fill(words)
    box.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search")


def search_for_new(page, words, link_name, seconds=5.0):
    """Search for something just posted. The index applies a post moments after its commit (in
    the background, not in the poster's request), so search again, as a person would, until the
    result shows up, for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        search_for(page, words)
        if page.get_by_role("link", name=link_name).count() or time.monotonic() > deadline:
            return
        page.wait_for_timeout(200)
