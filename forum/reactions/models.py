"""A member's reaction to a post: one row per member and post, its emoji replaced on change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class Reaction(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "post_reactions"

    # The primary key starts with the post: a topic page counts its posts' reactions from it.
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # One of the site's reactions (settings.reactions()) when it was chosen.
    emoji: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The pulse dashboard counts reactions per day.
    __table_args__ = (Index("ix_post_reactions_created", "created_at"),)
