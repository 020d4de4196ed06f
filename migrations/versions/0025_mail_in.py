"""mail: verified addresses, bounces, digest rhythm, SIG digest notes, inbound mail

Revision ID: 0025_mail_in
Revises: 0024_webhooks
Create Date: 2026-12-05 01:00:00.000000

Every account made before this proved its address at registration (the account is made from
the mailed link): they count as verified from when they were made.
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0025_mail_in"
down_revision = "0024_webhooks"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("email_verified_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("mail_bounces", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("mail_disabled_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("last_digest_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("digests_unvisited", sa.Integer(), server_default="0", nullable=False)
        )
    op.execute("UPDATE users SET email_verified_at = created_at")
    op.create_table(
        "sig_digest_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sig_id"],
            ["sigs.id"],
            name=op.f("fk_sig_digest_notes_sig_id_sigs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_sig_digest_notes_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sig_digest_notes")),
    )
    with op.batch_alter_table("sig_digest_notes") as batch:
        batch.create_index(
            "ix_sig_digest_notes_sig_created", ["sig_id", "created_at"], unique=False
        )
        batch.create_index(batch.f("ix_sig_digest_notes_author_id"), ["author_id"], unique=False)
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("topic_id", sa.Integer(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_inbound_mails_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["topics.id"],
            name=op.f("fk_inbound_mails_topic_id_topics"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_inbound_mails_post_id_posts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_mails")),
    )
    with op.batch_alter_table("inbound_mails") as batch:
        batch.create_index("uq_inbound_mails_message_kind", ["message_id", "kind"], unique=True)
        batch.create_index(batch.f("ix_inbound_mails_user_id"), ["user_id"], unique=False)
        batch.create_index(batch.f("ix_inbound_mails_topic_id"), ["topic_id"], unique=False)
        batch.create_index(batch.f("ix_inbound_mails_post_id"), ["post_id"], unique=False)
        batch.create_index("ix_inbound_mails_created", ["created_at"], unique=False)


def downgrade():
    op.drop_table("inbound_mails")
    op.drop_table("sig_digest_notes")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("digests_unvisited")
        batch.drop_column("last_digest_at")
        batch.drop_column("mail_disabled_at")
        batch.drop_column("mail_bounces")
        batch.drop_column("email_verified_at")
