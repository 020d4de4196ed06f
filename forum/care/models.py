"""Member care: concerns (a member's conversation with the sysops of a SIG, or of the site),
the sysops' private notes on them, each SIG's deadlines, sysops on duty and pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

# A concern's states. A member's message (re)opens it; the sysops' answer makes it wait for the
# member; a sysop resolves it; a member's reply to a resolved concern opens it again.
OPEN = "open"
WAITING = "waiting"
RESOLVED = "resolved"
STATES = (OPEN, WAITING, RESOLVED)

# How the concern began: written from a form, or a page nobody (or somebody) took.
SOURCE_WRITTEN = "written"
SOURCE_PAGE = "page"

# The conversations' kind (forum.messages.models.Conversation.kind) of a concern.
CONVERSATION_KIND = "concern"

# The sysop preference (users.preferences) that lets a page ring with a sound.
PREF_PAGE_SOUND = "care_page_sound"


class Concern(db.Model):  # type: ignore[name-defined,misc]
    """A member writing to "the sysops of <SIG>" (`sig_id`) or "the site's sysops" (None). Its
    messages are a conversation (forum.messages) whose one participant is the member; the
    sysops read and answer it through the permission policy, never as participants."""

    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    sig_id: Mapped[int | None] = mapped_column(ForeignKey("sigs.id", ondelete="SET NULL"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # "Ask the sysops about this post": the post it is about, if any.
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_WRITTEN)
    # A ban appeal: a member banned site-wide wrote it on /care/appeal (services.appeal).
    is_appeal: Mapped[bool] = mapped_column(default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(16), default=OPEN)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The first-response deadline, and the second one after which the global sysop hears of it.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalate_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_responder_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # When the SIG's sysops were told it is overdue, and when the global sysop was.
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # "Did this help?", asked once after the first resolution: None until answered.
    helped: Mapped[bool | None] = mapped_column(Boolean)
    helped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # A SIG's inbox by state, newest activity first; the member's own concerns.
        Index("ix_concerns_sig_state", "sig_id", "state", "last_activity_at"),
        Index("ix_concerns_member", "member_id", "state"),
        # The overdue job: unanswered concerns by deadline; the pulse by creation time.
        Index("ix_concerns_unanswered", "first_response_at", "due_at"),
        Index("ix_concerns_created", "created_at"),
    )

    @property
    def is_resolved(self) -> bool:
        return self.state == RESOLVED


class ConcernNote(db.Model):  # type: ignore[name-defined,misc]
    """A sysop's private note on a concern: the sysops who handle it read it, the member never."""

    __tablename__ = "concern_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    concern_id: Mapped[int] = mapped_column(
        ForeignKey("concerns.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body_raw: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SigCareSetting(db.Model):  # type: ignore[name-defined,misc]
    """A SIG's own deadlines (no row: the site's, care_response_hours and care_escalate_hours)."""

    __tablename__ = "sig_care_settings"

    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True)
    response_hours: Mapped[int] = mapped_column(default=24)
    escalate_hours: Mapped[int] = mapped_column(default=48)


class SysopDuty(db.Model):  # type: ignore[name-defined,misc]
    """A sysop on duty in a SIG until `until`: members see "a sysop is here" and may page."""

    __tablename__ = "sysop_duties"

    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class SysopPage(db.Model):  # type: ignore[name-defined,misc]
    """A member paged the sysops on duty in a SIG. The first to take it starts a live concern;
    untaken when `expires_at` passes, it becomes an open concern by itself."""

    __tablename__ = "sysop_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(String(500), default="")  # care.services.PAGE_TEXT_LIMIT
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taken_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    concern_id: Mapped[int | None] = mapped_column(
        ForeignKey("concerns.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (
        # The rate limit (a member's pages in the last hour); a SIG's waiting pages.
        Index("ix_sysop_pages_member", "member_id", "created_at"),
        Index("ix_sysop_pages_sig", "sig_id", "concern_id"),
    )

    @property
    def is_waiting(self) -> bool:
        return self.concern_id is None
