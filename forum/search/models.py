"""The search queue (Whoosh: index work written in the same transaction as the change it
follows), and the tables of the PostgreSQL full-text backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, ForeignKey, Index, String, Text, event, func, literal_column, text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

KIND_POST = "post"  # re-read one post
KIND_TOPIC = "topic"  # re-read every post of a topic
KIND_SIG = "sig"  # re-read every post of a SIG whose language changed


class SearchQueueEntry(db.Model):  # type: ignore[name-defined,misc]
    """One piece of index work. A row exists until an index commit has covered it, so a process
    that dies between the database commit and the index write loses nothing: the next drain
    (after any later change, `flask forum search-sync`, or start-up) picks it up."""

    __tablename__ = "search_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    target_id: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Ids are never reused (AUTOINCREMENT on SQLite; a sequence on PostgreSQL): a drain deletes
    # the rows it applied by id, and a reused id would delete a newer, unapplied change.
    __table_args__ = (
        Index("ix_search_queue_kind_target", "kind", "target_id"),
        {"sqlite_autoincrement": True},
    )

    def __repr__(self) -> str:
        return f"<SearchQueueEntry {self.id} {self.kind}:{self.target_id}>"


# --- PostgreSQL full-text search (forum/search/postgres.py) ---------------------------------
TITLE_WEIGHTS = "'{a}'::\"char\"[]"  # ts_filter's argument: the title's part of a vector


class TSVector(TypeDecorator[str]):
    """A tsvector on PostgreSQL; plain text elsewhere (the tables exist on SQLite, unused)."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TSVECTOR())
        return dialect.type_descriptor(Text())


class PostVector(db.Model):  # type: ignore[name-defined,misc]
    """A post's words for PostgreSQL full-text search: its topic's title (weight A, first post
    only) and its body (weight B), analysed with its SIG's text search configuration. Written
    in the transaction that writes the post (every post, whatever its visibility: who may read
    it is decided when searching, in the same SQL)."""

    __tablename__ = "post_vectors"

    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    config: Mapped[str] = mapped_column(String(16))  # english, german, spanish, simple
    vector: Mapped[str] = mapped_column(TSVector)
    # The post's date (posts.created_at, which never changes): a search reads the newest slice
    # of the forum first, this range intersected with the GIN index's matches (postgres.py).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Its topic's SIG (rewritten with the vector when the topic moves): a `sig:` search reads
    # that SIG's newest slice. Who may read the post is still decided from the post, its topic
    # and SIG when searching; this only narrows where to look.
    sig_id: Mapped[int] = mapped_column()

    __table_args__ = (
        Index("ix_post_vectors_vector", "vector", postgresql_using="gin"),
        Index("ix_post_vectors_created_at", "created_at"),
        Index("ix_post_vectors_sig_created", "sig_id", "created_at"),
        # The title's words (weight A: first posts only; empty elsewhere), for `in:title`.
        Index(
            "ix_post_vectors_title",
            func.ts_filter(text("vector"), literal_column(TITLE_WEIGHTS)),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )


class SearchWord(db.Model):  # type: ignore[name-defined,misc]
    """The words of each SIG as written (lower-cased, not stemmed): "did you mean" looks for
    near ones among the SIGs the reader may read (pg_trgm)."""

    __tablename__ = "search_words"

    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True)
    word: Mapped[str] = mapped_column(String(64), primary_key=True)
    posts: Mapped[int] = mapped_column(default=1)  # exact after `flask forum reindex`

    __table_args__ = (
        Index(
            "ix_search_words_trgm",
            "word",
            postgresql_using="gin",
            postgresql_ops={"word": "gin_trgm_ops"},
        ),
    )


class SearchState(db.Model):  # type: ignore[name-defined,misc]
    """Small facts the search backends share through the database (see indexer.whoosh_epoch)."""

    __tablename__ = "search_state"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


event.listen(
    SearchWord.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)
