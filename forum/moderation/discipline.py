"""Member discipline (warn, silence, suspend, ban and lifting them) and sysops' notes on members."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from .. import counters, events, permissions
from ..accounts.models import User
from ..accounts.services import revoke_sessions
from ..db import transaction
from ..errors import Conflict, Forbidden, Invalid
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import (
    DISCIPLINE_BAN,
    DISCIPLINE_SUSPEND,
    REQUEST_DENIED,
    REQUEST_PENDING,
    JoinRequest,
    Membership,
    Sig,
    SigDiscipline,
)
from ..timeutil import utcnow
from .common import (
    actor_id,
    check_until,
    clean_note,
    clean_reason,
    log_action,
    member_or_404,
    sig_or_none,
)
from .models import (
    MemberNote,
    MemberWarning,
)

# --- member discipline ----------------------------------------------------------------------

# What each kind of discipline (MemberDisciplined.kind) is called in the moderation log.
LOG_ACTIONS = {
    "warned": "warn_member",
    "silenced": "silence_member",
    "suspended": "suspend_member",
    "banned": "ban_member",
    "lifted_silence": "lift_silence",
    "lifted_suspension": "lift_suspension",
    "lifted_ban": "lift_ban",
    "removed": "remove_from_sig",
}
# A ban limited to one SIG is logged apart from a site-wide one.
SIG_LOG_ACTIONS = {"banned": "ban_from_sig", "lifted_ban": "lift_sig_ban"}


def _target(actor: Actor, user_id: int, sig_id: int | None = None) -> tuple[User, Sig | None]:
    """The member to discipline, and the SIG it is limited to (None: site-wide), when the
    policy lets the actor discipline them there."""
    user = member_or_404(user_id)
    sig = sig_or_none(actor, sig_id)
    permissions.require_discipline(actor, user, sig)
    return user, sig


def _membership(sig: Sig, user: User) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user.id)
    )


def _disciplined(
    actor: Actor,
    user: User,
    kind: str,
    sig: Sig | None,
    reason: str,
    *,
    until: datetime | None = None,
    post_id: int | None = None,
) -> None:
    """Log it and tell the member (MemberDisciplined), in the verb's transaction."""
    log_action(
        actor,
        (sig is not None and SIG_LOG_ACTIONS.get(kind)) or LOG_ACTIONS[kind],
        sig_id=sig.id if sig else None,
        user_id=user.id,
        post_id=post_id,
        reason=reason,
        details=f"until {until:%Y-%m-%d %H:%M} UTC" if until else "",
        params={"until": until.astimezone(UTC).isoformat()} if until else None,
    )
    events.publish(
        events.MemberDisciplined(
            user_id=user.id,
            kind=kind,
            actor_id=actor_id(actor),
            sig_id=sig.id if sig else None,
            reason=reason,
        )
    )


def warn_member(
    actor: Actor, user_id: int, reason: str, sig_id: int | None = None, post_id: int | None = None
) -> MemberWarning:
    """Give a member a warning they will see (in a SIG for SIG sysops, or site-wide)."""
    user, sig = _target(actor, user_id, sig_id)
    reason = clean_reason(reason, required=True)
    with transaction() as session:
        warning = MemberWarning(
            user_id=user.id,
            actor_id=actor_id(actor),
            sig_id=sig.id if sig else None,
            post_id=post_id,
            reason=reason,
        )
        session.add(warning)
        _disciplined(actor, user, "warned", sig, reason, post_id=post_id)
    return warning


def silence_member(actor: Actor, user_id: int, until: datetime | None, reason: str) -> User:
    """Site-wide read-only until a date."""
    user, _ = _target(actor, user_id)
    until = check_until(until)
    reason = clean_reason(reason, required=True)
    with transaction():
        user.silenced_until = until
        user.silence_reason = reason
        _disciplined(actor, user, "silenced", None, reason, until=until)
    return user


