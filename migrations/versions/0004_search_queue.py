"""search: the queue of index work written with each change

Revision ID: 0004_search_queue
Revises: 0003_moderation
Create Date: 2026-11-24 05:59:58.863612

"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0004_search_queue"
down_revision = "0003_moderation"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "search_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_queue")),
    )
    with op.batch_alter_table("search_queue", schema=None) as batch_op:
        batch_op.create_index("ix_search_queue_kind_target", ["kind", "target_id"], unique=False)


def downgrade():
    with op.batch_alter_table("search_queue", schema=None) as batch_op:
        batch_op.drop_index("ix_search_queue_kind_target")

    op.drop_table("search_queue")
