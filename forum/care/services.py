"""Member care verbs: write to the sysops, answer a concern, note, assign, resolve, ask whether
it helped; go on duty, page the sysops on duty, take a page; the deadlines and their job.

A concern's words are a conversation of forum.messages (its member is the one participant, and
reads it in their mailbox too); its sysops are whoever `forum.permissions` says handles its SIG
at the moment they ask, never a list kept on the concern. Every verb: validate, load through the
policy, change rows in one transaction, publish an event (notifications and live nudges follow
after their own rules).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, lambda_stmt, select

from .. import content, duplicates, events, jobs, permissions, settings
from ..accounts.models import User
from ..accounts.services import banned_member, update_preferences
from ..db import is_valid_id, lock_for_write, read_columns, transaction, upsert
from ..errors import Conflict, Duplicate, Forbidden, Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import lazy_ngettext, lazy_number
from ..messages import services as mail
from ..messages.models import (
    KIND_TEXT,
    SUBJECT_APPEAL,
    SUBJECT_PAGE,
    Conversation,
    ConversationMember,
    PrivateMessage,
)
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics.models import Post
from .models import (
    CONVERSATION_KIND,
    OPEN,
    PREF_PAGE_SOUND,
    RESOLVED,
    SOURCE_PAGE,
    SOURCE_WRITTEN,
    WAITING,
    Concern,
    ConcernNote,
    SigCareSetting,
    SysopDuty,
    SysopPage,
)

NOTE_LIMIT = 5000
# A page's words (`sysop_pages.body` holds as many); the page form's box and the API's model say
# the same number and these words.
PAGE_TEXT_LIMIT = 500
PAGE_TEXT_TOO_LONG = _l(
    "Keep it to %(limit)s characters or fewer; there is room for more later.",
    limit=lazy_number(PAGE_TEXT_LIMIT),
)


# --- deadlines ---------------------------------------------------------------------------------
def deadlines(sig_id: int | None) -> tuple[int, int]:
    """(first response, escalation) in hours for this SIG's concerns (None: the site's)."""
    response = max(1, settings.get_int("care_response_hours"))
    escalate = max(response, settings.get_int("care_escalate_hours"))
    if sig_id is not None:
        own = db.session.get(SigCareSetting, sig_id)
        if own is not None:
            response = max(1, own.response_hours)
            escalate = max(response, own.escalate_hours)
    return response, escalate


# A SIG's deadlines are at most a year of hours (the SIG page's boxes say so as their `max`).
MAX_DEADLINE_HOURS = 24 * 365


def set_deadlines(actor: Actor, sig_id: int, response_hours: int, escalate_hours: int) -> Sig:
    """A SIG's sysops set its first-response deadline and the escalation after it."""
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    permissions.require_sig_sysop(actor, sig)
    if not 1 <= response_hours <= MAX_DEADLINE_HOURS:
        raise Invalid(
            "response_hours",
            _l(
                "Enter a number of hours from 1 to %(maximum)s.",
                maximum=lazy_number(MAX_DEADLINE_HOURS),
            ),
        )
    if not response_hours <= escalate_hours <= MAX_DEADLINE_HOURS:
        raise Invalid(
            "escalate_hours",
            _l(
                "Escalate no sooner than the first-response deadline, and within %(maximum)s "
                "hours.",
                maximum=lazy_number(MAX_DEADLINE_HOURS),
            ),
        )
    with transaction():
        values = {"response_hours": response_hours, "escalate_hours": escalate_hours}
        upsert(SigCareSetting, {"sig_id": sig.id, **values}, index_elements=["sig_id"], set_=values)
    return sig


# --- concerns ------------------------------------------------------------------------------
def _sig_or_site(actor: Actor, sig_id: int | None) -> Sig | None:
    if sig_id is None:
        return None
    sig = db.session.get(Sig, sig_id) if is_valid_id(sig_id) else None
    if sig is None or not permissions.can_see_sig(actor, sig):
        raise NotFound(permissions.NO_SUCH_SIG)
    return sig


