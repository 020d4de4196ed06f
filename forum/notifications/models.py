"""Notifications (one row per member and cause) and watch levels per topic and per SIG."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

# Watch levels, strongest first. A topic's own level wins over its SIG's.
WATCHING = "watching"  # a notification for every new post
TRACKING = "tracking"  # unread counts only (and what is addressed to me)
NORMAL = "normal"  # only what is addressed to me
MUTED = "muted"  # nothing at all, not even mentions
LEVELS = (WATCHING, TRACKING, NORMAL, MUTED)


class Notification(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the composite indexes below (they start with user_id).
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), index=True
    )
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    # Kind-specific extras (a reason, approved or not); never text the member could not read.
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The key of the mail that tells of it (forum.notifications.mail); NULL: not mailed.
    mail_key: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # The center (newest first) and the header's unread count.
        Index("ix_notifications_user_created", "user_id", "created_at", "id"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
        # The notifications one mail tells of; the sweep of lost mail's unclaimed ones of its
        # window, in order (forum.notifications.mail.sweep_lost_mail; migration 0044).
        Index("ix_notifications_mail_key_created", "mail_key", "created_at"),
        # The digest's hourly look for recent ones.
        Index("ix_notifications_created", "created_at"),
    )

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class TopicWatch(db.Model):  # type: ignore[name-defined,misc]
    """A member's chosen level for one topic."""

    __tablename__ = "topic_watches"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[str] = mapped_column(String(16), default=WATCHING)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigWatch(db.Model):  # type: ignore[name-defined,misc]
    """A member's chosen level for every topic of one SIG (topics may override it)."""

    __tablename__ = "sig_watches"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sig_id: Mapped[int] = mapped_column(
        ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    level: Mapped[str] = mapped_column(String(16), default=WATCHING)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigDigestNote(db.Model):  # type: ignore[name-defined,misc]
    """A SIG sysop's short editorial note for the next digest of each member of the SIG (a
    member's digest shows the notes written since their previous digest)."""

    __tablename__ = "sig_digest_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_sig_digest_notes_sig_created", "sig_id", "created_at"),)
