"""Accounts: registration, login, sessions that really end, passwords, profiles."""

from typing import Any

from flask import Blueprint, Flask, current_app, g, session
from flask_login import user_logged_out

bp = Blueprint("accounts", __name__)


def forget_form_token(sender: Any, **_: Any) -> None:
    """Logging out ends the session's form token too: a form of a page opened while signed in
    (another tab) is then refused as expired, and keeps its text (forum.keptform), rather than
    being taken as a guest's."""
    name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(name, None)
    g.pop(name, None)


def init_app(app: Flask) -> None:
    from . import avatars, marker, views  # noqa: F401  (routes register on bp)
    from .services import timezone_unset

    app.register_blueprint(bp)
    app.jinja_env.globals["timezone_unset"] = timezone_unset
    # templates/_avatar.html's avatar(user, size).
    app.jinja_env.globals["avatar_tag"] = avatars.tag
    user_logged_out.connect(forget_form_token, app)
    # The forum's own "a member signed in on this browser" (forum.web's sign-in redirect).
    marker.init_app(app)
