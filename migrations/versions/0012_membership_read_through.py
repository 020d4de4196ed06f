"""memberships: read_through, what "Mark all read" read up to

Revision ID: 0012_membership_read_through
Revises: 0011_login_throttles
Create Date: 2026-12-04 19:30:00.000000

/new lists only the topics of a SIG that moved after the member last marked it read, so that its
cost follows the activity since then instead of the number of topics on the site. Memberships
before this revision have none: /new looks at all of their SIG's topics until the member marks it
read again, exactly as before.
"""

import sqlalchemy as sa
from alembic import op

from forum.timeutil import UTCDateTime

# revision identifiers, used by Alembic.
revision = "0012_membership_read_through"
down_revision = "0011_login_throttles"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "memberships", sa.Column("read_through", UTCDateTime(timezone=True), nullable=True)
    )


def downgrade():
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("read_through")
