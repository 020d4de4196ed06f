"""Web plumbing shared by every blueprint: security headers, error pages, template helpers."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    get_flashed_messages,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy import bindparam, lambda_stmt, select
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from . import hooks, i18n, permissions, settings
from .accounts import former
from .config import origin_of
from .db import MAX_ID, read_columns
from .errors import Forbidden, ForumError, Invalid, NotFound
from .hooks import AppSlot
from .i18n import gettext as _
from .i18n import lazy_gettext as _l
from .storage_faults import describe_error, is_database_down, storage_refused

log = logging.getLogger(__name__)

# The Content-Security-Policy of every page. connect-src names the forum's own WebSocket origins
# (content_security_policy() fills them in), not every ws:/wss: address there is.
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'{sockets}",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)

# What an Engine.IO polling response (text, never a page) carries: it may load nothing.
SOCKET_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# Headers every response carries, pages and Socket.IO's alike (the CSP is added apart).
SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)
HSTS = "max-age=31536000; includeSubDomains"

ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood. Go back and try again.")),
    401: (_l("Not authenticated"), _l("Log in, or send a valid API token, first.")),
    403: (_l("Not allowed"), _l("You may not do that.")),
    404: (
        _l("Not found"),
        _l("There is nothing here. It may have been moved or deleted, or never existed."),
    ),
    405: (_l("Method not allowed"), _l("That address does not take this kind of request.")),
    409: (_l("Conflict"), _l("That clashes with what is already there.")),
    415: (_l("Unsupported media type"), _l("Send the request body as JSON.")),
    413: (_l("Too large"), _l("What you sent is larger than the forum accepts.")),
    429: (_l("Slow down"), _l("Too many requests in a short time. Wait a moment and try again.")),
    500: (
        _l("Something went wrong"),
        _l("The forum hit an error. It was logged; try again shortly."),
    ),
    503: (
        _l("Unavailable"),
        _l("The forum cannot reach its database right now. Try again in a moment."),
    ),
}
READ_ONLY_TEXT = (
    _l("Read-only"),
    _l(
        "The forum is read-only right now: you can read, but nothing can be saved. Try again later."
    ),
)
# app.extensions key: (time.monotonic(), description) of the last write the storage refused
# (a read-only or full volume); /readyz reports it for a while (forum.ops.checks).
WRITE_FAULT: AppSlot[tuple[float, str]] = AppSlot("forum.write_fault")


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
    # Lazy strings become text here, in the reader's language.
    title = str(title or default_title)
    message = str(message or default_message)
    if wants_json():
        return jsonify({"error": {"status": status, "title": title, "message": message}}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def form_error(form: FlaskForm, exc: ForumError) -> int:
    """Put a domain error on the form field it names (or the form as a whole), and each of
    the others it carries (`Invalid.more`) on theirs.

    Returns the status the re-rendered form goes out with: 403 when the member may not do this
    at all, 400 for input to correct, and so on.
    """
    for error in (exc, *getattr(exc, "more", ())):
        field_name = getattr(error, "field", None)
        field = getattr(form, field_name, None) if field_name else None
        if field is not None and hasattr(field, "errors"):
            field.errors = [*list(field.errors or []), error.message]
        else:
            form.form_errors.append(error.message)
    return exc.status_code


# --- the forum's own address ---------------------------------------------------------------
def site_url(config: Any = None) -> str:
    """Where the forum is, for links that leave the site (mail): BASE_URL, or in development
    DEV_BASE_URL (the development server's own address). Never a request header, which the
    client chooses."""
    config = config if config is not None else current_app.config
    return str(config.get("BASE_URL") or config.get("DEV_BASE_URL")).rstrip("/")


def absolute_url_for(endpoint: str, **values: Any) -> str:
    """A full URL on site_url() (for mail, and any link that leaves the site): the same in a
    request, whatever its Host and X-Forwarded-Host say, and outside one."""
    anchor = values.pop("_anchor", None)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    app.inject_url_defaults(endpoint, values)
    # A path built without the request: the mount point is part of site_url().
    path = app.url_map.bind("forum.invalid", script_name="/").build(endpoint, values)
    if anchor is not None:
        path += "#" + quote(str(anchor), safe="")
    return site_url(app.config) + path


def own_origins(config: Any) -> list[str]:
    """The origins the forum is served at, as configured: BASE_URL's and SOCKETIO_ORIGINS.
    Without BASE_URL (development) the request's own origin is added by origin_checker()."""
    extras = config.get("SOCKETIO_ORIGINS") or ()
    if isinstance(extras, str):
        extras = [extras]
    return list(_own_origins(config.get("BASE_URL"), tuple(extras)))


@functools.lru_cache(maxsize=64)
def _own_origins(base: str | None, extras: tuple[str, ...]) -> tuple[str, ...]:
    found = [origin_of(base), *(origin_of(extra) for extra in extras)]
    return tuple(dict.fromkeys(o for o in found if o))


def request_origin(environ: dict[str, Any]) -> str | None:
    """The origin this request was made to (development only: it rests on the Host header)."""
    host = environ.get("HTTP_HOST") or ""
    return origin_of(f"{environ.get('wsgi.url_scheme', 'http')}://{host}") if host else None


def origin_checker(config: Any) -> Callable[..., bool]:
    """python-engineio's `cors_allowed_origins` check: only the forum's own pages may open a
    Socket.IO connection (polling or WebSocket) with the member's cookies. A page of another
    origin, even on the same host (another port, a sibling subdomain), gets a 400 and no
    session. Requests without an Origin header (no browser sends a cross-origin one without it)
    are not checked by Engine.IO."""

    def origin_allowed(origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if not origin:
            return False
        allowed = own_origins(config)
        if not config.get("BASE_URL") and environ is not None:
            own = request_origin(environ)
            if own:
                allowed.append(own)
        # Browsers write an Origin one way (lower case, no default port): compare it as sent.
        return origin in allowed

    return origin_allowed


def content_security_policy(config: Any, environ: dict[str, Any] | None = None) -> str:
    """The pages' CSP: connect-src names the WebSocket forms of the origins origin_checker()
    lets in (without BASE_URL, the request's own)."""
    origins = own_origins(config)
    if not config.get("BASE_URL") and environ is not None:
        own = request_origin(environ)
        if own:
            origins.append(own)
    return _csp(tuple(origins))


@functools.lru_cache(maxsize=256)
def _csp(origins: tuple[str, ...]) -> str:
    sockets = "".join(
        " " + ("wss" if o.startswith("https:") else "ws") + o[o.index(":") :] for o in origins
    )
    return "; ".join(CSP_DIRECTIVES).format(sockets=sockets)


# --- where to send the browser next --------------------------------------------------------
def _unsafe_path(candidate: str) -> bool:
    if not candidate.startswith("/") or candidate[1:2] in ("/", "\\"):
        return True  # not a path, or a scheme-relative address (//host)
    for ch in candidate:
        if ch == "\\" or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co"):
            return True  # browsers drop tabs and newlines, read "\\" as "/"
    parts = urlsplit(candidate)
    return bool(parts.scheme or parts.netloc)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path of this site to redirect to, else None.

    The ONE check for every redirect target a request names (`next` in a query string or a
    form): a path that starts with one "/", with no control characters, whitespace or
    backslashes, and none once percent-decoded either (`/%2F/evil`, `/%5Cevil`, `/%09/evil`).
    Absolute and scheme-relative addresses, `javascript:` and the like are refused.
    """
    if not target or len(target) > 2000:
        return None
    candidate = target
    for _attempt in range(4):  # the value, and the value percent-decoded once, twice, three times
        if _unsafe_path(candidate):
            return None
        decoded = unquote(candidate)
        if decoded == candidate:
            return target
        candidate = decoded
    return None  # encoded over and over: no link of the forum looks like that


def back_path() -> str:
    """Where a button of this page (the footer's language and colours, the banner's Dismiss)
    sends the reader back to, as its `next`: this page's address, its query too. A page that
    answers a form (a refusal shown with what was typed) is at the form's address, which takes
    only POST: the page the form was on (the Referer's path and query), else the front page,
    rather than a 405. Only the path is taken, and safe_next() checks it, so the button stays
    on this site whatever the Referer (or a Host header, which a client chooses) names."""
    if request.method in ("GET", "HEAD"):
        return request.full_path if request.query_string else request.path
    referrer = urlsplit(request.referrer or "")
    if referrer.path:
        path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        if safe_next(path):
            return path
    return "/"


def redirect_back(target: str | None, default: str) -> WerkzeugResponse:
    """Redirect to `target` when safe_next() accepts it, otherwise to `default`."""
    return redirect(safe_next(target) or default)


# The session key naming the element (its id) that the notices waiting for the next page are
# shown beside: the #fragment of the last redirect taken since they were flashed (see
# notices_follow_the_redirect). Kept only while notices wait.
NOTICES_AT = "_notices_at"


def notices_follow_the_redirect(response: Response) -> Response:
    """After every response: notices waiting to be shown (flashed) go where the member will be
    looking. A redirect to an address with a #fragment (a post, a message, a settings heading)
    scrolls the next page there, its top off a phone's screen: the notices are then shown beside
    that element instead of on top (notices() below), without JavaScript. A redirect without
    one puts them back on top; once shown, the key goes with them."""
    if "_flashes" not in session:
        if NOTICES_AT in session:
            session.pop(NOTICES_AT)
        return response
    if 300 <= response.status_code < 400:
        fragment = urlsplit(response.headers.get("Location", "")).fragment
        if fragment:
            session[NOTICES_AT] = unquote(fragment)
        elif NOTICES_AT in session:
            session.pop(NOTICES_AT)
    return response


def _page_notices() -> tuple[str, list[tuple[str, Any]]]:
    """This page's notices and the id of the element they go beside ("" for the top)."""
    found = g.get("page_notices")
    if found is None:
        messages = get_flashed_messages(with_categories=True)
        anchor = str(session.get(NOTICES_AT) or "") if messages else ""
        found = g.page_notices = (anchor, messages)
    return found


def notices_anchor() -> str:
    """The id of the element this page's notices go beside; "" when they are on top (or there
    are none). For a template with many candidates (a topic's posts): one call a page."""
    return _page_notices()[0]


def notices(anchor: str | None = None) -> Markup:
    """The notices, once a page, in one status region (a screen reader announces them once):
    `notices("post-3")` where that element is drawn, if they go beside it; `notices()` on top
    (base.html, after the page's content is drawn) if no element took them."""
    where, messages = _page_notices()
    if not messages or g.get("notices_shown") or (anchor is not None and anchor != where):
        return Markup("")
    g.notices_shown = True
    macro = current_app.jinja_env.get_template("_notices.html").module.notices  # type: ignore[attr-defined]
    return Markup(macro(messages, beside=anchor is not None))


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
    flash(str(success), "success")  # a lazy string: in the reader's language, as text
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
        probes: dict[str, Any] = {
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


def fixed_url(endpoint: str, **values: Any) -> str:
    """url_for(endpoint, **values) for an address with nothing that varies by page (the
    header's and footer's links, static files): made once per process, as url_template's are.
    The frame of every page has some fifteen, at 4–6 µs a url_for call (issue 17)."""
    return url_template(endpoint, **values)()


def viewer() -> permissions.Actor:
    return permissions.actor(current_user)


def _digits_up_to(limit: int) -> str:
    """A regular expression of the digit strings whose value is at most `limit` (leading zeros
    allowed, as werkzeug's int converter allows them), none longer than `limit` is."""
    text = str(limit)
    size = len(text)
    parts = [rf"\d{{1,{size - 1}}}"] if size > 1 else []
    for i, char in enumerate(text):
        rest = size - i - 1
        if char != "0":
            lower = "0" if char == "1" else f"[0-{int(char) - 1}]"
            parts.append(text[:i] + lower + (rf"\d{{{rest}}}" if rest else ""))
    parts.append(text)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: at most MAX_ID, so a huge number is a plain 404.

    Its pattern stops at MAX_ID too: werkzeug compares a number with `max` only after it chose
    the route by its pattern, and answered a bogus 405 (with the methods of the address's other
    routes) to `DELETE /api/v1/posts/2147483648` (found by Schemathesis)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
        if self.max == MAX_ID and not self.signed and not self.fixed_digits:
            self.regex = _digits_up_to(MAX_ID)


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
            return _("The address contained a NUL character, which is not text.")
    except UnicodeDecodeError:
        return _("The address contained bytes that are not valid UTF-8 text.")
    parts = [request.query_string]
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype == FORM_TYPES[0]:
        parts.append(request.get_data(cache=True))
    for part in parts:
        for piece in part.replace(b"+", b" ").split(b"&"):
            for name_or_value in piece.split(b"=", 1):
                try:
                    text = unquote_to_bytes(name_or_value).decode("utf-8")
                except UnicodeDecodeError:
                    return _("The request contained bytes that are not valid UTF-8 text.")
                if "\x00" in text:
                    return _("The request contained a NUL character, which is not text.")
    if request.mimetype == FORM_TYPES[1] and any(
        "\x00" in value for values in request.form.listvalues() for value in values
    ):
        return _("The request contained a NUL character, which is not text.")
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
        response.headers.setdefault(
            "Content-Security-Policy", content_security_policy(app.config, request.environ)
        )
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if current_user and getattr(current_user, "is_authenticated", False):
            response.headers.setdefault("Cache-Control", "private, no-store")
        if request.method == "POST" and response.status_code < 400:
            # A write went through: the storage takes writes again (space was freed).
            WRITE_FAULT.pop()
        return response

    app.after_request(notices_follow_the_redirect)

    @app.errorhandler(ForumError)
    def forum_error(exc: ForumError) -> Any:
        return error_response(exc.status_code, exc.message)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        from . import keptform

        message = _(
            "Your form expired or did not come from this site. Go back, reload the page and "
            "send it again."
        )
        if keptform.is_page_form():
            # Nothing was done; what was typed comes back (forum.keptform).
            message = _(
                "Your form expired or did not come from this site, so nothing was done. This "
                "happens when you signed out (in another tab, or everywhere) or your session "
                "ended since the page was opened."
            )
            return keptform.kept_page(400, _("Form expired"), message)
        return error_response(400, message, _("Form expired"))

    from .extensions import login_manager

    @login_manager.unauthorized_handler
    def sign_in_first() -> Any:
        """A page for members asked by a guest: Flask-Login's redirect to the sign-in page,
        except for a form that carries text from a member whose session ended while they wrote
        ("log out everywhere" on another device, a password change, a ban: the cookie still
        names the member's session, which is no longer current), which a redirect would throw
        away: that gets the page that keeps it (forum.keptform), as does that page's own "send
        again" pressed before signing in again. A guest who never signed in is sent to sign
        in, as by any page for members. Which of the two it is, the forum's own mark says
        (forum.accounts.marker), not Flask-Login's private session keys."""
        from flask_login import login_url

        from . import keptform
        from .accounts import marker

        if keptform.is_page_form() and (marker.signed_in_here() or keptform.sent_again()):
            kept = keptform.kept_form()
            if kept.shown:
                message = _(
                    "You are not signed in any more, so nothing was done: you signed out in "
                    "another tab or everywhere, or your session ended."
                )
                return keptform.kept_page(401, _("Signed out"), message, kept)
        flash(str(login_manager.login_message), login_manager.login_message_category)
        return redirect(login_url(str(login_manager.login_view), next_url=request.url))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = None
        if status == 429:
            from . import keptform

            if keptform.is_page_form():
                # A budget spent (forum.ratelimits) while a reply, a private message or a
                # concern was being sent: nothing was done, and what was typed comes back,
                # with "Send again" for when the minute has passed (it was a bare "Slow down"
                # page, and the text was gone).
                page, code, headers = keptform.kept_page(
                    429,
                    str(ERROR_TEXT[429][0]),
                    _(
                        "Too many requests in a short time, so nothing was done. Wait a "
                        "moment, then send it again."
                    ),
                )
                retry = exc.get_response().headers.get("Retry-After")
                return page, code, {**headers, **({"Retry-After": retry} if retry else {})}
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
        from .extensions import db

        refused = storage_refused(exc)
        down = refused is None and is_database_down(exc)
        if not (refused or down):
            log.exception("unhandled error on %s %s", request.method, request.path)
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001  (the connection may be gone with the database)
            if not (refused or down):
                log.warning("rollback failed after an error", exc_info=True)
        if refused:
            # One line, not a traceback: the storage, not the code, is at fault.
            log.warning(
                "read-only: %s %s could not be saved: %s", request.method, request.path, refused
            )
            WRITE_FAULT.set(current_app._get_current_object(), (time.monotonic(), refused))  # type: ignore[attr-defined]
            return _unavailable(*READ_ONLY_TEXT)
        if down:
            log.warning(
                "database unavailable on %s %s: %s",
                request.method,
                request.path,
                describe_error(exc),
            )
            return _unavailable(*ERROR_TEXT[503])
        return error_response(500)

    @app.teardown_appcontext
    def end_session(_exc: BaseException | None) -> None:
        """End the request's database session before Flask-SQLAlchemy's own teardown (teardowns
        run last-registered first). Its rollback fails when the database died under the request
        (a PostgreSQL crash); raised here, that error would leave Flask as a bare 500 after the
        response was chosen. The broken connection is dropped from the pool instead."""
        from .extensions import db

        try:
            db.session.remove()
        except Exception as error:  # noqa: BLE001
            log.warning("ending a request's database session failed: %s", describe_error(error))
            # Close its connection for good (out of the pool), not for the garbage collector.
            with contextlib.suppress(Exception):
                db.session().invalidate()
            db.session.registry.clear()

    @app.template_filter("isotime")
    def isotime(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    @app.context_processor
    def globals_for_templates() -> dict[str, Any]:
        actor = viewer()
        return {
            "site_name": settings.get("site_name"),
            "site_description": _site_description(str(settings.get("site_description") or "")),
            "perm": permissions,
            "viewer": actor,
            "header_items": _header_items(actor),
        }

    def time_tag(value: datetime | None) -> Markup:
        """`<time>`: how long ago in the reader's language, the date and time in their zone in
        its title (the `time` of _macros.html: listings show dozens, and a Jinja macro call
        costs several times this)."""
        if value is None:
            return Markup("")
        title, words = i18n.moment(value)
        # An ISO moment is digits and "-:+.T": nothing to escape.
        return Markup(
            f'<time datetime="{value.isoformat()}" title="{escape(title)}">{escape(words)}</time>'
        )

    def user_link_tag(name: str | None) -> Markup:
        """A member's name linking to their profile, "someone" for an account gone, "Former
        member" (muted, no link) for a deleted one (the `user_link` of _macros.html: a listing
        shows two a row, and a Jinja macro call costs several times this)."""
        if not name:
            return Markup('<span class="muted">%s</span>') % _("someone")
        if former.is_former(name):
            return Markup('<span class="muted member-former">%s</span>') % former.former_label()
        return _member_link(request.script_root, name)

    def started_by(name: str | None, when: datetime | None) -> Markup:
        """The "started by <member>, <time>" under a topic in a SIG's listing (one call a row
        instead of the translation's and its two tags': each a Jinja `Context.call`, the three
        were a fifth of a guest's SIG page; issue 17, seventh session)."""
        return _by(_("started by %(who)s, %(when)s"), name, when)

    def posted_by(name: str | None, when: datetime | None) -> Markup:
        """The "by <member>, <time>" under a SIG's last topic in the SIG index (as started_by)."""
        return _by(_("by %(who)s, %(when)s"), name, when)

    def _by(text: str, name: str | None, when: datetime | None) -> Markup:
        # Both values are Markup already: str's `%` gives what Markup's would (which escapes
        # each value again through a helper object, 4 µs a row).
        return Markup(text % {"who": user_link_tag(name), "when": time_tag(when)})

    app.jinja_env.globals["url_template"] = url_template
    app.jinja_env.globals["fixed_url"] = fixed_url
    app.jinja_env.globals["back_path"] = back_path
    app.jinja_env.globals["notices"] = notices
    app.jinja_env.globals["notices_anchor"] = notices_anchor
    app.jinja_env.globals["time_tag"] = time_tag
    app.jinja_env.globals["user_link_tag"] = user_link_tag
    app.jinja_env.globals["started_by"] = started_by
    app.jinja_env.globals["posted_by"] = posted_by
    # For the places that write a name out by hand (a topic's posts): the one rule's two halves.
    app.jinja_env.globals["is_former"] = former.is_former
    app.jinja_env.globals["former_label"] = former.former_label
    app.jinja_env.globals["member_name"] = former.display
    app.jinja_env.globals["nl2br"] = lambda text: Markup("<br>").join(text.splitlines())


@functools.lru_cache(maxsize=4096)
def _member_link(script_root: str, name: str) -> Markup:
    """A member's link by where the app is mounted and their name, what nothing else changes
    (a rename shows a new name): made once per process for the names pages show again and again
    (a SIG page links sixty, at 4.5 µs a link made; issue 17, seventh session). Bounded: some
    4096 links of ~100 bytes."""
    href = _url_template(script_root, "accounts.profile", ("username",), True, ())(name)
    return Markup(f'<a class="member-link" href="{escape(href)}">{escape(name)}</a>')


def _site_description(configured: str | None) -> str:
    """The footer's line: the stock one in the reader's language, a site's own as written."""
    if not configured or configured == "Special interest groups, the BBS way.":
        return _("Special interest groups, the BBS way.")
    return configured


def _header_items(actor: permissions.Actor) -> list[Any]:
    """Values other features add to the header (unread notifications, the mod queue size). A
    provider answers one item, a list of items, or None."""
    cached = g.get("forum_header")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    items = []
    for provider in hooks.header_items.get():
        item = provider(actor)
        if isinstance(item, list):
            items.extend(item)
        elif item:
            items.append(item)
    g.forum_header = items
    return items


def header_counts(user_id: int) -> dict[str, int]:
    """The counts features show in a member's header (hooks.header_counts), by name: one
    statement a request for all of them."""
    cached = g.get("forum_header_counts")
    if cached is not None and cached[0] == user_id:
        return cached[1]  # type: ignore[no-any-return]
    counters = hooks.header_counts.get()
    names = tuple(counters)
    counts: dict[str, int] = {}
    if names:
        # A lambda_stmt, built once per process for the app's set of counts (track_on): every
        # member's page runs it, and building it cost many times what running it does (the
        # header's statements, issue 17; one statement, not one per feature, in the seventh
        # session: bench/page_cpu.py frame_member).
        statement = lambda_stmt(lambda: _count_row(), track_on=[",".join(names)])
        row = read_columns(statement, {"user_id": user_id}).one()
        counts = {name: int(value or 0) for name, value in zip(names, row, strict=True)}
    g.forum_header_counts = (user_id, counts)
    return counts


def header_count_changed(user_id: int, name: str, by: int) -> None:
    """A feature changed one of the member's header counts after this request read them (a
    topic page read notifications): the header shows the new count without reading again."""
    cached = g.get("forum_header_counts")
    if cached is not None and cached[0] == user_id and name in cached[1]:
        cached[1][name] = max(0, cached[1][name] + by)


def _count_row() -> Any:
    user_id: Any = bindparam("user_id")
    return select(*(count(user_id) for count in hooks.header_counts.get().values()))


def _unavailable(title: str, message: str) -> Any:
    """A 503 that needs no database: the member is not loaded again (after_request hooks ask
    for current_user), and the page skips base.html's context processors."""
    g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
    title, message = str(title), str(message)
    headers = {"Retry-After": "5"}
    if wants_json():
        body = {"error": {"status": 503, "title": title, "message": message}}
        return jsonify(body), 503, headers
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(
        title=title, message=message, site_name=settings.get("site_name", read=False)
    )
    return page, 503, headers


def unless_read_only(action: Callable[[], Any], what: str) -> None:
    """Run a write a page makes on the side (a member's read position, a visit). While the
    database's storage refuses writes (read-only or full), the page goes on without it and one
    line is logged; any other error propagates."""
    try:
        action()
    except Exception as exc:
        refused = storage_refused(exc)
        if refused is None:
            raise
        log.warning(
            "read-only: %s not saved on %s %s: %s", what, request.method, request.path, refused
        )


__all__ = [
    "Invalid",
    "absolute_url_for",
    "error_response",
    "fixed_url",
    "form_error",
    "redirect_back",
    "safe_next",
    "site_url",
    "viewer",
    "wants_json",
]
