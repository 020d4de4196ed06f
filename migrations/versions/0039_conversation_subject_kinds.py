"""care: a concern's subject the forum gives (a page's, an appeal's) said in the reader's language

Revision ID: 0039_conversation_subject_kinds
Revises: 0038_posts_hidden_by_flags
Create Date: 2026-12-07 08:30:00.000000

A new nullable column conversations.subject_kind: None for a subject as its member typed it,
"page" when `subject` holds the words of a page of the sysops (shown "Page: <words>"), "appeal"
for a ban appeal written without a subject (`subject` empty, shown "My account's ban"), each
said when shown, in the reader's language.

Rows written before stored the whole sentence in the language of whoever made it (the sysop
who took the page, the appealing member). The upgrade parses that fixed shape: a page's
concern whose subject starts with "Page: ", "Ruf: " or "Llamada: " (the three catalogs' words
when it was written) keeps only the words; a concern to the site's sysops whose subject is
exactly "My account's ban" (or its German or Spanish) becomes the appeal's own. Any other
subject is shown as stored. The downgrade writes the English sentence back and drops the
column.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0039_conversation_subject_kinds"
down_revision = "0038_posts_hidden_by_flags"
branch_labels = None
depends_on = None

PAGE_PREFIXES = ("Page: ", "Ruf: ", "Llamada: ")
APPEAL_SUBJECTS = ("My account's ban", "Die Sperre meines Kontos", "El bloqueo de mi cuenta")


def upgrade():
    op.add_column("conversations", sa.Column("subject_kind", sa.String(16), nullable=True))
    conn = op.get_bind()
    for prefix in PAGE_PREFIXES:
        conn.execute(
            sa.text(
                "UPDATE conversations SET subject = substr(subject, :start), "
                "subject_kind = 'page' WHERE kind = 'concern' AND subject_kind IS NULL "
                "AND substr(subject, 1, :length) = :prefix AND id IN "
                "(SELECT conversation_id FROM concerns WHERE source = 'page')"
            ),
            {"start": len(prefix) + 1, "length": len(prefix), "prefix": prefix},
        )
    conn.execute(
        sa.text(
            "UPDATE conversations SET subject = '', subject_kind = 'appeal' "
            "WHERE kind = 'concern' AND subject_kind IS NULL AND subject IN :subjects AND id IN "
            "(SELECT conversation_id FROM concerns WHERE sig_id IS NULL)"
        ).bindparams(sa.bindparam("subjects", expanding=True)),
        {"subjects": list(APPEAL_SUBJECTS)},
    )


def downgrade():
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE conversations SET subject = substr('Page: ' || subject, 1, 200) "
            "WHERE subject_kind = 'page'"
        )
    )
    conn.execute(
        sa.text("UPDATE conversations SET subject = :subject WHERE subject_kind = 'appeal'"),
        {"subject": APPEAL_SUBJECTS[0]},
    )
    # A plain DROP COLUMN (SQLite 3.35+ has it), as 0037 does: batch mode would copy the table.
    op.drop_column("conversations", "subject_kind")
