"""Read models for account pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .. import permissions
from ..extensions import db
from ..sigs.models import Membership, Sig
from ..topics.models import Post, Topic
from .models import User
from .services import get_member


@dataclass
class ProfilePage:
    member: User
    memberships: Sequence[tuple[Membership, Sig]]
    recent_posts: Sequence[tuple[Post, Topic, Sig]]
    is_self: bool


def profile_page(current: Any, username: str, recent: int = 10) -> ProfilePage:
    viewer = permissions.actor(current)
    member = get_member(username)
    memberships = list(
        db.session.execute(
            select(Membership, Sig)
            .join(Sig, Sig.id == Membership.sig_id)
            .where(Membership.user_id == member.id, permissions.visible_sigs_clause(viewer))
            .order_by(Sig.name)
        )
    )
    recent_posts = list(
        db.session.execute(
            select(Post, Topic, Sig)
            .join(Topic, Topic.id == Post.topic_id)
            .join(Sig, Sig.id == Topic.sig_id)
            .where(
                Post.user_id == member.id,
                permissions.public_posts_clause(),
                Topic.deleted_at.is_(None),
                permissions.readable_sigs_clause(viewer),
            )
            .order_by(Post.created_at.desc())
            .limit(recent)
        )
    )
    return ProfilePage(
        member=member,
        memberships=memberships,
        recent_posts=recent_posts,
        is_self=viewer is not None and viewer.id == member.id,
    )


@dataclass
class MemberCard:
    """What the card shown on a member's name says: who they are to the reader."""

    member: User
    # SIGs both belong to (each one the reader sees, since they belong to it too).
    in_common: list[Sig]
    is_self: bool
    # The viewer moderates something: the card says more of the member's standing.
    for_sysop: bool


def member_card(current: Any, username: str) -> MemberCard:
    """The card on a member's name: joined, posts, SIGs in common (two queries beyond the
    viewer's memberships)."""
    viewer = permissions.actor(current)
    member = get_member(username)
    in_common = list(
        db.session.scalars(
            select(Sig)
            .join(Membership, Membership.sig_id == Sig.id)
            .where(permissions.sigs_in_common(viewer, member))
            .order_by(Sig.name)
        )
    )
    return MemberCard(
        member=member,
        in_common=in_common,
        is_self=viewer is not None and viewer.id == member.id,
        for_sysop=permissions.can_moderate_anything(viewer),
    )
