"""accounts: the names of deleted accounts, retired (a keyed digest each, never the name)

Revision ID: 0036_retired_usernames
Revises: 0035_concern_appeals
Create Date: 2026-12-06 16:00:00.000000

A new table, empty: the accounts deleted before it have their names free already (nothing
recorded them). The downgrade drops it.
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0036_retired_usernames"
down_revision = "0035_concern_appeals"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "retired_usernames",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("retired_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_retired_usernames")),
    )


def downgrade():
    op.drop_table("retired_usernames")
