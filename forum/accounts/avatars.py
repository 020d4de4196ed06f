"""Generated letter avatars: a member's initial on a colour chosen from their name.

Drawn by CSS (`.avatar`, `.avatar-c0` … in static/css/forum.css): no image, no request, no
inline style (the CSP forbids those). The colour comes from a CRC of the name, so it is the
same in every process and on every page; each colour holds white text at 4.5:1 or more
(tests/test_identity.py checks the stylesheet against PALETTE). templates/_avatar.html's
`avatar(user, size)` is the one place a page draws one.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from .former import is_former

# Background colours, in the stylesheet's order (.avatar-c0 is PALETTE[0]); white text on each.
PALETTE = (
    "#b3261e",
    "#a43f0a",
    "#7d5700",
    "#2e6b30",
    "#00695c",
    "#0b5cad",
    "#3949ab",
    "#6a1b9a",
    "#ad1457",
    "#5d4037",
    "#455a64",
    "#006778",
)
# The sizes the stylesheet draws (.avatar-24 …); others take the nearest.
SIZES = (24, 32, 48, 64)


def _name(user: Any) -> str:
    if user is None:
        return ""
    name = user if isinstance(user, str) else str(getattr(user, "username", "") or "")
    return "" if is_former(name) else name  # a deleted account: the "someone" avatar


@functools.lru_cache(maxsize=4096)
def _colour(name: str) -> int:
    return zlib.crc32(name.casefold().encode()) % len(PALETTE)


def colour_index(user: Any) -> int:
    """Which colour of PALETTE this member's avatar has (the same for the same name)."""
    return _colour(_name(user))


def letter(user: Any) -> str:
    """The initial shown: the name's first letter or digit, upper-cased ("?" without one)."""
    return _initial(_name(user))


def _initial(name: str) -> str:
    for char in name:
        if char.isalnum():
            return char.upper()
    return "?"


def size_class(size: Any) -> int:
    """The drawn size nearest to the one asked for."""
    if size in SIZES:  # what templates ask for (a topic page asks once per post)
        return int(size)
    try:
        wanted = int(size)
    except (TypeError, ValueError):
        wanted = 32
    return min(SIZES, key=lambda s: abs(s - wanted))


def _picture(user: Any) -> Any:
    """The user's `avatar_url` as templates read it (an attribute, else a mapping's key)."""
    if user is None or isinstance(user, str):
        return None
    try:
        return user.avatar_url
    except AttributeError:
        return user.get("avatar_url") if isinstance(user, Mapping) else None


def tag(user: Any, size: Any = 32) -> Markup:
    """The avatar's HTML: templates/_avatar.html's `avatar(user, size)`. A Python function
    rather than a Jinja macro: a topic page draws one per post, and the macro's call (three
    more calls inside) cost several times this (docs/benchmarks.md, 2026-12-06)."""
    px = size_class(size)
    url = _picture(user)
    if url:
        return Markup(
            f'<img class="avatar avatar-{px}" src="{escape(url)}" alt="" width="{px}" '
            f'height="{px}" loading="lazy">'
        )
    name = _name(user)  # once: the colour and the letter both come from it
    return Markup(
        f'<span class="avatar avatar-{px} avatar-c{_colour(name)}" aria-hidden="true">'
        f"{escape(_initial(name))}</span>"
    )
