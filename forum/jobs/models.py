"""What the job queue keeps in the forum's database: jobs the queue could not take (held until
it can), jobs that failed for good, and the keys of the mail already sent (so a job run again
never sends a mail twice)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class HeldJob(db.Model):  # type: ignore[name-defined,misc]
    """A job the queue refused (Redis down or hung, the SQLite queue's disk full or read-only):
    held here until the consumer puts it back (forum.jobs.services.put_back_held_jobs)."""

    __tablename__ = "held_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Huey's id of the task, and its registered name (forum.accounts.services.mail_…).
    task_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # The task as Huey serialized it (name, arguments, eta): what is put back, as it is.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # A short, readable form of the arguments (for the console).
    summary: Mapped[str] = mapped_column(String(500), default="")
    # When a delayed job was to run (None: at once).
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    held_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # How many times putting it back failed, and the queue's last refusal.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(String(1000), default="")

    __table_args__ = (Index("ix_held_jobs_held_at", "held_at"),)


class FailedJob(db.Model):  # type: ignore[name-defined,misc]
    """A job that used up its retries: kept (never dropped) until a sysop retries it."""

    __tablename__ = "failed_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Huey's id of the task, and its registered name (forum.accounts.services.mail_…).
    task_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # The task as Huey serialized it (name, arguments): what a retry enqueues again.
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # A short, readable form of the arguments (for the console) and what went wrong.
    summary: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(String(1000), default="")
    traceback: Mapped[str] = mapped_column(Text, default="")
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_failed_jobs_failed_at", "failed_at"),)


class SentMail(db.Model):  # type: ignore[name-defined,misc]
    """The idempotency key of a mail that was handed to the mail server (or the outbox)."""

    __tablename__ = "sent_mails"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_sent_mails_sent_at", "sent_at"),)
