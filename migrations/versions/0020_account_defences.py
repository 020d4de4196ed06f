"""accounts: sysop approval of new accounts; site settings long enough for blocklists

Revision ID: 0020_account_defences
Revises: 0019_drafts
Create Date: 2026-12-04 23:00:00.000000

Every existing account is approved. A site setting's value becomes Text: the blocked email
domains and address ranges run to thousands of lines.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020_account_defences"
down_revision = "0019_drafts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("approval", sa.String(length=16), server_default="approved", nullable=False)
        )
        batch.create_index("ix_users_approval", ["approval"], unique=False)
    with op.batch_alter_table("site_settings") as batch:
        batch.alter_column(
            "value", existing_type=sa.String(length=2000), type_=sa.Text(), existing_nullable=False
        )


def downgrade():
    with op.batch_alter_table("site_settings") as batch:
        batch.alter_column(
            "value", existing_type=sa.Text(), type_=sa.String(length=2000), existing_nullable=False
        )
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_approval")
        batch.drop_column("approval")
