"""sigs: invite links to a SIG, made by its sysops, kept as a hash

Revision ID: 0034_sig_invites
Revises: 0033_sealed_webhook_secrets
Create Date: 2026-12-06 12:00:00.000000

A new table only: nothing existing is copied, so SQLite's batch mode is used for the indexes
alone (as 0028_api_tokens does).
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0034_sig_invites"
down_revision = "0033_sealed_webhook_secrets"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sig_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("revoked_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_sig_invites_sig_id_sigs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_sig_invites_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["users.id"],
            name=op.f("fk_sig_invites_revoked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sig_invites")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sig_invites_token_hash")),
    )
    with op.batch_alter_table("sig_invites") as batch:
        batch.create_index("ix_sig_invites_sig_created", ["sig_id", "created_at"], unique=False)
        batch.create_index(batch.f("ix_sig_invites_created_by_id"), ["created_by_id"], unique=False)
        batch.create_index(batch.f("ix_sig_invites_revoked_by_id"), ["revoked_by_id"], unique=False)


def downgrade():
    with op.batch_alter_table("sig_invites") as batch:
        batch.drop_index(batch.f("ix_sig_invites_revoked_by_id"))
        batch.drop_index(batch.f("ix_sig_invites_created_by_id"))
        batch.drop_index("ix_sig_invites_sig_created")
    op.drop_table("sig_invites")
