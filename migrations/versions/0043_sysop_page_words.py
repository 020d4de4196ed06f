"""care: a page's words in a column as long as the page keeps (sysop_pages.body VARCHAR(500))

Revision ID: 0043_sysop_page_words
Revises: 0042_announcement_end_events
Create Date: 2026-12-08 20:00:00.000000

The service has always refused a page of more than 500 characters (forum.care.services
PAGE_TEXT_LIMIT), the page form's box and the API's model say the same; the column held 1,000.
It now holds what is kept, as every other length-limited text's column does. No row can be
longer; should one be (written by hand), it is cut to its first 500 characters before the
column narrows (PostgreSQL refuses to narrow over a longer value), and the concern a page
became keeps its words whole in its first message. In batch mode for SQLite, without the tables
its foreign keys name (0041's note). The downgrade widens it again.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0043_sysop_page_words"
down_revision = "0042_announcement_end_events"
branch_labels = None
depends_on = None

LIMIT = 500  # forum.care.services.PAGE_TEXT_LIMIT when this was written

_table = sa.table("sysop_pages", sa.column("body", sa.String()))


def upgrade():
    op.execute(
        _table.update()
        .where(sa.func.length(_table.c.body) > LIMIT)
        .values(body=sa.func.substr(_table.c.body, 1, LIMIT))
    )
    with op.batch_alter_table("sysop_pages", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.alter_column(
            "body",
            existing_type=sa.String(length=1000),
            type_=sa.String(length=LIMIT),
            existing_nullable=False,
        )


def downgrade():
    with op.batch_alter_table("sysop_pages", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.alter_column(
            "body",
            existing_type=sa.String(length=LIMIT),
            type_=sa.String(length=1000),
            existing_nullable=False,
        )
