"""SIG verbs: create and edit SIGs, join and leave, decide join requests, appoint SIG sysops."""

from __future__ import annotations

import re

from sqlalchemy import delete, select

from .. import counters, events, permissions
from ..accounts.models import User
from ..db import is_valid_id, lock_for_write, transaction
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..timeutil import utcnow
from .models import (
    LANGUAGES,
    REQUEST_APPROVED,
    REQUEST_DENIED,
    REQUEST_PENDING,
    ROLE_MEMBER,
    ROLE_SYSOP,
    VISIBILITIES,
    JoinRequest,
    Membership,
    Sig,
)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")


def _validate(name: str, slug: str, description: str, visibility: str, language: str) -> None:
    if not 2 <= len(name.strip()) <= 100:
        raise Invalid("name", _l("Give the SIG a name of 2 to 100 characters."))
    if not SLUG_RE.match(slug):
        raise Invalid("slug", _l("Use 3 to 64 lower-case letters, digits and hyphens."))
    if len(description) > 2000:
        raise Invalid("description", _l("Keep the description under 2,000 characters."))
    if visibility not in VISIBILITIES:
        raise Invalid("visibility", _l("Choose public, members-only or private."))
    if language not in LANGUAGES:
        raise Invalid("language", _l("Choose English, German or Spanish."))


def create_sig(
    actor: Actor,
    *,
    name: str,
    slug: str,
    description: str = "",
    visibility: str = "public",
    language: str = "en",
) -> Sig:
    permissions.require_global_sysop(actor)
    slug = slug.strip().lower()
    _validate(name, slug, description, visibility, language)
    with transaction() as session:
        if session.scalar(select(Sig.id).where(Sig.slug == slug)):
            raise Conflict(_l("A SIG with that address already exists."))
        sig = Sig(
            name=name.strip(),
            slug=slug,
            description=description.strip(),
            visibility=visibility,
            language=language,
        )
        session.add(sig)
        session.flush()
        events.publish(events.SigCreated(sig_id=sig.id))
    return sig


def update_sig(
    actor: Actor,
    sig_id: int,
    *,
    name: str,
    description: str,
    visibility: str,
    language: str,
) -> Sig:
    permissions.require_global_sysop(actor)
    sig = _get(sig_id)
    _validate(name, sig.slug, description, visibility, language)
    with transaction():
        changed_visibility = sig.visibility != visibility
        changed_language = sig.language != language
        sig.name = name.strip()
        sig.description = description.strip()
        sig.visibility = visibility
        sig.language = language
        events.publish(
            events.SigChanged(
                sig_id=sig.id, visibility_changed=changed_visibility or changed_language
            )
        )
    return sig


def set_archived(actor: Actor, sig_id: int, archived: bool) -> Sig:
    permissions.require_global_sysop(actor)
    sig = _get(sig_id)
    with transaction():
        sig.archived_at = utcnow() if archived else None
        events.publish(events.SigChanged(sig_id=sig.id))
    return sig


def _get(sig_id: int) -> Sig:
    sig = db.session.get(Sig, sig_id) if is_valid_id(sig_id) else None
    if sig is None:
        raise NotFound(_l("No such SIG."))
    return sig


def join_sig(actor: Actor, sig_id: int) -> Membership:
    """Join a public or members-only SIG (private ones are joined by request)."""
    if actor is None:
        raise Invalid(None, _l("Log in to join a SIG."))
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    if permissions.is_member(actor, sig):
        raise Conflict(_l("You are already a member of this SIG."))
    ban = permissions.sig_ban(actor, sig)
    if ban is not None:
        raise Invalid(
            None,
            _l(
                "You are banned from %(name)s and cannot join it: %(reason)s",
                name=sig.name,
                reason=ban.reason,
            ),
        )
    if permissions.joins_by_request(sig) or not permissions.can_join_sig(actor, sig):
        raise Invalid(None, _l("You cannot join this SIG."))
    with transaction():
        # As a post that joins does: a join racing it finds the membership made.
        lock_for_write(Sig, sig.id, refresh=False)
        membership = add_member_in_tx(sig, actor.id)
    permissions.forget_memberships(actor)
    return membership


def add_member_in_tx(sig: Sig, user_id: int) -> Membership:
    """Make a member of the SIG in the caller's transaction (joining, or posting in a public
    SIG, which joins it). The caller checked that they may, and holds the SIG's write lock;
    forget_memberships after it. A membership made meanwhile (the same member's two posts at
    once) is kept as it is."""
    session = db.session
    existing = session.scalar(
        select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user_id)
    )
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    membership = Membership(sig_id=sig.id, user_id=user_id, role=ROLE_MEMBER)
    session.add(membership)
    counters.count_sig_members(sig, +1)
    session.flush()
    events.publish(events.MemberJoinedSig(sig_id=sig.id, user_id=user_id))
    return membership


def request_to_join(actor: Actor, slug: str, message: str = "") -> JoinRequest | None:
    """Ask to join a private SIG by its address.

    The answer is the same whether or not such a SIG exists (None when nothing was filed), so
    the form cannot be used to find private SIGs.
    """
    if actor is None:
        raise Invalid(None, _l("Log in to ask to join a SIG."))
    sig = db.session.scalar(select(Sig).where(Sig.slug == slug.strip().lower()))
    if sig is None or not permissions.can_request_to_join(actor, sig):
        return None
    message = message.strip()[:500]
    with transaction() as session:
        pending = session.scalar(
            select(JoinRequest.id).where(
                JoinRequest.sig_id == sig.id,
                JoinRequest.user_id == actor.id,
                JoinRequest.status == REQUEST_PENDING,
            )
        )
        if pending is not None:
            return None
        request = JoinRequest(sig_id=sig.id, user_id=actor.id, message=message)
        session.add(request)
        session.flush()
        events.publish(events.JoinRequested(request_id=request.id, sig_id=sig.id, user_id=actor.id))
    return request


