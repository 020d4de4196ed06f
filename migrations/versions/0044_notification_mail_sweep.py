"""notifications: the mail-key index also ordered by creation (the sweep of lost mail)

Revision ID: 0044_notification_mail_sweep
Revises: 0043_sysop_page_words
Create Date: 2026-12-07 18:20:00.000000

forum.notifications.mail.sweep_lost_mail looks every 10 minutes for notifications never claimed
(`mail_key IS NULL`) created within its window. On SQLite the planner took the index on mail_key
alone for `IS NULL` (its statistics count one row per key, most rows have none) and sorted
every unclaimed notification ever made: 141 ms a run on 600,000 notifications, against 43 ms
with (mail_key, created_at), which seeks the window's unclaimed rows in order
(bench/mail_sweep_bench.py, docs/benchmarks.md). PostgreSQL takes ix_notifications_created
either way (53 ms, most of it Python). It replaces the index on mail_key, whose
lookups by key (the notifications one mail tells of) it serves as well, so writes keep one
index on the column.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0044_notification_mail_sweep"
down_revision = "0043_sysop_page_words"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_notifications_mail_key_created", "notifications", ["mail_key", "created_at"]
    )
    op.drop_index("ix_notifications_mail_key", table_name="notifications")


def downgrade():
    op.create_index("ix_notifications_mail_key", "notifications", ["mail_key"])
    op.drop_index("ix_notifications_mail_key_created", table_name="notifications")
