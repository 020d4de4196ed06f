"""accounts: sign-in attempts per account, for the slow-down after repeated failures

Revision ID: 0011_login_throttles
Revises: 0010_mod_actions_other_sig
Create Date: 2026-12-05 10:00:00.000000

The login rate limit counted per client address only, so three addresses made 27 guesses at one
account in a minute. A row per account (and per unknown name, so that both cost the same) counts
the attempts since the last successful sign-in and holds the next one back, doubling the wait.
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0011_login_throttles"
down_revision = "0010_mod_actions_other_sig"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_throttles",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("not_before", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.create_index("ix_login_throttles_updated_at", ["updated_at"], unique=False)


def downgrade():
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.drop_index("ix_login_throttles_updated_at")
    op.drop_table("login_throttles")
