"""Drafts: what a member is writing (a new topic, a reply, an edit), kept on the server."""

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("drafts", __name__)


def init_app(app: Flask) -> None:
    from . import handlers, queries, views  # noqa: F401  (routes register on bp)

    handlers.init_app(app)
    hooks.account_data.add(app, "drafts", queries.account_drafts)
    hooks.kept_draft.provide(app, queries.kept_draft)
    app.register_blueprint(bp)
