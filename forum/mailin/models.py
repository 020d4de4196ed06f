"""What came in by mail: one row per message and kind, so a message delivered twice (an MTA
that retries after a lost reply) is acted on once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

REPLY = "reply"
BOUNCE = "bounce"
COMPLAINT = "complaint"


class InboundMail(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "inbound_mails"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The message's Message-ID (or a hash of it when it has none).
    message_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    # "posted", "refused", "empty", "ignored", "counted", …
    outcome: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", ondelete="SET NULL"), index=True
    )
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("uq_inbound_mails_message_kind", "message_id", "kind", unique=True),
        Index("ix_inbound_mails_created", "created_at"),
    )
