"""The end-to-end harness's reading of the server log: which frames are the forum's own."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.helpers import PACKAGE, is_browser_going_away, is_own_frame

# A checkout in a folder named `forum`, its virtualenv inside it (as `make setup` makes it).
CHECKOUT = Path("/srv/forum")
SITE = CHECKOUT / ".venv/lib/python3.11/site-packages"


def going_away(*frames: Path) -> str:
    lines = ["Traceback (most recent call last):"]
    for frame in frames:
        lines += [f'  File "{frame}", line 10, in send', "    self.ws.send(data)"]
    lines.append("simple_websocket.errors.ConnectionClosed: Connection closed: 1001 ")
    return "\n".join(lines)


def test_library_frames_in_a_checkout_named_forum_are_not_the_forums_own():
    package = CHECKOUT / "forum"
    assert is_own_frame(str(package / "realtime/sockets.py"), package)
    assert not is_own_frame(str(SITE / "simple_websocket/ws.py"), package)
    assert not is_own_frame(str(SITE / "flask/app.py"), package)
    # The browser going away inside the library, with the forum's middleware on the way.
    excerpt = going_away(package / "realtime/__init__.py", SITE / "simple_websocket/ws.py")
    assert is_browser_going_away(excerpt, package)
    # The same close raised from the forum's own code is the forum's error.
    excerpt = going_away(SITE / "simple_websocket/ws.py", package / "realtime/sockets.py")
    assert not is_browser_going_away(excerpt, package)


def test_the_forums_own_code_is_this_checkouts_package():
    assert is_own_frame(str(PACKAGE / "db.py"))
    assert is_own_frame("forum/db.py")  # a path relative to the checkout
    assert not is_own_frame("/usr/lib/python3/dist-packages/forum/db.py")
