"""sig_disciplines: SIG suspensions and bans kept apart from the membership

Revision ID: 0014_sig_disciplines
Revises: 0013_member_language
Create Date: 2026-12-08 10:00:00.000000

A suspension used to live on the membership row (memberships.suspended_until), so leaving the
SIG and joining it again wiped it. Each one moves to its own row here (by: unknown, since the
old columns did not say), and the old columns go.
"""

import warnings

import sqlalchemy as sa
from alembic import op

from forum.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = "0014_sig_disciplines"
down_revision = "0013_member_language"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sig_disciplines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["by_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sig_id"], ["sigs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sig_disciplines_by_id", "sig_disciplines", ["by_id"])
    op.create_index("ix_sig_disciplines_sig_id", "sig_disciplines", ["sig_id"])
    op.create_index(
        "ix_sig_disciplines_user_sig", "sig_disciplines", ["user_id", "sig_id", "lifted_at"]
    )
    memberships = sa.table(
        "memberships",
        sa.column("user_id", sa.Integer()),
        sa.column("sig_id", sa.Integer()),
        sa.column("suspended_until", UTCDateTime(timezone=True)),
        sa.column("suspension_reason", sa.String()),
        sa.column("joined_at", UTCDateTime(timezone=True)),
    )
    disciplines = sa.table(
        "sig_disciplines",
        sa.column("user_id", sa.Integer()),
        sa.column("sig_id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("until", UTCDateTime(timezone=True)),
        sa.column("reason", sa.String()),
        sa.column("created_at", UTCDateTime(timezone=True)),
    )
    op.execute(
        disciplines.insert().from_select(
            ["user_id", "sig_id", "kind", "until", "reason", "created_at"],
            sa.select(
                memberships.c.user_id,
                memberships.c.sig_id,
                sa.literal("suspend"),
                memberships.c.suspended_until,
                sa.func.coalesce(memberships.c.suspension_reason, ""),
                memberships.c.joined_at,
            ).where(memberships.c.suspended_until.is_not(None)),
        )
    )
    with warnings.catch_warnings():
        # SQLite copies the table, reflecting the tables it refers to: an expression index
        # there (ix_topics_sig_order) cannot be reflected, and needs not be.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table("memberships") as batch:
            batch.drop_column("suspension_reason")
            batch.drop_column("suspended_until")


def downgrade():
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("suspended_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("suspension_reason", sa.String(length=500), nullable=True))
    op.execute(
        """
        UPDATE memberships SET
            suspended_until = (
                SELECT d.until FROM sig_disciplines d
                WHERE d.user_id = memberships.user_id AND d.sig_id = memberships.sig_id
                  AND d.kind = 'suspend' AND d.lifted_at IS NULL
                ORDER BY d.id DESC LIMIT 1),
            suspension_reason = (
                SELECT d.reason FROM sig_disciplines d
                WHERE d.user_id = memberships.user_id AND d.sig_id = memberships.sig_id
                  AND d.kind = 'suspend' AND d.lifted_at IS NULL
                ORDER BY d.id DESC LIMIT 1)
        """
    )
    op.drop_index("ix_sig_disciplines_user_sig", table_name="sig_disciplines")
    op.drop_index("ix_sig_disciplines_sig_id", table_name="sig_disciplines")
    op.drop_index("ix_sig_disciplines_by_id", table_name="sig_disciplines")
    op.drop_table("sig_disciplines")
