"""moderation: a post hidden by members' flags is known as such, not by English in hide_reason

Revision ID: 0038_posts_hidden_by_flags
Revises: 0037_mod_action_params
Create Date: 2026-12-07 08:00:00.000000

One column with a server default, `posts.hidden_by_flags` (a plain ALTER TABLE ADD COLUMN on
both databases, as 0035 does). Until now an automatic hide (forum.moderation.flags) wrote
"Hidden after 2 flags weighing 2.5; waiting for a sysop." (before the weights, "Hidden after 2
flags; waiting for a sysop.") as the post's hide_reason, as its log entry's reason and into the
author's notification, and every reader saw that English. The upgrade converts what it wrote,
by that fixed shape (never anything a sysop typed, who always left their id in hidden_by_id):

- a post hidden with no hidden_by_id and that reason: hidden_by_flags, no reason;
- an `auto_hide_post` log entry with that reason: the count and the weight as params (and the
  English in details, as new entries keep it), no reason;
- a `post_hidden` notification with that reason: data {"by": "flags"}, and no actor (it named
  the member whose flag tipped the weight).

The downgrade writes the sentences back, from the log's params (a post: from its latest
`auto_hide_post` entry), and drops the column. A notification keeps {"by": "flags"}, which the
older code does not read: it says "A sysop hid your post", as it did for a hide without a reason.
"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0038_posts_hidden_by_flags"
down_revision = "0037_mod_action_params"
branch_labels = None
depends_on = None

SHAPE = re.compile(r"Hidden after (\d+) flags(?: weighing (\d+(?:\.\d+)?))?; waiting for a sysop\.")
LIKE = "Hidden after % flags%; waiting for a sysop."

posts = sa.table(
    "posts",
    sa.column("id", sa.Integer),
    sa.column("hidden_at", sa.DateTime),
    sa.column("hidden_by_id", sa.Integer),
    sa.column("hide_reason", sa.String),
    sa.column("hidden_by_flags", sa.Boolean),
)
mod_actions = sa.table(
    "mod_actions",
    sa.column("id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("post_id", sa.Integer),
    sa.column("reason", sa.Text),
    sa.column("details", sa.Text),
    sa.column("params", sa.JSON),
)
notifications = sa.table(
    "notifications",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("actor_id", sa.Integer),
    sa.column("data", sa.JSON),
)


def _params(reason):
    """The count and the weight in a reason of the fixed shape (None: not that shape)."""
    found = SHAPE.fullmatch(reason or "")
    if found is None:
        return None
    params = {"flags": int(found[1])}
    if found[2] is not None:
        weight = float(found[2])
        params["weight"] = int(weight) if weight == int(weight) else weight
    return params


def _details(params):
    if "weight" in params:
        return f"{params['flags']} flags weighing {params['weight']:g}"
    return f"{params['flags']} flags"


def _reason(params):
    if "weight" in params:
        return (
            f"Hidden after {params['flags']} flags weighing {params['weight']:g}; "
            "waiting for a sysop."
        )
    return f"Hidden after {params['flags']} flags; waiting for a sysop."


def upgrade():
    op.add_column(
        "posts",
        sa.Column("hidden_by_flags", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(posts.c.id, posts.c.hide_reason).where(
            posts.c.hidden_at.is_not(None),
            posts.c.hidden_by_id.is_(None),
            posts.c.hide_reason.like(LIKE),
        )
    ).all()
    ids = [row.id for row in rows if _params(row.hide_reason) is not None]
    if ids:
        conn.execute(
            sa.update(posts)
            .where(posts.c.id.in_(ids))
            .values(hidden_by_flags=True, hide_reason=None)
        )
    entries = conn.execute(
        sa.select(mod_actions.c.id, mod_actions.c.reason).where(
            mod_actions.c.action == "auto_hide_post", mod_actions.c.reason.like(LIKE)
        )
    ).all()
    for entry in entries:
        params = _params(entry.reason)
        if params is not None:
            conn.execute(
                sa.update(mod_actions)
                .where(mod_actions.c.id == entry.id)
                .values(reason="", details=_details(params), params=params)
            )
    told = conn.execute(
        sa.select(notifications.c.id, notifications.c.data).where(
            notifications.c.kind == "post_hidden"
        )
    ).all()
    for note in told:
        data = note.data if isinstance(note.data, dict) else {}
        if _params(data.get("reason")) is not None:
            conn.execute(
                sa.update(notifications)
                .where(notifications.c.id == note.id)
                .values(data={"by": "flags"}, actor_id=None)
            )


def downgrade():
    conn = op.get_bind()
    entries = conn.execute(
        sa.select(mod_actions.c.id, mod_actions.c.post_id, mod_actions.c.params)
        .where(mod_actions.c.action == "auto_hide_post", mod_actions.c.params.is_not(None))
        .order_by(mod_actions.c.id)
    ).all()
    latest = {}
    for entry in entries:
        params = entry.params if isinstance(entry.params, dict) else {}
        if not isinstance(params.get("flags"), int):
            continue
        reason = _reason(params)
        conn.execute(
            sa.update(mod_actions).where(mod_actions.c.id == entry.id).values(reason=reason)
        )
        if entry.post_id is not None:
            latest[entry.post_id] = reason
    hidden = conn.execute(sa.select(posts.c.id).where(posts.c.hidden_by_flags.is_(True))).scalars()
    for post_id in list(hidden):
        if post_id in latest:
            conn.execute(
                sa.update(posts).where(posts.c.id == post_id).values(hide_reason=latest[post_id])
            )
    # A plain DROP COLUMN (SQLite 3.35+), as 0037's downgrade: batch mode would copy posts.
    op.drop_column("posts", "hidden_by_flags")
