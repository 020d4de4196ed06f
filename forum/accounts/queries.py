"""Read models for account pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from .. import hooks, permissions
from ..extensions import db
from ..sigs.models import Membership, Sig
from ..topics.models import Post, Topic
from .models import User, UserSession
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


# --- the member's own data (GDPR arts. 15 and 20: "Download my data" in the settings) --------


def iso(when: datetime | None) -> str | None:
    """A datetime as the export writes it (ISO 8601, UTC)."""
    return when.isoformat() if when is not None else None


def account_export(user: User) -> dict[str, Any]:
    """Everything the forum keeps of this member, by file name (each a JSON document): their
    profile and preferences, their posts and topics, memberships and sessions, and what each
    feature adds (`hooks.account_data`: drafts, bookmarks, reactions, watches, private mail,
    uploads, concerns, API tokens). Only the member's own words: of a conversation, its subject
    and their own messages."""
    export: dict[str, Any] = {
        "profile.json": {
            "id": user.id,
            "username": user.username,
            "email": user.email,
            "email_verified_at": iso(user.email_verified_at),
            "role": user.role,
            "created_at": iso(user.created_at),
            "last_seen_at": iso(user.last_seen_at),
            "last_login_at": iso(user.last_login_at),
            "signature": user.signature,
            "bio_raw": user.bio_raw,
            "bio_html": user.bio_html,
            "post_count": user.post_count,
            "topic_count": user.topic_count,
            "trust_level": user.trust_level,
            "two_factor": user.has_two_factor,
            "standing": {
                "banned_at": iso(user.banned_at),
                "ban_reason": user.ban_reason,
                "silenced_until": iso(user.silenced_until),
                "silence_reason": user.silence_reason,
                "suspended_until": iso(user.suspended_until),
                "suspension_reason": user.suspension_reason,
            },
        },
        "preferences.json": {
            "timezone": user.timezone,
            "language": user.language,
            "last_locale": user.last_locale,  # the language they last read the forum in
            "theme": user.theme,
            "keyboard_shortcuts": user.keyboard_shortcuts,
            "mail_disabled_at": iso(user.mail_disabled_at),
            **dict(user.preferences or {}),
        },
        "posts.json": [
            {
                "id": post.id,
                "topic_id": topic.id,
                "topic": topic.title,
                "sig": sig.slug,
                "number": post.number,
                "reply_to_post_id": post.reply_to_post_id,
                "body_raw": post.body_raw,
                "body_html": post.body_html,
                "status": post.status,
                "created_at": iso(post.created_at),
                "edited_at": iso(post.edited_at),
                "deleted_at": iso(post.deleted_at),
                "hidden_at": iso(post.hidden_at),
                "hidden_by": post.hidden_by,
                "hide_reason": post.hide_reason,
            }
            for post, topic, sig in db.session.execute(
                select(Post, Topic, Sig)
                .join(Topic, Topic.id == Post.topic_id)
                .join(Sig, Sig.id == Topic.sig_id)
                .where(Post.user_id == user.id)
                .order_by(Post.id)
            )
        ],
        "topics.json": [
            {
                "id": topic.id,
                "title": topic.title,
                "sig": sig.slug,
                "created_at": iso(topic.created_at),
                "first_post_id": topic.first_post_id,
                "post_count": topic.post_count,
                "pinned_at": iso(topic.pinned_at),
                "locked_at": iso(topic.locked_at),
                "deleted_at": iso(topic.deleted_at),
            }
            for topic, sig in db.session.execute(
                select(Topic, Sig)
                .join(Sig, Sig.id == Topic.sig_id)
                .where(Topic.user_id == user.id)
                .order_by(Topic.id)
            )
        ],
        "memberships.json": [
            {
                "sig": sig.slug,
                "sig_name": sig.name,
                "role": membership.role,
                "joined_at": iso(membership.joined_at),
            }
            for membership, sig in db.session.execute(
                select(Membership, Sig)
                .join(Sig, Sig.id == Membership.sig_id)
                .where(Membership.user_id == user.id)
                .order_by(Sig.slug)
            )
        ],
        "sessions.json": [
            {
                "created_at": iso(row.created_at),
                "last_seen_at": iso(row.last_seen_at),
                "device": row.user_agent,
                "ip": row.ip,
            }
            for row in db.session.scalars(
                select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)
            )
        ],
    }
    for name, part in sorted(hooks.account_data.get().items()):
        export[f"{name}.json"] = part(user)
    return export
