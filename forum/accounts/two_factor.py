"""Two-factor sign-in: TOTP codes from an authenticator app, one-time recovery codes, and the
"remember this device for 30 days" cookie.

A code is checked against the step before, the step of and the step after now (clocks drift),
and never accepted for a step at or before the last one used (store: users.totp_last_step), so
a code seen over a shoulder cannot be used again. Code entry is counted per account by the same
slow-down as passwords (services._claim_attempt), on its own key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time

import pyotp
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash

from .. import settings
from ..db import transaction
from ..errors import Invalid
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..timeutil import utcnow
from . import services
from .models import RecoveryCode, User

log = logging.getLogger(__name__)

STEP_SECONDS = 30
RECOVERY_CODES = 10
# Recovery codes: 12 characters of this alphabet (60 bits), shown as xxxx-xxxx-xxxx.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
REMEMBER_SECONDS = 30 * 24 * 3600


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=str(settings.get("site_name"))
    )


def qr_svg(uri: str) -> str:
    """The QR code of an address as an inline SVG element, drawn here (no outside service)."""
    # Imported here: only the set-up page draws one, and qrcode brings Pillow (about 4 MB in
    # every worker otherwise).
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return image.to_string(encoding="unicode")  # type: ignore[no-any-return]


def clock() -> float:
    """The time codes are checked against (tests set it)."""
    return time.time()


def _step(now: float | None = None) -> int:
    return int((clock() if now is None else now) // STEP_SECONDS)


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step (now, or one either side) whose code this is; None when it is none of them."""
    code = "".join(code.split())
    if not code.isdecimal() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = _step(now)
    found = None
    for step in (current - 1, current, current + 1):
        # Every candidate is compared (in constant time), whichever matches.
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def _recovery_hash(user_id: int, code: str) -> str:
    normal = "".join(ch for ch in code.lower() if ch.isalnum())
    return hashlib.sha256(f"forum-recovery:{user_id}:{normal}".encode()).hexdigest()


def _new_recovery_codes(user_id: int) -> list[str]:
    """Replace the member's recovery codes with ten new ones; the plain codes, to show once."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.session.add_all(
        RecoveryCode(user_id=user_id, code_hash=_recovery_hash(user_id, c)) for c in codes
    )
    return codes


def recovery_codes_left(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def enable(user: User, secret: str, code: str) -> list[str]:
    """Turn two-factor sign-in on with the secret the member's app scanned, once a code from
    the app proves it; returns the ten recovery codes (shown once, kept hashed)."""
    if user.has_two_factor:
        raise Invalid(None, _l("Two-factor sign-in is already on."))
    step = _matching_step(secret, code)
    if step is None:
        raise Invalid(
            "code",
            _l("That code does not match. Check the time on your device and try the next code."),
        )
    with transaction():
        user.totp_secret = secret
        user.totp_enabled_at = utcnow()
        user.totp_last_step = step
        codes = _new_recovery_codes(user.id)
    log.info("member %s turned on two-factor sign-in", user.id)
    return codes


def _use_code(user_id: int, code: str) -> str:
    """Check a code from the app or a recovery code for this member and use it up (the row is
    locked, so two requests cannot both use one code); Invalid otherwise. "totp" or "recovery".
    """
    with transaction() as session:
        user = session.scalar(
            select(User)
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if user is None or not user.has_two_factor:
            raise Invalid("code", _l("Two-factor sign-in is not on for this account."))
        assert user.totp_secret is not None
        step = _matching_step(user.totp_secret, code)
        if step is not None:
            if user.totp_last_step is not None and step <= user.totp_last_step:
                raise Invalid(
                    "code",
                    _l("That code was used already. Wait for the next one from your app."),
                )
            user.totp_last_step = step
            return "totp"
        row = session.scalar(
            select(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _recovery_hash(user.id, code),
                RecoveryCode.used_at.is_(None),
            )
            .with_for_update()
        )
        if row is None:
            raise Invalid("code", _l("That code is not right. Try the current one from your app."))
        row.used_at = utcnow()
        return "recovery"


def check_code(user: User, code: str, ip: str | None = None) -> str:
    """The second step of a sign-in: counted per account (after a few wrong codes each next
    try waits longer, SlowDown), then checked. "totp" or "recovery"; Invalid when wrong."""
    key = f"2fa:{user.id}"
    services.claim_attempt(key)
    try:
        kind = _use_code(user.id, code)
    except Invalid:
        log.warning("two-factor code for member %s refused from %s", user.id, ip)
        raise
    services.clear_attempts(key)
    if kind == "recovery":
        log.warning("member %s signed in with a recovery code from %s", user.id, ip)
    return kind


def disable(user: User, password: str, code: str) -> None:
    """Turn two-factor sign-in off: the password and a code (or a recovery code) prove it."""
    if not check_password_hash(user.password_hash, password):
        raise Invalid("password", _l("That is not your current password."))
    check_code(user, code)
    with transaction():
        user.totp_secret = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    log.info("member %s turned off two-factor sign-in", user.id)


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """Ten new recovery codes (the old ones stop working), proven by a current code."""
    check_code(user, code)
    with transaction():
        return _new_recovery_codes(user.id)


# --- "remember this device for 30 days" ----------------------------------------------------
def _remember_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="two-factor-device")


def _fingerprint(user: User) -> str:
    # Changes with the password and with every new two-factor secret: both end the cookie.
    text = f"{user.password_hash}:{user.totp_secret}:{user.totp_enabled_at}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def remember_token(user: User) -> str:
    return _remember_serializer().dumps({"u": user.id, "f": _fingerprint(user)})


def remembered(user: User, token: str | None) -> bool:
    """Whether this browser's cookie lets the member skip the code (30 days, this member, the
    same password and two-factor secret as when it was set)."""
    if not token:
        return False
    try:
        data = _remember_serializer().loads(token, max_age=REMEMBER_SECONDS)
    except BadSignature:
        return False
    return (
        isinstance(data, dict)
        and data.get("u") == user.id
        and hmac.compare_digest(str(data.get("f", "")), _fingerprint(user))
    )
