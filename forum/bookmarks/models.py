"""A member's bookmark of a post, with the time they want to be reminded of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class Bookmark(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "bookmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When to remind the member (a notification); reminded_at once it went.
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One bookmark per member and post; also the topic page's look-up of its posts.
        UniqueConstraint("user_id", "post_id"),
        # /bookmarks, newest first.
        Index("ix_bookmarks_user_created", "user_id", "created_at"),
        # The reminder job's look for what is due.
        Index("ix_bookmarks_remind_at", "remind_at"),
    )

    @property
    def reminder_pending(self) -> bool:
        return self.remind_at is not None and self.reminded_at is None
