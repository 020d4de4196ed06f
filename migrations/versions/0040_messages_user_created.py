"""messages: the author's newest private messages by one index (the double-submit rule)

Revision ID: 0040_messages_user_created
Revises: 0039_conversation_subject_kinds
Create Date: 2026-12-07 12:00:00.000000

The double-submit rule (forum.duplicates) asks, in the write transaction of every private
message and concern, what the author wrote within the last couple of minutes. The index on
`private_messages.user_id` alone leaves PostgreSQL reading every message the author ever wrote
to find those; `(user_id, created_at)` reads only the window, as `ix_posts_user_created` does
for posts. It replaces the one-column index, which it covers (the foreign key's lookups when an
account goes). The downgrade puts the one-column index back.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0040_messages_user_created"
down_revision = "0039_conversation_subject_kinds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_private_messages_user_created", "private_messages", ["user_id", "created_at"]
    )
    op.drop_index("ix_private_messages_user_id", table_name="private_messages")


def downgrade() -> None:
    op.create_index("ix_private_messages_user_id", "private_messages", ["user_id"])
    op.drop_index("ix_private_messages_user_created", table_name="private_messages")
