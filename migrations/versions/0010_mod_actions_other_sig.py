"""mod_actions: the other SIG of a verb that takes posts from one SIG to another

Revision ID: 0010_mod_actions_other_sig
Revises: 0009_posts_insert_indexes
Create Date: 2026-11-26 10:00:00.000000

Moving, splitting and merging topics across SIGs writes one log entry in each SIG, and their
details name both SIGs (or topics of both). `other_sig_id` records the other SIG, so that a SIG
sysop who does not moderate it reads the entry without those details. Entries written before
this revision get it from their twin: the entry of the same verb and details, written just
before or after in the other SIG.
"""

import warnings

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_mod_actions_other_sig"
down_revision = "0009_posts_insert_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with warnings.catch_warnings():
        # On SQLite the batch copies mod_actions, reflecting the tables it refers to; the
        # expression index on topics cannot be reflected, and the copy does not need it.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection")
        with op.batch_alter_table("mod_actions") as batch:
            batch.add_column(sa.Column("other_sig_id", sa.Integer(), nullable=True))
            batch.create_index("ix_mod_actions_other_sig_id", ["other_sig_id"], unique=False)
            batch.create_foreign_key(
                "fk_mod_actions_other_sig_id_sigs",
                "sigs",
                ["other_sig_id"],
                ["id"],
                ondelete="SET NULL",
            )
    op.execute(
        sa.text(
            """
            UPDATE mod_actions SET other_sig_id = (
                SELECT twin.sig_id FROM mod_actions AS twin
                WHERE twin.id IN (mod_actions.id - 1, mod_actions.id + 1)
                  AND twin.action = mod_actions.action
                  AND twin.details = mod_actions.details
                  AND twin.sig_id <> mod_actions.sig_id
                ORDER BY twin.id
                LIMIT 1
            )
            WHERE action IN ('move_topic', 'split_topic', 'merge_topics')
            """
        )
    )


def downgrade():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection")
        with op.batch_alter_table("mod_actions") as batch:
            batch.drop_constraint("fk_mod_actions_other_sig_id_sigs", type_="foreignkey")
            batch.drop_index("ix_mod_actions_other_sig_id")
            batch.drop_column("other_sig_id")
