"""search: PostgreSQL full-text search (post vectors, the words of each SIG, shared state)

Revision ID: 0027_postgres_search
Revises: 0026_reactions_bookmarks
Create Date: 2026-12-05 01:00:00.000000

The tables exist on every database; only PostgreSQL gets the tsvector type, the GIN indexes and
pg_trgm (SQLite keeps them empty: its forums search with Whoosh). The vectors of the posts
written before this are filled by `flask forum reindex` in batches,
while the forum serves: nothing heavy runs here.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0027_postgres_search"
down_revision = "0026_reactions_bookmarks"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    vector = postgresql.TSVECTOR() if postgres else sa.Text()
    op.create_table(
        "post_vectors",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("config", sa.String(length=16), nullable=False),
        sa.Column("vector", vector, nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_vectors_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_vectors")),
    )
    op.create_index(
        "ix_post_vectors_vector", "post_vectors", ["vector"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "search_words",
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=64), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_search_words_sig_id_sigs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("sig_id", "word", name=op.f("pk_search_words")),
    )
    op.create_index(
        "ix_search_words_trgm",
        "search_words",
        ["word"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"word": "gin_trgm_ops"},
    )
    if postgres:
        # Search joins its matches to their posts from this index alone (see the Post model).
        op.create_index(
            "ix_posts_id_cover",
            "posts",
            ["id"],
            unique=False,
            postgresql_include=[
                "topic_id", "created_at", "user_id", "status", "deleted_at", "hidden_at",
            ],
        )  # fmt: skip
    op.create_table(
        "search_state",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_state")),
    )


def downgrade():
    op.drop_table("search_state")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_posts_id_cover", table_name="posts")
    op.drop_index("ix_search_words_trgm", table_name="search_words")
    op.drop_table("search_words")
    op.drop_index("ix_post_vectors_vector", table_name="post_vectors")
    op.drop_table("post_vectors")
