"""Reactions: one emoji per member per post, from the site's small set; counted live.

What follows a reaction lives with the features that own it, subscribed to ReactionChanged:
the author's notification (forum.notifications), the guest page cache (forum.pagecache), the
live counts (forum.realtime), the dashboard's figures (forum.pulse reads the rows)."""

from __future__ import annotations

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("reactions", __name__)


def init_app(app: Flask) -> None:
    from . import queries, views

    app.register_blueprint(bp)
    # Each topic page's counts and the reader's own reactions, in one query.
    hooks.topic_page.add(app, views.topic_page_extras)
    hooks.account_data.add(app, "reactions", queries.account_reactions)
    views.init_templates(app)
