"""Read models for the console, each in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from .. import permissions
from ..accounts.models import PENDING, User
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..sigs.models import ROLE_SYSOP, Membership, Sig
from .models import Invite

MEMBERS_PER_PAGE = 50

# Aliases are module constants (docs/architecture.md, "Data rules").
_USED_BY = aliased(User, name="used_by")


def _require(current: Any) -> permissions.Actor:
    viewer = permissions.actor(current)
    permissions.require_global_sysop(viewer)
    return viewer


def members(
    current: Any, query: str = "", status: str = "", page: int = 1
) -> tuple[list[User], bool]:
    """Members by name or email, optionally only the banned, silenced or suspended ones."""
    _require(current)
    stmt = select(User)
    query = query.strip()
    if query:
        like = f"%{query.lower().replace('%', '').replace('_', '')}%"
        stmt = stmt.where(
            or_(func.lower(User.username).like(like), func.lower(User.email).like(like))
        )
    if status == "banned":
        stmt = stmt.where(User.banned_at.is_not(None))
    elif status == "silenced":
        stmt = stmt.where(User.silenced_until > func.now())
    elif status == "suspended":
        stmt = stmt.where(User.suspended_until > func.now())
    elif status == "sysop":
        stmt = stmt.where(User.role == "sysop")
    rows = list(
        db.session.scalars(
            stmt.order_by(func.lower(User.username))
            .limit(MEMBERS_PER_PAGE + 1)
            .offset((max(page, 1) - 1) * MEMBERS_PER_PAGE)
        )
    )
    return rows[:MEMBERS_PER_PAGE], len(rows) > MEMBERS_PER_PAGE


@dataclass
class SigRow:
    sig: Sig
    sysops: list[str]


def sigs(current: Any) -> list[SigRow]:
    _require(current)
    all_sigs = list(
        db.session.scalars(select(Sig).order_by(Sig.archived_at.is_not(None), Sig.name))
    )
    sysops: dict[int, list[str]] = defaultdict(list)
    for sig_id, name in db.session.execute(
        select(Membership.sig_id, User.username)
        .join(User, User.id == Membership.user_id)
        .where(Membership.role == ROLE_SYSOP)
        .order_by(User.username)
    ):
        sysops[sig_id].append(name)
    return [SigRow(sig, sysops.get(sig.id, [])) for sig in all_sigs]


def sig_detail(current: Any, sig_id: int) -> tuple[Sig, list[User], int | None]:
    from ..moderation.models import SigModeration

    _require(current)
    sig = db.session.get(Sig, sig_id) if sig_id > 0 else None
    if sig is None:
        raise NotFound(_l("No such SIG."))
    sysops = list(
        db.session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.sig_id == sig.id, Membership.role == ROLE_SYSOP)
            .order_by(User.username)
        )
    )
    threshold = db.session.scalar(
        select(SigModeration.approval_threshold).where(SigModeration.sig_id == sig.id)
    )
    return sig, sysops, threshold


def invites(current: Any) -> list[tuple[Invite, str | None]]:
    _require(current)
    used_by = _USED_BY
    return [
        (invite, name)
        for invite, name in db.session.execute(
            select(Invite, used_by.username)
            .outerjoin(used_by, used_by.id == Invite.used_by_id)
            .order_by(Invite.created_at.desc())
            .limit(100)
        )
    ]


def dashboard(current: Any) -> dict[str, int]:
    _require(current)
    return {
        "members": db.session.scalar(select(func.count(User.id))) or 0,
        "sigs": db.session.scalar(select(func.count(Sig.id))) or 0,
        "banned": db.session.scalar(select(func.count(User.id)).where(User.banned_at.is_not(None)))
        or 0,
        "pending": db.session.scalar(select(func.count(User.id)).where(User.approval == PENDING))
        or 0,
    }


def pending_accounts(current: Any, limit: int = 200) -> list[User]:
    """New accounts waiting for approval, oldest first."""
    _require(current)
    return list(
        db.session.scalars(
            select(User).where(User.approval == PENDING).order_by(User.created_at, User.id)
        ).all()[:limit]
    )
