"""Announcements: site-wide (from the global sysop) or in one SIG (from its sysops)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class Announcement(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: site-wide.
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    body_raw: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    render_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_announcements_created_at", "created_at"),)

    @property
    def is_site_wide(self) -> bool:
        return self.sig_id is None


class AnnouncementDismissal(db.Model):  # type: ignore[name-defined,misc]
    """A member closed this announcement's banner."""

    __tablename__ = "announcement_dismissals"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    dismissed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
