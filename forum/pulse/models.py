"""Which members visited the forum on which day (UTC), for the dashboard's active-member figures."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class MemberVisit(db.Model):  # type: ignore[name-defined,misc]
    """One row per member per UTC day with at least one request (written once a day)."""

    __tablename__ = "member_visits"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # The first request of that day; the dashboard buckets it in the viewer's zone.
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Covering: the dashboard counts distinct members per time bucket from the index alone.
    __table_args__ = (Index("ix_member_visits_seen_user", "first_seen_at", "user_id"),)


class SigWelcome(db.Model):  # type: ignore[name-defined,misc]
    """A sysop welcomed a member's first post in a SIG (the SIG's welcome queue)."""

    __tablename__ = "sig_welcomes"

    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    welcomed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    welcomed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
