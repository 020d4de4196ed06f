"""Whether a member signed in on this browser and has not signed out here since: the forum's own
mark, so that nothing outside Flask-Login reads Flask-Login's private session keys.

The mark is `session["forum_signed_in"] = True`. It is written whenever Flask-Login signs a
member in (its public `user_logged_in` signal: the login form, the two-factor code step, the
password change that signs this browser in again, and any other `login_user`) and when a
remember-me cookie signs the member in again (`user_loaded_from_cookie`). It stays when the
member's session ends elsewhere ("log out everywhere" on another device, a password change or a
ban: the cookie is kept, its token is no longer current), and goes with every sign-out on this
browser (`user_logged_out`: POST /logout, "log out everywhere" or "log out this one" here, a
password reset; deleting the account clears the whole session).

`signed_in_here()` is what forum.web's sign-in redirect asks: a form with text from such a
browser gets the page that keeps it (forum.keptform) rather than the sign-in page. A remember-me
cookie that still carries its signature counts too (Flask-Login writes it at a sign-in with
"keep me logged in" and deletes it at a sign-out): the browser that closed and lost its session
cookie after the member's session ended elsewhere."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request, session
from flask_login import decode_cookie, user_loaded_from_cookie, user_logged_in, user_logged_out

SESSION_KEY = "forum_signed_in"


def mark(sender: Any, **_: Any) -> None:
    session[SESSION_KEY] = True


def unmark(sender: Any, **_: Any) -> None:
    session.pop(SESSION_KEY, None)


def signed_in_here() -> bool:
    """Whether a member signed in on this browser and did not sign out here since (whether the
    session is still current is not asked: Flask-Login's user loader answers that)."""
    if session.get(SESSION_KEY):
        return True
    name = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    cookie = request.cookies.get(name)
    return bool(cookie) and decode_cookie(cookie) is not None


def init_app(app: Flask) -> None:
    user_logged_in.connect(mark, app)
    user_loaded_from_cookie.connect(mark, app)
    user_logged_out.connect(unmark, app)
