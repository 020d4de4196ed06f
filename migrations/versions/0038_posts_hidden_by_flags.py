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

- a post hidden with no hidden_by_id and that reason, while an open flag is left on it:
  hidden_by_flags, no reason (it still waits for a sysop);
- such a post whose flags were all handled (the older code left it so on "hidden", which did
  nothing to an auto-hidden post, on the other outcomes but "dismissed", and on a spam cleanup,
  which skipped hidden posts and resolved their flags): the hide of the sysop who resolved its
  latest flag (`flags.resolved_by_id`; NULL when that account is gone), with the reason of the
  post's latest `resolve_flags` log entry whose outcome was "hidden" (its params, or its details
  "N flag(s): hidden" in older rows) when the latest flag's outcome was "hidden", else none
  (one with no flag left at all, its flaggers' accounts deleted, is in no queue either: a hide
  with no sysop named and no reason);
- an `auto_hide_post` log entry with that reason: the count and the weight as params (and the
  English in details, as new entries keep it), no reason;
- a `post_hidden` notification with that reason: data {"by": "flags"}, and no actor (it named
  the member whose flag tipped the weight).

The downgrade writes the sentences back, from the log's params: a post still marked
hidden_by_flags gets its latest `auto_hide_post` entry's sentence as its reason, and a
`post_hidden` notification {"by": "flags"} gets {"reason": <the sentence>} of the latest
`auto_hide_post` entry of its post (notifications.post_id); one whose post has no such entry
left keeps {"by": "flags"}, which the older code reads as a hide without a reason. The
notification's actor, set to NULL on the upgrade, is not restored (nothing kept who it was),
nor is a post the upgrade gave to the sysop who resolved its flags: it stays that sysop's hide.
Then it drops the column.

This file was changed after it first landed, before any release: its first version marked
every such post hidden_by_flags, handled or not, and left the notifications as {"by": "flags"}
on a downgrade. A development database that ran that version can run this one by downgrading to
0037_mod_action_params and upgrading again (the downgrade writes back what both versions read).
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
# A resolve_flags entry's details before its params (0037): "2 flag(s): hidden".
RESOLVED = re.compile(r"\d+ flag\(s\): (\w+)")

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
flags = sa.table(
    "flags",
    sa.column("id", sa.Integer),
    sa.column("post_id", sa.Integer),
    sa.column("resolved_at", sa.DateTime),
    sa.column("resolved_by_id", sa.Integer),
    sa.column("outcome", sa.String),
)
notifications = sa.table(
    "notifications",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("post_id", sa.Integer),
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


def _handled(conn, post_id):
    """A post the flags hid whose flags a sysop handled since: that sysop's hide, with their
    reason when they chose "hidden", else none."""
    latest = conn.execute(
        sa.select(flags.c.resolved_by_id, flags.c.outcome)
        .where(flags.c.post_id == post_id, flags.c.resolved_at.is_not(None))
        .order_by(flags.c.resolved_at.desc(), flags.c.id.desc())
        .limit(1)
    ).first()
    reason = None
    if latest is not None and latest.outcome == "hidden":
        entries = conn.execute(
            sa.select(mod_actions.c.reason, mod_actions.c.details, mod_actions.c.params)
            .where(mod_actions.c.action == "resolve_flags", mod_actions.c.post_id == post_id)
            .order_by(mod_actions.c.id.desc())
        ).all()
        for entry in entries:
            if _outcome(entry) == "hidden":
                reason = entry.reason or None
                break
    return {
        "hidden_by_flags": False,
        "hidden_by_id": latest.resolved_by_id if latest is not None else None,
        "hide_reason": reason,
    }


def _outcome(entry):
    """The outcome a resolve_flags log entry names: in its params, or its older details."""
    params = entry.params if isinstance(entry.params, dict) else {}
    if isinstance(params.get("outcome"), str):
        return params["outcome"]
    found = RESOLVED.fullmatch(entry.details or "")
    return found[1] if found is not None else None


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
    for row in rows:
        if _params(row.hide_reason) is None:
            continue
        still_open = conn.execute(
            sa.select(flags.c.id)
            .where(flags.c.post_id == row.id, flags.c.resolved_at.is_(None))
            .limit(1)
        ).first()
        if still_open is not None:
            values = {"hidden_by_flags": True, "hide_reason": None}
        else:
            values = _handled(conn, row.id)
        conn.execute(sa.update(posts).where(posts.c.id == row.id).values(**values))
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
    told = conn.execute(
        sa.select(notifications.c.id, notifications.c.post_id, notifications.c.data).where(
            notifications.c.kind == "post_hidden", notifications.c.post_id.is_not(None)
        )
    ).all()
    for note in told:
        data = note.data if isinstance(note.data, dict) else {}
        if data.get("by") == "flags" and note.post_id in latest:
            conn.execute(
                sa.update(notifications)
                .where(notifications.c.id == note.id)
                .values(data={"reason": latest[note.post_id]})
            )
    # A plain DROP COLUMN (SQLite 3.35+), as 0037's downgrade: batch mode would copy posts.
    op.drop_column("posts", "hidden_by_flags")