def pending_request(actor: Actor, sig: Sig) -> JoinRequest | None:
    if actor is None:
        return None
    return db.session.scalar(
        select(JoinRequest).where(
            JoinRequest.sig_id == sig.id,
            JoinRequest.user_id == actor.id,
            JoinRequest.status == REQUEST_PENDING,
        )
    )


def decide_join_request(actor: Actor, request_id: int, approve: bool) -> JoinRequest:
    request = db.session.get(JoinRequest, request_id) if is_valid_id(request_id) else None
    sig = db.session.get(Sig, request.sig_id) if request is not None else None
    # A request is its SIG's sysops' business: to anyone else it does not exist.
    if request is None or sig is None or not permissions.is_sig_sysop(actor, sig):
        raise NotFound(_l("No such request."))
    assert actor is not None
    if request.status != REQUEST_PENDING:
        raise Conflict(_l("That request was already decided."))
    requester = db.session.get(User, request.user_id)
    if approve and permissions.sig_ban(requester, sig) is not None:
        raise Conflict(_l("That member is banned from this SIG: lift the ban first."))
    with transaction() as session:
        request.status = REQUEST_APPROVED if approve else REQUEST_DENIED
        request.decided_at = utcnow()
        request.decided_by_id = actor.id
        already = session.scalar(
            select(Membership.id).where(
                Membership.sig_id == sig.id, Membership.user_id == request.user_id
            )
        )
        if approve and not already:
            session.add(Membership(sig_id=sig.id, user_id=request.user_id, role=ROLE_MEMBER))
            counters.count_sig_members(sig, +1)
            events.publish(events.MemberJoinedSig(sig_id=sig.id, user_id=request.user_id))
        events.publish(
            events.JoinRequestDecided(
                request_id=request.id,
                sig_id=sig.id,
                user_id=request.user_id,
                approved=approve,
                actor_id=actor.id,
            )
        )
    return request


def leave_sig(actor: Actor, sig_id: int) -> None:
    if actor is None:
        raise Invalid(None, _l("Log in first."))
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    membership = permissions.membership(actor, sig)
    if membership is None:
        raise Conflict(_l("You are not a member of this SIG."))
    _remove(sig, membership)
    permissions.forget_memberships(actor)


def remove_member(actor: Actor, sig_id: int, user_id: int) -> None:
    """A SIG sysop takes a member out of the SIG (for a private SIG: out of sight)."""
    sig = _get(sig_id)
    permissions.require_sig_sysop(actor, sig)
    if not is_valid_id(user_id):
        raise NotFound(_l("That member is not in this SIG."))
    membership = db.session.scalar(
        select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user_id)
    )
    if membership is None:
        raise NotFound(_l("That member is not in this SIG."))
    _remove(sig, membership)


def _remove(sig: Sig, membership: Membership) -> None:
    with transaction() as session:
        session.delete(membership)
        counters.count_sig_members(sig, -1)
        events.publish(events.MemberLeftSig(sig_id=sig.id, user_id=membership.user_id))


def leave_every_sig_in_tx(user_id: int) -> list[int]:
    """Take the member out of every SIG they belong to (their account is being deleted), inside
    the caller's transaction, and withdraw their requests to join; the SIGs' ids. Each leaving
    is published as a member's own."""
    session = db.session
    session.execute(
        delete(JoinRequest).where(
            JoinRequest.user_id == user_id, JoinRequest.status == REQUEST_PENDING
        )
    )
    memberships = list(
        session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.sig_id)
        )
    )
    sig_ids = [m.sig_id for m in memberships]
    lock_for_write(Sig, *sig_ids)
    sigs = {s.id: s for s in session.scalars(select(Sig).where(Sig.id.in_(sig_ids)))}
    for membership in memberships:
        session.delete(membership)
        counters.count_sig_members(sigs[membership.sig_id], -1)
        events.publish(events.MemberLeftSig(sig_id=membership.sig_id, user_id=user_id))
    return sig_ids


def set_sig_sysop(actor: Actor, sig_id: int, user_id: int, is_sysop: bool) -> Membership:
    """The global sysop appoints (or dismisses) a SIG sysop; appointing also joins the SIG."""
    permissions.require_global_sysop(actor)
    sig = _get(sig_id)
    user = db.session.get(User, user_id) if is_valid_id(user_id) else None
    if user is None:
        raise NotFound(_l("No such member."))
    if is_sysop and permissions.sig_ban(user, sig) is not None:
        raise Conflict(_l("That member is banned from this SIG: lift the ban first."))
    with transaction() as session:
        membership = session.scalar(
            select(Membership).where(Membership.sig_id == sig.id, Membership.user_id == user.id)
        )
        if membership is None:
            if not is_sysop:
                raise NotFound(_l("That member is not in this SIG."))
            membership = Membership(sig_id=sig.id, user_id=user.id)
            session.add(membership)
            counters.count_sig_members(sig, +1)
            events.publish(events.MemberJoinedSig(sig_id=sig.id, user_id=user.id))
        if membership.is_sysop != is_sysop:
            membership.role = ROLE_SYSOP if is_sysop else ROLE_MEMBER
            events.publish(
                events.SigSysopChanged(sig_id=sig.id, user_id=user.id, is_sysop=is_sysop)
            )
    permissions.forget_memberships(user)
    return membership
