"""Personal access tokens: make one (its secret shown once), revoke one, and find the member a
presented token acts for. And a member's preferences changed at once (PATCH /me/preferences),
through each feature's own setter."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select

from .. import content, events, permissions
from ..accounts import services as accounts
from ..accounts.models import User
from ..db import transaction
from ..errors import Forbidden, Invalid, NotAuthenticated, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..messages import services as mail
from ..notifications import services as notifications
from ..notifications.digest import digest_choice
from ..notifications.mail import CATEGORIES
from ..permissions import Actor
from ..storage_faults import convenience_write
from ..timeutil import utcnow
from .models import ApiToken

log = logging.getLogger(__name__)

# A token reads `fpat_` and 43 URL-safe characters (256 random bits): the prefix lets secret
# scanners and people recognise one.
TOKEN_PREFIX = "fpat_"
# How many of its first characters the settings page shows, to tell tokens apart.
SHOWN_CHARACTERS = 12
MAX_NAME = 100
# Live (unrevoked, unexpired) tokens a member may hold at once.
MAX_TOKENS = 50
# The expiries offered, in days; 0 is "never".
EXPIRY_DAYS = (7, 30, 90, 365, 0)
# A token's "last used" is written at most this often, not on every request.
TOKEN_TOUCH_SECONDS = 60

NO_SUCH_TOKEN = _l("No such token.")
BAD_TOKEN = _l("This token is not valid: it was revoked, or never existed.")


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown to the member once, never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str) -> str:
    name = " ".join(content.clean_text(name or "").split())
    if not name:
        raise Invalid("name", _l("Name the token after what will use it."))
    require_at_most("name", name, MAX_NAME, "name")
    return name


def _check_scopes(actor: User, scopes: Iterable[str]) -> list[str]:
    wanted = set(scopes)
    allowed = permissions.token_scopes_for(actor)
    if not wanted:
        raise Invalid("scopes", _l("Choose at least one scope."))
    if not wanted <= set(allowed):
        raise Invalid("scopes", _l("You may not give a token that scope."))
    return [scope for scope in permissions.TOKEN_SCOPES if scope in wanted]


def create_token(actor: Actor, name: str, scopes: Iterable[str], expires_in_days: int) -> NewToken:
    """Make a token for the member; the secret is in the answer and nowhere else."""
    if actor is None:
        raise Invalid(None, _l("Log in first."))
    if actor.is_banned:
        raise Forbidden(_l("Your account is banned."))
    name = _check_name(name)
    chosen = _check_scopes(actor, scopes)
    if expires_in_days not in EXPIRY_DAYS:
        raise Invalid("expires", _l("Choose when the token expires."))
    now = utcnow()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction() as session:
        live = session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == actor.id, ApiToken.revoked_at.is_(None))
            .where((ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now))
        )
        if (live or 0) >= MAX_TOKENS:
            raise Invalid(
                None,
                _l("You have %(limit)s tokens: revoke one first.", limit=MAX_TOKENS),
            )
        token = ApiToken(
            user_id=actor.id,
            name=name,
            token_hash=token_hash(secret),
            prefix=secret[:SHOWN_CHARACTERS],
            scopes=" ".join(chosen),
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        session.add(token)
    return NewToken(token=token, secret=secret)


def revoke_token(actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the member's own tokens (a token of anyone else is a 404)."""
    if actor is None:
        raise Invalid(None, _l("Log in first."))
    with transaction() as session:
        token = session.get(ApiToken, token_id) if token_id > 0 else None
        if token is None or token.user_id != actor.id:
            raise NotFound(NO_SUCH_TOKEN)
        if token.revoked_at is None:
            token.revoked_at = utcnow()
    return token


def authenticate(secret: str) -> tuple[User, ApiToken]:
    """The member and token a presented secret stands for. NotAuthenticated for a secret that is
    unknown, revoked or expired; Forbidden for a banned member (who reads nothing as themselves,
    as their sessions do)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise NotAuthenticated(BAD_TOKEN)
    digest = token_hash(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        raise NotAuthenticated(BAD_TOKEN)
    if token.revoked_at is not None:
        raise NotAuthenticated(BAD_TOKEN)
    now = utcnow()
    if token.is_expired(now):
        raise NotAuthenticated(_l("This token has expired. Make a new one in your settings."))
    user = db.session.get(User, token.user_id)
    if user is None:
        raise NotAuthenticated(BAD_TOKEN)
    if user.is_banned:
        raise Forbidden(permissions.standing_problem(user))
    _touch(token)
    return user, token


def _touch(token: ApiToken) -> None:
    """Note that the token is in use, at most every TOKEN_TOUCH_SECONDS."""
    now = utcnow()
    if token.last_used_at is not None and now - token.last_used_at < timedelta(
        seconds=TOKEN_TOUCH_SECONDS
    ):
        return
    convenience_write(token, {"last_used_at": now}, "that API token %s is in use", token.id)


def forget_member(event: events.AccountDeleted) -> None:
    """The member deleted their account: their tokens go, in that transaction (a program
    holding one gets 401 from the next request)."""
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == event.user_id))


# --- a member's preferences (PATCH /api/v1/me/preferences) ----------------------------------
# Where each feature's check names its field, and where that part is in the API's body.
PREFERENCE_FIELDS = {
    "digest_frequency": "notifications.digest.frequency",
    "digest_hour": "notifications.digest.hour",
    "digest_weekday": "notifications.digest.weekday",
    "mail_from": "private_mail.accept_from",
}


def update_preferences(member: User, changes: dict[str, Any]) -> User:
    """Change what `changes` names (the API's shape, forum.api.schemas.PreferencesIn), each part
    through its feature's own setter, the settings pages' (with its checks and messages), in one
    unit of work: a refusal of any part keeps none."""
    notes = changes.get("notifications", {})
    private = changes.get("private_mail", {})
    try:
        with transaction():
            if "language" in changes:
                accounts.set_language(member, changes["language"])
            if "timezone" in changes:
                accounts.set_timezone(member, changes["timezone"])
            if "theme" in changes:
                accounts.set_theme(member, changes["theme"])
            if "keyboard_shortcuts" in changes:
                accounts.set_keyboard_shortcuts(member, changes["keyboard_shortcuts"])
            if "watch_topics_i_post_in" in notes:
                notifications.set_watch_preference(member, notes["watch_topics_i_post_in"])
            if notes.get("mail"):
                notifications.set_mail_preferences(member, notes["mail"])
            if notes.get("digest"):
                digest = notes["digest"]
                notifications.set_digest_preferences(
                    member,
                    frequency=digest.get("frequency", digest_choice(member).frequency),
                    hour=digest.get("hour"),
                    weekday=digest.get("weekday"),
                )
            if private:
                mail.set_mail_preferences(
                    member,
                    private.get("accept_from", mail.mail_from(member)),
                    private.get("notify", mail.notifies_mail(member)),
                )
    except Invalid as exc:
        if exc.field in CATEGORIES:
            exc.field = f"notifications.mail.{exc.field}"
        exc.field = PREFERENCE_FIELDS.get(exc.field or "", exc.field)
        raise
    return member
