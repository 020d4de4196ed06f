"""reactions and bookmarks: one emoji per member per post; posts kept with a reminder time

Revision ID: 0026_reactions_bookmarks
Revises: 0025_mail_in
Create Date: 2026-12-05 01:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0026_reactions_bookmarks"
down_revision = "0025_mail_in"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "post_reactions",
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("emoji", sa.String(length=32), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_post_reactions_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_post_reactions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", name=op.f("pk_post_reactions")),
    )
    with op.batch_alter_table("post_reactions", schema=None) as batch_op:
        batch_op.create_index("ix_post_reactions_created", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_post_reactions_user_id"), ["user_id"], unique=False)
    op.create_table(
        "bookmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("remind_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_bookmarks_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_bookmarks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookmarks")),
        sa.UniqueConstraint("user_id", "post_id", name=op.f("uq_bookmarks_user_id")),
    )
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookmarks_post_id"), ["post_id"], unique=False)
        batch_op.create_index("ix_bookmarks_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index("ix_bookmarks_remind_at", ["remind_at"], unique=False)


def downgrade():
    with op.batch_alter_table("bookmarks", schema=None) as batch_op:
        batch_op.drop_index("ix_bookmarks_remind_at")
        batch_op.drop_index("ix_bookmarks_user_created")
        batch_op.drop_index(batch_op.f("ix_bookmarks_post_id"))
    op.drop_table("bookmarks")
    with op.batch_alter_table("post_reactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_reactions_user_id"))
        batch_op.drop_index("ix_post_reactions_created")
    op.drop_table("post_reactions")
