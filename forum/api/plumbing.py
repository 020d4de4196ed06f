"""What every /api/v1 request goes through: the credential (forum.api.auth), the JSON body's
checks, the per-credential rate limit and its RateLimit-* headers, ETags, and errors as
`{"error": {…}}`. Registered on the blueprint once, on import."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from ..errors import Duplicate, ForumError, NotAuthenticated, SlowDown
from ..extensions import db, limiter
from ..i18n import gettext as _
from ..web import ERROR_TEXT
from . import auth, bp


def _rate_limit() -> str:
    return str(current_app.config["API_RATE_LIMIT"])


limiter.limit(_rate_limit, key_func=auth.rate_limit_key)(bp)
bp.before_request(auth.authenticate)
bp.before_request(auth.check_body)


def error_body(status: int, message: str, **extra: Any) -> tuple[dict[str, Any], int]:
    title = ERROR_TEXT.get(status, ERROR_TEXT[500])[0]
    body: dict[str, Any] = {"status": status, "title": str(title), "message": str(message)}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}, status


@bp.after_request
def api_headers(response: Response) -> Response:
    # Each answer is its reader's: caches ask again (with If-None-Match) every time.
    response.headers.setdefault("Cache-Control", "private, no-cache")
    response.vary.update(("Authorization", "Cookie", "Accept-Language"))
    # The credential's own budget, or whichever budget this request spent (posting's).
    limits = limiter.current_limits
    current = next((lim for lim in limits if lim.breached), None) or next(
        (lim for lim in limits if not lim.shared), None
    )
    if current is not None:
        window = current.limit.get_expiry()
        left = min(window, max(0, current.reset_at - int(time.time())))
        response.headers["RateLimit-Limit"] = str(current.limit.amount)
        response.headers["RateLimit-Remaining"] = str(max(0, current.remaining))
        response.headers["RateLimit-Reset"] = str(left)
        response.headers["RateLimit-Policy"] = f"{current.limit.amount};w={window}"
    if (
        request.method in ("GET", "HEAD")
        and response.status_code == 200
        and response.mimetype == "application/json"
    ):
        response.add_etag()
        response.make_conditional(request)
    return response


def existing_item(item: Any) -> dict[str, Any]:
    """A Duplicate's item (forum.duplicates) as the API names it: kind, id, its address.
    (The models imported here: the API's plumbing loads before the features.)"""
    from ..care.models import Concern
    from ..messages.models import Conversation, PrivateMessage
    from ..topics.models import Post, Topic

    if isinstance(item, Topic):
        return {"kind": "topic", "id": item.id, "url": url_for("api.get_topic", topic_id=item.id)}
    if isinstance(item, Post):
        return {"kind": "post", "id": item.id, "url": url_for("api.get_post", post_id=item.id)}
    if isinstance(item, Concern):
        url = url_for("api.get_concern", concern_id=item.id)
        return {"kind": "concern", "id": item.id, "url": url}
    if isinstance(item, Conversation):
        url = url_for("api.get_conversation", conversation_id=item.id)
        return {"kind": "conversation", "id": item.id, "url": url}
    assert isinstance(item, PrivateMessage)
    concern_id = db.session.scalar(
        select(Concern.id).where(Concern.conversation_id == item.conversation_id)
    )
    if concern_id is not None:
        url = url_for("api.get_concern", concern_id=concern_id)
    else:
        url = url_for("api.get_conversation", conversation_id=item.conversation_id)
    return {"kind": "message", "id": item.id, "url": url}


@bp.errorhandler(ForumError)
def api_error(exc: ForumError) -> Any:
    body, status = error_body(
        exc.status_code,
        exc.message,
        field=getattr(exc, "field", None),
        details=getattr(exc, "details", None),
        existing=existing_item(exc.item) if isinstance(exc, Duplicate) else None,
    )
    headers = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="forum"'
    if isinstance(exc, SlowDown):
        headers["Retry-After"] = str(exc.retry_after)
    return body, status, headers


@bp.errorhandler(CSRFError)
def api_csrf_error(exc: CSRFError) -> Any:
    return error_body(
        400,
        _(
            "A program sends a personal access token (Authorization: Bearer …); a write from "
            "the forum's own pages needs the page's CSRF token in the X-CSRFToken header."
        ),
    )
