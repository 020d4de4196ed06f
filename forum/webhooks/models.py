"""Webhooks (a SIG's, or the site's), each delivery of an event to one, and each attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

# The events a webhook may ask for, in the order the form lists them.
TOPIC_CREATED = "topic.created"
POST_CREATED = "post.created"
POST_FLAGGED = "post.flagged"
MEMBER_JOINED = "member.joined"
CONCERN_OPENED = "concern.opened"  # a member wrote to the sysops (forum.care): ids, no words
EVENTS = (TOPIC_CREATED, POST_CREATED, POST_FLAGGED, MEMBER_JOINED, CONCERN_OPENED)
# Sent by hand from the webhook's page, to try the receiver; asks for no subscription.
PING = "ping"

# A delivery's state.
PENDING = "pending"  # waiting for its first attempt, or for a retry
DELIVERED = "delivered"  # a 2xx answer
FAILED = "failed"  # its attempts are used up (or its webhook was disabled meanwhile)
WITHDRAWN = "withdrawn"  # what it told of may no longer be told (hidden, SIG made private)


class Webhook(db.Model):  # type: ignore[name-defined,misc]
    """An address that is sent the chosen events of one SIG (sig_id) or of the whole site
    (sig_id NULL: the global sysop's), signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int | None] = mapped_column(
        ForeignKey("sigs.id", ondelete="CASCADE"), index=True
    )
    # Who registered it: deliveries go on only while they may still manage it (permissions).
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # The HMAC key, sealed (forum.sealed): signing needs the key itself, and its managers may
    # read it again, but a copy of the database alone must not sign deliveries. Read and
    # written only through forum.sealed (services.readable_secret, create_webhook, rotate_secret).
    sealed_secret: Mapped[str] = mapped_column(String(255))
    # The events it asks for, space-separated (models.EVENTS).
    events: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Failed attempts in a row since the last success; at the site's limit it is disabled.
    failure_streak: Mapped[int] = mapped_column(default=0)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def event_list(self) -> list[str]:
        return [e for e in self.events.split() if e]

    def wants(self, event: str) -> bool:
        return event in self.event_list


class WebhookDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One event for one webhook: its payload (as first written), state and attempts."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    # The event's id, the same in every delivery (and redelivery) of it: receivers dedupe on it.
    event_id: Mapped[str] = mapped_column(String(36))
    # What the payload tells of, asked again before each attempt (permissions).
    post_id: Mapped[int | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(500))
    redelivery_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The webhook's delivery log, newest first.
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at", "id"),
    )


class WebhookAttempt(db.Model):  # type: ignore[name-defined,misc]
    """One try at sending a delivery: the answer's status code, or what went wrong."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(String(500))
    # The start of the answer's body, for the log.
    response: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
