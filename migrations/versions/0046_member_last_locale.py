"""members: the language each member last read the forum in

Revision ID: 0046_member_last_locale
Revises: 0045_held_jobs
Create Date: 2026-12-07 20:50:00.000000

A member whose language setting is "As my browser asks" (users.language NULL) got mail,
digests and live notifications in English, whatever language their pages were in: outside a
request there is no browser to ask. users.last_locale keeps the language of their pages (noted
at sign-in and when it changes, forum.accounts.services.note_page_language); NULL until they
sign in or read a page again, and they keep English until then.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0046_member_last_locale"
down_revision = "0045_held_jobs"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("last_locale", sa.String(length=8), nullable=True))


def downgrade():
    # Not batch mode: on SQLite that copies users into a new table and drops the old one, and
    # with foreign keys on, dropping it deletes every row that cascades from a member (their
    # concerns, memberships …). SQLite (3.35+) drops a plain column in place, as PostgreSQL does.
    op.drop_column("users", "last_locale")
