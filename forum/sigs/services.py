"""SIG verbs: create and edit SIGs, join and leave, decide join requests, appoint SIG sysops,
make and revoke invite links and join through one."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from .. import counters, events, permissions
from ..accounts.models import User
from ..db import is_valid_id, lock_for_write, transaction
from ..errors import Conflict, Forbidden, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import said_reason
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
    SigInvite,
)

# A request to join's words: what `join_requests.message` holds.
MAX_REQUEST_MESSAGE = 500

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")


def _validate(name: str, slug: str, description: str, visibility: str, language: str) -> None:
    if not 2 <= len(name.strip()) <= 100:
        raise Invalid("name", _l("Give the SIG a name of 2 to 100 characters."))
    if not SLUG_RE.match(slug):
        raise Invalid("slug", _l("Use 3 to 64 lower-case letters, digits and hyphens."))
    require_at_most("description", description, 2000, "description")
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
                reason=said_reason(ban.reason),
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
    message = message.strip()
    require_at_most("message", message, MAX_REQUEST_MESSAGE, "message")
    sig = db.session.scalar(select(Sig).where(Sig.slug == slug.strip().lower()))
    if sig is None or not permissions.can_request_to_join(actor, sig):
        return None
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


# --- invite links ---------------------------------------------------------------------------
# How long a new link holds: a day, a week, a month, or (None) until revoked.
INVITE_EXPIRY_DAYS: dict[str, int | None] = {"day": 1, "week": 7, "month": 30, "never": None}
MAX_INVITE_USES = 10_000
INVITE_PREFIX_CHARS = 6  # of the token, kept in the clear so the sysops tell links apart


@dataclass(frozen=True)
class NewInvite:
    invite: SigInvite
    token: str  # shown to the sysop once, never stored


def invite_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_sig_invite(
    actor: Actor, sig_id: int, *, expires: str = "never", max_uses: int | None = None
) -> NewInvite:
    """A SIG's sysop makes an invite link to it that holds for `expires` (a key of
    INVITE_EXPIRY_DAYS) and lets in up to `max_uses` members (None: any number). The token is
    in the answer and nowhere else."""
    sig = _get(sig_id)
    permissions.require_manage_sig_invites(actor, sig)
    assert actor is not None
    if expires not in INVITE_EXPIRY_DAYS:
        raise Invalid("expires", _l("Choose when the link expires."))
    if max_uses is not None and not 1 <= max_uses <= MAX_INVITE_USES:
        raise Invalid(
            "max_uses",
            _l("Allow from 1 to %(limit)s uses, or leave it empty.", limit=MAX_INVITE_USES),
        )
    days = INVITE_EXPIRY_DAYS[expires]
    token = secrets.token_urlsafe(24)
    now = utcnow()
    with transaction() as session:
        invite = SigInvite(
            sig_id=sig.id,
            token_hash=invite_token_hash(token),
            prefix=token[:INVITE_PREFIX_CHARS],
            created_by_id=actor.id,
            created_at=now,
            expires_at=now + timedelta(days=days) if days else None,
            max_uses=max_uses,
        )
        session.add(invite)
        session.flush()
        events.publish(
            events.SigInviteCreated(invite_id=invite.id, sig_id=sig.id, actor_id=actor.id)
        )
    return NewInvite(invite=invite, token=token)


def revoke_sig_invite(actor: Actor, sig_id: int, invite_id: int) -> SigInvite:
    """A SIG's sysop revokes one of its invite links (one of another SIG is a 404)."""
    sig = _get(sig_id)
    permissions.require_manage_sig_invites(actor, sig)
    assert actor is not None
    invite = db.session.get(SigInvite, invite_id) if is_valid_id(invite_id) else None
    if invite is None or invite.sig_id != sig.id:
        raise NotFound(_l("No such invite link."))
    if invite.revoked_at is not None:
        raise Conflict(_l("That link was already revoked."))
    with transaction():
        invite.revoked_at = utcnow()
        invite.revoked_by_id = actor.id
        events.publish(
            events.SigInviteRevoked(invite_id=invite.id, sig_id=sig.id, actor_id=actor.id)
        )
    return invite


def find_sig_invite(slug: str, token: str) -> tuple[Sig, SigInvite]:
    """The SIG and invite link a /s/<slug>/invite/<token> address names, revoked or spent ones
    too. A wrong token is the same NotFound as a SIG that does not exist, so the address tells
    nothing of a private SIG to whoever guesses at it."""
    invite = None
    if 0 < len(token) <= 100:
        invite = db.session.scalar(
            select(SigInvite).where(SigInvite.token_hash == invite_token_hash(token))
        )
    sig = db.session.get(Sig, invite.sig_id) if invite is not None else None
    if sig is None or invite is None or sig.slug != slug:
        raise NotFound(permissions.NO_SUCH_SIG)
    return sig, invite


def join_by_invite(actor: Actor, slug: str, token: str) -> Membership:
    """Join the SIG an invite link names, at once, whatever its visibility: counted as one use
    of the link. Refused (nothing changed) when the link no longer holds, or the member may
    not join the SIG; Conflict for a member of it already."""
    sig, invite = find_sig_invite(slug, token)
    if actor is None:
        raise Invalid(None, _l("Log in to join a SIG."))
    if permissions.is_member(actor, sig):
        raise Conflict(_l("You are already a member of %(name)s.", name=sig.name))
    problem = permissions.invite_join_problem(actor, sig)
    if problem:
        raise Forbidden(problem)
    with transaction() as session:
        # The SIG's lock orders this join after any other one: two last uses of a link (or two
        # joins of one member) cannot both go through.
        lock_for_write(Sig, sig.id, refresh=False)
        session.refresh(invite, with_for_update=True)
        problem = permissions.sig_invite_problem(invite)
        if problem:
            raise Conflict(problem)
        if session.scalar(
            select(Membership.id).where(Membership.sig_id == sig.id, Membership.user_id == actor.id)
        ):
            raise Conflict(_l("You are already a member of %(name)s.", name=sig.name))
        membership = add_member_in_tx(sig, actor.id)
        invite.uses += 1
        # A request to join that waited is answered by the link: it leaves the sysops' list.
        session.execute(
            update(JoinRequest)
            .where(
                JoinRequest.sig_id == sig.id,
                JoinRequest.user_id == actor.id,
                JoinRequest.status == REQUEST_PENDING,
            )
            .values(status=REQUEST_APPROVED, decided_at=utcnow())
        )
    permissions.forget_memberships(actor)
    return membership