def suspend_member(
    actor: Actor, user_id: int, until: datetime | None, reason: str, sig_id: int | None = None
) -> User:
    """Bar a member from writing in one SIG (its sysops) or everywhere (the global sysop)."""
    user, sig = _target(actor, user_id, sig_id)
    until = check_until(until)
    reason = clean_reason(reason, required=True)
    with transaction():
        if sig is not None:
            membership = _membership(sig, user)
            if membership is None:
                raise Invalid(
                    None,
                    _l(
                        "%(username)s is not a member of %(name)s.",
                        username=user.username,
                        name=sig.name,
                    ),
                )
            _end_sig_disciplines(user, sig, DISCIPLINE_SUSPEND)
            db.session.add(
                SigDiscipline(
                    user_id=user.id,
                    sig_id=sig.id,
                    kind=DISCIPLINE_SUSPEND,
                    until=until,
                    reason=reason,
                    by_id=actor_id(actor),
                )
            )
        else:
            user.suspended_until = until
            user.suspension_reason = reason
        _disciplined(actor, user, "suspended", sig, reason, until=until)
    permissions.forget_memberships(user)
    return user


def _end_sig_disciplines(user: User, sig: Sig, kind: str) -> int:
    """Lift the member's active suspensions (or bans) in the SIG; how many there were."""
    now = utcnow()
    active = [
        d
        for d in db.session.scalars(
            select(SigDiscipline).where(
                SigDiscipline.user_id == user.id,
                SigDiscipline.sig_id == sig.id,
                SigDiscipline.kind == kind,
                SigDiscipline.lifted_at.is_(None),
            )
        )
        if d.is_active(now)
    ]
    for d in active:
        d.lifted_at = now
    return len(active)


def remove_from_sig(
    actor: Actor,
    user_id: int,
    sig_id: int,
    reason: str,
    *,
    ban: bool = False,
    until: datetime | None = None,
) -> User:
    """Take a member out of a SIG (its sysops, or the global sysop); with `ban`, they may not
    join it again (until `until`, or until the ban is lifted) and no longer read it unless it is
    public. The ban is kept apart from the membership: leaving and re-joining changes nothing."""
    user, sig = _target(actor, user_id, sig_id)
    assert sig is not None
    reason = clean_reason(reason, required=True)
    if until is not None:
        until = check_until(until)
    with transaction() as session:
        membership = _membership(sig, user)
        if membership is None and not ban:
            raise Conflict(
                _l(
                    "%(username)s is not a member of %(name)s.",
                    username=user.username,
                    name=sig.name,
                )
            )
        if ban and permissions.sig_ban(user, sig) is not None:
            raise Conflict(
                _l(
                    "%(username)s is already banned from %(name)s.",
                    username=user.username,
                    name=sig.name,
                )
            )
        if membership is not None:
            session.delete(membership)
            counters.count_sig_members(sig, -1)
            events.publish(events.MemberLeftSig(sig_id=sig.id, user_id=user.id))
        if ban:
            session.add(
                SigDiscipline(
                    user_id=user.id,
                    sig_id=sig.id,
                    kind=DISCIPLINE_BAN,
                    until=until,
                    reason=reason,
                    by_id=actor_id(actor),
                )
            )
            # A request to join waiting for a decision is answered: no.
            for request in session.scalars(
                select(JoinRequest).where(
                    JoinRequest.sig_id == sig.id,
                    JoinRequest.user_id == user.id,
                    JoinRequest.status == REQUEST_PENDING,
                )
            ):
                request.status = REQUEST_DENIED
                request.decided_at = utcnow()
                request.decided_by_id = actor_id(actor)
            _disciplined(actor, user, "banned", sig, reason, until=until)
        else:
            _disciplined(actor, user, "removed", sig, reason)
    permissions.forget_memberships(user)
    return user


def lift_sig_ban(actor: Actor, user_id: int, sig_id: int, reason: str = "") -> User:
    """Let a member banned from a SIG join it again (they are not made a member)."""
    user, sig = _target(actor, user_id, sig_id)
    assert sig is not None
    reason = clean_reason(reason)
    with transaction():
        if not _end_sig_disciplines(user, sig, DISCIPLINE_BAN):
            raise Conflict(
                _l(
                    "%(username)s is not banned from %(name)s.",
                    username=user.username,
                    name=sig.name,
                )
            )
        _disciplined(actor, user, "lifted_ban", sig, reason)
    permissions.forget_memberships(user)
    return user


