"""trust levels: each account's level (and whether a sysop locked it), reading time per topic

Revision ID: 0023_trust_levels
Revises: 0022_user_sessions
Create Date: 2026-12-05 01:00:00.000000

Accounts that exist already start at "basic" (1): they posted freely before, and the limits
for new accounts are for accounts registered from now on. The periodic review raises them
further from what they did. Reading time starts at zero.
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0023_trust_levels"
down_revision = "0022_user_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("trust_level", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(
            sa.Column("trust_locked", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column("trust_changed_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_users_trust_level", ["trust_level"], unique=False)
    op.execute("UPDATE users SET trust_level = 1")
    with op.batch_alter_table("topic_reads") as batch:
        batch.add_column(
            sa.Column("read_seconds", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("topic_reads") as batch:
        batch.drop_column("read_seconds")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_trust_level")
        batch.drop_column("trust_changed_at")
        batch.drop_column("trust_locked")
        batch.drop_column("trust_level")
