"""Private mail verbs: start a conversation, reply, add a member, leave, archive, read; ignore
a member; a member's mail preferences; report a message to the sysop.

Every verb follows the topics' steps: validate the input, load through the permission policy
(a conversation is its participants' alone), change rows in one transaction, publish an event
that the notifications and the live nudges follow after their own rules.
"""

from __future__ import annotations

import re

from flask import current_app
from sqlalchemy import delete, func, select, update

from .. import content, duplicates, events, permissions, settings
from ..accounts.former import display, is_former
from ..accounts.models import User
from ..accounts.services import resolve_usernames, update_preferences
from ..db import is_valid_id, lock_for_write, transaction
from ..errors import Conflict, Duplicate, Forbidden, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import lazy_ngettext, lazy_number
from ..permissions import Actor
from ..timeutil import utcnow
from .models import (
    KIND_ADDED,
    KIND_LEFT,
    KIND_PRIVATE,
    KIND_TEXT,
    MAIL_FROM_EVERYONE,
    MAIL_FROM_SYSOPS,
    PREF_MAIL_FROM,
    PREF_MAIL_NOTIFY,
    Conversation,
    ConversationMember,
    MemberIgnore,
    MessageReport,
    PrivateMessage,
)

REPORT_REASONS = {
    "spam": _l("Spam"),
    "abuse": _l("Abusive or harassing"),
    "other": _l("Something else"),
}
# How many messages before the reported one the sysop sees with it.
REPORT_CONTEXT = 2
NAMES_SPLIT = re.compile(r"[\s,;]+")


def _member(actor: Actor) -> User:
    permissions.require_send_mail(actor)
    assert actor is not None
    return actor


# A report's note: what `message_reports.note` holds.
MAX_REPORT_NOTE = 500


def max_participants() -> int:
    return max(2, settings.get_int("mail_max_participants"))


def _check_subject(subject: str) -> str:
    subject = " ".join(content.clean_text(subject or "").split())
    limit = current_app.config["MAX_TITLE_LENGTH"]
    if not subject:
        raise Invalid("subject", _l("Give the conversation a subject."))
    require_at_most("subject", subject, limit, "subject")
    return subject


def _check_body(body: str) -> str:
    body = content.clean_text(body or "").strip()
    if not body:
        raise Invalid("body", _l("Write something first."))
    limit = current_app.config["MAX_POST_LENGTH"]
    if len(body) > limit:
        raise Invalid(
            "body",
            _l(
                "Messages are limited to %(limit)s characters; this one has %(length)s.",
                limit=lazy_number(limit),
                length=lazy_number(len(body)),
            ),
        )
    if content.quote_depth(body) > content.MAX_QUOTE_DEPTH:
        raise Invalid(
            "body",
            _l(
                "Quotes can nest %(depth)s deep; trim the oldest ones.",
                depth=content.MAX_QUOTE_DEPTH,
            ),
        )
    return body


def parse_names(text: str | list[str]) -> list[str]:
    """Member names as typed in "To" (separated by commas or spaces) or given as a list (the
    JSON API): an @ allowed, each once."""
    parts = NAMES_SPLIT.split(text or "") if isinstance(text, str) else text
    names: list[str] = []
    for part in parts:
        name = part.strip().lstrip("@")
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return names


def _recipients(sender: User, names: list[str], field: str = "to") -> list[User]:
    """The members named, checked: they exist, they take mail from the sender."""
    if not names:
        raise Invalid(field, _l("Name at least one member to write to."))
    lowered = {n.lower() for n in names if not is_former(n)}  # a deleted account is no one
    found = {
        u.username.lower(): u
        for u in db.session.scalars(select(User).where(func.lower(User.username).in_(lowered)))
    }
    missing = [n for n in names if n.lower() not in found]
    if missing:
        raise Invalid(
            field,
            lazy_ngettext(
                "There is no member named %(names)s.",
                "There are no members named %(names)s.",
                len(missing),
                names=", ".join(missing),
            ),
        )
    users = [found[n.lower()] for n in names if found[n.lower()].id != sender.id]
    if not users:
        raise Invalid(field, _l("Private mail is for writing to someone else."))
    problem = permissions.first_refusal(sender, users)
    if problem:
        raise Invalid(field, problem)
    return users


