"""/api/v1/me/…: what a member sets for themselves in /settings — the members they ignore
(forum.messages) and their preferences (language, time zone, colours, keyboard shortcuts,
notifications and their mail, the digest, private mail) — thin views over the same services and
read models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..accounts import services as account_services
from ..accounts.former import is_former
from ..accounts.models import User
from ..errors import Conflict, Invalid
from ..i18n import gettext as _
from ..messages import queries as mail_queries
from ..messages import services as mail_services
from ..notifications import services as notification_services
from ..notifications.digest import digest_choice
from ..notifications.mail import mail_choices
from . import bp
from . import services as api_services
from .spec import operation
from .views import READ, WRITE, _context, _viewer

if TYPE_CHECKING:
    from . import schemas
else:  # pydantic's models, loaded on the API's first request (forum.api.spec)
    from .spec import schemas

TAGS = ("Members",)


def _me() -> User:
    user = _viewer()
    assert user is not None  # operation() let no guest in
    return user


# --- the members I ignore -------------------------------------------------------------------
def _ignore_result(user: User | None, ignored: bool) -> schemas.IgnoreResult:
    """`member` null for a deleted account (accounts.former): its placeholder is never given."""
    member = None
    if user is not None and not is_former(user.username):
        member = schemas.MemberRef(id=user.id, username=user.username)
    return schemas.IgnoreResult(member=member, ignored=ignored)


@bp.route("/me/ignored")
@operation(READ, model="IgnoredList", tags=TAGS)
def list_ignored() -> Any:
    """List the members I ignore

    As /settings lists them, by username. I get no private mail and no notifications from
    them, and their posts are folded. A member who deleted their account is left out (their
    placeholder name is never given); `DELETE /me/ignored/{username}` with it still stops."""
    return schemas.IgnoredList(
        items=[
            schemas.MemberRef(id=u.id, username=u.username)
            for u in mail_queries.ignored_members(_me())
            if not is_former(u.username)
        ]
    )


@bp.route("/me/ignored/<username>", methods=["PUT"])
@operation(WRITE, model="IgnoreResult", tags=TAGS)
def ignore_member(username: str) -> Any:
    """Ignore a member

    As their profile's button: no private mail or mentions from them, their posts folded.
    Not myself, nor the sysop. Ignoring a member I ignore already changes nothing."""
    try:
        user = mail_services.ignore_member(_me(), username)
    except Conflict:  # ignored already: the same answer
        user = account_services.get_member(username)
    return _ignore_result(user, True)


@bp.route("/me/ignored/<username>", methods=["DELETE"])
@operation(WRITE, model="IgnoreResult", tags=TAGS)
def unignore_member(username: str) -> Any:
    """Stop ignoring a member

    Stopping for a member I do not ignore changes nothing, with the same answer. For a member
    who deleted their account (`former-<id>`), `member` is null."""
    user: User | None
    try:
        user = mail_services.unignore_member(_me(), username)
    except Conflict:  # not ignored: the same answer
        # The account was found (a missing one is NotFound); get_member refuses a deleted
        # account's name, whose answer names no one anyway.
        user = None if is_former(username) else account_services.get_member(username)
    return _ignore_result(user, False)


# --- my preferences -------------------------------------------------------------------------
def _preferences(user: User) -> schemas.Preferences:
    digest = digest_choice(user)
    return schemas.Preferences(
        language=user.language,  # type: ignore[arg-type]
        timezone=user.timezone,
        theme=user.theme,  # type: ignore[arg-type]
        keyboard_shortcuts=user.keyboard_shortcuts,
        notifications=schemas.NotificationPreferences(
            watch_topics_i_post_in=notification_services.watches_posted_topics(user),
            mail=schemas.MailPreferences(**mail_choices(user)),  # type: ignore[arg-type]
            digest=schemas.DigestPreferences(
                frequency=digest.frequency,  # type: ignore[arg-type]
                hour=digest.hour,
                weekday=digest.weekday,
            ),
        ),
        private_mail=schemas.PrivateMailPreferences(
            accept_from=mail_services.mail_from(user),  # type: ignore[arg-type]
            notify=mail_services.notifies_mail(user),
        ),
    )


def _sent(model: Any) -> dict[str, Any]:
    """The fields a PATCH sent (nested ones too), as plain values."""
    if model is None:
        return {}
    return {
        name: _sent(value) if isinstance(value, schemas.Input) else value
        for name, value in ((n, getattr(model, n)) for n in model.model_fields_set)
    }


def _empty_part(changes: dict[str, Any], prefix: str = "") -> str | None:
    """The first part sent with nothing in it (`notifications.mail`), if any."""
    for name, value in changes.items():
        if isinstance(value, dict):
            found = f"{prefix}{name}" if not value else _empty_part(value, f"{prefix}{name}.")
            if found:
                return found
    return None


@bp.route("/me/preferences")
@operation(READ, model="Preferences", tags=TAGS)
def get_preferences() -> Any:
    """Show my preferences

    What /settings offers beside the profile, the password and the address: the language, the
    time zone, the colours, keyboard shortcuts, notifications (which topics I watch, mail per
    kind, the digest) and private mail (who may write to me, and whether I hear of it)."""
    return _preferences(_me())


@bp.route("/me/preferences", methods=["PATCH"])
@operation(WRITE, model="Preferences", json="PreferencesIn", tags=TAGS)
def update_preferences() -> Any:
    """Change my preferences

    Only what is sent changes; a mail kind or a part of the digest left out keeps its choice.
    Checked as the settings page checks them, with its messages (`field` names the part at
    fault); a refusal of any part changes nothing. Answers with all of them. An empty body,
    or an empty part (`"notifications": {}`), is refused."""
    changes = _sent(_context().json)
    empty = _empty_part(changes) if changes else None
    if not changes or empty:
        raise Invalid(empty, _("Send at least one preference to change."))
    user = api_services.update_preferences(_me(), changes)
    return _preferences(user)
