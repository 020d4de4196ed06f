"""A member's unsent text: one row per place they write (a SIG's new topic, a topic's reply,
a post's edit)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

# The places a draft belongs to, as the first half of its key: "topic:<sig id>" (a new topic
# in that SIG), "reply:<topic id>", "edit:<post id>".
KINDS = ("topic", "reply", "edit")


class Draft(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_drafts_user_updated", "user_id", "updated_at"),
    )

    @property
    def kind(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def target_id(self) -> int:
        return int(self.key.split(":", 1)[1])