def _cook(body: str) -> content.Rendered:
    return content.render(body, resolve_usernames)


def _write(
    conversation: Conversation,
    author: User,
    body: str,
    cooked: content.Rendered,
    rows: list[ConversationMember],
    *,
    is_first: bool = False,
) -> PrivateMessage:
    """Insert a member's message, move the conversation on, and announce it (inside the
    transaction; the conversation is locked)."""
    now = utcnow()
    message = PrivateMessage(
        conversation_id=conversation.id,
        user_id=author.id,
        kind=KIND_TEXT,
        body_raw=body,
        body_html=cooked.html,
        render_version=cooked.version,
        created_at=now,
    )
    db.session.add(message)
    db.session.flush()
    conversation.last_message_id = message.id
    conversation.last_message_at = now
    conversation.message_count = (conversation.message_count or 0) + 1
    recipients = []
    for row in rows:
        if row.left_at is not None:
            continue
        if row.user_id == author.id:
            row.last_read_message_id = message.id
        else:
            row.archived_at = None  # a new message brings an archived conversation back
            recipients.append(row.user_id)
    events.publish(
        events.PrivateMessageSent(
            message_id=message.id,
            conversation_id=conversation.id,
            author_id=author.id,
            recipient_ids=tuple(sorted(recipients)),
            is_first=is_first,
        )
    )
    return message


def repeated_message(author_id: int, conversation_id: int, body: str) -> PrivateMessage | None:
    """The double-submit rule (forum.duplicates) in a conversation, under its lock (a concern's
    too): the author's own message there with this text within the window, or None. Found
    through ix_private_messages_user_created (user_id, created_at)."""
    since = duplicates.since()
    if since is None:
        return None
    return db.session.scalar(
        select(PrivateMessage)
        .where(
            PrivateMessage.user_id == author_id,
            PrivateMessage.created_at >= since,
            PrivateMessage.conversation_id == conversation_id,
            PrivateMessage.kind == KIND_TEXT,
            PrivateMessage.body_raw == body,
        )
        .order_by(PrivateMessage.created_at.desc())
        .limit(1)
    )


def _refuse_repeated_conversation(
    sender: User, recipients: list[User], subject: str, body: str
) -> None:
    """The double-submit rule for a new conversation, under the sender's lock: one the sender
    started within the window, with this subject, this first message and these participants."""
    since = duplicates.since()
    if since is None:
        return
    conversation = db.session.scalar(
        select(Conversation)
        .join(PrivateMessage, PrivateMessage.conversation_id == Conversation.id)
        .where(
            PrivateMessage.user_id == sender.id,
            PrivateMessage.created_at >= since,
            PrivateMessage.kind == KIND_TEXT,
            PrivateMessage.body_raw == body,
            Conversation.created_by_id == sender.id,
            Conversation.kind == KIND_PRIVATE,
            Conversation.subject == subject,
        )
        .order_by(PrivateMessage.created_at.desc())
        .limit(1)
    )
    if conversation is None:
        return
    participants = set(
        db.session.scalars(
            select(ConversationMember.user_id).where(
                ConversationMember.conversation_id == conversation.id
            )
        )
    )
    if participants == {sender.id, *(user.id for user in recipients)}:
        raise Duplicate(conversation)


def _active_rows(conversation_id: int) -> list[ConversationMember]:
    return list(
        db.session.scalars(
            select(ConversationMember).where(ConversationMember.conversation_id == conversation_id)
        )
    )


