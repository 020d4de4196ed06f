"""What each Atom feed shows, in a fixed number of queries, under the same rules as the pages.

Every listing filters in SQL with the gatekeeper's clauses (`permissions.*_clause`): a feed
never loads what its reader may not read and drops it afterwards. Only what every reader of a
SIG sees appears in a feed: posts that are hidden, deleted or waiting for approval never do,
not even in the feed of a sysop who sees them on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select

from .. import permissions
from ..accounts.models import User
from ..accounts.services import get_member
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..permissions import Actor
from ..search.queries import search_page
from ..sigs.models import Sig
from ..topics.models import Post, Topic

# The newest entries a feed carries.
LIMIT = 30


@dataclass(frozen=True)
class Entry:
    kind: str  # "topic" (the site-wide feed) or "post"
    id: int  # the topic's or the post's
    created_at: datetime
    updated_at: datetime
    title: str
    author: str | None  # None: the account is gone
    html: str  # cooked when written (forum/content.py), so already sanitized
    topic_id: int
    topic_slug: str
    number: int  # the post's number in its topic (1 for a topic's entry)
    language: str  # the SIG's: entries stay in the language they were written in


@dataclass(frozen=True)
class Feed:
    kind: str  # "topics", "sig", "topic", "member" or "search"
    title_args: dict[str, str]  # for the title, translated by the view
    created_at: datetime | None  # of the SIG or topic (None: the whole site)
    entries: list[Entry]
    sig_slug: str | None = None
    topic_id: int | None = None
    topic_slug: str | None = None
    member_name: str | None = None
    query: str | None = None

    @property
    def updated_at(self) -> datetime | None:
        return max((e.updated_at for e in self.entries), default=self.created_at)


def _columns() -> tuple:  # type: ignore[type-arg]
    return (
        Post.id,
        Post.number,
        Post.created_at,
        Post.edited_at,
        Post.body_html,
        Topic.id,
        Topic.title,
        Topic.slug,
        User.username,
        Sig.language,
    )


def _entry(kind: str, row: tuple) -> Entry:  # type: ignore[type-arg]
    post_id, number, created, edited, html, topic_id, title, slug, author, language = row
    return Entry(
        kind=kind,
        id=topic_id if kind == "topic" else post_id,
        created_at=created,
        updated_at=max(created, edited) if edited is not None else created,
        title=title,
        author=author,
        html=html,
        topic_id=topic_id,
        topic_slug=slug,
        number=number,
        language=language,
    )


def _readable(user: Actor) -> tuple:  # type: ignore[type-arg]
    """The filters every feed shares: topics the reader may view (their SIG readable, the topic
    not deleted), and posts every reader of the SIG sees."""
    return (
        permissions.viewable_topics_clause(user),
        Topic.deleted_at.is_(None),
        permissions.public_posts_clause(),
    )


def _posts(user: Actor, *where: Any) -> Select[Any]:
    """The posts the reader may read among those `where` picks, each with its topic, SIG and
    author (`_columns`, as `_entry` reads them)."""
    return (
        select(*_columns())
        .select_from(Post)
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(User, User.id == Post.user_id)
        .where(*where, *_readable(user))
    )


def _newest_posts(user: Actor, *where: Any) -> list[Any]:
    """The newest LIMIT of `_posts`."""
    return list(
        db.session.execute(
            _posts(user, *where).order_by(Post.created_at.desc(), Post.id.desc()).limit(LIMIT)
        ).all()
    )


def latest_topics(user: Actor) -> Feed:
    """The site's newest topics that this reader may read, each with its first post."""
    rows = db.session.execute(
        select(*_columns())
        .select_from(Topic)
        .join(Sig, Sig.id == Topic.sig_id)
        .join(Post, Post.id == Topic.first_post_id)
        .outerjoin(User, User.id == Post.user_id)
        .where(*_readable(user))
        .order_by(Topic.created_at.desc(), Topic.id.desc())
        .limit(LIMIT)
    ).all()
    return Feed(
        kind="topics", title_args={}, created_at=None, entries=[_entry("topic", r) for r in rows]
    )


def _sig_for(user: Actor, slug: str) -> Sig:
    # One answer for a SIG that does not exist and one the reader may not read: a feed has no
    # "join to read" page to show.
    sig = permissions.get_sig_for(user, slug)
    if not permissions.can_read_sig(user, sig):
        raise NotFound(permissions.NO_SUCH_SIG)
    return sig


