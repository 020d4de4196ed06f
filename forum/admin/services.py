"""Console verbs for the global sysop: roles, SIGs (logged), invites."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from .. import events, permissions
from .. import settings as site_settings
from ..accounts.models import APPROVED, PENDING, REFUSED, ROLE_MEMBER, ROLE_SYSOP, User
from ..accounts.services import queue_account_decided_mail
from ..db import transaction
from ..errors import Conflict, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..moderation.models import ModAction
from ..permissions import Actor
from ..settings import SiteSetting
from ..sigs import services as sig_services
from ..sigs.models import Sig
from ..timeutil import utcnow
from .models import Invite


def _log(
    actor: Actor,
    action: str,
    *,
    sig_id: int | None = None,
    user_id: int | None = None,
    details: str = "",
    params: dict[str, Any] | None = None,
) -> None:
    db.session.add(
        ModAction(
            actor_id=actor.id if actor is not None else None,
            action=action,
            sig_id=sig_id,
            target_user_id=user_id,
            details=details[:500],
            params=params,
            created_at=utcnow(),
        )
    )


def set_role(actor: Actor, user_id: int, role: str) -> User:
    """Make a member the global sysop, or take that role away."""
    permissions.require_global_sysop(actor)
    assert actor is not None
    if role not in (ROLE_MEMBER, ROLE_SYSOP):
        raise Invalid("role", _l("Choose member or sysop."))
    user = db.session.get(User, user_id) if user_id > 0 else None
    if user is None:
        raise NotFound(_l("No such member."))
    if user.id == actor.id and role != ROLE_SYSOP:
        raise Invalid("role", _l("You cannot take the sysop role from yourself."))
    if user.role == role:
        raise Conflict(_l("%(username)s already has that role.", username=user.username))
    if user.is_banned and role == ROLE_SYSOP:
        raise Invalid("role", _l("Lift the ban first."))
    with transaction():
        user.role = role
        _log(actor, "set_role", user_id=user.id, details=role, params={"role": role})
        events.publish(events.SiteRoleChanged(user_id=user.id, is_sysop=role == ROLE_SYSOP))
    return user


def create_sig(actor: Actor, **fields: str) -> Sig:
    with transaction():
        sig = sig_services.create_sig(actor, **fields)
        _log(actor, "create_sig", sig_id=sig.id, details=sig.name)
    return sig


def update_sig(actor: Actor, sig_id: int, **fields: str) -> Sig:
    with transaction():
        sig = sig_services.update_sig(actor, sig_id, **fields)
        _log(
            actor,
            "update_sig",
            sig_id=sig.id,
            details=f"{sig.name} ({sig.visibility})",
            params={"name": sig.name, "visibility": sig.visibility},
        )
    return sig


def set_archived(actor: Actor, sig_id: int, archived: bool) -> Sig:
    sig = db.session.get(Sig, sig_id) if sig_id > 0 else None
    if sig is not None and sig.is_archived == archived:
        permissions.require_global_sysop(actor)
        raise Conflict(
            _l("The SIG is already archived.") if archived else _l("The SIG is not archived.")
        )
    with transaction():
        sig = sig_services.set_archived(actor, sig_id, archived)
        _log(actor, "archive_sig" if archived else "unarchive_sig", sig_id=sig.id, details=sig.name)
    return sig


def set_sig_sysop(actor: Actor, sig_id: int, username: str, is_sysop: bool) -> User:
    """Appoint a SIG sysop by name (joining them to the SIG), or dismiss one."""
    permissions.require_global_sysop(actor)
    user: User | None = db.session.scalar(
        select(User).where(db.func.lower(User.username) == username.strip().lower())
    )
    if user is None:
        raise Invalid(
            "username", _l("There is no member called “%(value)s”.", value=username.strip())
        )
    with transaction():
        sig_services.set_sig_sysop(actor, sig_id, user.id, is_sysop)
        _log(
            actor,
            "appoint_sig_sysop" if is_sysop else "dismiss_sig_sysop",
            sig_id=sig_id,
            user_id=user.id,
        )
    return user


# Who an invite is for: what `invites.note` holds.
MAX_INVITE_NOTE = 200


def create_invite(actor: Actor, note: str = "") -> Invite:
    """A one-time registration code for when registration is invite-only."""
    permissions.require_global_sysop(actor)
    assert actor is not None
    note = " ".join(note.split())
    require_at_most("note", note, MAX_INVITE_NOTE, "note")
    with transaction() as session:
        invite = Invite(code=secrets.token_urlsafe(12), note=note, created_by_id=actor.id)
        session.add(invite)
        _log(actor, "create_invite", details=note)
    return invite


def check_invite(code: str) -> None:
    """Invalid unless the code is an invite still unused (registration's first step)."""
    code = (code or "").strip()
    invite = db.session.scalar(select(Invite).where(Invite.code == code)) if code else None
    if invite is None or invite.used_at is not None:
        raise Invalid("invite", _l("That invite code is not valid or was already used."))


def consume_invite(code: str, user_id: int) -> None:
    """Use up an invite for a new account (inside the registration's transaction)."""
    code = (code or "").strip()
    with transaction() as session:
        invite = (
            session.scalar(select(Invite).where(Invite.code == code).with_for_update())
            if code
            else None
        )
        if invite is None or invite.used_at is not None:
            raise Invalid("invite", _l("That invite code is not valid or was already used."))
        invite.used_at = utcnow()
        invite.used_by_id = user_id


def update_settings(actor: Actor, changes: dict[str, Any]) -> dict[str, site_settings.Value]:
    """The global sysop changes site settings; each change is logged. This process sees
    the new values at once, the others within SETTINGS_CACHE_SECONDS."""
    permissions.require_global_sysop(actor)
    assert actor is not None
    unknown = set(changes) - set(site_settings.SETTINGS)
    if unknown:
        raise Invalid(None, _l("Unknown setting: %(names)s.", names=", ".join(sorted(unknown))))
    # Every field that breaks its rule is said at once, so the sysop corrects them in one go.
    checked, refused = {}, []
    for key, value in changes.items():
        try:
            checked[key] = site_settings.check(site_settings.SETTINGS[key], value)
        except Invalid as exc:
            refused.append(exc)
    if refused:
        first, *more = refused
        raise Invalid(first.field, first.lazy_message, more=more)
    before = site_settings.current()
    with transaction() as session:
        rows = {r.key: r for r in session.scalars(select(SiteSetting))}
        for key, value in checked.items():
            if site_settings.form_value(key, before[key]) == value:
                continue
            row = rows.get(key)
            if row is None:
                session.add(SiteSetting(key=key, value=value, updated_by_id=actor.id))
            else:
                row.value = value
                row.updated_at = utcnow()
                row.updated_by_id = actor.id
            session.add(
                ModAction(
                    actor_id=actor.id,
                    action="change_setting",
                    details=site_settings.change_details(key, before[key], value),
                    params=site_settings.change_params(key, before[key], value),
                )
            )
    site_settings.forget()
    return site_settings.current()


def decide_account(actor: Actor, user_id: int, approve: bool) -> User:
    """Approve a new account that waits for a sysop (it may post from now on), or refuse it
    (it can still log in and read). The member is notified, and mailed in their language."""
    permissions.require_global_sysop(actor)
    assert actor is not None
    with transaction() as session:
        user: User | None = (
            session.scalar(select(User).where(User.id == user_id).with_for_update())
            if user_id > 0
            else None
        )
        if user is None:
            raise NotFound(_l("No such member."))
        if user.approval != PENDING:
            raise Conflict(_l("%(username)s no longer waits for approval.", username=user.username))
        user.approval = APPROVED if approve else REFUSED
        _log(actor, "approve_account" if approve else "refuse_account", user_id=user.id)
        events.publish(events.AccountDecided(user_id=user.id, approved=approve, actor_id=actor.id))
        queue_account_decided_mail(user.id, approve)
    return user
