"""webhooks: each webhook's signing secret sealed with the site's secret key

Revision ID: 0033_sealed_webhook_secrets
Revises: 0032_search_slices
Create Date: 2026-12-07 01:00:00.000000

`webhooks.secret` (the HMAC key, in clear) becomes `webhooks.sealed_secret`: the same secret
sealed by forum.sealed (Fernet under a key derived from SECRET_KEY), 164 characters, so the
column is wider. Every existing secret is sealed here with the SECRET_KEY of the app that runs
the migration (Flask-Migrate runs it in the app's context): run `flask db upgrade` with the
site's own configuration. The downgrade opens them again (with SECRET_KEY or one of
SECRET_KEY_FALLBACKS) and stops, changing nothing, if one does not open.

The new column is added, filled, and the old one dropped, each in place (SQLite 3.35 or later
drops a column in place): the batch mode's copy of the table would drop `webhooks`, and with it,
through ON DELETE CASCADE, every delivery and attempt in the log. SQLite cannot add a NOT NULL
column without a default, so there the column keeps a default of '' that nothing uses (the
model always writes a sealed secret); PostgreSQL drops it.
"""

import sqlalchemy as sa
from alembic import context, op

from forum import sealed

# revision identifiers, used by Alembic.
revision = "0033_sealed_webhook_secrets"
down_revision = "0032_search_slices"
branch_labels = None
depends_on = None

webhooks = sa.table(
    "webhooks",
    sa.column("id", sa.Integer()),
    sa.column("secret", sa.String()),
    sa.column("sealed_secret", sa.String()),
)


def _rows(column):
    if context.is_offline_mode():
        raise RuntimeError(
            "0033_sealed_webhook_secrets seals the secrets it reads: run it against the "
            "database (flask db upgrade), not as SQL (--sql)"
        )
    return op.get_bind().execute(sa.select(webhooks.c.id, column).order_by(webhooks.c.id)).all()


def _write(column, values):
    if values:
        op.get_bind().execute(
            webhooks.update()
            .where(webhooks.c.id == sa.bindparam("hook_id"))
            .values({column.name: sa.bindparam("value")}),
            [{"hook_id": hook_id, "value": value} for hook_id, value in values],
        )


def _swap(new, length, old, fill):
    """Add column `new` (String(length), NOT NULL), write fill(value of `old`) into every row,
    then drop `old`."""
    rows = _rows(webhooks.c[old])
    values = [(hook_id, fill(hook_id, value)) for hook_id, value in rows]  # all, before a change
    op.add_column(
        "webhooks",
        sa.Column(new, sa.String(length=length), nullable=False, server_default=""),
    )
    _write(webhooks.c[new], values)
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "webhooks", new, existing_type=sa.String(length=length), server_default=None
        )
    op.drop_column("webhooks", old)


def upgrade():
    _swap("sealed_secret", 255, "secret", lambda _id, secret: sealed.seal(secret))


def _opened(hook_id, token):
    try:
        return sealed.open(token)
    except sealed.Unreadable:
        raise RuntimeError(
            f"webhook {hook_id}'s secret does not open with this SECRET_KEY or its "
            "SECRET_KEY_FALLBACKS: downgrade with the key that sealed it (nothing was changed)"
        ) from None


def downgrade():
    _swap("secret", 100, "sealed_secret", _opened)
