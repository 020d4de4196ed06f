"""spam_cleanups: what a spam cleanup hid and banned, for its undo

Revision ID: 0015_spam_cleanups
Revises: 0014_sig_disciplines
Create Date: 2026-12-08 11:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

from forum.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = "0015_spam_cleanups"
down_revision = "0014_sig_disciplines"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "spam_cleanups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mod_action_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("post_ids", sa.JSON(), nullable=False),
        sa.Column("topic_ids", sa.JSON(), nullable=False),
        sa.Column("banned_site", sa.Boolean(), nullable=False),
        sa.Column("sig_discipline_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("undone_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["mod_action_id"], ["mod_actions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sig_discipline_id"], ["sig_disciplines.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["sig_id"], ["sigs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("mod_action_id", "user_id", "sig_id", "actor_id"):
        op.create_index(f"ix_spam_cleanups_{column}", "spam_cleanups", [column])


def downgrade():
    for column in ("mod_action_id", "user_id", "sig_id", "actor_id"):
        op.drop_index(f"ix_spam_cleanups_{column}", table_name="spam_cleanups")
    op.drop_table("spam_cleanups")
