"""/api/v1/conversations: private mail as its pages have it (forum.messages) — my mailbox, a
conversation with its messages, writing, adding a member, leaving, archiving, reporting a
message — thin views over the same services, read models and policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response

from .. import permissions, ratelimits
from ..accounts.former import is_former
from ..accounts.former import public as public_name
from ..extensions import db
from ..messages import queries as mail_queries
from ..messages import services as mail_services
from ..messages.models import KIND_PRIVATE
from ..web import absolute_url_for, unless_read_only
from . import bp
from .spec import operation
from .views import READ, WRITE, _context, _viewer

if TYPE_CHECKING:
    from . import schemas
else:  # pydantic's models, loaded on the API's first request (forum.api.spec)
    from .spec import schemas

TAGS = ("Private mail",)


# --- shapes ---------------------------------------------------------------------------------
def _url(conversation_id: int) -> str:
    return absolute_url_for("messages.conversation", conversation_id=conversation_id)


def _detail(page: mail_queries.ConversationPage) -> schemas.ConversationDetail:
    """The conversation as its page shows it to this reader: hidden messages without their
    words, those of a member the reader ignores folded, the lines the forum writes."""
    viewer = _viewer()
    conversation = page.conversation
    return schemas.ConversationDetail(
        id=conversation.id,
        subject=conversation.shown_subject,
        participants=[
            schemas.MemberRef(id=u.id, username=u.username)
            for u in page.participants
            if not is_former(u.username)
        ],
        messages=[
            schemas.ConversationMessage(
                id=row.message.id,
                kind=row.message.kind,  # type: ignore[arg-type]
                author=public_name(row.author),
                target=public_name(row.target),
                unread=row.unread,
                folded=row.folded,
                hidden=row.message.is_hidden,
                body_raw=row.message.body_raw if _words_shown(row) else None,
                body_html=row.message.body_html if _words_shown(row) else None,
                created_at=row.message.created_at,
                can_report=permissions.report_message_problem(viewer, row.message) is None,
            )
            for row in page.messages
        ],
        page=page.page,
        pages=page.pages,
        first_unread_id=page.first_unread_id,
        history_hidden=page.history_hidden,
        archived=page.member.archived_at is not None,
        can_write=page.can_write,
        write_problem=page.write_problem,
        can_add=page.can_add,
        max_participants=page.max_participants,
        url=_url(conversation.id),
    )


def _words_shown(row: mail_queries.MessageView) -> bool:
    return row.message.kind == "text" and not row.message.is_hidden


def _conversation_by_id(conversation_id: int) -> schemas.ConversationDetail:
    db.session.expire_all()
    return _detail(mail_queries.conversation_page(_viewer(), conversation_id))


# --- the mailbox ----------------------------------------------------------------------------
@bp.route("/conversations")
@operation(READ, model="ConversationList", query="MailboxQuery", tags=TAGS)
def list_conversations() -> Any:
    """List my conversations

    My mailbox as /mail lists it: unread first, then the newest, 30 a page, in the inbox or the
    archive; or, with `q`, my conversations whose subject or messages hold the words. My
    concerns to the sysops are listed too (`kind` concern: read them through /concerns)."""
    args = _context().query
    q = args.q.strip() if args.q else ""
    if q:
        box = mail_queries.search_mail(_viewer(), q)
    else:
        box = mail_queries.mailbox(_viewer(), args.folder, args.page)
    return schemas.ConversationList(
        items=[
            schemas.ConversationSummary(
                id=row.conversation.id,
                subject=row.conversation.shown_subject,
                kind="private" if row.conversation.kind == KIND_PRIVATE else "concern",
                participants=[n for n in row.participants if not is_former(n)],
                unread=row.unread,
                archived=row.member.archived_at is not None,
                last_message_at=row.conversation.last_message_at,
                last_author=public_name(row.last_author),
                excerpt=row.excerpt,
                url=_url(row.conversation.id),
            )
            for row in box.rows
        ],
        folder=box.folder,  # type: ignore[arg-type]
        page=box.page,
        next_page=box.page + 1 if box.has_next else None,
        unread=box.unread,
        q=box.query or None,
    )


@bp.route("/conversations/<int:conversation_id>")
@operation(READ, model="ConversationDetail", query="ConversationQuery", tags=TAGS)
def get_conversation(conversation_id: int) -> Any:
    """Show a conversation with its messages

    One page of them (`MAIL_PER_PAGE`), oldest first; without `page`, the page with my first
    unread message. Reading it marks what it shows read, as its page does. A conversation I am
    not in (or left) is the same 404 as one that does not exist."""
    page = mail_queries.conversation_page(_viewer(), conversation_id, _context().query.page)
    answer = _detail(page)
    shown = page.last_shown_id
    unless_read_only(
        lambda: mail_services.mark_read(_viewer(), page.member, shown), "the read position"
    )
    return answer


@bp.route("/conversations", methods=["POST"])
@ratelimits.mail
@operation(WRITE, ok=201, model="ConversationDetail", json="NewConversation", tags=TAGS)
def create_conversation() -> Any:
    """Start a conversation

    With one or more members (`to`, by username; at most the site's members per conversation,
    me included). Refused, writing nothing, when a member does not exist or takes no mail from
    me, or when I may not write private mail (a new account, a silenced member).

    Sent again with the same text within a couple of minutes, it writes nothing and answers
    409 with the first one in `error.existing`."""
    body = _context().json
    conversation = mail_services.start_conversation(_viewer(), body.to, body.subject, body.body)
    return _conversation_by_id(conversation.id), 201


@bp.route("/conversations/<int:conversation_id>/messages", methods=["POST"])
@ratelimits.mail
@operation(WRITE, ok=201, model="ConversationDetail", json="MailMessageIn", tags=TAGS)
def reply_to_conversation(conversation_id: int) -> Any:
    """Write in a conversation

    Refused when another participant takes no more mail from me, or everyone else left. A new
    account may write in a conversation someone else started (not in one it started).
    Answers with the conversation as I now read it.

    Sent again with the same text within a couple of minutes, it writes nothing and answers
    409 with the first one in `error.existing`."""
    permissions.get_conversation_for(_viewer(), conversation_id)
    mail_services.reply_to_conversation(_viewer(), conversation_id, _context().json.body)
    return _conversation_by_id(conversation_id), 201


@bp.route("/conversations/<int:conversation_id>/participants", methods=["POST"])
@ratelimits.mail
@operation(WRITE, model="ConversationDetail", json="ParticipantIn", tags=TAGS)
def add_participant(conversation_id: int) -> Any:
    """Add a member to a conversation

    They read it from their addition on (unless the site lets newcomers read the history), and
    must take mail from everyone in it. A new account adds nobody (it may only answer)."""
    permissions.get_conversation_for(_viewer(), conversation_id)
    mail_services.add_member(_viewer(), conversation_id, _context().json.username)
    return _conversation_by_id(conversation_id)


@bp.route("/conversations/<int:conversation_id>/leave", methods=["POST"])
@operation(WRITE, ok=204, tags=TAGS)
def leave_conversation(conversation_id: int) -> Any:
    """Leave a conversation

    It leaves my mailbox and I read it no more (someone in it may add me again)."""
    mail_services.leave_conversation(_viewer(), conversation_id)
    return Response(status=204)


@bp.route("/conversations/<int:conversation_id>/archive", methods=["POST"])
@operation(WRITE, model="ConversationDetail", json="ArchiveIn", tags=TAGS)
def archive_conversation(conversation_id: int) -> Any:
    """Archive a conversation, or bring it back to the inbox

    In my mailbox only; a new message brings it back by itself."""
    archived = _context().json.archived
    mail_services.archive_conversation(_viewer(), conversation_id, archived=archived)
    return _conversation_by_id(conversation_id)


@bp.route("/messages/<int:message_id>/report", methods=["POST"])
@ratelimits.reports
@operation(
    WRITE, ok=201, model="MessageReportResult", json="MessageReportIn", tags=TAGS, errors=(409,)
)
def report_message(message_id: int) -> Any:
    """Report a private message to the sysop

    Someone else's message in a conversation I am in. The sysop sees it and the two before it,
    as I read them, and nothing else of the conversation."""
    body = _context().json
    report = mail_services.report_message(_viewer(), message_id, body.reason, body.note)
    return schemas.MessageReportResult(
        id=report.id, message_id=report.message_id, reason=report.reason
    ), 201