def start_conversation(actor: Actor, to: str | list[str], subject: str, body: str) -> Conversation:
    """Write to one or more members: a new conversation with its first message. The same
    again a moment later raises Duplicate with the first (forum.duplicates)."""
    sender = _member(actor)
    names = parse_names(to)
    limit = max_participants()
    if len(names) + 1 > limit:
        raise Invalid(
            "to",
            lazy_ngettext(
                "A conversation holds at most %(num)s members, you included.",
                "A conversation holds at most %(num)s members, you included.",
                limit,
            ),
        )
    recipients = _recipients(sender, names)
    subject = _check_subject(subject)
    body = _check_body(body)
    cooked = _cook(body)
    with transaction() as session:
        # The sender's new conversations take turns (the double-submit rule's lock; nothing
        # else this writes locks a member's row).
        lock_for_write(User, sender.id, refresh=False)
        _refuse_repeated_conversation(sender, recipients, subject, body)
        now = utcnow()
        conversation = Conversation(
            subject=subject, created_by_id=sender.id, created_at=now, last_message_at=now
        )
        session.add(conversation)
        session.flush()
        rows = [
            ConversationMember(
                conversation_id=conversation.id,
                user_id=user.id,
                added_by_id=sender.id,
                joined_at=now,
            )
            for user in [sender, *recipients]
        ]
        session.add_all(rows)
        session.flush()
        _write(conversation, sender, body, cooked, rows, is_first=True)
    return conversation


def reply_to_conversation(actor: Actor, conversation_id: int, body: str) -> PrivateMessage:
    """Write in a conversation. A new account may answer one someone else started (not start
    one, nor add members: permissions.reply_mail_problem). Refused when another participant
    takes no mail from the writer any more (they turned private mail off, or ignore the
    writer). The same message again a moment later raises Duplicate with the first."""
    problem = permissions.mail_standing_problem(actor)  # before the conversation, as ever
    if problem:
        raise Forbidden(problem)
    assert actor is not None
    conversation, _row = permissions.get_conversation_for(actor, conversation_id)
    problem = permissions.reply_mail_problem(actor, conversation)
    if problem:
        raise Forbidden(problem)
    sender = actor
    body = _check_body(body)
    rows = _active_rows(conversation.id)
    others = [r.user_id for r in rows if r.left_at is None and r.user_id != sender.id]
    if not others:
        raise Invalid("body", _l("Everyone else has left this conversation."))
    problem = permissions.first_refusal(
        sender, db.session.scalars(select(User).where(User.id.in_(others)).order_by(User.id))
    )
    if problem:
        raise Invalid("body", problem)
    cooked = _cook(body)
    with transaction():
        lock_for_write(Conversation, conversation.id)
        repeated = repeated_message(sender.id, conversation.id, body)
        if repeated is not None:
            raise Duplicate(repeated)
        return _write(conversation, sender, body, cooked, rows)


def add_member(actor: Actor, conversation_id: int, username: str) -> User:
    """A participant brings another member into the conversation. What they read of it before
    their addition follows MAIL_NEW_MEMBER_SEES_HISTORY."""
    conversation, _row = permissions.get_conversation_for(actor, conversation_id)
    assert actor is not None
    adder = actor
    rows = _active_rows(conversation.id)
    active = {r.user_id for r in rows if r.left_at is None}
    members = list(db.session.scalars(select(User).where(User.id.in_(sorted(active)))))
    permissions.require_manage_conversation(adder, members)
    names = parse_names(username)
    if len(names) != 1:
        raise Invalid("username", _l("Name one member to add."))
    if len(active) >= max_participants():
        raise Invalid(
            "username",
            lazy_ngettext(
                "This conversation has its %(num)s members already.",
                "This conversation has its %(num)s members already.",
                max_participants(),
            ),
        )
    (user,) = _recipients(adder, names, field="username")
    if user.id in active:
        raise Invalid(
            "username", _l("%(name)s is in this conversation already.", name=user.username)
        )
    # The newcomer must take mail from everyone who will write to them here.
    for other in members:
        problem = permissions.accepts_mail_problem(other, user)
        if problem:
            raise Invalid("username", problem)
    sees_history = bool(current_app.config["MAIL_NEW_MEMBER_SEES_HISTORY"])
    with transaction() as session:
        lock_for_write(Conversation, conversation.id)
        now = utcnow()
        start = 0 if sees_history else conversation.last_message_id
        existing = next((r for r in rows if r.user_id == user.id), None)
        if existing is None:
            existing = ConversationMember(conversation_id=conversation.id, user_id=user.id)
            session.add(existing)
        existing.added_by_id = adder.id
        existing.joined_at = now
        existing.left_at = None
        existing.archived_at = None
        existing.visible_after_id = start
        existing.last_read_message_id = start
        session.add(
            PrivateMessage(
                conversation_id=conversation.id,
                user_id=adder.id,
                kind=KIND_ADDED,
                target_user_id=user.id,
                created_at=now,
            )
        )
        session.flush()
        events.publish(events.MailRead(user_id=user.id))
    return user


