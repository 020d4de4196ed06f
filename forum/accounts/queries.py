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
