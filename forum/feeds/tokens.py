"""Private feed addresses: a signed token that lets a feed reader (which has no cookie) read
the feeds as one member, and nothing else.

The token names the member and a fingerprint of their session token, which rotates on "log out
everywhere", a password change and a ban: each of them revokes every private feed address too.
It grants read-only access to the feed routes alone; a banned member's token reads as a guest.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..accounts.models import User
from ..db import is_valid_id
from ..extensions import db


def _serializer(secret: str | None = None) -> URLSafeSerializer:
    return URLSafeSerializer(secret or current_app.config["SECRET_KEY"], salt="feed")


def _fingerprint(user: User) -> str:
    return _fingerprint_of(user.session_token)


def _fingerprint_of(session_token: str) -> str:
    # Not the session token itself: a feed address is pasted into other programs.
    return hashlib.sha256(f"feed:{session_token}".encode()).hexdigest()[:24]


def token_for(user: User) -> str:
    return _token(current_app.config["SECRET_KEY"], user.id, user.session_token)


@functools.lru_cache(maxsize=1024)
def _token(secret: str, user_id: int, session_token: str) -> str:
    """The same token for the same member and session token: every page of a member links their
    private feeds (twice), and signing took 2 % of a topic page (docs/benchmarks.md,
    2026-12-06)."""
    data = {"u": user_id, "s": _fingerprint_of(session_token)}
    return str(_serializer(secret).dumps(data))


class Revoked(Exception):
    """The token is not ours, or its member logged out everywhere since (or is gone)."""


def reader_for(token: str) -> User | None:
    """The member a feed token reads as: None (a guest) for a banned member; Revoked for a token
    that is not, or no longer, valid."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise Revoked() from None
    if not isinstance(data, dict):
        raise Revoked()
    user_id, fingerprint = data.get("u"), data.get("s")
    if not isinstance(user_id, int) or not is_valid_id(user_id) or not isinstance(fingerprint, str):
        raise Revoked()
    user = db.session.get(User, user_id)
    if user is None or not hmac.compare_digest(fingerprint, _fingerprint(user)):
        raise Revoked()
    return None if user.is_banned else user
