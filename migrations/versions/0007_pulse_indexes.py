"""pulse: covering indexes for the dashboard at size

Revision ID: 0007_pulse_indexes
Revises: 0006_page_versions
Create Date: 2026-11-24 09:30:00.000000

The dashboard counts posts by time and by topic, and visitors by time, from indexes alone:
- posts (created_at, …) and posts (topic_id, created_at, …) also carry the topic, the author, the
  post number and the three columns that say whether readers can see the post; they replace the
  indexes on (created_at) and (topic_id, created_at), whose prefixes they keep;
- member_visits (first_seen_at, user_id) replaces the index on first_seen_at alone;
- flags.created_at serves "flags raised per day" without reading every flag.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0007_pulse_indexes"
down_revision = "0006_page_versions"
branch_labels = None
depends_on = None

COUNTED = ["user_id", "number", "status", "deleted_at", "hidden_at"]


def upgrade():
    # Plain CREATE and DROP INDEX: no table is copied, on SQLite either.
    op.create_index("ix_posts_created_cover", "posts", ["created_at", "topic_id", *COUNTED])
    op.create_index("ix_posts_topic_created_cover", "posts", ["topic_id", "created_at", *COUNTED])
    op.drop_index("ix_posts_created_at", table_name="posts")
    op.drop_index("ix_posts_topic_created", table_name="posts")
    op.create_index("ix_member_visits_seen_user", "member_visits", ["first_seen_at", "user_id"])
    op.drop_index("ix_member_visits_first_seen_at", table_name="member_visits")
    op.create_index("ix_flags_created_at", "flags", ["created_at"])


def downgrade():
    op.drop_index("ix_flags_created_at", table_name="flags")
    op.create_index("ix_member_visits_first_seen_at", "member_visits", ["first_seen_at"])
    op.drop_index("ix_member_visits_seen_user", table_name="member_visits")
    op.create_index("ix_posts_topic_created", "posts", ["topic_id", "created_at"])
    op.create_index("ix_posts_created_at", "posts", ["created_at"])
    op.drop_index("ix_posts_topic_created_cover", table_name="posts")
    op.drop_index("ix_posts_created_cover", table_name="posts")
