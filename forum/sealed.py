"""Secrets the forum must read again, sealed at rest with a key derived from the site's secret key.

Why: a password or an API token is kept as a hash, since the forum only checks what it is shown.
A webhook's signing secret is different: every delivery is signed with it, so the forum needs the
secret itself. Stored as it is, a leaked database dump would let anyone sign deliveries that every
receiver trusts. So the database keeps only a Fernet token (AES-128-CBC and HMAC-SHA256,
authenticated) whose key is never stored: it is derived from SECRET_KEY with HKDF-SHA256, with an
`info` that names this one purpose, so the derived key is used for nothing else (sessions and
signed links use SECRET_KEY through itsdangerous, with salts of their own). A dump without the
site's configuration reveals no secret, and a changed secret cannot be told from the token.

Rotation: `seal` always uses SECRET_KEY; `open` tries SECRET_KEY and then each of Flask's
SECRET_KEY_FALLBACKS (MultiFernet), so a site that moves to a new key and keeps the old one in the
fallbacks goes on reading what the old key sealed; `reseal` moves a token to the current key (the
`flask forum reseal-secrets` command does it for every webhook, after which the fallback can go).
Without the old key nothing opens what it sealed: `open` raises `Unreadable`, and the callers
degrade (a webhook's page asks for a new secret; its deliveries are not sent).

The format is stored, so the derivation (`_INFO`, the hash, the length) never changes without a
migration that opens every token with the old derivation and seals it with the new one.
`cryptography` is imported on first use: a page worker that never reads a secret does without it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from flask import current_app

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

# HKDF's `info`: what the derived key is for. Changing it makes every sealed value unreadable.
_INFO = b"forum.sealed v1: secrets kept at rest (webhook signing secrets)"


class Unreadable(Exception):
    """A sealed value that none of the site's keys opens: the secret key changed without the old
    one in SECRET_KEY_FALLBACKS (or the value was never sealed by this forum)."""

    def __init__(self) -> None:
        super().__init__(
            "the sealed value cannot be opened with SECRET_KEY or any of SECRET_KEY_FALLBACKS: "
            "the site's secret key changed without the old one among the fallbacks"
        )


def _as_bytes(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode("utf-8")


def _keys() -> tuple[bytes, ...]:
    """SECRET_KEY, then each fallback (newest first, as Flask lists them)."""
    config = current_app.config
    current = config.get("SECRET_KEY")
    if not current:
        raise RuntimeError("SECRET_KEY is not set: nothing can be sealed or opened")
    fallbacks = config.get("SECRET_KEY_FALLBACKS") or []
    if isinstance(fallbacks, (str, bytes)):
        fallbacks = [fallbacks]
    return (_as_bytes(current), *(_as_bytes(k) for k in fallbacks if k))


@functools.lru_cache(maxsize=8)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    import base64

    from cryptography.fernet import Fernet, MultiFernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def derive(secret_key: bytes) -> Fernet:
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret_key)
        return Fernet(base64.urlsafe_b64encode(raw))

    return MultiFernet([derive(k) for k in keys])


def seal(text: str) -> str:
    """The text sealed with SECRET_KEY: an ASCII token (164 characters for a webhook secret)."""
    return _fernet(_keys()).encrypt(text.encode("utf-8")).decode("ascii")


def open(token: str) -> str:  # (the module's verb: sealed.open(token))
    """The text a token seals, opened with SECRET_KEY or one of SECRET_KEY_FALLBACKS; `Unreadable`
    when none opens it."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(_keys()).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError, TypeError):
        raise Unreadable() from None


def reseal(token: str) -> str:
    """The same text sealed with SECRET_KEY now (`Unreadable` if no key opens it): once every
    token is resealed, the old key may leave SECRET_KEY_FALLBACKS."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(_keys()).rotate(token.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError, ValueError, TypeError):
        raise Unreadable() from None
