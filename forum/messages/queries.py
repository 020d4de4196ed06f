"""Read models: the mailbox, one conversation, the header's unread count, search in my mail.

Every query starts from the reader's own conversation_members rows
(permissions.my_conversations_clause), so nothing here can reach someone else's mail.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, lambda_stmt, or_, select

from .. import content, permissions, settings
from ..accounts.models import User
from ..accounts.queries import iso
from ..db import read_columns
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from .models import (
    KIND_PRIVATE,
    KIND_TEXT,
    Conversation,
    ConversationMember,
    MemberIgnore,
    PrivateMessage,
)

PER_PAGE = 30
EXCERPT_LENGTH = 120
SEARCH_LIMIT = 50

INBOX = "inbox"
ARCHIVE = "archive"


def _unread() -> Any:
    return and_(
        Conversation.last_message_id > ConversationMember.last_read_message_id,
        Conversation.last_message_id > ConversationMember.visible_after_id,
    )


def unread_count(user_id: int) -> int:
    """Conversations with messages this member has not read: the header's "Mail (n)"."""
    # A lambda_stmt, built once per process: building it cost more CPU than running it (a
    # hot site measured for issue 17, sixth session; the header reads it with its other counts,
    # forum.web.header_counts).
    statement = lambda_stmt(
        lambda: select(unread_count_column(bindparam("user_id"))), enable_tracking=False
    )
    return int(read_columns(statement, {"user_id": user_id}).scalar() or 0)


def unread_count_column(user_id: Any) -> Any:
    """unread_count as a scalar subquery on a member id (a bind parameter)."""
    return (
        select(func.count())
        .select_from(ConversationMember)
        .join(Conversation, Conversation.id == ConversationMember.conversation_id)
        .where(
            ConversationMember.user_id == user_id,
            ConversationMember.left_at.is_(None),
            _unread(),
        )
        .scalar_subquery()
    )


def unread_counts(user_ids: list[int]) -> dict[int, int]:
    """The same for many members in one query (live delivery)."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(ConversationMember.user_id, func.count())
        .join(Conversation, Conversation.id == ConversationMember.conversation_id)
        .where(
            ConversationMember.user_id.in_(sorted(user_ids)),
            ConversationMember.left_at.is_(None),
            _unread(),
        )
        .group_by(ConversationMember.user_id)
    )
    counts = dict.fromkeys(user_ids, 0)
    counts.update(dict(rows.all()))
    return counts


@dataclass
class MailboxRow:
    conversation: Conversation
    member: ConversationMember
    participants: list[str]
    unread: bool
    last_author: str | None = None
    excerpt: str = ""


@dataclass
class Mailbox:
    rows: list[MailboxRow]
    folder: str
    page: int
    has_next: bool
    unread: int
    query: str = ""


def _participants(conversation_ids: list[int], viewer_id: int) -> dict[int, list[str]]:
    names: dict[int, list[str]] = defaultdict(list)
    if not conversation_ids:
        return names
    for cid, name in db.session.execute(
        select(ConversationMember.conversation_id, User.username)
        .join(User, User.id == ConversationMember.user_id)
        .where(
            ConversationMember.conversation_id.in_(conversation_ids),
            ConversationMember.left_at.is_(None),
            ConversationMember.user_id != viewer_id,
        )
        .order_by(User.username)
    ):
        names[cid].append(name)
    return names


def _last_messages(rows: list[MailboxRow]) -> None:
    """The newest message of each conversation, when the reader may read it: one query."""
    wanted = {
        r.conversation.last_message_id: r
        for r in rows
        if r.conversation.last_message_id > r.member.visible_after_id
    }
    if not wanted:
        return
    for message, name in db.session.execute(
        select(PrivateMessage, User.username)
        .outerjoin(User, User.id == PrivateMessage.user_id)
        .where(PrivateMessage.id.in_(sorted(wanted)))
    ):
        row = wanted[message.id]
        # A concern's answers are from "the sysops" (forum.care): no name but private mail's.
        row.last_author = name if row.conversation.kind == KIND_PRIVATE else None
        row.excerpt = (
            "" if message.is_hidden else content.excerpt(message.body_html, EXCERPT_LENGTH)
        )


def mailbox(current: Any, folder: str = INBOX, page: int = 1) -> Mailbox:
    """The reader's conversations: unread first, then newest, in four queries."""
    viewer = permissions.actor(current)
    assert viewer is not None
    page = max(1, page)
    unread = _unread()
    archived = (
        ConversationMember.archived_at.is_not(None)
        if folder == ARCHIVE
        else ConversationMember.archived_at.is_(None)
    )
    result = db.session.execute(
        select(Conversation, ConversationMember)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(permissions.my_conversations_clause(viewer), archived)
        .order_by(
            case((unread, 0), else_=1),
            Conversation.last_message_at.desc(),
            Conversation.id.desc(),
        )
        .limit(PER_PAGE + 1)
        .offset((page - 1) * PER_PAGE)
    ).all()
    if page > 1 and not result:
        raise NotFound(_l("That page does not exist."))
    shown = result[:PER_PAGE]
    names = _participants([c.id for c, _m in shown], viewer.id)
    rows = [
        MailboxRow(
            conversation=c,
            member=m,
            participants=names.get(c.id, []),
            unread=c.last_message_id > max(m.last_read_message_id, m.visible_after_id),
        )
        for c, m in shown
    ]
    _last_messages(rows)
    return Mailbox(
        rows=rows,
        folder=folder,
        page=page,
        has_next=len(result) > PER_PAGE,
        unread=unread_count(viewer.id),
    )


