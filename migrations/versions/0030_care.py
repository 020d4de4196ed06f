"""care: concerns (members writing to the sysops), their notes, each SIG's deadlines, sysops
on duty and pages; the per-SIG welcome marks; conversations get a kind

Revision ID: 0030_care
Revises: 0029_files
Create Date: 2026-12-05 01:12:39.868546

Every conversation made before this is private mail ("private").
"""

import sqlalchemy as sa
from alembic import op

import forum.timeutil

# revision identifiers, used by Alembic.
revision = "0030_care"
down_revision = "0029_files"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sig_care_settings",
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("response_hours", sa.Integer(), nullable=False),
        sa.Column("escalate_hours", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sig_id"],
            ["sigs.id"],
            name=op.f("fk_sig_care_settings_sig_id_sigs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sig_id", name=op.f("pk_sig_care_settings")),
    )
    op.create_table(
        "sig_welcomes",
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("welcomed_by_id", sa.Integer(), nullable=True),
        sa.Column("welcomed_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_sig_welcomes_sig_id_sigs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sig_welcomes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["welcomed_by_id"],
            ["users.id"],
            name=op.f("fk_sig_welcomes_welcomed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("sig_id", "user_id", name=op.f("pk_sig_welcomes")),
    )
    with op.batch_alter_table("sig_welcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sig_welcomes_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sig_welcomes_welcomed_by_id"), ["welcomed_by_id"], unique=False
        )

    op.create_table(
        "sysop_duties",
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("since", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_sysop_duties_sig_id_sigs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sysop_duties_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sig_id", "user_id", name=op.f("pk_sysop_duties")),
    )
    with op.batch_alter_table("sysop_duties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sysop_duties_user_id"), ["user_id"], unique=False)

    op.create_table(
        "concerns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("escalate_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_responder_id", sa.Integer(), nullable=True),
        sa.Column("overdue_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("helped", sa.Boolean(), nullable=True),
        sa.Column("helped_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_activity_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_concerns_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_concerns_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_responder_id"],
            ["users.id"],
            name=op.f("fk_concerns_first_responder_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["users.id"],
            name=op.f("fk_concerns_member_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_concerns_post_id_posts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["users.id"],
            name=op.f("fk_concerns_resolved_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_concerns_sig_id_sigs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concerns")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_concerns_conversation_id")),
    )
    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concerns_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index("ix_concerns_created", ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_concerns_first_responder_id"), ["first_responder_id"], unique=False
        )
        batch_op.create_index("ix_concerns_member", ["member_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_concerns_post_id"), ["post_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_concerns_resolved_by_id"), ["resolved_by_id"], unique=False
        )
        batch_op.create_index(
            "ix_concerns_sig_state", ["sig_id", "state", "last_activity_at"], unique=False
        )
        batch_op.create_index(
            "ix_concerns_unanswered", ["first_response_at", "due_at"], unique=False
        )

    op.create_table(
        "concern_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concern_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body_raw", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_concern_notes_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["concern_id"],
            ["concerns.id"],
            name=op.f("fk_concern_notes_concern_id_concerns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concern_notes")),
    )
    with op.batch_alter_table("concern_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_concern_notes_author_id"), ["author_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_concern_notes_concern_id"), ["concern_id"], unique=False
        )

    op.create_table(
        "sysop_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sig_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("created_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", forum.timeutil.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_by_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expired_at", forum.timeutil.UTCDateTime(timezone=True), nullable=True),
        sa.Column("concern_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["concern_id"],
            ["concerns.id"],
            name=op.f("fk_sysop_pages_concern_id_concerns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["users.id"],
            name=op.f("fk_sysop_pages_member_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sig_id"], ["sigs.id"], name=op.f("fk_sysop_pages_sig_id_sigs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["taken_by_id"],
            ["users.id"],
            name=op.f("fk_sysop_pages_taken_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sysop_pages")),
    )
    with op.batch_alter_table("sysop_pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sysop_pages_concern_id"), ["concern_id"], unique=False)
        batch_op.create_index("ix_sysop_pages_member", ["member_id", "created_at"], unique=False)
        batch_op.create_index("ix_sysop_pages_sig", ["sig_id", "concern_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_sysop_pages_taken_by_id"), ["taken_by_id"], unique=False
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="private", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("kind")

    with op.batch_alter_table("sysop_pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sysop_pages_taken_by_id"))
        batch_op.drop_index("ix_sysop_pages_sig")
        batch_op.drop_index("ix_sysop_pages_member")
        batch_op.drop_index(batch_op.f("ix_sysop_pages_concern_id"))

    op.drop_table("sysop_pages")
    with op.batch_alter_table("concern_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_concern_notes_concern_id"))
        batch_op.drop_index(batch_op.f("ix_concern_notes_author_id"))

    op.drop_table("concern_notes")
    with op.batch_alter_table("concerns", schema=None) as batch_op:
        batch_op.drop_index("ix_concerns_unanswered")
        batch_op.drop_index("ix_concerns_sig_state")
        batch_op.drop_index(batch_op.f("ix_concerns_resolved_by_id"))
        batch_op.drop_index(batch_op.f("ix_concerns_post_id"))
        batch_op.drop_index("ix_concerns_member")
        batch_op.drop_index(batch_op.f("ix_concerns_first_responder_id"))
        batch_op.drop_index("ix_concerns_created")
        batch_op.drop_index(batch_op.f("ix_concerns_assignee_id"))

    op.drop_table("concerns")
    with op.batch_alter_table("sysop_duties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sysop_duties_user_id"))

    op.drop_table("sysop_duties")
    with op.batch_alter_table("sig_welcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sig_welcomes_welcomed_by_id"))
        batch_op.drop_index(batch_op.f("ix_sig_welcomes_user_id"))

    op.drop_table("sig_welcomes")
    op.drop_table("sig_care_settings")
