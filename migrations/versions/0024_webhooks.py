"""webhooks: a SIG's or the site's webhooks, their deliveries and each attempt

Revision ID: 0024_webhooks
Revises: 0023_trust_levels
Create Date: 2026-12-05 01:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0024_webhooks"
down_revision = "0023_trust_levels"
branch_labels = None
depends_on = None


def _time(name, nullable=True):
    return sa.Column(name, forum.timeutil.UTCDateTime(timezone=True), nullable=nullable)


def upgrade():
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("events", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failure_streak", sa.Integer(), nullable=False),
        _time("disabled_at"),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        _time("created_at", nullable=False),
        _time("last_delivery_at"),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_webhooks_sig_id_sigs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_webhooks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    with op.batch_alter_table("webhooks") as batch:
        batch.create_index(batch.f("ix_webhooks_sig_id"), ["sig_id"], unique=False)
        batch.create_index(batch.f("ix_webhooks_created_by_id"), ["created_by_id"], unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("redelivery_of_id", sa.Integer(), nullable=True),
        _time("created_at", nullable=False),
        _time("next_attempt_at"),
        _time("finished_at"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_webhook_deliveries_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["users.id"],
            name=op.f("fk_webhook_deliveries_member_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["redelivery_of_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_deliveries_redelivery_of_id_webhook_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.create_index(
            "ix_webhook_deliveries_webhook_created",
            ["webhook_id", "created_at", "id"],
            unique=False,
        )
        batch.create_index(batch.f("ix_webhook_deliveries_post_id"), ["post_id"], unique=False)
        batch.create_index(batch.f("ix_webhook_deliveries_member_id"), ["member_id"], unique=False)
        batch.create_index(
            batch.f("ix_webhook_deliveries_redelivery_of_id"), ["redelivery_of_id"], unique=False
        )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        _time("attempted_at", nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("response", sa.String(length=500), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts") as batch:
        batch.create_index(
            batch.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade():
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