def sig_posts(user: Actor, slug: str) -> Feed:
    """The newest posts of a SIG's topics that this reader may read."""
    sig = _sig_for(user, slug)
    rows = _newest_posts(user, Topic.sig_id == sig.id)
    return Feed(
        kind="sig",
        title_args={"sig": sig.name},
        created_at=sig.created_at,
        entries=[_entry("post", r) for r in rows],
        sig_slug=sig.slug,
    )


def topic_posts(user: Actor, topic_id: int) -> Feed:
    """The newest posts of one topic that this reader may read."""
    try:
        topic, _sig = permissions.get_topic_and_sig_for(user, topic_id)
    except Forbidden:
        # A members-only SIG's topic: the same 404 as a topic that does not exist.
        raise NotFound(permissions.NO_SUCH_TOPIC) from None
    if topic.is_deleted:
        raise NotFound(permissions.NO_SUCH_TOPIC)
    rows = _newest_posts(user, Topic.id == topic.id)
    return Feed(
        kind="topic",
        title_args={"topic": topic.title},
        created_at=topic.created_at,
        entries=[_entry("post", r) for r in rows],
        topic_id=topic.id,
        topic_slug=topic.slug,
    )


def member_posts(user: Actor, username: str) -> Feed:
    """A member's newest posts that this reader may read (what their profile lists)."""
    member = get_member(username)
    rows = _newest_posts(user, Post.user_id == member.id)
    return Feed(
        kind="member",
        title_args={"member": member.username},
        created_at=member.created_at,
        entries=[_entry("post", r) for r in rows],
        member_name=member.username,
    )


def search_posts(user: Actor, q: str) -> Feed:
    """The newest posts matching a search, as the search page finds them for this reader
    (every hit checked against the database there), each loaded again under the feeds' rules."""
    q = (q or "").strip()[:500]
    found = search_page(user, q, sort="newest", per_page=LIMIT) if q else None
    ids = [r.post_id for r in found.results] if found is not None else []
    rows: list[Any] = []
    if ids:
        rows = list(db.session.execute(_posts(user, Post.id.in_(ids))).all())
    order = {post_id: n for n, post_id in enumerate(ids)}
    rows.sort(key=lambda r: order[r[0]])
    return Feed(
        kind="search",
        title_args={"q": q},
        created_at=None,
        entries=[_entry("post", r) for r in rows],
        query=q,
    )


# --- the sitemap: what a guest may read, never more ---------------------------------------------
# Read as a guest whoever asks (a sitemap is for search engines): the same clauses as a guest's
# pages, so a members-only or private SIG, and every topic in one, never appears.
@dataclass(frozen=True)
class SitemapEntry:
    kind: str  # "sig" or "topic"
    id: int
    slug: str
    updated_at: datetime | None


def sitemap_sigs() -> list[SitemapEntry]:
    rows = db.session.execute(
        select(Sig.id, Sig.slug, Sig.last_posted_at, Sig.created_at)
        .where(permissions.readable_sigs_clause(None))
        .order_by(Sig.id)
    ).all()
    return [SitemapEntry("sig", i, slug, last or created) for i, slug, last, created in rows]


def _guest_topics() -> tuple:  # type: ignore[type-arg]
    return (permissions.viewable_topics_clause(None), Topic.deleted_at.is_(None))


def sitemap_topic_count() -> int:
    return int(
        db.session.scalar(
            select(func.count(Topic.id))
            .select_from(Topic)
            .join(Sig, Sig.id == Topic.sig_id)
            .where(*_guest_topics())
        )
        or 0
    )


def sitemap_topics(page: int, size: int) -> list[SitemapEntry]:
    """One page of the topics a guest may read, oldest first (so a page's addresses stay put)."""
    rows = db.session.execute(
        select(Topic.id, Topic.slug, Topic.last_posted_at)
        .join(Sig, Sig.id == Topic.sig_id)
        .where(*_guest_topics())
        .order_by(Topic.id)
        .offset((page - 1) * size)
        .limit(size)
    ).all()
    return [SitemapEntry("topic", i, slug, last) for i, slug, last in rows]
