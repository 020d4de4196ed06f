"""Atom feeds of the site's newest topics, a SIG's and a topic's posts, under the pages' rules;
private feed addresses for members (a signed token, revoked by "log out everywhere")."""

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


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    app.add_template_global(feed_url)
    app.add_template_global(private_feed_url)
    hooks.settings_sections.add(app, "feeds/_settings.html")
