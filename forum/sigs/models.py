"""Special interest groups, their members and their join requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

PUBLIC = "public"  # anyone reads, members post
MEMBERS = "members"  # listed to all; only members read; anyone may join
PRIVATE = "private"  # hidden from non-members; joined by request, approved by its sysops
VISIBILITIES = (PUBLIC, MEMBERS, PRIVATE)

LANGUAGES = {"en": "English", "de": "Deutsch", "es": "Español"}

ROLE_MEMBER = "member"
ROLE_SYSOP = "sysop"  # a SIG sysop: moderates this SIG and nothing else

DISCIPLINE_SUSPEND = "suspend"  # may read, may not write in the SIG
DISCIPLINE_BAN = "ban"  # out of the SIG and may not re-join; reads only a public SIG

REQUEST_PENDING = "pending"
REQUEST_APPROVED = "approved"
REQUEST_DENIED = "denied"


class Sig(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sigs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    visibility: Mapped[str] = mapped_column(String(16), default=PUBLIC)
    language: Mapped[str] = mapped_column(String(8), default="en")
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A support SIG: a reply can be marked as the answer to a topic (forum.pulse).
    is_support: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Kept by the services in the same transaction; `flask forum recount` rebuilds them.
    topic_count: Mapped[int] = mapped_column(default=0)
    post_count: Mapped[int] = mapped_column(default=0)
    member_count: Mapped[int] = mapped_column(default=0)
    last_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("topics.id", use_alter=True, ondelete="SET NULL"), index=True
    )

    # Bumped with every change to the SIG or any of its topics (forum.pagecache; a new post's
    # own counter update moves it, forum.topics.services).
    version: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (Index("ix_sigs_position_name", "position", "name"),)

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_private(self) -> bool:
        return self.visibility == PRIVATE

    def __repr__(self) -> str:
        return f"<Sig {self.slug}>"


class Membership(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default=ROLE_MEMBER)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "Mark all read" in this SIG (or everywhere) reads everything up to this moment: the newest
    # activity in the SIG when the member pressed it. /new looks only at topics that moved since,
    # so its cost follows the activity since then, not the size of the SIG.
    read_through: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sig: Mapped[Sig] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise")

    __table_args__ = (
        UniqueConstraint("sig_id", "user_id", name="uq_memberships_sig_user"),
        Index("ix_memberships_sig_joined", "sig_id", "joined_at"),
    )

    @property
    def is_sysop(self) -> bool:
        return self.role == ROLE_SYSOP


class SigDiscipline(db.Model):  # type: ignore[name-defined,misc]
    """A suspension (no writing) or a ban (no membership, no joining, no reading unless the SIG
    is public) in one SIG. Kept apart from the membership, so leaving and re-joining the SIG
    changes nothing; lifting it (or its end date passing) ends it, and the row stays as history.
    Moderation writes it; forum.permissions reads it."""

    __tablename__ = "sig_disciplines"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # DISCIPLINE_SUSPEND or DISCIPLINE_BAN
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: until lifted
    reason: Mapped[str] = mapped_column(String(500), default="")
    by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_sig_disciplines_user_sig", "user_id", "sig_id", "lifted_at"),)

    @property
    def is_ban(self) -> bool:
        return self.kind == DISCIPLINE_BAN

    def is_active(self, now: datetime | None = None) -> bool:
        return self.lifted_at is None and (self.until is None or self.until > (now or utcnow()))


class JoinRequest(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "join_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default=REQUEST_PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    sig: Mapped[Sig] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise", foreign_keys=[user_id])

    __table_args__ = (Index("ix_join_requests_sig_status", "sig_id", "status", "created_at"),)


class SigInvite(db.Model):  # type: ignore[name-defined,misc]
    """An invite link to a SIG (/s/<slug>/invite/<token>), made by one of its sysops: whoever
    opens it while it holds joins at once, private SIG or not. The token is shown once, when the
    link is made; the row keeps its SHA-256 (a random 192-bit token needs no slow hash, as
    forum.api's tokens) and its first characters, so the sysops can tell their links apart."""

    __tablename__ = "sig_invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    sig_id: Mapped[int] = mapped_column(ForeignKey("sigs.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never
    max_uses: Mapped[int | None] = mapped_column()  # None: no limit
    uses: Mapped[int] = mapped_column(default=0, server_default="0")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (Index("ix_sig_invites_sig_created", "sig_id", "created_at"),)

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    @property
    def is_used_up(self) -> bool:
        return self.max_uses is not None and self.uses >= self.max_uses

    def is_active(self, now: datetime | None = None) -> bool:
        return self.revoked_at is None and not self.is_expired(now) and not self.is_used_up
