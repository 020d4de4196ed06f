"""members: the interface's language each member chose

Revision ID: 0013_member_language
Revises: 0012_membership_read_through
Create Date: 2026-12-04 18:30:00.000000

NULL until a member picks one: their pages then follow the browser's Accept-Language (or the
language menu's cookie), as a guest's do.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_member_language"
down_revision = "0012_membership_read_through"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