def _about_post(actor: User, post_id: int | None, sig: Sig | None) -> Post | None:
    """The post a concern is about: one the member may see, in the SIG written to."""
    if post_id is None:
        return None
    post, _topic, post_sig = permissions.get_post_topic_and_sig_for(actor, post_id)
    if sig is not None and post_sig.id != sig.id:
        raise Invalid(None, _l("That post is in another SIG."))
    return post


def _open_in_tx(
    member: User,
    sig: Sig | None,
    subject: str,
    body: str,
    cooked: content.Rendered,
    *,
    post: Post | None = None,
    source: str = SOURCE_WRITTEN,
    is_appeal: bool = False,
    subject_kind: str | None = None,
    now: datetime | None = None,
    taken_by: int | None = None,
) -> Concern:
    """Insert the concern, its conversation (the member its one participant) and its first
    message; publish ConcernOpened (inside the caller's transaction). `subject_kind`: a subject
    the forum gives (forum.messages.models.SUBJECT_*), said in the reader's language.
    `taken_by`: the sysop who took the page it comes from, who opened it and is not told."""
    session = db.session
    now = now or utcnow()
    conversation = Conversation(
        subject=subject,
        subject_kind=subject_kind,
        kind=CONVERSATION_KIND,
        created_by_id=member.id,
        created_at=now,
        last_message_at=now,
    )
    session.add(conversation)
    session.flush()
    row = ConversationMember(
        conversation_id=conversation.id, user_id=member.id, added_by_id=member.id, joined_at=now
    )
    session.add(row)
    response, escalate = deadlines(sig.id if sig else None)
    concern = Concern(
        conversation_id=conversation.id,
        sig_id=sig.id if sig else None,
        member_id=member.id,
        post_id=post.id if post else None,
        source=source,
        is_appeal=is_appeal,
        state=OPEN,
        created_at=now,
        due_at=now + timedelta(hours=response),
        escalate_at=now + timedelta(hours=escalate),
        last_activity_at=now,
    )
    session.add(concern)
    session.flush()
    _add_message(concern, conversation, row, member.id, body, cooked, now)
    events.publish(
        events.ConcernOpened(
            concern_id=concern.id,
            sig_id=concern.sig_id,
            member_id=member.id,
            sysop_ids=tuple(
                u
                for u in permissions.who_handles_concerns(concern.sig_id)
                if u not in (member.id, taken_by)
            ),
            from_page=source == SOURCE_PAGE,
        )
    )
    return concern


