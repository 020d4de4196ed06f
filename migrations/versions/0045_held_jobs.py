"""jobs: jobs the queue could not take, held in the database until it can

Revision ID: 0045_held_jobs
Revises: 0044_notification_mail_sweep
Create Date: 2026-12-07 19:50:00.000000

A job queued while the queue is down (Redis down or hung, the SQLite queue's disk full) was
logged as lost. It is now held in held_jobs (Huey's serialized task, as failed_jobs keeps it)
and put back by the consumer every minute (forum.jobs.services.put_back_held_jobs).
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0045_held_jobs"
down_revision = "0044_notification_mail_sweep"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "held_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("eta", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("held_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_jobs")),
    )
    with op.batch_alter_table("held_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_held_jobs_held_at", ["held_at"], unique=False)


def downgrade():
    with op.batch_alter_table("held_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_held_jobs_held_at")
    op.drop_table("held_jobs")
