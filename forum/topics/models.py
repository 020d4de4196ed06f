"""Topics, posts (raw and cooked), revisions, and each member's read position."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..sigs.models import Sig
from ..timeutil import UTCDateTime, utcnow

POST_VISIBLE = "visible"
POST_PENDING = "pending"  # waits for a sysop's approval; only its author and sysops see it


class _TopicColumns(Protocol):
    @property
    def pinned_at(self) -> datetime | None: ...
    @property
    def locked_at(self) -> datetime | None: ...
    @property
    def deleted_at(self) -> datetime | None: ...


class TopicState:
    """What a topic's timestamps say, for the model and for the SIG listing's rows of its
    columns (forum.sigs.queries.TopicView): both have `pinned_at`, `locked_at`, `deleted_at`."""

    @property
    def is_pinned(self: _TopicColumns) -> bool:
        return self.pinned_at is not None

    @property
    def is_locked(self: _TopicColumns) -> bool:
        return self.locked_at is not None

    @property
    def is_deleted(self: _TopicColumns) -> bool:
        return self.deleted_at is not None


class Topic(TopicState, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_post_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    first_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", use_alter=True, ondelete="SET NULL"), index=True
    )
    # Post numbers are allocated from highest_post_number and never reused, so permalinks and
    # page boundaries are stable; last_post_number is the newest post readers can see (unread
    # state compares against it); post_count counts visible posts (the first one included).
    highest_post_number: Mapped[int] = mapped_column(default=0)
    last_post_number: Mapped[int] = mapped_column(default=0)
    post_count: Mapped[int] = mapped_column(default=0)
    pinned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # In a support SIG: the reply marked as the answer (forum.pulse.services.mark_answer).
    answer_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", use_alter=True, ondelete="SET NULL"), index=True
    )

    # Bumped with every change a reader of the topic page could see (forum.pagecache; a new
    # post's own counter update moves it, forum.topics.services).
    version: Mapped[int] = mapped_column(default=0, server_default="0")

    sig: Mapped[Sig] = relationship(lazy="raise", foreign_keys=[sig_id])
    author: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[user_id])
    last_poster: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[last_post_user_id])

    __table_args__ = (
        Index("ix_topics_last_posted_at", "last_posted_at"),
        Index("ix_topics_created_at", "created_at"),
        Index("ix_topics_sig_created", "sig_id", "created_at"),
        # PostgreSQL full-text search checks each match's topic (deleted? in which SIG? its
        # first post, for in:title) from this index alone, not the topic's row (0032).
        Index(
            "ix_topics_id_cover",
            "id",
            postgresql_include=["sig_id", "deleted_at", "first_post_id"],
        ).ddl_if(dialect="postgresql"),
    )

    def __repr__(self) -> str:
        return f"<Topic {self.id} {self.title!r}>"


# Carried in the indexes by time and by topic, so that the pulse dashboard counts posts (whose
# are they, in which topic, may readers see them) from the index without reading the rows.
_COUNTED = ("user_id", "number", "status", "deleted_at", "hidden_at")


class _PostColumns(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def deleted_at(self) -> datetime | None: ...
    @property
    def hidden_at(self) -> datetime | None: ...
    @property
    def hidden_by_flags(self) -> bool: ...


# Who hid a post (PostState.hidden_by), as the API and a member's data export name it.
HIDDEN_BY_FLAGS = "flags"
HIDDEN_BY_SYSOP = "sysop"


class PostState:
    """What a post's status and timestamps say, for the model and for the read models that
    load a post's columns without it (forum.topics.queries.PostView): both have `status`,
    `deleted_at` and `hidden_at`."""

    @property
    def is_pending(self: _PostColumns) -> bool:
        return self.status == POST_PENDING

    @property
    def is_deleted(self: _PostColumns) -> bool:
        return self.deleted_at is not None

    @property
    def is_hidden(self: _PostColumns) -> bool:
        return self.hidden_at is not None

    @property
    def hidden_by(self: _PostColumns) -> str | None:
        """Who hid it: "flags" (members' flags weighed enough, forum.moderation.flags: no sysop
        has looked yet), "sysop", or None when it is not hidden."""
        if self.hidden_at is None:
            return None
        return HIDDEN_BY_FLAGS if self.hidden_by_flags else HIDDEN_BY_SYSOP

    @property
    def is_public(self: _PostColumns) -> bool:
        """Readable by everyone who may read its topic."""
        return self.status != POST_PENDING and self.deleted_at is None and self.hidden_at is None


class PostFacts(Protocol):
    """What the permission policy reads of a post: a Post, or a read model's row of its columns
    (forum.topics.queries.PostView), which answers the same questions."""

    @property
    def topic_id(self) -> int: ...
    @property
    def number(self) -> int: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def is_deleted(self) -> bool: ...
    @property
    def is_public(self) -> bool: ...


# Set on few posts (replying to one post, deleted, hidden): their indexes hold only
# those, so that inserting a post does not touch them (a lookup by value uses them all the same).
_MOSTLY_EMPTY = ("reply_to_post_id", "deleted_by_id", "hidden_by_id")


def _set_only(name: str, column: str) -> Index:
    where = text(f"{column} IS NOT NULL")
    return Index(name, column, sqlite_where=where, postgresql_where=where)


class Post(PostState, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Both are looked up by the indexes that begin with them (uq_posts_topic_number and
    # ix_posts_user_created): an index of their own would only be one more page per insert.
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    number: Mapped[int] = mapped_column()
    reply_to_post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL")
    )
    body_raw: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    render_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default=POST_VISIBLE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edit_count: Mapped[int] = mapped_column(default=0)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What the sysop typed when hiding it (None: nothing), never a sentence of the forum's.
    hide_reason: Mapped[str | None] = mapped_column(String(500))
    # Hidden by members' flags (forum.moderation.flags), not by a sysop: hidden_by_id is None.
    hidden_by_flags: Mapped[bool] = mapped_column(default=False, server_default=false())

    topic: Mapped[Topic] = relationship(lazy="raise", foreign_keys=[topic_id])
    author: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[user_id])

    __table_args__ = (
        UniqueConstraint("topic_id", "number", name="uq_posts_topic_number"),
        Index("ix_posts_created_cover", "created_at", "topic_id", *_COUNTED),
        Index("ix_posts_user_created", "user_id", "created_at"),
        Index("ix_posts_status", "status"),
        Index("ix_posts_topic_created_cover", "topic_id", "created_at", *_COUNTED),
        *(_set_only(f"ix_posts_{column}", column) for column in _MOSTLY_EMPTY),
        # PostgreSQL full-text search joins its matches (tens of thousands for a common word)
        # to their posts for who may read them: from this index alone, not the wide rows.
        Index(
            "ix_posts_id_cover",
            "id",
            postgresql_include=["topic_id", "created_at", "user_id", *_COUNTED[2:]],
        ).ddl_if(dialect="postgresql"),
    )

    def __repr__(self) -> str:
        return f"<Post {self.id} topic={self.topic_id} #{self.number}>"


class PostRevision(db.Model):  # type: ignore[name-defined,misc]
    """The text a post had before an edit; sysops read the history."""

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    body_raw: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    editor: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[editor_id])

    __table_args__ = (UniqueConstraint("post_id", "number", name="uq_post_revisions_post_number"),)


# The SIG page's order, pinned first, then by last activity, read straight off one index.
Index(
    "ix_topics_sig_order",
    Topic.sig_id,
    Topic.pinned_at.is_(None),
    Topic.last_posted_at.desc(),
    Topic.id.desc(),
)


class TopicRead(db.Model):  # type: ignore[name-defined,misc]
    """How far a member has read a topic: the highest post number seen."""

    __tablename__ = "topic_reads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    last_read_post_number: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Seconds the member spent reading before the read position moved here (each time it
    # moves: forum.trust's reading clock, 0 for their own posts and "mark all read"). A row with
    # some time is a topic the member opened and read: the trust levels count them.
    read_seconds: Mapped[int] = mapped_column(default=0, server_default="0")