def _add_message(
    concern: Concern,
    conversation: Conversation,
    member_row: ConversationMember,
    author_id: int,
    body: str,
    cooked: content.Rendered,
    now: datetime,
) -> PrivateMessage:
    message = PrivateMessage(
        conversation_id=conversation.id,
        user_id=author_id,
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
    if author_id == concern.member_id:
        member_row.last_read_message_id = message.id
    else:
        member_row.archived_at = None  # the answer brings it back to the member's inbox
    concern.last_activity_at = now
    return message


def _refuse_repeated_concern(
    member: User,
    sig: Sig | None,
    subject: str,
    subject_kind: str | None,
    body: str,
    post: Post | None,
) -> None:
    """The double-submit rule (forum.duplicates) for a new concern, under the member's lock:
    one they opened within the window to the same sysops, about the same post, with this
    subject and this first message. Found through ix_private_messages_user_created."""
    since = duplicates.since()
    if since is None:
        return
    concern = db.session.scalar(
        select(Concern)
        .join(PrivateMessage, PrivateMessage.conversation_id == Concern.conversation_id)
        .join(Conversation, Conversation.id == Concern.conversation_id)
        .where(
            PrivateMessage.user_id == member.id,
            PrivateMessage.created_at >= since,
            PrivateMessage.kind == KIND_TEXT,
            PrivateMessage.body_raw == body,
            Concern.member_id == member.id,
            Concern.sig_id.is_(None) if sig is None else Concern.sig_id == sig.id,
            Concern.post_id.is_(None) if post is None else Concern.post_id == post.id,
            Concern.source == SOURCE_WRITTEN,
            Conversation.subject == subject,
            Conversation.subject_kind.is_(None)
            if subject_kind is None
            else Conversation.subject_kind == subject_kind,
        )
        .order_by(PrivateMessage.created_at.desc())
        .limit(1)
    )
    if concern is not None:
        raise Duplicate(concern)


def write_to_sysops(
    actor: Actor,
    sig_id: int | None,
    subject: str,
    body: str,
    post_id: int | None = None,
    *,
    is_appeal: bool = False,
) -> Concern:
    """A member writes to the sysops of a SIG (None: the site's), maybe about a post;
    `is_appeal`: a banned member's appeal of their ban (`appeal` alone says so). The same
    concern again a moment later raises Duplicate with the first (forum.duplicates)."""
    sig = _sig_or_site(actor, sig_id)
    permissions.require_write_to_sysops(actor, sig)
    assert actor is not None
    post = _about_post(actor, post_id, sig)
    # An appeal may come without a subject: the forum's own, said in each reader's language.
    subject_kind = SUBJECT_APPEAL if is_appeal and not (subject or "").strip() else None
    subject = "" if subject_kind else mail.check_subject(subject)
    body = mail.check_body(body)
    cooked = mail.cook(body)
    with transaction():
        # The member's new concerns take turns: the double-submit rule's lock, and a banned
        # member's one concern at a time (asked again under it).
        lock_for_write(User, actor.id, refresh=actor.is_banned)
        if actor.is_banned:
            permissions.require_write_to_sysops(actor, sig)
        _refuse_repeated_concern(actor, sig, subject, subject_kind, body, post)
        return _open_in_tx(
            actor,
            sig,
            subject,
            body,
            cooked,
            post=post,
            is_appeal=is_appeal,
            subject_kind=subject_kind,
        )


def appeal(login: str, password: str, subject: str, body: str) -> Concern:
    """A member banned site-wide writes to the site's sysops (they cannot sign in): their name
    and password instead of a session; in their open appeal if they have one, else in a new
    one (never in a concern about something else), marked an appeal so the sysops tell it from
    other concerns."""
    member = banned_member(login, password)
    existing = permissions.open_appeal_of(member)
    if existing is not None:
        reply(member, existing.id, body)
        return existing
    return write_to_sysops(member, None, subject, body, is_appeal=True)


def appeal_status(login: str, password: str) -> tuple[User, Concern | None]:
    """The banned member (for their ban's date and reason) and their open appeal, or None
    (they prove who they are every time: nothing is remembered for them)."""
    member = banned_member(login, password)
    return member, permissions.open_appeal_of(member)


def _member_row(concern: Concern) -> ConversationMember:
    row = db.session.get(ConversationMember, (concern.conversation_id, concern.member_id))
    assert row is not None
    return row


def reply(actor: Actor, concern_id: int, body: str, *, resolve: bool = False) -> PrivateMessage:
    """Write in a concern: its member (a waiting or resolved concern opens again), or one of its
    sysops, as "the sysops" (the first answer counts as the first response; the concern then
    waits for the member, or is resolved with `resolve`). The same message again a moment later
    raises Duplicate with the first (forum.duplicates)."""
    concern = permissions.get_concern_for(actor, concern_id)
    assert actor is not None
    body = mail.check_body(body)
    cooked = mail.cook(body)
    from_member = permissions.is_concern_member(actor, concern)
    with transaction():
        lock_for_write(Concern, concern.id)
        repeated = mail.repeated_message(actor.id, concern.conversation_id, body)
        if repeated is not None:
            raise Duplicate(repeated)
        conversation = db.session.get(Conversation, concern.conversation_id)
        assert conversation is not None
        now = utcnow()
        message = _add_message(
            concern, conversation, _member_row(concern), actor.id, body, cooked, now
        )
        handlers = permissions.who_handles_concerns(concern.sig_id)
        change = None
        if from_member:
            if concern.state != OPEN:
                change = "reopened"
                concern.state = OPEN
                concern.resolved_at = None
                concern.resolved_by_id = None
            # To whoever took it (a site's sysop too), else to all it goes to.
            assignee = concern.assignee_id
            recipients = handlers
            if assignee is not None and assignee in permissions.concern_assignees(concern.sig_id):
                recipients = [assignee]
        else:
            if concern.first_response_at is None:
                concern.first_response_at = now
                concern.first_responder_id = actor.id
            if concern.assignee_id is None:
                concern.assignee_id = actor.id
            if resolve:
                _resolve(concern, actor, now)
                change = "resolved"
            else:
                concern.state = WAITING
            recipients = [concern.member_id]
            events.publish(events.MailRead(user_id=concern.member_id))
        events.publish(
            events.ConcernMessageAdded(
                concern_id=concern.id,
                message_id=message.id,
                author_id=actor.id,
                from_sysops=not from_member,
                recipient_ids=tuple(sorted({r for r in recipients if r != actor.id})),
            )
        )
        if change:
            _changed(concern, change, actor.id)
    return message


def _resolve(concern: Concern, actor: User, now: datetime) -> None:
    concern.state = RESOLVED
    concern.resolved_at = now
    concern.resolved_by_id = actor.id


def _changed(concern: Concern, change: str, actor_id: int | None) -> None:
    to_member = change in ("resolved", "waiting")
    events.publish(
        events.ConcernChanged(
            concern_id=concern.id,
            change=change,
            actor_id=actor_id,
            recipient_ids=(concern.member_id,) if to_member else (),
        )
    )


def set_state(actor: Actor, concern_id: int, state: str) -> Concern:
    """A sysop resolves the concern, sets it waiting for the member, or opens it again."""
    concern = permissions.get_concern_for(actor, concern_id)
    permissions.require_act_on_concern(actor, concern)
    assert actor is not None
    if state not in (OPEN, WAITING, RESOLVED):
        raise Invalid("state", _l("Choose open, waiting for the member, or resolved."))
    if concern.state == state:
        return concern
    with transaction():
        lock_for_write(Concern, concern.id)
        now = utcnow()
        if state == RESOLVED:
            _resolve(concern, actor, now)
            change = "resolved"
        else:
            concern.state = state
            concern.resolved_at = None
            concern.resolved_by_id = None
            change = "waiting" if state == WAITING else "reopened"
        concern.last_activity_at = now
        _changed(concern, change, actor.id)
    return concern


def assign(actor: Actor, concern_id: int, username: str | None) -> Concern:
    """Give the concern to one of its sysops (None or "": nobody)."""
    concern = permissions.get_concern_for(actor, concern_id)
    permissions.require_act_on_concern(actor, concern)
    assert actor is not None
    assignee: User | None = None
    if username:
        assignee = db.session.scalar(
            select(User).where(func.lower(User.username) == username.strip().lower())
        )
        if assignee is None or not permissions.can_handle_concerns(assignee, concern.sig_id):
            raise Invalid("assignee", _l("Choose one of the sysops this concern was written to."))
    with transaction():
        concern.assignee_id = assignee.id if assignee else None
        _changed(concern, "assigned", actor.id)
    return concern


def add_note(actor: Actor, concern_id: int, body: str) -> ConcernNote:
    """A private note for the concern's sysops; its member never sees it."""
    concern = permissions.get_concern_for(actor, concern_id)
    permissions.require_act_on_concern(actor, concern)
    assert actor is not None
    body = content.clean_text(body or "").strip()
    if not body:
        raise Invalid("body", _l("Write something first."))
    require_at_most("body", body, NOTE_LIMIT, "note")
    cooked = mail.cook(body)
    with transaction() as session:
        note = ConcernNote(
            concern_id=concern.id, author_id=actor.id, body_raw=body, body_html=cooked.html
        )
        session.add(note)
        _changed(concern, "note", actor.id)
    return note


def rate(actor: Actor, concern_id: int, helped: bool) -> Concern:
    """The member says (once) whether the resolved concern helped."""
    concern = permissions.get_concern_for(actor, concern_id)
    if not permissions.can_rate_concern(actor, concern):
        raise Conflict(_l("You have answered that already, or the concern is not resolved."))
    with transaction():
        lock_for_write(Concern, concern.id)
        if concern.helped is not None:
            raise Conflict(_l("You have answered that already, or the concern is not resolved."))
        concern.helped = bool(helped)
        concern.helped_at = utcnow()
        _changed(concern, "rated", actor.id if actor else None)
    return concern


def mark_read(actor: Actor, concern: Concern) -> None:
    """The member read their concern up to its newest message (their mailbox's unread)."""
    if not permissions.is_concern_member(actor, concern):
        return
    conversation = db.session.get(Conversation, concern.conversation_id)
    row = db.session.get(ConversationMember, (concern.conversation_id, concern.member_id))
    if conversation is not None and row is not None:
        mail.mark_read(actor, row, conversation.last_message_id)


# --- overdue concerns: the periodic job -------------------------------------------------------
def check_deadlines(now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Tell the SIG's sysops of each concern past its first-response deadline, and the global
    sysop of each past its second; each once. Returns (overdue ids, escalated ids)."""
    now = now or utcnow()
    unanswered = (
        Concern.first_response_at.is_(None),
        Concern.state != RESOLVED,
    )
    overdue, escalated = [], []
    with transaction() as session:
        for concern in session.scalars(
            select(Concern)
            .where(*unanswered, Concern.due_at <= now, Concern.overdue_at.is_(None))
            .with_for_update(skip_locked=True)
        ):
            concern.overdue_at = now
            overdue.append(concern.id)
            events.publish(
                events.ConcernOverdue(
                    concern_id=concern.id,
                    sig_id=concern.sig_id,
                    escalated=False,
                    recipient_ids=tuple(permissions.who_handles_concerns(concern.sig_id)),
                )
            )
        for concern in session.scalars(
            select(Concern)
            .where(*unanswered, Concern.escalate_at <= now, Concern.escalated_at.is_(None))
            .with_for_update(skip_locked=True)
        ):
            concern.escalated_at = now
            concern.overdue_at = concern.overdue_at or now
            escalated.append(concern.id)
            events.publish(
                events.ConcernOverdue(
                    concern_id=concern.id,
                    sig_id=concern.sig_id,
                    escalated=True,
                    recipient_ids=tuple(permissions.who_handles_concerns(None)),
                )
            )
    return overdue, escalated


@jobs.periodic(jobs.crontab(minute="*"))
def care_deadlines() -> None:
    """Every minute: overdue concerns, and pages nobody took in time (their own delayed jobs
    do it too; this catches what a lost job left)."""
    check_deadlines()
    for page_id in db.session.scalars(
        select(SysopPage.id).where(SysopPage.concern_id.is_(None), SysopPage.expires_at <= utcnow())
    ).all():
        expire_page(page_id)


# --- on duty ------------------------------------------------------------------------------------
def set_duty(actor: Actor, sig_id: int, on: bool, sound: bool | None = None) -> SysopDuty | None:
    """A sysop goes on duty in a SIG (for care_duty_hours) or off it; `sound`: whether their
    pages may ring."""
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    if not permissions.can_go_on_duty(actor, sig):
        raise Forbidden(_l("Only this SIG's sysops go on duty here."))
    assert actor is not None
    if sound is not None:
        update_preferences(actor, **{PREF_PAGE_SOUND: bool(sound)})
    with transaction() as session:
        duty = session.get(SysopDuty, (sig.id, actor.id))
        if not on:
            if duty is not None:
                session.delete(duty)
            return None
        now = utcnow()
        until = now + timedelta(hours=max(1, settings.get_int("care_duty_hours")))
        upsert(
            SysopDuty,
            {"sig_id": sig.id, "user_id": actor.id, "since": now, "until": until},
            index_elements=["sig_id", "user_id"],
            set_={"until": until},
        )
    return db.session.get(SysopDuty, (sig.id, actor.id))


def on_duty_ids(sig_id: int, now: datetime | None = None) -> list[int]:
    """The sysops on duty in the SIG now who still handle its concerns (asked of the policy)."""
    # A lambda_stmt, built once per process: every member's SIG page runs it, and building it
    # cost more CPU than running it (a hot site measured for issue 17, sixth session).
    statement = lambda_stmt(
        lambda: select(SysopDuty.user_id).where(
            SysopDuty.sig_id == bindparam("sig_id"), SysopDuty.until > bindparam("now")
        ),
        enable_tracking=False,
    )
    ids = list(read_columns(statement, {"sig_id": sig_id, "now": now or utcnow()}).scalars())
    if not ids:
        return []
    handlers = set(permissions.who_handles_concerns(sig_id))
    if any(i not in handlers for i in ids):
        # The global sysop handles every SIG without a membership there.
        users = db.session.scalars(select(User).where(User.id.in_(ids)))
        handlers |= {u.id for u in users if permissions.can_handle_concerns(u, sig_id)}
    return sorted(i for i in ids if i in handlers)


def drop_sysop(sig_id: int | None, user_id: int) -> None:
    """A sysop left the SIG or was dismissed (inside that transaction): off duty there, and the
    SIG's concerns given to them are nobody's again (None: the site's own concerns)."""
    session = db.session
    duty = session.get(SysopDuty, (sig_id, user_id)) if sig_id is not None else None
    if duty is not None:
        session.delete(duty)
    in_sig = Concern.sig_id.is_(None) if sig_id is None else Concern.sig_id == sig_id
    for concern in session.scalars(select(Concern).where(in_sig, Concern.assignee_id == user_id)):
        concern.assignee_id = None


def drop_site_sysop(user_id: int) -> None:
    """A global sysop lost that role (inside that transaction): as drop_sysop in every SIG whose
    concerns the policy no longer lets them handle, and for the site's own concerns. The SIGs
    they are a sysop of themselves keep their duty and their concerns. (A page they took is a
    concern assigned to them already; a waiting page is nobody's.)"""
    session = db.session
    user = session.get(User, user_id)
    if user is None:
        return
    duties = select(SysopDuty.sig_id).where(SysopDuty.user_id == user_id)
    assigned = select(Concern.sig_id).where(Concern.assignee_id == user_id).distinct()
    sig_ids = set(session.scalars(duties)) | set(session.scalars(assigned))
    for sig_id in sorted(sig_ids, key=lambda i: -1 if i is None else i):
        if not permissions.can_handle_concerns(user, sig_id):
            drop_sysop(sig_id, user_id)


# --- paging the sysops on duty --------------------------------------------------------------
def page_sysops(actor: Actor, sig_id: int, body: str) -> SysopPage:
    """Ring the sysops on duty in the SIG. The first to take it opens a live concern; nobody
    within care_page_minutes, and it becomes an open concern by itself."""
    sig = permissions.get_sig_by_id_for(actor, sig_id)
    permissions.require_page(actor, sig)
    assert actor is not None
    body = " ".join(content.clean_text(body or "").split())
    if not body:
        raise Invalid("body", _l("Say in a few words what it is about."))
    if len(body) > PAGE_TEXT_LIMIT:
        raise Invalid("body", PAGE_TEXT_TOO_LONG)
    now = utcnow()
    limit = max(1, settings.get_int("care_pages_per_hour"))
    with transaction() as session:
        lock_for_write(User, actor.id)
        recent = session.scalar(
            select(func.count())
            .select_from(SysopPage)
            .where(SysopPage.member_id == actor.id, SysopPage.created_at > now - timedelta(hours=1))
        )
        if int(recent or 0) >= limit:
            raise Invalid(
                "body",
                lazy_ngettext(
                    "You may page the sysops %(num)s time an hour; write to them instead.",
                    "You may page the sysops %(num)s times an hour; write to them instead.",
                    limit,
                ),
            )
        sysops = on_duty_ids(sig.id, now)
        if not sysops:
            raise Invalid("body", _l("No sysop is on duty here now; write to them instead."))
        minutes = max(1, settings.get_int("care_page_minutes"))
        page = SysopPage(
            sig_id=sig.id,
            member_id=actor.id,
            body=body,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        session.add(page)
        session.flush()
        events.publish(
            events.SysopPaged(
                page_id=page.id, sig_id=sig.id, member_id=actor.id, sysop_ids=tuple(sysops)
            )
        )
        jobs.enqueue(expire_page, page.id, delay=minutes * 60)
    return page


def _page_subject(page: SysopPage) -> str:
    """The member's words, cut short: the subject's "Page: …" is said when it is shown (in the
    reader's language, not the language of whoever took the page)."""
    return page.body if len(page.body) <= 80 else page.body[:79] + "…"


def _page_into_concern(
    page: SysopPage, member: User, sig: Sig, now: datetime, taken_by: int | None = None
) -> Concern:
    body = page.body
    return _open_in_tx(
        member,
        sig,
        _page_subject(page),
        body,
        mail.cook(body),
        source=SOURCE_PAGE,
        subject_kind=SUBJECT_PAGE,
        now=now,
        taken_by=taken_by,
    )


def take_page(actor: Actor, page_id: int) -> Concern:
    """A sysop takes a page: the first one does, and it becomes a concern assigned to them, live
    between the two; the others are told it is taken (Conflict for a page taken already)."""
    page = permissions.get_page_for(actor, page_id)
    if not permissions.can_take_page(actor, page):
        raise Forbidden(_l("Only this SIG's sysops take its pages."))
    assert actor is not None
    with transaction():
        lock_for_write(SysopPage, page.id)
        if page.concern_id is not None:
            raise Conflict(
                _l("Someone took this page already.")
                if page.taken_by_id
                else _l("Nobody took this page in time: it is an open concern now.")
            )
        member = db.session.get(User, page.member_id)
        sig = db.session.get(Sig, page.sig_id)
        assert member is not None and sig is not None
        now = utcnow()
        concern = _page_into_concern(page, member, sig, now, taken_by=actor.id)
        concern.assignee_id = actor.id
        page.taken_by_id = actor.id
        page.taken_at = now
        page.concern_id = concern.id
        events.publish(
            events.PageAnswered(
                page_id=page.id,
                concern_id=concern.id,
                member_id=member.id,
                taken_by_id=actor.id,
                sysop_ids=tuple(u for u in on_duty_ids(sig.id, now) if u != actor.id),
            )
        )
    return concern


@jobs.job(retries=3, retry_delay=30)
def expire_page(page_id: int) -> int | None:
    """A page nobody took in time becomes an open concern, and its member is told. Returns the
    concern's id (None: it was taken, or had expired, already)."""
    with transaction():
        page = db.session.get(SysopPage, page_id)
        if page is None:
            return None
        lock_for_write(SysopPage, page.id)
        now = utcnow()
        if page.concern_id is not None or page.expires_at > now:
            return None
        member = db.session.get(User, page.member_id)
        sig = db.session.get(Sig, page.sig_id)
        if member is None or sig is None:
            return None
        concern = _page_into_concern(page, member, sig, now)
        page.expired_at = now
        page.concern_id = concern.id
        events.publish(
            events.PageAnswered(
                page_id=page.id,
                concern_id=concern.id,
                member_id=member.id,
                taken_by_id=None,
                sysop_ids=tuple(on_duty_ids(sig.id, now)),
            )
        )
        return concern.id


def page_sound(user: User) -> bool:
    """Whether this sysop lets a page ring with a sound (off unless they turned it on)."""
    return bool((user.preferences or {}).get(PREF_PAGE_SOUND, False))
