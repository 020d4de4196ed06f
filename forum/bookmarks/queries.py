"""Read models: /bookmarks (a fixed number of queries), a topic page's bookmarked posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, lambda_stmt, select

from .. import content, permissions
from ..accounts.models import User
from ..accounts.queries import iso
from ..db import read_columns
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Sig
from ..topics.models import Post, Topic
from .models import Bookmark

PER_PAGE = 30
EXCERPT_LENGTH = 200


@dataclass
class BookmarkRow:
    bookmark: Bookmark
    # None when the member may no longer read the post (it can still be removed here).
    post: Post | None
    topic: Topic | None
    sig: Sig | None
    author: str | None
    excerpt: str


@dataclass
class BookmarksPage:
    rows: list[BookmarkRow]
    page: int
    has_next: bool


def bookmarks_page(actor: Actor, page: int = 1) -> BookmarksPage:
    """The member's bookmarks, newest first, each with its post as they may read it now: one
    query (and the member's memberships, which the permission checks load once)."""
    if actor is None:
        return BookmarksPage([], 1, False)
    page = max(1, page)
    result = db.session.execute(
        select(Bookmark, Post, Topic, Sig, User.username)
        .join(Post, Post.id == Bookmark.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(User, User.id == Post.user_id)
        .where(Bookmark.user_id == actor.id)
        .order_by(Bookmark.created_at.desc(), Bookmark.id.desc())
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    ).all()
    # Past the last page, as a topic's, a SIG's and the mailbox's: no page, not "none yet".
    if page > 1 and not result:
        raise NotFound(_l("That page does not exist."))
    rows = []
    for bookmark, post, topic, sig, author in result[:PER_PAGE]:
        if permissions.can_view_post(actor, post, topic, sig):
            rows.append(
                BookmarkRow(
                    bookmark,
                    post,
                    topic,
                    sig,
                    author,
                    content.excerpt(post.body_html, EXCERPT_LENGTH),
                )
            )
        else:
            rows.append(BookmarkRow(bookmark, None, None, None, None, ""))
    return BookmarksPage(rows=rows, page=page, has_next=len(result) > PER_PAGE)


def _page_query() -> object:
    return select(Bookmark.post_id, Bookmark.remind_at, Bookmark.reminded_at).where(
        Bookmark.user_id == bindparam("user_id"),
        Bookmark.post_id.in_(bindparam("post_ids", expanding=True)),
    )


def page_bookmarks(actor: Actor, post_ids: list[int]) -> dict[int, datetime | None]:
    """Which of these posts the member bookmarked, with the reminder still to come (one
    query; none for a guest)."""
    if actor is None or not post_ids:
        return {}
    rows = read_columns(
        lambda_stmt(_page_query, enable_tracking=False),  # type: ignore[arg-type]
        {"user_id": actor.id, "post_ids": list(post_ids)},
    )
    return {
        post_id: (remind_at if reminded_at is None else None)
        for post_id, remind_at, reminded_at in rows
    }


def account_bookmarks(user: User) -> list[dict[str, Any]]:
    """The member's bookmarks, for their data export (hooks.account_data): which post, and
    when; not the post's words (another member's, perhaps in a SIG they left)."""
    return [
        {
            "post_id": b.post_id,
            "created_at": iso(b.created_at),
            "remind_at": iso(b.remind_at),
            "reminded_at": iso(b.reminded_at),
        }
        for b in db.session.scalars(
            select(Bookmark).where(Bookmark.user_id == user.id).order_by(Bookmark.id)
        )
    ]
