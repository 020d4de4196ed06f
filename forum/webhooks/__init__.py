"""Webhooks: a SIG's sysops (or the global sysop, for the whole site) have the forum POST the
events they chose to an address of theirs, signed, retried, logged, under the pages' rules."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("webhooks", __name__)


def init_app(app: Flask) -> None:
    from . import commands, handlers, views  # noqa: F401  (routes and commands register)

    app.register_blueprint(bp)
    handlers.init_app(app)
