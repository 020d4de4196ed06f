"""accounts: each signed-in browser as a row (settings list them), and the last sign-in

Revision ID: 0022_user_sessions
Revises: 0021_two_factor
Create Date: 2026-12-05 00:00:00.000000

Sessions opened before this have no row: they go on working until they end (or "log out
everywhere" ends them), and are not listed.
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0022_user_sessions"
down_revision = "0021_two_factor"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("last_login_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_agent", sa.String(length=120), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions") as batch:
        batch.create_index(
            "ix_user_sessions_user_last_seen", ["user_id", "last_seen_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_index("ix_user_sessions_user_last_seen")
    op.drop_table("user_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("last_login_at")
