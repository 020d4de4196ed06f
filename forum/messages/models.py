"""Private mail: conversations, their members and messages; members ignoring each other."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..i18n import gettext
from ..timeutil import UTCDateTime, utcnow

# A message written by a member, or a line the forum writes into the conversation.
KIND_TEXT = "text"
KIND_ADDED = "added"  # `target_user_id` was added by the author
KIND_LEFT = "left"  # the author left the conversation

# A conversation's kind: private mail, or a member's concern to the sysops (forum.care), which
# only the care pages open (its one participant is the member; the sysops read it by policy).
KIND_PRIVATE = "private"

# A subject the forum gave the conversation (Conversation.subject_kind), said in the reader's
# language when shown; None: the subject as its member typed it.
SUBJECT_PAGE = "page"  # a page of the sysops (forum.care): `subject` holds the member's words
SUBJECT_APPEAL = "appeal"  # a ban appeal written without a subject: `subject` is empty

# The member preference (users.preferences) that says who may write to them.
PREF_MAIL_FROM = "mail_from"
MAIL_FROM_EVERYONE = "everyone"
MAIL_FROM_SYSOPS = "sysops"  # private mail off, except from the sysop
# The member preference that turns the "private_message" notification off.
PREF_MAIL_NOTIFY = "notify_private_mail"


class Conversation(db.Model):  # type: ignore[name-defined,misc]
    """A private conversation between two or more members, with a subject."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=KIND_PRIVATE, server_default="private")
    subject_kind: Mapped[str | None] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The newest message members wrote (lines the forum writes do not count): the mailbox's
    # order, and what is unread for each member (ConversationMember.last_read_message_id).
    last_message_id: Mapped[int] = mapped_column(default=0)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_count: Mapped[int] = mapped_column(default=0)

    @property
    def shown_subject(self) -> str:
        """The subject as the reader sees it: as typed, or said now in their language when the
        forum gave it (never stored as a sentence: the writer's language is not the reader's)."""
        if self.subject_kind == SUBJECT_PAGE:
            return gettext("Page: %(words)s", words=self.subject)
        if self.subject_kind == SUBJECT_APPEAL:
            return gettext("My account's ban")
        return self.subject


class ConversationMember(db.Model):  # type: ignore[name-defined,misc]
    """A member's place in a conversation: what they read, archived, left, may see."""

    __tablename__ = "conversation_members"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    added_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The member reads the messages after this one (0: the whole history). A member added
    # later starts at the message before their addition unless MAIL_NEW_MEMBER_SEES_HISTORY.
    visible_after_id: Mapped[int] = mapped_column(default=0)
    last_read_message_id: Mapped[int] = mapped_column(default=0)
    # Archived: out of the mailbox's inbox until a new message arrives.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Left: no longer a participant; reads nothing of it any more.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # The mailbox and the header's unread count start from the member's rows.
        Index("ix_conversation_members_user", "user_id", "left_at", "archived_at"),
    )

    @property
    def is_active(self) -> bool:
        return self.left_at is None


class PrivateMessage(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "private_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # Indexed with created_at (below): the author's newest messages, the double-submit rule's.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16), default=KIND_TEXT)
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    body_raw: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    render_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Hidden by the sysop after a report: participants see that it was, not what it said.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    __table_args__ = (
        Index("ix_private_messages_conversation", "conversation_id", "id"),
        Index("ix_private_messages_user_created", "user_id", "created_at"),
    )

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None


class MemberIgnore(db.Model):  # type: ignore[name-defined,misc]
    """`user_id` ignores `ignored_id`: no private mail from them, no mentions from them, their
    posts folded on topic pages."""

    __tablename__ = "member_ignores"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    ignored_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageReport(db.Model):  # type: ignore[name-defined,misc]
    """A participant reported one message to the sysop. The sysop sees the `excerpt` taken when
    it was reported (that message and the two before it), never the conversation."""

    __tablename__ = "message_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("private_messages.id", ondelete="CASCADE"), index=True
    )
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(500), default="")
    # [{"id", "author", "author_id", "created_at", "html", "reported"}], oldest first.
    excerpt: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    outcome: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_message_reports_open", "resolved_at", "created_at"),)
