"""announcements: when the event of its end went out (end_published_at)

Revision ID: 0042_announcement_end_events
Revises: 0041_announcement_windows
Create Date: 2026-12-08 18:00:00.000000

An announcement that reaches its end by itself now publishes AnnouncementEnded, once, from the
minute sweep (forum.announcements.services.sweep_announcements), so cached guest pages drop its
banner; "End now" publishes it as before. end_published_at says it went out. The rows that have
ended already get their end (their banner is long gone from every page, and a first sweep
announcing each again would move every SIG's version for nothing); the others stay NULL. The
rows are filled one by one in Python (the same comparison on SQLite's text and PostgreSQL's
timestamptz; announcements are few). The downgrade drops the column.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0042_announcement_end_events"
down_revision = "0041_announcement_windows"
branch_labels = None
depends_on = None

_table = sa.table(
    "announcements",
    sa.column("id", sa.Integer()),
    sa.column("ends_at", sa.DateTime(timezone=True)),
    sa.column("end_published_at", sa.DateTime(timezone=True)),
)


def _utc(value: datetime) -> datetime:
    """SQLite hands the stored UTC back without its zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade():
    op.add_column("announcements", sa.Column("end_published_at", sa.DateTime(timezone=True)))
    conn = op.get_bind()
    now = datetime.now(UTC)
    for row_id, ends in conn.execute(sa.select(_table.c.id, _table.c.ends_at)).all():
        if _utc(ends) <= now:
            conn.execute(_table.update().where(_table.c.id == row_id).values(end_published_at=ends))


def downgrade():
    # Without the tables its foreign keys name (0041's note).
    with op.batch_alter_table("announcements", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.drop_column("end_published_at")
