"""Announcements: posted by sysops, shown as a dismissible banner, listed at /announcements."""

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("announcements", __name__)


def init_app(app: Flask) -> None:
    from . import (
        models,  # noqa: F401  (tables register on the metadata)
        views,
    )

    app.register_blueprint(bp)
    views.init_banner(app)
    hooks.header_items.add(app, views.header_item)
