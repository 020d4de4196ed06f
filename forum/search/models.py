"""The search queue: index work written in the same transaction as the change it follows."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

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
