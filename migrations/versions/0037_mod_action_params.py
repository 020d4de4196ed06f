"""moderation: a log entry's details as data, read in the reader's language when shown

Revision ID: 0037_mod_action_params
Revises: 0036_retired_usernames
Create Date: 2026-12-07 06:00:00.000000

A new nullable JSON column on mod_actions. Rows before it keep only their English text in
`details` (null here), and the log shows that text as stored. The downgrade drops the column.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0037_mod_action_params"
down_revision = "0036_retired_usernames"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mod_actions") as batch:
        batch.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade():
    # A plain DROP COLUMN (SQLite 3.35+ has it): batch mode would copy the table, reflecting
    # the tables its keys point at, and SQLAlchemy warns that it cannot reflect topics'
    # expression index (ix_topics_sig_order).
    op.drop_column("mod_actions", "params")
