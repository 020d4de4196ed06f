"""care: whether a concern is a ban appeal (written on /care/appeal by a member banned site-wide)

Revision ID: 0035_concern_appeals
Revises: 0034_sig_invites
Create Date: 2026-12-06 15:00:00.000000

One column with a server default: the concerns that exist already are not appeals (nothing
recorded which were). A plain ALTER TABLE ADD COLUMN on both databases (as 0012 does), so
SQLite does not copy the table; the downgrade drops it in batch mode.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0035_concern_appeals"
down_revision = "0034_sig_invites"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "concerns", sa.Column("is_appeal", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade():
    # Without the tables its foreign keys name: reflecting them would reach topics, whose
    # expression index SQLAlchemy cannot reflect (a warning, an error in the tests).
    with op.batch_alter_table("concerns", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.drop_column("is_appeal")
