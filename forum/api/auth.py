"""Who an API request acts for, and what it may do: a personal access token (Authorization:
Bearer), else the session cookie of the forum's own pages (which keeps its CSRF check for
writes), else a guest. Also the rate limiter's key (per token) and the JSON body's checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import g, request
from flask_login import current_user
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from .. import permissions
from ..accounts.models import User
from ..errors import ForumError, NotAuthenticated
from ..extensions import csrf
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l
from . import services
from .models import ApiToken

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# How deep a JSON body may nest: no operation takes more than two levels.
MAX_JSON_DEPTH = 32


@dataclass(frozen=True)
class Credential:
    user: User | None
    token: ApiToken | None = None

    @property
    def scopes(self) -> frozenset[str] | None:
        """The token's scopes; None for a signed-in browser (every scope the member holds);
        none at all for a guest."""
        if self.token is not None:
            return self.token.scope_set
        return None if self.user is not None else frozenset()


def credential() -> Credential:
    """Who this request acts for (resolved once per request: the rate limiter asks first)."""
    found = g.get("api_credential")
    if found is None:
        found = g.api_credential = _resolve()
    return found  # type: ignore[no-any-return]


def _resolve() -> Credential:
    header = request.headers.get("Authorization")
    if header is None:
        return Credential(permissions.actor(current_user))
    scheme, _sep, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise NotAuthenticated(_l("Send the token as “Authorization: Bearer <token>”."))
    user, token = services.authenticate(secret)
    # Flask-Login's current user for this request: the token's member, whatever cookie came
    # along. Nothing is written to the session.
    g._login_user = user
    return Credential(user, token)


def authenticate() -> None:
    """Before every API request: settle who it acts for (a credential that is not valid is
    a 401, a banned member's token a 403)."""
    found = credential()
    if found.token is None and request.method not in SAFE_METHODS:
        # A browser's cookie goes with every request to the site, whoever's page sends it: a
        # write without a token is a browser's, and needs the page's CSRF token (X-CSRFToken),
        # as every form of the site does (a guest's too, though no operation takes a guest's).
        csrf.protect()


def require(scope: str, *, guests: bool) -> None:
    """What an operation asks of the credential before anything else runs."""
    found = credential()
    if found.user is None:
        if guests:
            return
        raise NotAuthenticated(_l("Log in, or send a personal access token, first."))
    permissions.require_scope(found.scopes, scope)


def rate_limit_key() -> str:
    """Each token has its own budget; a browser its member's; a guest its address's (and so
    does a credential that is not valid, refused right after)."""
    try:
        found = credential()
    except ForumError:
        return f"ip:{request.remote_addr}"
    if found.token is not None:
        return f"token:{found.token.id}"
    if found.user is not None:
        return f"user:{found.user.id}"
    return f"ip:{request.remote_addr}"


# --- the JSON body --------------------------------------------------------------------------
def check_body() -> None:
    """Refuse, before any view or model sees it, a body that JSON can carry but the forum cannot
    store: not UTF-8, not JSON, NaN, nested too deep, a NUL or a lone surrogate in any string.
    (A body over MAX_CONTENT_LENGTH is refused with 413 when read.) The parsed value is left
    where request.get_json() finds it."""
    if request.method in SAFE_METHODS:
        return
    data = request.get_data(cache=True)
    if not data:
        return
    if not request.is_json:
        raise UnsupportedMediaType(_("Send the request body as JSON (application/json)."))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(_("The request body is not valid UTF-8 text.")) from None
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise BadRequest(_("The JSON body nests too deep.")) from None
    except ValueError as exc:
        raise BadRequest(_("The request body is not valid JSON: %(error)s", error=exc)) from None
    problem = _problem(value)
    if problem:
        raise BadRequest(problem)
    request._cached_json = (value, value)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _problem(value: Any) -> str | None:
    """Why a parsed JSON value cannot be stored as text, or None (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return _("The JSON body nests too deep.")
        if isinstance(item, dict):
            for key, inner in item.items():
                problem = _text_problem(key)
                if problem:
                    return problem
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            problem = _text_problem(item)
            if problem:
                return problem
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return _("The request contained a NUL character, which is not text.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("The request contained a lone surrogate (\\ud800–\\udfff), which is not text.")
    return None


def member() -> User | None:
    """Who an API request acts for, for the per-member budgets (forum.ratelimits, through
    hooks.request_member): a token's member, else the browser's; None for a guest and for a
    credential that is not valid (refused right after)."""
    try:
        return credential().user
    except ForumError:
        return None