def ban_member(actor: Actor, user_id: int, reason: str) -> User:
    """Ban site-wide: every session ends now and the member cannot log in again."""
    user, _ = _target(actor, user_id)
    reason = clean_reason(reason, required=True)
    if user.is_banned:
        raise Conflict(_l("%(username)s is already banned.", username=user.username))
    with transaction():
        user.banned_at = utcnow()
        user.ban_reason = reason
        revoke_sessions(user)  # joins this transaction: rotates the token, SessionsRevoked
        _disciplined(actor, user, "banned", None, reason)
    return user


def lift_silence(actor: Actor, user_id: int, reason: str = "") -> User:
    user, _ = _target(actor, user_id)
    reason = clean_reason(reason)
    if not user.is_silenced():
        raise Conflict(_l("%(username)s is not silenced.", username=user.username))
    with transaction():
        user.silenced_until = None
        user.silence_reason = None
        _disciplined(actor, user, "lifted_silence", None, reason)
    return user


def lift_suspension(
    actor: Actor, user_id: int, sig_id: int | None = None, reason: str = ""
) -> User:
    user, sig = _target(actor, user_id, sig_id)
    reason = clean_reason(reason)
    with transaction():
        if sig is not None:
            if not _end_sig_disciplines(user, sig, DISCIPLINE_SUSPEND):
                raise Conflict(
                    _l(
                        "%(username)s is not suspended in %(name)s.",
                        username=user.username,
                        name=sig.name,
                    )
                )
        else:
            if not user.is_suspended():
                raise Conflict(_l("%(username)s is not suspended.", username=user.username))
            user.suspended_until = None
            user.suspension_reason = None
        _disciplined(actor, user, "lifted_suspension", sig, reason)
    permissions.forget_memberships(user)
    return user


def lift_ban(actor: Actor, user_id: int, reason: str = "") -> User:
    user, _ = _target(actor, user_id)
    reason = clean_reason(reason)
    if not user.is_banned:
        raise Conflict(_l("%(username)s is not banned.", username=user.username))
    with transaction():
        user.banned_at = None
        user.ban_reason = None
        _disciplined(actor, user, "lifted_ban", None, reason)
    return user


def acknowledge_warnings(actor: Actor) -> int:
    """The member has read their warnings."""
    if actor is None:
        raise Forbidden(_l("Log in first."))
    with transaction() as session:
        warnings = session.scalars(
            select(MemberWarning).where(
                MemberWarning.user_id == actor.id, MemberWarning.acknowledged_at.is_(None)
            )
        ).all()
        now = utcnow()
        for warning in warnings:
            warning.acknowledged_at = now
    return len(warnings)


# --- notes on members -----------------------------------------------------------------------
def add_member_note(actor: Actor, user_id: int, body: str, sig_id: int | None = None) -> MemberNote:
    """A private note about a member, filed under a SIG the actor moderates: that SIG's sysops
    (and the global sysop) read it. A site-wide note (no SIG) is the global sysop's."""
    if not permissions.can_see_member_notes(actor):
        raise Forbidden(_l("Only sysops keep notes on members."))
    assert actor is not None
    user = member_or_404(user_id)
    sig = sig_or_none(actor, sig_id)
    if sig is not None and not permissions.is_sig_sysop(actor, sig):
        raise Forbidden(_l("You do not moderate %(name)s.", name=sig.name))
    if sig is None and not permissions.can_read_site_records(actor):
        raise Forbidden(_l("Only the sysop keeps site-wide notes: choose one of your SIGs."))
    body = clean_note(body)
    with transaction() as session:
        note = MemberNote(
            user_id=user.id, author_id=actor.id, sig_id=sig.id if sig else None, body=body
        )
        session.add(note)
        log_action(actor, "add_member_note", sig_id=sig.id if sig else None, user_id=user.id)
    return note
