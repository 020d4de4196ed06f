"""search: each post vector's date and SIG, and an index of the titles' words (issue 26)

Revision ID: 0032_search_slices
Revises: 0031_member_theme
Create Date: 2026-12-06 01:00:00.000000

PostgreSQL full-text search looks for a common word's newest matches among the newest posts
first (forum/search/postgres.py, `_search`): the GIN index's matches intersected with a range of
`post_vectors.created_at` (the post's date, copied here when the vector is written), so that
only the matches in that slice of the forum are read; a `sig:` search, the newest of that SIG
(`post_vectors.sig_id`, the topic's SIG, rewritten with the vector when a topic moves).
`in:title` searches the title part of the vectors (weight A, first posts only) through an
index of its own instead of reading every vector with the word in its body. Each match's topic
is checked from an index (`ix_topics_id_cover`) instead of the topic's row.

On PostgreSQL the dates and SIGs of the vectors already written are copied from their posts
here (one UPDATE: it rewrites the vectors table once, 7 s at 100,000 posts on the 2-core VM).
SQLite keeps the table empty (its forums search with Whoosh).
"""

import warnings

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0032_search_slices"
down_revision = "0031_member_theme"
branch_labels = None
depends_on = None

TITLE_INDEX = "ix_post_vectors_title"


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    date = forum.timeutil.UTCDateTime(timezone=True)
    with op.batch_alter_table("post_vectors") as batch:
        batch.add_column(sa.Column("created_at", date, nullable=True))
        batch.add_column(sa.Column("sig_id", sa.Integer(), nullable=True))
    if postgres:
        op.execute(
            "UPDATE post_vectors SET created_at = posts.created_at, sig_id = topics.sig_id "
            "FROM posts JOIN topics ON topics.id = posts.topic_id "
            "WHERE posts.id = post_vectors.post_id"
        )
    with warnings.catch_warnings():
        # SQLite copies the table, reflecting the tables it refers to: an expression index
        # there (ix_topics_sig_order) cannot be reflected, and needs not be.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table("post_vectors") as batch:
            batch.alter_column("created_at", existing_type=date, nullable=False)
            batch.alter_column("sig_id", existing_type=sa.Integer(), nullable=False)
            batch.create_index("ix_post_vectors_created_at", ["created_at"], unique=False)
            batch.create_index(
                "ix_post_vectors_sig_created", ["sig_id", "created_at"], unique=False
            )
    if postgres:
        op.execute(
            f"CREATE INDEX {TITLE_INDEX} ON post_vectors "
            "USING gin (ts_filter(vector, '{a}'::\"char\"[]))"
        )
        # Each match's topic checked from the index alone (see the Topic model).
        op.create_index(
            "ix_topics_id_cover",
            "topics",
            ["id"],
            unique=False,
            postgresql_include=["sig_id", "deleted_at", "first_post_id"],
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_topics_id_cover", table_name="topics")
        op.drop_index(TITLE_INDEX, table_name="post_vectors")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
        with op.batch_alter_table("post_vectors") as batch:
            batch.drop_index("ix_post_vectors_sig_created")
            batch.drop_index("ix_post_vectors_created_at")
            batch.drop_column("sig_id")
            batch.drop_column("created_at")