def search_mail(current: Any, text: str) -> Mailbox:
    """Conversations of the reader's own whose subject or readable messages hold the words:
    a plain LIKE over their own mail, never the public search index."""
    viewer = permissions.actor(current)
    assert viewer is not None
    words = [w for w in text.split() if w][:5]
    if not words:
        return Mailbox(rows=[], folder=INBOX, page=1, has_next=False, unread=0, query=text)

    def like(column: Any, word: str) -> Any:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return func.lower(column).like(f"%{escaped.lower()}%", escape="\\")

    in_messages = (
        select(PrivateMessage.conversation_id)
        .where(
            PrivateMessage.conversation_id == ConversationMember.conversation_id,
            PrivateMessage.id > ConversationMember.visible_after_id,
            PrivateMessage.kind == KIND_TEXT,
            PrivateMessage.hidden_at.is_(None),
            and_(*[like(PrivateMessage.body_raw, w) for w in words]),
        )
        .exists()
    )
    in_subject = and_(*[like(Conversation.subject, w) for w in words])
    result = db.session.execute(
        select(Conversation, ConversationMember)
        .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
        .where(permissions.my_conversations_clause(viewer), or_(in_subject, in_messages))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(SEARCH_LIMIT)
    ).all()
    names = _participants([c.id for c, _m in result], viewer.id)
    rows = [
        MailboxRow(
            conversation=c,
            member=m,
            participants=names.get(c.id, []),
            unread=c.last_message_id > max(m.last_read_message_id, m.visible_after_id),
        )
        for c, m in result
    ]
    _last_messages(rows)
    return Mailbox(
        rows=rows, folder=INBOX, page=1, has_next=False, unread=unread_count(viewer.id), query=text
    )


@dataclass
class MessageView:
    message: PrivateMessage
    author: str | None
    target: str | None
    unread: bool
    folded: bool  # written by a member the reader ignores


@dataclass
class ConversationPage:
    conversation: Conversation
    member: ConversationMember
    participants: list[User]
    messages: list[MessageView]
    page: int
    pages: int
    max_participants: int
    first_unread_id: int | None = None
    last_shown_id: int = 0
    can_write: bool = True
    write_problem: str | None = None
    can_add: bool = True  # add members (permissions.manage_conversation_problem)
    history_hidden: bool = False
    notes: list[str] = field(default_factory=list)


