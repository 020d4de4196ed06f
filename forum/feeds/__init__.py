"""The open web: Atom feeds of the site's newest topics, a SIG's, a topic's and a member's posts
and of any search, under the pages' rules; private feed addresses for members (a signed token,
revoked by "log out everywhere"); sitemap.xml and robots.txt; the canonical address and the
excerpt that each page's head gives link previews (OpenGraph, Twitter cards)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("feeds", __name__)


def feed_url(endpoint: str, **values: Any) -> str:
    """A feed's address for the page being shown: a member's own private address (their pages
    are theirs alone, never cached for others), a guest's plain one."""
    from flask import url_for
    from flask_login import current_user

    from .. import permissions
    from .tokens import token_for

    user = permissions.actor(current_user)
    if user is not None:
        values["token"] = token_for(user)
    return url_for(endpoint, **values)


def private_feed_url() -> str | None:
    """The member's private address of the site-wide feed (settings)."""
    from flask_login import current_user

    from .. import permissions
    from ..web import absolute_url_for
    from .tokens import token_for

    user = permissions.actor(current_user)
    if user is None:
        return None
    return absolute_url_for("feeds.topics", token=token_for(user))


def canonical_url() -> str:
    """The page's one address: BASE_URL, the path, and ?page=N past the first page (never the
    other arguments, nor a private feed token)."""
    from flask import request

    from ..web import site_url

    url = site_url() + request.path
    page = request.args.get("page", "")
    if page.isdecimal() and 1 < int(page) < 100_000:
        url += f"?page={int(page)}"
    return url


def excerpt(html: str, length: int = 200) -> str:
    """Plain text of cooked HTML, cut at a word (a page's description)."""
    from .. import content

    return content.excerpt(html or "", length)


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    app.add_template_global(feed_url)
    app.add_template_global(private_feed_url)
    app.add_template_global(canonical_url)
    app.add_template_filter(excerpt, "excerpt")
    hooks.settings_sections.add(app, "feeds/_settings.html")
