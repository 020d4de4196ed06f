"""Read models of the JSON API: what each answer shows, loaded through forum.permissions (the
pages' read models where one fits), in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from .. import permissions
from ..accounts.models import User
from ..accounts.queries import iso
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..sigs import queries as sig_queries
from ..sigs.models import Membership, Sig
from ..topics.models import Post, Topic
from .models import ApiToken

_AUTHOR = aliased(User, name="author")
_LAST_POSTER = aliased(User, name="last_poster")


@dataclass
class SigInfo:
    sig: Sig
    membership: Membership | None
    can_read: bool
    can_start_topic: bool = False
    write_problem: str | None = None
    join: str = "closed"


def sig_list(viewer: permissions.Actor) -> list[SigInfo]:
    """Every SIG this member may see (the SIG index's read model)."""
    return [
        SigInfo(sig=row.sig, membership=row.membership, can_read=row.can_read)
        for row in sig_queries.sig_index(viewer)
    ]


def sig_detail(viewer: permissions.Actor, slug: str) -> SigInfo:
    sig = permissions.get_sig_for(viewer, slug)
    membership = permissions.membership(viewer, sig)
    if membership is not None:
        join = "member"
    elif permissions.can_join_sig(viewer, sig):
        join = "open"
    else:
        join = "closed"
    problem = permissions.write_problem(viewer, sig)
    return SigInfo(
        sig=sig,
        membership=membership,
        can_read=permissions.can_read_sig(viewer, sig),
        can_start_topic=permissions.can_start_topic(viewer, sig),
        write_problem=str(problem) if problem else None,
        join=join,
    )


@dataclass
class TopicInfo:
    topic: Topic | sig_queries.TopicView  # the topic, or its columns in a listing
    sig: Sig
    author: tuple[int, str] | None
    last_poster: tuple[int, str] | None
    reply_problem: str | None = None
    can_reply: bool = False


def topic_list(
    viewer: permissions.Actor, slug: str, cursor: str | None, limit: int
) -> tuple[list[TopicInfo], str | None]:
    """A SIG's topics in its page's order (pinned first, then by last activity), `limit` after
    the cursor, and the cursor of the next ones (None at the end)."""
    sig = permissions.get_sig_for(viewer, slug)
    permissions.require_read_sig(viewer, sig)
    after = sig_queries.Cursor.parse(cursor) if cursor else None
    page = sig_queries.sig_page(viewer, slug, after=after, per_page=limit + 1)
    rows = page.topics[:limit]
    items = [
        TopicInfo(
            topic=row.topic,
            sig=page.sig,
            author=(row.topic.user_id, row.author)
            if row.topic.user_id is not None and row.author
            else None,
            last_poster=(row.topic.last_post_user_id, row.last_poster)
            if row.topic.last_post_user_id is not None and row.last_poster
            else None,
        )
        for row in rows
    ]
    more = len(page.topics) > limit
    return items, str(sig_queries.Cursor.of(rows[-1].topic)) if more and rows else None


def _names(*ids: int | None) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def topic_detail(viewer: permissions.Actor, topic_id: int) -> TopicInfo:
    topic, sig = permissions.get_topic_and_sig_for(viewer, topic_id)
    names = _names(topic.user_id, topic.last_post_user_id)
    problem = permissions.reply_problem(viewer, topic, sig)
    return TopicInfo(
        topic=topic,
        sig=sig,
        author=(topic.user_id, names[topic.user_id]) if topic.user_id in names else None,
        last_poster=(topic.last_post_user_id, names[topic.last_post_user_id])
        if topic.last_post_user_id in names
        else None,
        reply_problem=str(problem) if problem else None,
        can_reply=problem is None,
    )


@dataclass
class PostInfo:
    post: Post
    topic: Topic
    sig: Sig
    author: tuple[int, str] | None


def topic_posts(
    viewer: permissions.Actor, topic_id: int, cursor: str | None, limit: int
) -> tuple[list[PostInfo], str | None]:
    """A topic's posts as this reader sees them (the topic page's rule), by number, `limit`
    after the post number in `cursor`, and the cursor of the next ones (None at the end)."""
    topic, sig = permissions.get_topic_and_sig_for(viewer, topic_id)
    after = int(cursor) if cursor else 0
    rows = db.session.execute(
        select(Post, _AUTHOR.id, _AUTHOR.username)
        .outerjoin(_AUTHOR, _AUTHOR.id == Post.user_id)
        .where(
            Post.topic_id == topic.id,
            Post.number > after,
            permissions.visible_posts_clause(viewer, sig),
        )
        .order_by(Post.number)
        .limit(limit + 1)
    ).all()
    items = [
        PostInfo(post=post, topic=topic, sig=sig, author=(uid, name) if uid else None)
        for post, uid, name in rows[:limit]
    ]
    more = len(rows) > limit
    return items, str(items[-1].post.number) if more and items else None


def post_detail(viewer: permissions.Actor, post_id: int) -> PostInfo:
    post, topic, sig = permissions.get_post_topic_and_sig_for(viewer, post_id)
    names = _names(post.user_id)
    author = (post.user_id, names[post.user_id]) if post.user_id in names else None
    return PostInfo(post=post, topic=topic, sig=sig, author=author)


def member_sigs(viewer: permissions.Actor, member: User) -> list[Sig]:
    """The SIGs a member belongs to that the reader may see."""
    return list(
        db.session.scalars(
            select(Sig)
            .join(Membership, Membership.sig_id == Sig.id)
            .where(Membership.user_id == member.id, permissions.visible_sigs_clause(viewer))
            .order_by(Sig.name)
        )
    )


def member_tokens(user: Any) -> list[ApiToken]:
    """The member's tokens for the settings page: live ones first, newest first."""
    viewer = permissions.actor(user)
    if viewer is None:
        raise NotFound(_l("No such member."))
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == viewer.id)
            .order_by(
                ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()
            )
        )
    )


def account_tokens(user: User) -> list[dict[str, Any]]:
    """The member's personal access tokens (names, scopes, dates; never a secret), for their
    data export (hooks.account_data)."""
    return [
        {
            "name": t.name,
            "prefix": t.prefix,
            "scopes": t.scopes,
            "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at),
            "last_used_at": iso(t.last_used_at),
            "revoked_at": iso(t.revoked_at),
        }
        for t in db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        )
    ]
