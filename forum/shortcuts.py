"""Keyboard shortcuts: whether a reader's pages answer single keys, and the list `?` shows.

static/js/shortcuts.js does the work; templates/base.html loads it only for a reader who has them
on (<body data-shortcuts>): a guest always, a member unless they turned them off in /settings
(User.keyboard_shortcuts; WCAG 2.1.4). The list's words are the server's, translated like the
pages (templates/_shortcuts.html, inert in a <template> until "?"); it is the same on every page
for a language and a kind of reader, so it is rendered once per process for each (a page's
dozen translated words and addresses cost some 30 µs, a tenth of a cached topic page).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app
from markupsafe import Markup

from .hooks import AppSlot
from .i18n import language

_RENDERED: AppSlot[dict[tuple[str, bool], Markup]] = AppSlot("forum.shortcuts_help")


def enabled(viewer: Any) -> bool:
    """Whether this reader's pages answer single keys (`viewer` None: a guest, who has them)."""
    return viewer is None or bool(getattr(viewer, "keyboard_shortcuts", True))


def help_list(member: bool) -> Markup:
    """The `?` list in the request's language; a member's names their setting, a guest's New
    (a member's page) not at all."""
    cache = _RENDERED.setdefault(current_app._get_current_object(), dict)  # type: ignore[attr-defined]
    key = (language(), member)
    if key not in cache:
        # The environment's globals only (gettext, the URL helpers): not render_template, whose
        # context processors would ask the database for the header's counts.
        template = current_app.jinja_env.get_template("_shortcuts.html")
        cache[key] = Markup(template.render(member=member))
    return cache[key]


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(shortcuts_enabled=enabled, shortcuts_help=help_list)
