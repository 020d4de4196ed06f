"""accounts: two-factor sign-in (TOTP) and its one-time recovery codes

Revision ID: 0021_two_factor
Revises: 0020_account_defences
Create Date: 2026-12-04 23:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0021_two_factor"
down_revision = "0020_account_defences"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes") as batch:
        batch.create_index("ix_recovery_codes_user_id", ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("recovery_codes") as batch:
        batch.drop_index("ix_recovery_codes_user_id")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
