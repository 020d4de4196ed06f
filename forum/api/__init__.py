"""The JSON API (/api/v1) over the same services and permission policy as the pages, with its
OpenAPI document; personal access tokens for it (/settings/tokens)."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from flask_wtf.csrf import CSRFError

from .. import hooks
from ..errors import ForumError, NotAuthenticated, SlowDown
from ..extensions import csrf, limiter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The token pages of the member's settings.
tokens_bp = Blueprint("api_tokens", __name__)


def _rate_limit() -> str:
    return str(current_app.config["API_RATE_LIMIT"])


def _error(status: int, message: str, **extra: Any) -> Any:
    from ..web import ERROR_TEXT

    title = ERROR_TEXT.get(status, ERROR_TEXT[500])[0]
    body: dict[str, Any] = {"status": status, "title": str(title), "message": str(message)}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}, status


def init_app(app: Flask) -> None:
    from . import auth, pages, views  # noqa: F401  (routes register on the blueprints)

    # Writes on a session cookie still need the page's CSRF token; auth.authenticate checks it
    # itself, since a request with a token needs none.
    csrf.exempt(bp)
    limiter.limit(_rate_limit, key_func=auth.rate_limit_key)(bp)
    bp.before_request(auth.authenticate)
    bp.before_request(auth.check_body)

    @bp.after_request
    def api_headers(response: Response) -> Response:
        # Each answer is its reader's: caches must ask again (with If-None-Match) each time.
        response.headers.setdefault("Cache-Control", "private, no-cache")
        response.vary.update(("Authorization", "Cookie", "Accept-Language"))
        current = limiter.current_limit
        if current is not None:
            response.headers["RateLimit-Limit"] = str(current.limit.amount)
            response.headers["RateLimit-Remaining"] = str(max(0, current.remaining))
            window = current.limit.get_expiry()
            left = min(window, max(0, current.reset_at - int(time.time())))
            response.headers["RateLimit-Reset"] = str(left)
            response.headers["RateLimit-Policy"] = (
                f"{current.limit.amount};w={window}"
            )
        if (
            request.method in ("GET", "HEAD")
            and response.status_code == 200
            and response.mimetype == "application/json"
        ):
            response.add_etag()
            response.make_conditional(request)
        return response

    @bp.errorhandler(ForumError)
    def api_error(exc: ForumError) -> Any:
        details = getattr(exc, "details", None)
        body, status = _error(
            exc.status_code, exc.message, field=getattr(exc, "field", None), details=details
        )
        headers = {}
        if isinstance(exc, NotAuthenticated):
            headers["WWW-Authenticate"] = 'Bearer realm="forum"'
        if isinstance(exc, SlowDown):
            headers["Retry-After"] = str(exc.retry_after)
        return body, status, headers

    @bp.errorhandler(CSRFError)
    def api_csrf_error(exc: CSRFError) -> Any:
        from ..i18n import gettext as _

        return _error(
            400,
            _(
                "A write from a signed-in browser needs the page's CSRF token in the "
                "X-CSRFToken header; a program should send a personal access token instead."
            ),
        )

    app.register_blueprint(bp)
    app.register_blueprint(tokens_bp)
    hooks.settings_sections.add(app, "api/_settings.html")