def conversation_page(
    current: Any, conversation_id: int, page: int | None = None
) -> ConversationPage:
    """One page of a conversation, oldest first; without a page, the one with the first unread
    message (or the last). Five queries whatever the number of messages."""
    viewer = permissions.actor(current)
    conversation, row = permissions.get_conversation_for(viewer, conversation_id)
    assert viewer is not None
    per_page = int(current_app.config["MAIL_PER_PAGE"])
    visible = permissions.visible_messages_clause(row)
    total, unread_before = db.session.execute(
        select(
            func.count(),
            func.count(case((PrivateMessage.id <= row.last_read_message_id, 1))),
        ).where(visible)
    ).one()
    pages = max(1, (int(total) - 1) // per_page + 1)
    if page is None:
        page = min(pages, int(unread_before) // per_page + 1)
    if page < 1 or page > pages:
        raise NotFound(_l("That page does not exist."))
    target = User.__table__.alias("target")
    ignored = permissions.ignored_user_ids(viewer)
    messages = [
        MessageView(
            message=m,
            author=author,
            target=target_name,
            unread=m.id > row.last_read_message_id and m.user_id != viewer.id,
            folded=m.user_id in ignored,
        )
        for m, author, target_name in db.session.execute(
            select(PrivateMessage, User.username, target.c.username)
            .outerjoin(User, User.id == PrivateMessage.user_id)
            .outerjoin(target, target.c.id == PrivateMessage.target_user_id)
            .where(visible)
            .order_by(PrivateMessage.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    ]
    participants = list(
        db.session.scalars(
            select(User)
            .join(ConversationMember, ConversationMember.user_id == User.id)
            .where(
                ConversationMember.conversation_id == conversation.id,
                ConversationMember.left_at.is_(None),
            )
            .order_by(User.username)
        )
    )
    add_problem = permissions.manage_conversation_problem(viewer, participants)
    problem = permissions.reply_mail_problem(viewer, conversation)
    if problem is None:
        # Who takes no mail from the viewer: for one who may start mail, the add rule read it.
        if permissions.send_mail_problem(viewer) is None:
            problem = add_problem
        else:
            problem = permissions.first_refusal(viewer, participants)
        if problem is None and len(participants) < 2:
            problem = _l("Everyone else has left this conversation.")
    first_unread = next((m.message.id for m in messages if m.unread), None)
    return ConversationPage(
        conversation=conversation,
        member=row,
        participants=participants,
        messages=messages,
        page=page,
        pages=pages,
        max_participants=max(2, settings.get_int("mail_max_participants")),
        first_unread_id=first_unread,
        last_shown_id=max((m.message.id for m in messages), default=0),
        can_write=problem is None,
        write_problem=str(problem) if problem else None,
        can_add=add_problem is None,
        history_hidden=row.visible_after_id > 0,
    )


def ignored_members(current: Any) -> list[User]:
    """The members the reader ignores, by name (the settings page)."""
    viewer = permissions.actor(current)
    if viewer is None:
        return []

    return list(
        db.session.scalars(
            select(User)
            .join(MemberIgnore, MemberIgnore.ignored_id == User.id)
            .where(MemberIgnore.user_id == viewer.id)
            .order_by(User.username)
        )
    )


def account_conversations(user: User) -> list[dict[str, Any]]:
    """The conversations the member took part in, for their data export (hooks.account_data):
    subjects and dates; the words are in private_messages, the member's own only."""
    return [
        {
            "id": c.id,
            "subject": c.shown_subject,
            "kind": c.kind,
            "created_at": iso(c.created_at),
            "joined_at": iso(m.joined_at),
            "left_at": iso(m.left_at),
            "archived_at": iso(m.archived_at),
        }
        for c, m in db.session.execute(
            select(Conversation, ConversationMember)
            .join(ConversationMember, ConversationMember.conversation_id == Conversation.id)
            .where(ConversationMember.user_id == user.id)
            .order_by(Conversation.id)
        )
    ]


def account_messages(user: User) -> list[dict[str, Any]]:
    """The private messages the member wrote (never another member's), for their data export."""
    return [
        {
            "id": pm.id,
            "conversation_id": pm.conversation_id,
            "body_raw": pm.body_raw,
            "body_html": pm.body_html,
            "created_at": iso(pm.created_at),
            "hidden_at": iso(pm.hidden_at),
        }
        for pm in db.session.scalars(
            select(PrivateMessage)
            .where(PrivateMessage.user_id == user.id, PrivateMessage.kind == KIND_TEXT)
            .order_by(PrivateMessage.id)
        )
    ]
