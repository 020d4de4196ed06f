"""search: never reuse a search_queue id on SQLite

Revision ID: 0008_search_queue_ids
Revises: 0007_pulse_indexes
Create Date: 2026-11-24 15:10:00.000000

A drain deletes the queue rows it applied by id, after its index commit. SQLite gives a new row
the largest id + 1, so once other drains had emptied the table, a change queued meanwhile could
get the id of a row this drain had read, and this drain then deleted it unapplied: an update lost
from the index. AUTOINCREMENT never hands an id out twice (PostgreSQL's sequence already doesn't).
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_search_queue_ids"
down_revision = "0007_pulse_indexes"
branch_labels = None
depends_on = None


def _recreate(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "search_queue", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade():
    _recreate(True)


def downgrade():
    _recreate(False)
