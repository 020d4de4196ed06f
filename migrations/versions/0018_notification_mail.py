"""notifications: the key of the mail that told of each one

Revision ID: 0018_notification_mail
Revises: 0017_jobs
Create Date: 2026-12-04 23:10:00.000000

A member may have notifications mailed. The mail job claims the notifications it tells of by
writing its key here, so several events of one topic make one mail and no other job mails them
again; the hourly digest looks for recent notifications by created_at. The member's choices
per kind live in users.preferences (no column).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018_notification_mail"
down_revision = "0017_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_key", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_notifications_mail_key", ["mail_key"], unique=False)
        batch_op.create_index("ix_notifications_created", ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_created")
        batch_op.drop_index("ix_notifications_mail_key")
        batch_op.drop_column("mail_key")
