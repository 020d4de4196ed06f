"""members: the colours (light, dark or as the system is set) each member chose

Revision ID: 0031_member_theme
Revises: 0030_care
Create Date: 2026-12-05 21:30:00.000000

NULL until a member picks one: their pages then follow the switch's cookie, else the system's
setting, as a guest's do (forum.theme).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0031_member_theme"
down_revision = "0030_care"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("theme", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("theme")
