"""Members: accounts, their site role and their site-wide standing."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, false, func, true
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

ROLE_MEMBER = "member"
ROLE_SYSOP = "sysop"  # the global sysop

# An account's approval (the "Sysop approval of new accounts" site setting): a pending or
# refused account can log in and read, but not post (forum.permissions.standing_problem).
APPROVED = "approved"
PENDING = "pending"
REFUSED = "refused"

# Trust levels (Discourse's model; the thresholds are site settings, forum.trust reviews them):
# a new account is limited (links, mentions, images, posts a day, no private mail) until it
# has read a little; the levels above it unlock nothing more but weigh more in flags.
TL_NEW = 0
TL_BASIC = 1
TL_MEMBER = 2
TL_REGULAR = 3
TRUST_LEVELS = (TL_NEW, TL_BASIC, TL_MEMBER, TL_REGULAR)


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_MEMBER)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Rotated on logout-everywhere, password change and ban: every older session cookie dies.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    post_count: Mapped[int] = mapped_column(default=0)
    topic_count: Mapped[int] = mapped_column(default=0)
    signature: Mapped[str] = mapped_column(String(200), default="")
    bio_raw: Mapped[str] = mapped_column(Text, default="")
    bio_html: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # The interface's language ("en", "de", "es"); None: as the browser asks (forum.i18n).
    language: Mapped[str | None] = mapped_column(String(8))
    # The language the member last read the forum in (noted at sign-in and when a page's
    # language changed): their mail and live notices use it while `language` is None.
    last_locale: Mapped[str | None] = mapped_column(String(8))
    # The pages' colours ("system", "light", "dark"); None: the guest cookie's (forum.theme).
    theme: Mapped[str | None] = mapped_column(String(8))
    # Single-key shortcuts on the pages (j/k, r, /, ?; static/js/shortcuts.js): on unless the member
    # turned them off (WCAG 2.1.4: a voice-control user's spoken word must not set them off).
    keyboard_shortcuts: Mapped[bool] = mapped_column(default=True, server_default=true())
    preferences: Mapped[dict] = mapped_column(JSON, default=dict)
    # Site-wide standing, written by the moderation services.
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ban_reason: Mapped[str | None] = mapped_column(String(500))
    silenced_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    silence_reason: Mapped[str | None] = mapped_column(String(500))
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    approval: Mapped[str] = mapped_column(String(16), default=APPROVED, server_default=APPROVED)
    # Two-factor sign-in (TOTP, forum.accounts.two_factor): the shared secret (base32) once the
    # member confirmed it with a code, and the last 30-second step a code was used in (a code is
    # never accepted twice).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The last successful sign-in (a sign-in from a new device after one mails an alert).
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The trust level (TL_NEW … TL_REGULAR), raised by forum.trust's review; `trust_locked`: a
    # sysop set it by hand and no review changes it; `trust_changed_at`: when it last changed.
    trust_level: Mapped[int] = mapped_column(default=TL_NEW, server_default="0")
    trust_locked: Mapped[bool] = mapped_column(default=False, server_default=false())
    trust_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the member proved they read mail at `email` (the registration link, or the link
    # mailed to a changed address). None: no notification mail or digest goes there.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Mail to `email` that bounced or was reported as spam (forum.mailin): past the
    # "bounce_threshold" site setting, mail_disabled_at stops notification mail and digests
    # until the member turns them back on (the banner on every page says so).
    mail_bounces: Mapped[int] = mapped_column(default=0, server_default="0")
    mail_disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The digest (forum.notifications.digest): when the last went, and how many went since the
    # member last visited (it stops after the "digest_unvisited_limit" site setting).
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    digests_unvisited: Mapped[int] = mapped_column(default=0, server_default="0")

    __table_args__ = (
        Index("uq_users_username_lower", func.lower(username), unique=True),
        Index("uq_users_email_lower", func.lower(email), unique=True),
        Index("ix_users_created_at", "created_at"),
        Index("ix_users_approval", "approval"),
        Index("ix_users_trust_level", "trust_level"),
    )

    def get_id(self) -> str:
        # Flask-Login keeps this in the session (and the remember-me cookie): a rotated token
        # logs every copy out; the session's own row (UserSession, its id last) logs out one.
        session_id = self.__dict__.get("current_session_id")
        if session_id:
            return f"{self.id}:{self.session_token}:{session_id}"
        return f"{self.id}:{self.session_token}"

    @property
    def is_global_sysop(self) -> bool:
        return self.role == ROLE_SYSOP

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None and bool(self.totp_secret)

    @property
    def is_banned(self) -> bool:
        return self.banned_at is not None

    def is_silenced(self, now: datetime | None = None) -> bool:
        return self.silenced_until is not None and self.silenced_until > (now or utcnow())

    def is_suspended(self, now: datetime | None = None) -> bool:
        return self.suspended_until is not None and self.suspended_until > (now or utcnow())

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"


class LoginThrottle(db.Model):  # type: ignore[name-defined,misc]
    """Sign-in attempts that have not (yet) succeeded, per account, for the slow-down after
    repeated failures (forum.accounts.services.authenticate). A name or address that belongs to
    no account gets a row too (keyed by its hash), so both cost a sign-in the same."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    # Attempts since the last successful sign-in (each counted before its password is checked).
    failures: Mapped[int] = mapped_column(default=0)
    # No attempt is checked before this time (unless from a device the member signed in on).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_login_throttles_updated_at", "updated_at"),)


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """A one-time code that stands in for the authenticator app (ten are made when two-factor
    sign-in is turned on, shown once). Only a hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(db.Model):  # type: ignore[name-defined,misc]
    """One signed-in browser of a member (listed in settings, where each can be logged out).
    Its id is part of the session and remember-me cookies (User.get_id): without its row, they
    no longer sign anyone in."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Written at most every SESSION_TOUCH_SECONDS, not on every request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "Firefox on Linux": a summary of the browser's User-Agent, not all of it.
    user_agent: Mapped[str] = mapped_column(String(120), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")

    __table_args__ = (Index("ix_user_sessions_user_last_seen", "user_id", "last_seen_at"),)


class RetiredUsername(db.Model):  # type: ignore[name-defined,misc]
    """The name of an account that was deleted, which no new account may take (others' posts
    still say "@ada"): only a keyed digest of it (forum.accounts.retired), never the name."""

    __tablename__ = "retired_usernames"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
