"""Bookmarks: posts a member keeps to come back to, with an optional reminder, at /bookmarks."""

from __future__ import annotations

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("bookmarks", __name__)


def init_app(app: Flask) -> None:
    from .. import events
    from . import queries, services, views

    app.register_blueprint(bp)
    # Which posts of a topic page the reader bookmarked (one query, members only).
    hooks.topic_page.add(app, views.topic_page_extras)
    hooks.account_data.add(app, "bookmarks", queries.account_bookmarks)
    events.subscribe(app, events.AccountDeleted, services.forget_member, phase="in_transaction")
