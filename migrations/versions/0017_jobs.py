"""jobs: failed background jobs, and the keys of mail already sent

Revision ID: 0017_jobs
Revises: 0016_private_mail
Create Date: 2026-12-04 22:40:00.000000

Mail moved from a thread per process to a job queue (Huey, forum/jobs). A job that used up its
retries is kept in failed_jobs for the sysop to retry; sent_mails holds the idempotency key of
each mail sent, so a job run again never sends a mail twice.
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0017_jobs"
down_revision = "0016_private_mail"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "failed_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("failed_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_jobs")),
    )
    with op.batch_alter_table("failed_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_failed_jobs_failed_at", ["failed_at"], unique=False)
    op.create_table(
        "sent_mails",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("sent_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sent_mails")),
    )
    with op.batch_alter_table("sent_mails", schema=None) as batch_op:
        batch_op.create_index("ix_sent_mails_sent_at", ["sent_at"], unique=False)


def downgrade():
    with op.batch_alter_table("sent_mails", schema=None) as batch_op:
        batch_op.drop_index("ix_sent_mails_sent_at")
    op.drop_table("sent_mails")
    with op.batch_alter_table("failed_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_failed_jobs_failed_at")
    op.drop_table("failed_jobs")
