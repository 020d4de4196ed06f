"""Personal access tokens: a member's key for the JSON API, kept only as a hash."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class ApiToken(db.Model):  # type: ignore[name-defined,misc]
    """One personal access token. The secret is shown once, when it is made; the row keeps its
    SHA-256 (a random 256-bit secret needs no slow hash) and its first characters, so the
    member can tell their tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    # Space-separated scopes (forum.permissions.TOKEN_SCOPES).
    scopes: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None: never expires.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written at most every TOKEN_TOUCH_SECONDS, not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_api_tokens_user_created", "user_id", "created_at"),)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired()