def leave_conversation(actor: Actor, conversation_id: int) -> Conversation:
    """The member leaves: the conversation is gone from their mailbox and they read it no more."""
    conversation, row = permissions.get_conversation_for(actor, conversation_id)
    assert actor is not None
    with transaction() as session:
        now = utcnow()
        row.left_at = now
        session.add(
            PrivateMessage(
                conversation_id=conversation.id, user_id=actor.id, kind=KIND_LEFT, created_at=now
            )
        )
        session.flush()
        events.publish(events.MailRead(user_id=actor.id, conversation_id=conversation.id))
    return conversation


def archive_conversation(actor: Actor, conversation_id: int, archived: bool = True) -> None:
    """Archive (or bring back) a conversation in this member's mailbox only; a new message in
    it brings it back by itself."""
    _conversation, row = permissions.get_conversation_for(actor, conversation_id)
    with transaction():
        row.archived_at = utcnow() if archived else None
        if archived:
            row.last_read_message_id = max(row.last_read_message_id, _conversation.last_message_id)
        events.publish(events.MailRead(user_id=row.user_id, conversation_id=row.conversation_id))


def mark_read(actor: Actor, row: ConversationMember, message_id: int) -> None:
    """The member read the conversation up to this message (the page shown): one update."""
    if actor is None or message_id <= row.last_read_message_id:
        return
    with transaction() as session:
        session.execute(
            update(ConversationMember)
            .where(
                ConversationMember.conversation_id == row.conversation_id,
                ConversationMember.user_id == row.user_id,
                ConversationMember.last_read_message_id < message_id,
            )
            .values(last_read_message_id=message_id)
        )
        events.publish(events.MailRead(user_id=row.user_id, conversation_id=row.conversation_id))
    row.last_read_message_id = message_id


# --- ignoring members, and who may write to me ----------------------------------------------
def _target(actor: Actor, username: str, *, former: bool = False) -> tuple[User, User]:
    """The acting member and the member named; a deleted account only with `former` (one
    may stop ignoring it, never start)."""
    if actor is None:
        raise Invalid(None, _l("Log in first."))
    user = None
    if former or not is_former(username):
        user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound(_l("No such member."))
    return actor, user


def ignore_member(actor: Actor, username: str) -> User:
    """No private mail from them, no mention notifications from them, their posts folded."""
    me, user = _target(actor, username)
    if user.id == me.id:
        raise Invalid(None, _l("You cannot ignore yourself."))
    if user.is_global_sysop:
        raise Invalid(None, _l("The sysop cannot be ignored."))
    if permissions.ignores(me.id, user.id):
        raise Conflict(_l("You ignore %(name)s already.", name=user.username))
    with transaction() as session:
        session.add(MemberIgnore(user_id=me.id, ignored_id=user.id))
    return user


def unignore_member(actor: Actor, username: str) -> User:
    me, user = _target(actor, username, former=True)
    with transaction() as session:
        row = session.get(MemberIgnore, (me.id, user.id))
        if row is None:
            raise Conflict(_l("You do not ignore %(name)s.", name=display(user.username)))
        session.delete(row)
    return user


def set_mail_preferences(actor: Actor, mail_from: str, notify: bool) -> User:
    if actor is None:
        raise Invalid(None, _l("Log in first."))
    if mail_from not in (MAIL_FROM_EVERYONE, MAIL_FROM_SYSOPS):
        raise Invalid("mail_from", _l("Choose who may send you private mail."))
    return update_preferences(actor, **{PREF_MAIL_FROM: mail_from, PREF_MAIL_NOTIFY: bool(notify)})


