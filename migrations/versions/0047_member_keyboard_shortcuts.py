"""members: keyboard shortcuts on or off

Revision ID: 0047_member_keyboard_shortcuts
Revises: 0046_member_last_locale
Create Date: 2026-12-08 00:10:00.000000

The pages answer single keys (j/k, r, /, ?, g h, g n; static/js/shortcuts.js). WCAG 2.1.4 asks that
a member can turn single-key shortcuts off: users.keyboard_shortcuts, true for every member
until they do (the settings page, "Keyboard shortcuts").
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0047_member_keyboard_shortcuts"
down_revision = "0046_member_last_locale"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "users",
        sa.Column("keyboard_shortcuts", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade():
    # Not batch mode (see 0046): SQLite (3.35+) drops a plain column in place, as PostgreSQL
    # does, and no table that cascades from a member is copied.
    op.drop_column("users", "keyboard_shortcuts")
