"""Read models for topic pages and /new, each in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    func,
    lambda_stmt,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased

from .. import hooks, permissions
from ..accounts.models import ROLE_SYSOP, User
from ..db import read_columns
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..sigs.models import Membership, Sig
from ..timeutil import UTCDateTime
from .models import POST_PENDING, Post, PostState, Topic, TopicRead


@dataclass
class PostView(PostState):
    """The columns of a post that a topic page shows, without the ORM's bookkeeping: a page of
    25 posts loads in half the CPU time as plain rows. Answers the same questions as Post
    (is_public, is_hidden, …) and what the permission checks read (user_id, topic_id)."""

    id: int
    topic_id: int
    user_id: int | None
    number: int
    body_html: str
    status: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    hidden_at: datetime | None
    hide_reason: str | None
    hidden_by_flags: bool


@dataclass
class Author:
    id: int
    username: str
    signature: str
    role: str

    @property
    def is_global_sysop(self) -> bool:
        return self.role == ROLE_SYSOP


@dataclass
class PostRow:
    post: PostView
    author: Author | None
    can_edit: bool
    can_delete: bool
    can_flag: bool
    unread: bool
    folded: bool = False  # by a member the reader ignores: shown folded


@dataclass
class TopicPage:
    topic: Topic
    sig: Sig
    author: Author | None
    posts: list[PostRow]
    page: int
    pages: int
    last_read: int
    first_unread: int | None
    reply_problem: str | None
    is_sysop: bool
    can_restore: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


_POST_COLUMNS = (
    Post.id,
    Post.topic_id,
    Post.user_id,
    Post.number,
    Post.body_html,
    Post.status,
    Post.created_at,
    Post.edited_at,
    Post.deleted_at,
    Post.hidden_at,
    Post.hide_reason,
    Post.hidden_by_flags,
)
_AUTHOR_COLUMNS = (User.id, User.username, User.signature, User.role)

# Aliases are module constants (docs/architecture.md, "Data rules").
_POSTER = aliased(User, name="poster")


def topic_page(current: Any, topic_id: int, page: int = 1) -> TopicPage:
    """One page of a topic. Page boundaries follow post numbers, so permalinks stay put."""
    viewer = permissions.actor(current)
    topic, sig = permissions.get_topic_and_sig_for(viewer, topic_id)
    per_page = current_app.config["POSTS_PER_PAGE"]
    pages = max(1, (topic.highest_post_number - 1) // per_page + 1)
    if page < 1 or page > pages:
        raise NotFound(_l("That page does not exist."))
    first, last = (page - 1) * per_page + 1, page * per_page
    # Posts `first` to `last` with their authors, as plain columns, as this reader sees them.
    # lambda_stmt, each part built once per process (no tracking: every value is a bindparam):
    # every topic page runs it, and building it costs more CPU than running it (a hot site
    # measured for issue 17).
    query = lambda_stmt(
        lambda: (
            select(*_POST_COLUMNS, *_AUTHOR_COLUMNS)
            .outerjoin(User, User.id == Post.user_id)
            .where(
                Post.topic_id == bindparam("topic_id"),
                Post.number.between(bindparam("first"), bindparam("last")),
            )
            .order_by(Post.number)
        ),
        enable_tracking=False,
    )
    visibility = permissions.posts_visibility(viewer, sig)
    if visibility == permissions.PUBLIC_POSTS:
        query = query.add_criteria(
            lambda q: q.where(permissions.public_posts_clause()), enable_tracking=False
        )
    elif visibility == permissions.PUBLIC_AND_OWN_POSTS:
        query = query.add_criteria(
            lambda q: q.where(
                permissions.posts_clause(permissions.PUBLIC_AND_OWN_POSTS, bindparam("viewer_id"))
            ),
            enable_tracking=False,
        )
    rows = db.session.execute(
        query,
        {
            "topic_id": topic.id,
            "first": first,
            "last": last,
            "viewer_id": viewer.id if viewer is not None else None,
        },
    )
    last_read = 0
    ignored: set[int] = set()
    if viewer is not None:
        # The read position and the members this reader ignores (their posts fold), in one
        # query: every member's topic page runs it (a lambda_stmt, built once per process:
        # building it cost more CPU than running it, issue 17's sixth session).
        reading = lambda_stmt(lambda: _reading_position(), enable_tracking=False)
        for value, what in read_columns(reading, {"viewer_id": viewer.id, "topic_id": topic.id}):
            if what == 0:
                last_read = value or 0
            else:
                ignored.add(value)
    is_sysop = permissions.is_sig_sysop(viewer, sig)
    checks = permissions.PostChecks(viewer, topic, sig)
    posts = []
    split = len(_POST_COLUMNS)
    for row in rows:
        post = PostView(*row[:split])
        author = Author(*row[split:]) if row[split] is not None else None
        posts.append(
            PostRow(
                post=post,
                author=author,
                can_edit=checks.can_edit(post),
                can_delete=checks.can_delete(post),
                can_flag=checks.can_flag(post),
                unread=viewer is not None and post.number > last_read,
                folded=post.user_id in ignored if post.user_id is not None else False,
            )
        )
    author = next((r.author for r in posts if r.post.number == 1), None)
    first_unread = None
    if viewer is not None and last_read < topic.last_post_number:
        first_unread = last_read + 1
    return TopicPage(
        topic=topic,
        sig=sig,
        author=author,
        posts=posts,
        page=page,
        pages=pages,
        last_read=last_read,
        first_unread=first_unread,
        reply_problem=permissions.reply_problem(viewer, topic, sig),
        is_sysop=is_sysop,
        can_restore=is_sysop,
    )


def _reading_position() -> Any:
    viewer_id: Any = bindparam("viewer_id")
    return union_all(
        select(TopicRead.last_read_post_number, literal(0)).where(
            TopicRead.user_id == viewer_id, TopicRead.topic_id == bindparam("topic_id")
        ),
        select(permissions.ignored_ids_select(viewer_id).c.ignored_id, literal(1)),
    )


def first_unread_number(current: Any, topic: Topic) -> int | None:
    """Where a member who has opened this topic before should land, if anything is unread."""
    viewer = permissions.actor(current)
    if viewer is None:
        return None
    last_read = db.session.scalar(
        select(TopicRead.last_read_post_number).where(
            TopicRead.user_id == viewer.id, TopicRead.topic_id == topic.id
        )
    )
    if last_read is None or last_read >= topic.last_post_number:
        return None
    # The next post the member can see after the last one read.
    return db.session.scalar(
        select(func.min(Post.number)).where(
            Post.topic_id == topic.id,
            Post.number > last_read,
            permissions.public_posts_clause(),
        )
    )


# Before any topic: /new's lower bound for a member who has not marked every SIG read.
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class TopicLink:
    id: int
    title: str
    slug: str
    last_posted_at: datetime


@dataclass
class SigLink:
    id: int
    slug: str
    name: str
    language: str = "en"


@dataclass
class NewRow:
    topic: TopicLink
    sig: SigLink
    last_poster: str | None
    unread: int
    is_new: bool


def awaits_approval(topic: Topic) -> bool:
    """Whether the topic's first post waits for a sysop's approval (the topic with it)."""
    if topic.first_post_id is None:
        return False
    status = db.session.scalar(select(Post.status).where(Post.id == topic.first_post_id))
    return status == POST_PENDING


def new_filters() -> Mapping[str, Callable[[User], ColumnElement[bool]]]:
    """Narrower views of /new that other features add ({name: viewer -> SQL filter on Topic}),
    e.g. "tracked" from notifications, which owns watch levels."""
    return hooks.new_filters.get()


def _new_topics_query(narrow: Any) -> Any:
    """Unread topics in the SIGs of member `viewer_id`, `limit` of them from `offset`, newest
    activity first, narrowed by the SQL filter `narrow`."""
    viewer_id = bindparam("viewer_id", type_=Integer)
    newest_first = (Topic.last_posted_at.desc(), Topic.id.desc())
    # The member's mark in the topic's SIG: NULL when not a member (the topic is left out),
    # the beginning of time when it has never marked the SIG read.
    mark = (
        select(func.coalesce(Membership.read_through, bindparam("beginning", type_=UTCDateTime())))
        .where(Membership.sig_id == Topic.sig_id, Membership.user_id == viewer_id)
        .scalar_subquery()
    )
    # The page's topic ids first, then what it shows of those alone. The database walks the
    # topics newest first (ix_topics_last_posted_at) and stops when the page is full, or at
    # `since`, the oldest of the member's marks: a member who has read nothing fills the page
    # after a few dozen topics, one who has read everything stops at what moved since. The
    # membership is a subquery rather than a join, so that no plan starts from the member's
    # SIGs and sorts all their topics (SQLite chooses that one without statistics).
    page = (
        select(Topic.id.label("topic_id"), TopicRead.last_read_post_number.label("read"))
        .outerjoin(TopicRead, and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == viewer_id))
        .where(
            Topic.deleted_at.is_(None),
            Topic.last_posted_at > bindparam("since", type_=UTCDateTime()),
            Topic.last_posted_at > mark,
            Topic.last_post_number > func.coalesce(TopicRead.last_read_post_number, 0),
            narrow,
        )
        .order_by(*newest_first)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("page")
    )
    poster = _POSTER
    return (
        select(
            Topic.id,
            Topic.title,
            Topic.slug,
            Topic.last_posted_at,
            Topic.last_post_number,
            Sig.id,
            Sig.slug,
            Sig.name,
            poster.username,
            page.c.read,
            Sig.language,
        )
        .select_from(page)
        .join(Topic, Topic.id == page.c.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(poster, poster.id == Topic.last_post_user_id)
        .order_by(*newest_first)
    )


def new_topics(current: Any, page: int = 1, only: str | None = None) -> tuple[list[NewRow], bool]:
    """Topics with posts this member has not read, across the SIGs it belongs to (narrowed by
    the filter `only` names)."""
    viewer = permissions.actor(current)
    if viewer is None:
        return [], False
    if only is not None and only not in new_filters():
        raise NotFound(_l("No such list."))
    per_page = current_app.config["TOPICS_PER_PAGE"]
    if only is None:
        # A lambda_stmt, built once per process: /new runs it for every member, and building
        # it costs some 1.5 ms of CPU, more than running it (a hot site measured for issue 17).
        query: Any = lambda_stmt(lambda: _new_topics_query(true()), enable_tracking=False)
    else:
        query = _new_topics_query(new_filters()[only](viewer))
    marks = [m.read_through for m in permissions.memberships(viewer).values()]
    known = [mark for mark in marks if mark is not None]
    since = min(known) if known and len(known) == len(marks) else _BEGINNING
    rows = db.session.execute(
        query,
        {
            "viewer_id": viewer.id,
            "since": since,
            "beginning": _BEGINNING,
            "limit": per_page + 1,
            "offset": (max(page, 1) - 1) * per_page,
        },
    )
    result = [
        NewRow(
            topic=TopicLink(topic_id, title, slug, last_posted_at),
            sig=SigLink(sig_id, sig_slug, sig_name, language),
            last_poster=name,
            unread=last_number - (read or 0),
            is_new=read is None,
        )
        for (
            topic_id,
            title,
            slug,
            last_posted_at,
            last_number,
            sig_id,
            sig_slug,
            sig_name,
            name,
            read,
            language,
        ) in rows
    ]
    return result[:per_page], len(result) > per_page
