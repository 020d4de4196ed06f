"""Accounts: registration, login, sessions that really end, passwords, profiles."""

from flask import Blueprint, Flask

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    from . import avatars, views  # noqa: F401  (routes register on bp)
    from .services import timezone_unset

    app.register_blueprint(bp)
    app.jinja_env.globals["timezone_unset"] = timezone_unset
    # templates/_avatar.html's avatar(user, size).
    app.jinja_env.globals["avatar_tag"] = avatars.tag
