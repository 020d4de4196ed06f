"""Colours: which scheme (light, dark, or as the system is set) a reader's pages are drawn in.

A reader's scheme: a member's own choice (/settings, or the switch at the foot of every page),
else the theme cookie that switch sets for a guest, else "system". The server writes it on
`<html data-theme="…">` and into `<meta name="color-scheme">`, so the first paint has the right
colours (no script decides them, so nothing flashes); static/css/forum.css draws "system" with
`prefers-color-scheme`. The guest page cache keeps one copy of a page per scheme
(forum.pagecache).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context, request

from .i18n import gettext as _

SYSTEM = "system"
# The schemes in the order the switch shows them; `system` follows the browser's setting.
THEMES = (SYSTEM, "light", "dark")
THEME_COOKIE = "forum_theme"
# What <meta name="color-scheme"> says for each: which schemes the page can be drawn in.
COLOR_SCHEME = {SYSTEM: "light dark", "light": "light", "dark": "dark"}


def labels() -> dict[str, str]:
    """Each scheme's name in the reader's language (as text: every page's footer shows them,
    and a lazy string costs ten times as much to show)."""
    return {SYSTEM: _("System"), "light": _("Light"), "dark": _("Dark")}


def known(code: str | None) -> str | None:
    """`code` if it names a scheme, else None."""
    code = (code or "").strip().lower()
    return code if code in THEMES else None


def _member() -> Any:
    from flask_login import current_user

    user = current_user._get_current_object() if current_user else None
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def theme() -> str:
    """The scheme this request is drawn in: "system", "light" or "dark"."""
    if not has_request_context():
        return SYSTEM
    member = _member()
    return (
        known(getattr(member, "theme", None))
        or known(request.cookies.get(THEME_COOKIE, "")[:16])
        or SYSTEM
    )


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        current_theme=theme, theme_labels=labels, color_scheme=COLOR_SCHEME
    )
