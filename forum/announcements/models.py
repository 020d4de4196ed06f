"""Announcements: site-wide (from the global sysop) or in one SIG (from its sysops)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

SCHEDULED, SHOWING, ENDED = "scheduled", "showing", "ended"


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
    # The banner shows it from starts_at until ends_at (both stored: "until" left empty is
    # starts_at + queries.BANNER_DAYS, written when it is posted, so a row says its own window).
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When AnnouncementPublished went out: at posting, or by the start_announcement job at
    # starts_at for a scheduled one, or by the minute sweep when that job was lost; None until
    # then (and for one ended before it began).
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When AnnouncementEnded went out: at "End now", or by the minute sweep
    # (services.sweep_announcements) once ends_at passed; None until then.
    end_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_announcements_created_at", "created_at"),
        Index("ix_announcements_starts_at", "starts_at"),
        Index("ix_announcements_ends_at", "ends_at"),
    )

    def state(self, now: datetime) -> str:
        """ "scheduled" (not yet shown), "showing" or "ended", at `now`."""
        if self.ends_at <= now:
            return ENDED
        return SCHEDULED if self.starts_at > now else SHOWING

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
