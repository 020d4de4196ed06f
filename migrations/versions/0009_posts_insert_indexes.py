"""posts: fewer index pages written per new post

Revision ID: 0009_posts_insert_indexes
Revises: 0008_search_queue_ids
Create Date: 2026-11-24 23:10:00.000000

Inserting a post wrote a page in each of ten indexes. Two repeated the first column of
another (topic_id: uq_posts_topic_number; user_id: ix_posts_user_created), and three hold a
column that is empty on nearly every post (reply_to_post_id, deleted_by_id, hidden_by_id): they
now hold only the posts where it is set. A reply's write turn, which SQLite runs one at a time,
gets shorter.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_posts_insert_indexes"
down_revision = "0008_search_queue_ids"
branch_labels = None
depends_on = None

MOSTLY_EMPTY = ("reply_to_post_id", "deleted_by_id", "hidden_by_id")


def upgrade():
    op.drop_index("ix_posts_topic_id", table_name="posts")
    op.drop_index("ix_posts_user_id", table_name="posts")
    for column in MOSTLY_EMPTY:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(f"ix_posts_{column}", table_name="posts")
        op.create_index(
            f"ix_posts_{column}",
            "posts",
            [column],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade():
    for column in MOSTLY_EMPTY:
        op.drop_index(f"ix_posts_{column}", table_name="posts")
        op.create_index(f"ix_posts_{column}", "posts", [column], unique=False)
    op.create_index("ix_posts_user_id", "posts", ["user_id"], unique=False)
    op.create_index("ix_posts_topic_id", "posts", ["topic_id"], unique=False)
