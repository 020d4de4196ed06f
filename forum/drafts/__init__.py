"""Drafts: what a member is writing (a new topic, a reply, an edit), kept on the server."""

from flask import Blueprint, Flask

bp = Blueprint("drafts", __name__)


def init_app(app: Flask) -> None:
    from . import handlers, views  # noqa: F401  (routes register on bp)

    handlers.init_app(app)
    app.register_blueprint(bp)
