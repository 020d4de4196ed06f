"""pages: versions for the guest page cache, and the SIG page's order as one index

Revision ID: 0006_page_versions
Revises: 0005_pulse_announcements
Create Date: 2026-11-24 09:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_page_versions"
down_revision = "0005_pulse_announcements"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("topics") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("sigs") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    op.drop_index("ix_topics_sig_listing", table_name="topics")
    op.create_index(
        "ix_topics_sig_order",
        "topics",
        [
            "sig_id",
            sa.text("(pinned_at IS NULL)"),
            sa.text("last_posted_at DESC"),
            sa.text("id DESC"),
        ],
    )


def downgrade():
    op.drop_index("ix_topics_sig_order", table_name="topics")
    op.create_index("ix_topics_sig_listing", "topics", ["sig_id", "pinned_at", "last_posted_at"])
    with op.batch_alter_table("sigs") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("topics") as batch:
        batch.drop_column("version")