def mail_from(user: User) -> str:
    return str((user.preferences or {}).get(PREF_MAIL_FROM) or MAIL_FROM_EVERYONE)


def notifies_mail(user: User) -> bool:
    return bool((user.preferences or {}).get(PREF_MAIL_NOTIFY, True))


# --- reports ----------------------------------------------------------------------------------
def get_message_for(actor: Actor, message_id: int) -> PrivateMessage:
    message = db.session.get(PrivateMessage, message_id) if is_valid_id(message_id) else None
    if message is None or not permissions.can_read_message(actor, message):
        raise NotFound(permissions.NO_SUCH_CONVERSATION)
    return message


def report_message(actor: Actor, message_id: int, reason: str, note: str = "") -> MessageReport:
    """A participant reports one message to the sysop, who sees it with the two before it (as
    the reporter read them) and nothing else of the conversation."""
    message = get_message_for(actor, message_id)
    permissions.require_report_message(actor, message)
    assert actor is not None
    if reason not in REPORT_REASONS:
        raise Invalid("reason", _l("Choose why you are reporting this message."))
    note = " ".join(content.clean_text(note or "").split())
    require_at_most("note", note, MAX_REPORT_NOTE, "note")
    if reason == "other" and not note:
        raise Invalid("note", _l("Tell the sysop what is wrong with this message."))
    row = permissions.conversation_membership(actor, message.conversation_id)
    assert row is not None
    context = list(
        db.session.execute(
            select(PrivateMessage, User.username)
            .outerjoin(User, User.id == PrivateMessage.user_id)
            .where(
                permissions.visible_messages_clause(row),
                PrivateMessage.kind == KIND_TEXT,
                PrivateMessage.id <= message.id,
            )
            .order_by(PrivateMessage.id.desc())
            .limit(REPORT_CONTEXT + 1)
        )
    )
    excerpt = [
        {
            "id": m.id,
            "author": name,
            "author_id": m.user_id,
            "created_at": m.created_at.isoformat(),
            "html": "" if m.is_hidden else m.body_html,
            "reported": m.id == message.id,
        }
        for m, name in reversed(context)
    ]
    with transaction() as session:
        already = session.scalar(
            select(MessageReport.id).where(
                MessageReport.message_id == message.id,
                MessageReport.reporter_id == actor.id,
                MessageReport.resolved_at.is_(None),
            )
        )
        if already is not None:
            raise Conflict(_l("You have reported this message already; the sysop will look at it."))
        report = MessageReport(
            message_id=message.id, reporter_id=actor.id, reason=reason, note=note, excerpt=excerpt
        )
        session.add(report)
    return report


def hide_reported_message(actor: Actor, report: MessageReport) -> PrivateMessage | None:
    """The sysop hides a reported message (inside the moderation verb's transaction): its
    participants see that it was hidden, not what it said."""
    if not permissions.can_handle_message_reports(actor):
        raise NotFound(permissions.NO_SUCH_CONVERSATION)
    assert actor is not None
    message = db.session.get(PrivateMessage, report.message_id)
    if message is not None and message.hidden_at is None:
        message.hidden_at = utcnow()
        message.hidden_by_id = actor.id
    return message


# --- for other kinds of conversation (forum.care's concerns) --------------------------------
def check_subject(subject: str) -> str:
    """The subject as stored, or Invalid("subject", …): the same rules as private mail's."""
    return _check_subject(subject)


def check_body(body: str) -> str:
    """The message as stored, or Invalid("body", …): the same rules as private mail's."""
    return _check_body(body)


def cook(body: str) -> content.Rendered:
    return _cook(body)


def forget_member(event: events.AccountDeleted) -> None:
    """The member deleted their account: the members they ignored are forgotten, in that
    transaction (their conversations stay, for the others in them)."""
    db.session.execute(delete(MemberIgnore).where(MemberIgnore.user_id == event.user_id))
