"""announcements: when each shows (starts_at, ends_at) and when its event went out

Revision ID: 0041_announcement_windows
Revises: 0040_messages_user_created
Create Date: 2026-12-08 12:00:00.000000

Announcements may be scheduled and ended: the banner shows one while starts_at <= now <
ends_at. Both columns are NOT NULL and written out, not NULL for "the default": a row says its
own window, the list and the API show it as stored, and a later change of the banner's 30 days
does not move the end of announcements already posted. The rows that exist showed from their
posting for 30 days (the banner's BANNER_DAYS), so they get exactly that: starts_at = created_at,
ends_at = created_at + 30 days, and published_at = created_at (their AnnouncementPublished went
out when they were posted). The columns are added nullable, filled row by row in Python (the
same arithmetic on SQLite's text and PostgreSQL's timestamptz; announcements are few), then
made NOT NULL in batch mode. The downgrade drops them.
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0041_announcement_windows"
down_revision = "0040_messages_user_created"
branch_labels = None
depends_on = None

DAYS = 30  # forum.announcements.queries.BANNER_DAYS when this was written

_table = sa.table(
    "announcements",
    sa.column("id", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("starts_at", sa.DateTime(timezone=True)),
    sa.column("ends_at", sa.DateTime(timezone=True)),
    sa.column("published_at", sa.DateTime(timezone=True)),
)


def upgrade():
    for name in ("starts_at", "ends_at", "published_at"):
        op.add_column("announcements", sa.Column(name, sa.DateTime(timezone=True)))
    conn = op.get_bind()
    for row_id, created in conn.execute(sa.select(_table.c.id, _table.c.created_at)).all():
        conn.execute(
            _table.update()
            .where(_table.c.id == row_id)
            .values(starts_at=created, ends_at=created + timedelta(days=DAYS), published_at=created)
        )
    # Without the tables its foreign keys name: reflecting them would reach topics, whose
    # expression index SQLAlchemy cannot reflect (0035's note).
    with op.batch_alter_table("announcements", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.alter_column("starts_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("ends_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index("ix_announcements_starts_at", ["starts_at"])
        batch.create_index("ix_announcements_ends_at", ["ends_at"])


def downgrade():
    with op.batch_alter_table("announcements", reflect_kwargs={"resolve_fks": False}) as batch:
        batch.drop_index("ix_announcements_ends_at")
        batch.drop_index("ix_announcements_starts_at")
        batch.drop_column("published_at")
        batch.drop_column("ends_at")
        batch.drop_column("starts_at")
