"""Accounts: registration, login, sessions that really end, passwords, profiles."""

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
