"""A deleted account's old name is retired: no one else may register it, since others' posts
still say "@ada" and "ada wrote" and their links would lead to the newcomer.

The forum keeps no copy of the erased name (GDPR art. 17), only enough to refuse it: an
HMAC-SHA256 of the lower-cased name keyed with the site's SECRET_KEY (a purpose of its own in
the message, so the digest is used for nothing else). A dump without the site's configuration
cannot be tried against a list of names. A name is checked against SECRET_KEY and each of
SECRET_KEY_FALLBACKS, so rotating the key keeps the retired names retired while the old key
stays among the fallbacks.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from .models import RetiredUsername

_PURPOSE = b"forum.accounts.retired v1:"


def _as_bytes(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode("utf-8")


def _keys() -> list[bytes]:
    config = current_app.config
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, (str, bytes)):
        fallbacks = [fallbacks]
    return [_as_bytes(k) for k in [config["SECRET_KEY"], *fallbacks] if k]


def _digest(key: bytes, username: str) -> str:
    message = _PURPOSE + username.strip().lower().encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def retire(username: str) -> None:
    """Record the name as retired, in the caller's transaction (accounts.deletion)."""
    digest = _digest(_keys()[0], username)
    if db.session.get(RetiredUsername, digest) is None:
        db.session.add(RetiredUsername(digest=digest))


def is_retired(username: str) -> bool:
    """Whether the name (any case) belonged to an account that was deleted."""
    digests = [_digest(key, username) for key in _keys()]
    found = db.session.scalar(
        select(RetiredUsername.digest).where(RetiredUsername.digest.in_(digests)).limit(1)
    )
    return found is not None
