"""Web plumbing shared by every blueprint: security headers, error pages, template helpers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote_to_bytes

from flask import Flask, Response, current_app, flash, g, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from markupsafe import Markup
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter

from . import permissions
from .db import MAX_ID
from .errors import Forbidden, ForumError, Invalid, NotFound
from .timeutil import in_zone, utcnow

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

ERROR_TEXT = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "You may not do that."),
    404: (
        "Not found",
        "There is nothing here. It may have been moved or deleted, or never existed.",
    ),
    405: ("Method not allowed", "That address does not take this kind of request."),
    409: ("Conflict", "That clashes with what is already there."),
    413: ("Too large", "What you sent is larger than the forum accepts."),
    429: ("Slow down", "Too many requests in a short time. Wait a moment and try again."),
    500: ("Something went wrong", "The forum hit an error. It was logged; try again shortly."),
    503: ("Unavailable", "The forum cannot reach its database right now. Try again in a moment."),
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(status: int, message: str | None = None, title: str | None = None) -> Any:
    default_title, default_message = ERROR_TEXT.get(status, ERROR_TEXT[500])
    title = title or default_title
    message = message or default_message
    if wants_json():
        return jsonify({"error": {"status": status, "title": title, "message": message}}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def form_error(form: FlaskForm, exc: ForumError) -> int:
    """Put a domain error on the form field it names (or the form as a whole).

    Returns the status the re-rendered form goes out with: 403 when the member may not do this
    at all, 400 for input to correct, and so on.
    """
    field_name = getattr(exc, "field", None)
    field = getattr(form, field_name, None) if field_name else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*list(field.errors or []), exc.message]
    else:
        form.form_errors.append(exc.message)
    return exc.status_code


def absolute_url_for(endpoint: str, **values: Any) -> str:
    """A full URL for links that leave the site (mail): built on BASE_URL when it is set, so a
    forged Host header cannot point a reset link at another site."""
    base = current_app.config.get("BASE_URL")
    if not base:
        return url_for(endpoint, _external=True, **values)
    return str(base).rstrip("/") + url_for(endpoint, **values)


def flash_outcome(action: Callable[[], Any], success: str) -> bool:
    """Call a service for a button. Refusals (NotFound, Forbidden) propagate to the 404/403
    pages; a broken rule becomes an error flash. True when the action succeeded."""
    try:
        action()
    except (NotFound, Forbidden):
        raise
    except ForumError as exc:
        flash(exc.message, "error")
        return False
    flash(success, "success")
    return True


# Stand-ins for the values a UrlTemplate varies: ids no row can have (ids stop at MAX_ID) and
# texts no path holds; and what werkzeug's default converter leaves unquoted in a path segment.
_ID_PROBE = 9_876_543_210_100
_TEXT_PROBE = "~url-template-{}~"
_PATH_SAFE = "!$&'()*+,/:;=@"


class UrlTemplate:
    """url_for(endpoint, **values, name=value, …) for many values, built by joining strings.

    url_for costs tens of microseconds a call, and a topic page links every one of its posts
    several times; this calls it once. Each of `names` is an id (an `int` route part or query
    argument) or, when `text` names it (`text=True`: all of them), a path part quoted as
    werkzeug quotes it. Call it with the values in the order of `names`.
    """

    __slots__ = ("parts", "slots", "single")

    def __init__(
        self, endpoint: str, *names: str, text: bool | tuple[str, ...] = (), **values: Any
    ) -> None:
        texts = set(names) if text is True else set(text or ())
        probes = {
            name: _TEXT_PROBE.format(i) if name in texts else str(_ID_PROBE + i)
            for i, name in enumerate(names)
        }
        url = url_for(endpoint, **values, **probes)
        found = sorted((url.find(probe), name) for name, probe in probes.items())
        query_at = url.find("?")
        self.parts: list[str] = []
        self.slots: list[tuple[int, bool]] = []
        at = 0
        for position, name in found:
            probe = probes[name]
            is_text = name in texts
            if (
                position < at
                or url.count(probe) != 1
                or (is_text and 0 <= query_at < position)  # a query string quotes otherwise
            ):
                raise ValueError(f"{endpoint}: {name} is not one plain part of the URL {url}")
            self.parts.append(url[at:position])
            self.slots.append((names.index(name), is_text))
            at = position + len(probe)
        self.parts.append(url[at:])
        # One value of an id, the common case, is a single f-string.
        self.single = len(self.slots) == 1 and not self.slots[0][1]

    def __call__(self, *values: Any) -> str:
        if self.single:
            return f"{self.parts[0]}{int(values[0])}{self.parts[1]}"
        out = [self.parts[0]]
        for (index, is_text), part in zip(self.slots, self.parts[1:], strict=True):
            value = values[index]
            out.append(quote(str(value), safe=_PATH_SAFE) if is_text else str(int(value)))
            out.append(part)
        return "".join(out)


def url_template(
    endpoint: str, *names: str, text: bool | tuple[str, ...] = (), **values: Any
) -> UrlTemplate:
    """A UrlTemplate, made once per process for each shape of URL (templates ask for one per
    page). Relative URLs depend on nothing of the request but where the app is mounted (the
    forum has no URL defaults, subdomains or host matching), which is part of the key."""
    return _url_template(request.script_root, endpoint, names, text, tuple(sorted(values.items())))


@functools.lru_cache(maxsize=1024)
def _url_template(
    script_root: str,
    endpoint: str,
    names: tuple[str, ...],
    text: bool | tuple[str, ...],
    values: tuple[tuple[str, Any], ...],
) -> UrlTemplate:
    return UrlTemplate(endpoint, *names, text=text, **dict(values))


def viewer() -> permissions.Actor:
    return permissions.actor(current_user)


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: at most MAX_ID, so a huge number is a plain 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _input_problem() -> str | None:
    """Why this request's address or form cannot be text the forum stores, or None.

    Werkzeug quietly replaces bytes that are not UTF-8, and PostgreSQL refuses NUL in text, so a
    request carrying either is turned away whole, before any view or service sees it.
    """
    # The server has already percent-decoded the path: WSGI hands over its bytes as latin-1.
    path = request.environ.get("PATH_INFO", "").encode("latin-1", "replace")
    try:
        if "\x00" in path.decode("utf-8"):
            return "The address contained a NUL character, which is not text."
    except UnicodeDecodeError:
        return "The address contained bytes that are not valid UTF-8 text."
    parts = [request.query_string]
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype == FORM_TYPES[0]:
        parts.append(request.get_data(cache=True))
    for part in parts:
        for piece in part.replace(b"+", b" ").split(b"&"):
            for name_or_value in piece.split(b"=", 1):
                try:
                    text = unquote_to_bytes(name_or_value).decode("utf-8")
                except UnicodeDecodeError:
                    return "The request contained bytes that are not valid UTF-8 text."
                if "\x00" in text:
                    return "The request contained a NUL character, which is not text."
    if request.mimetype == FORM_TYPES[1] and any(
        "\x00" in value for values in request.form.listvalues() for value in values
    ):
        return "The request contained a NUL character, which is not text."
    return None


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter

    def reject_malformed_input() -> None:
        problem = _input_problem()
        if problem:
            raise BadRequest(problem)

    # First of all, before CSRFProtect parses the form: the raw body is only there to check
    # until the form parser has read it.
    app.before_request_funcs.setdefault(None, []).insert(0, reject_malformed_input)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        )
        if request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if current_user and getattr(current_user, "is_authenticated", False):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response

    @app.errorhandler(ForumError)
    def forum_error(exc: ForumError) -> Any:
        return error_response(exc.status_code, exc.message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return error_response(
            400,
            "Your form expired or did not come from this site. Go back, reload the page and "
            "send it again.",
            "Form expired",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = None
        if (
            status in (400, 403, 404)
            and exc.description
            and not exc.description.startswith(
                ("The browser", "You don't have", "The requested URL")
            )
        ):
            message = exc.description
        if status == 405 and exc.get_response().headers.get("Allow"):
            response, code = error_response(status, message)
            return response, code, {"Allow": exc.get_response().headers["Allow"]}
        return error_response(status, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        from .extensions import db

        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001  (the connection may be gone with the database)
            log.warning("rollback failed after an error", exc_info=True)
        if _is_database_down(exc):
            return _database_down()
        return error_response(500)

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        zone = getattr(current_user, "timezone", None) or "UTC"
        return in_zone(value, zone).strftime(fmt)

    @app.template_filter("isotime")
    def isotime(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    @app.template_filter("ago")
    def ago(value: datetime | None) -> str:
        if value is None:
            return "never"
        seconds = int((utcnow() - value).total_seconds())
        if seconds < 60:
            return "just now"
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if seconds >= size:
                n = seconds // size
                return f"{n} {unit}{'s' if n != 1 else ''} ago"
        return "just now"

    @app.template_filter("number")
    def number(value: int | None) -> str:
        return f"{value or 0:,}"

    @app.context_processor
    def globals_for_templates() -> dict[str, Any]:
        return {
            "site_name": app.config["SITE_NAME"],
            "site_description": app.config["SITE_DESCRIPTION"],
            "perm": permissions,
            "viewer": viewer(),
            "header_items": _header_items(),
        }

    app.jinja_env.globals["url_template"] = url_template
    app.jinja_env.globals["nl2br"] = lambda text: Markup("<br>").join(text.splitlines())
    app.extensions.setdefault("forum.header_items", [])


def _header_items() -> list[Any]:
    """Values other features add to the header (unread notifications, the mod queue size). A
    provider answers one item, a list of items, or None."""
    # Cached per request, not on `g`: tests run many requests inside one app context.
    cached = request.environ.get("forum.header")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    items = []
    for provider in current_app.extensions.get("forum.header_items", []):
        item = provider(viewer())
        if isinstance(item, list):
            items.extend(item)
        elif item:
            items.append(item)
    request.environ["forum.header"] = items
    return items


def _database_down() -> Any:
    """A 503 that needs no database: the member is not loaded again (after_request hooks ask
    for current_user), and the page skips base.html's context processors."""
    from flask import current_app

    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    title, message = ERROR_TEXT[503]
    headers = {"Retry-After": "5"}
    if wants_json():
        body = {"error": {"status": 503, "title": title, "message": message}}
        return jsonify(body), 503, headers
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        title=title, message=message, site_name=current_app.config["SITE_NAME"]
    )
    return page, 503, headers


def _is_database_down(exc: Exception) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


__all__ = ["Invalid", "absolute_url_for", "error_response", "form_error", "viewer", "wants_json"]
