"""private mail: conversations, their members and messages, ignored members, message reports

Revision ID: 0016_private_mail
Revises: 0015_spam_cleanups
Create Date: 2026-12-04 23:00:00.000000

Issue 24's private half: conversations between members (forum.messages). Nothing existing
changes; the new tables start empty.
"""

import sqlalchemy as sa
from alembic import op

from forum.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = "0016_private_mail"
down_revision = "0015_spam_cleanups"
branch_labels = None
depends_on = None


def _user_fk(name, ondelete="SET NULL", nullable=True, primary_key=False):
    return sa.Column(
        name,
        sa.Integer(),
        sa.ForeignKey("users.id", ondelete=ondelete),
        nullable=nullable,
        primary_key=primary_key,
    )


def upgrade():
    op.create_table(
        "conversations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        _user_fk("created_by_id"),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_message_id", sa.Integer(), nullable=False),
        sa.Column("last_message_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_conversations_created_by_id", "conversations", ["created_by_id"])
    op.create_table(
        "conversation_members",
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _user_fk("user_id", ondelete="CASCADE", nullable=False, primary_key=True),
        _user_fk("added_by_id"),
        sa.Column("joined_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("visible_after_id", sa.Integer(), nullable=False),
        sa.Column("last_read_message_id", sa.Integer(), nullable=False),
        sa.Column("archived_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("left_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_conversation_members_added_by_id", "conversation_members", ["added_by_id"])
    op.create_index(
        "ix_conversation_members_user",
        "conversation_members",
        ["user_id", "left_at", "archived_at"],
    )
    op.create_table(
        "private_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.Integer(),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _user_fk("user_id"),
        sa.Column("kind", sa.String(length=16), nullable=False),
        _user_fk("target_user_id"),
        sa.Column("body_raw", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("render_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("hidden_at", UTCDateTime(timezone=True), nullable=True),
        _user_fk("hidden_by_id"),
    )
    op.create_index("ix_private_messages_user_id", "private_messages", ["user_id"])
    op.create_index("ix_private_messages_target_user_id", "private_messages", ["target_user_id"])
    op.create_index("ix_private_messages_hidden_by_id", "private_messages", ["hidden_by_id"])
    op.create_index(
        "ix_private_messages_conversation", "private_messages", ["conversation_id", "id"]
    )
    op.create_table(
        "member_ignores",
        _user_fk("user_id", ondelete="CASCADE", nullable=False, primary_key=True),
        _user_fk("ignored_id", ondelete="CASCADE", nullable=False, primary_key=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_member_ignores_ignored_id", "member_ignores", ["ignored_id"])
    op.create_table(
        "message_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("private_messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _user_fk("reporter_id", ondelete="CASCADE", nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("excerpt", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        _user_fk("resolved_by_id"),
        sa.Column("outcome", sa.String(length=16), nullable=True),
    )
    op.create_index("ix_message_reports_message_id", "message_reports", ["message_id"])
    op.create_index("ix_message_reports_reporter_id", "message_reports", ["reporter_id"])
    op.create_index("ix_message_reports_resolved_by_id", "message_reports", ["resolved_by_id"])
    op.create_index("ix_message_reports_open", "message_reports", ["resolved_at", "created_at"])


def downgrade():
    op.drop_table("message_reports")
    op.drop_table("member_ignores")
    op.drop_table("private_messages")
    op.drop_table("conversation_members")
    op.drop_table("conversations")
