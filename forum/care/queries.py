"""Read models: the sysops' inbox, one concern, a member's own concerns, a SIG's care box, the
overdue concerns and waiting pages in /mod. Every query starts from the permission policy
(`permissions.concerns_clause`, `get_concern_for`), in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from .. import permissions
from ..accounts.models import User
from ..accounts.queries import iso
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import pgettext
from ..messages.models import SUBJECT_PAGE, Conversation, PrivateMessage
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics.models import Post, Topic
from . import services
from .models import OPEN, RESOLVED, WAITING, Concern, ConcernNote, SysopDuty, SysopPage

PER_PAGE = 50
OVERDUE = "overdue"
FILTERS = (OPEN, WAITING, RESOLVED, OVERDUE)

_MEMBER = aliased(User, name="member")
_ASSIGNEE = aliased(User, name="assignee")


def state_label(state: str, mine: bool = False) -> str:
    """The concern's state as its sysops read it, or (`mine`) as its member does: the concern
    waits for "your reply", not for "the member"."""
    # "open" is a concern's state here and the registration's mode elsewhere: Spanish says
    # "abierta" for the one (la consulta) and "abierto" for the other (el registro).
    return str(
        {
            OPEN: pgettext("concern", "open"),
            WAITING: _l("waiting for your reply") if mine else _l("waiting for the member"),
            RESOLVED: _l("resolved"),
        }.get(state, state)
    )


def to_whom(sig_name: str | None) -> str:
    """ "the sysops of Retro Computing", or "the site's sysops"."""
    if sig_name:
        return str(_l("the sysops of %(sig)s", sig=sig_name))
    return str(_l("the site's sysops"))


def answered_by(sig: Sig | None) -> str:
    """Who will answer a concern written to this SIG's sysops (None: the site's): "the sysops of
    Retro Computing", or "the site's sysops" for a SIG with no sysop of its own."""
    if sig is None or permissions.concerns_go_to_site(sig.id):
        return to_whom(None)
    return to_whom(sig.name)


def listed_subject(conversation: Conversation) -> tuple[str, bool]:
    """The subject as the care pages show it, and whether the concern was a page of the sysops:
    a page's words alone, for a "Page" tag beside them says what it is, as an appeal's tag does
    (`subject`, the shown_subject, says "Page: <words>" for the API, mail and exports, which
    have no tags)."""
    if conversation.subject_kind == SUBJECT_PAGE:
        return conversation.subject, True
    return conversation.shown_subject, False


def is_overdue(concern: Concern, now: datetime | None = None) -> bool:
    """Unanswered past its deadline (or marked so by the deadlines job)."""
    return (
        concern.first_response_at is None
        and concern.state != RESOLVED
        and (concern.overdue_at is not None or concern.due_at <= (now or utcnow()))
    )


def concern_id_of(viewer: Any, conversation_id: int) -> int | None:
    """The concern a conversation belongs to, when the viewer may read it (else None)."""
    user = permissions.actor(viewer)
    concern = db.session.scalar(select(Concern).where(Concern.conversation_id == conversation_id))
    if concern is None or not permissions.can_read_concern(user, concern):
        return None
    return concern.id


# --- the sysops' inbox ------------------------------------------------------------------------
@dataclass
class InboxRow:
    concern: Concern
    subject: str
    member: str | None
    sig: Sig | None
    assignee: str | None
    overdue: bool
    # What the care pages show beside the row's tags (see listed_subject).
    title: str = ""
    is_page: bool = False


@dataclass
class Inbox:
    rows: list[InboxRow]
    filter: str
    counts: dict[str, int]
    sig: Sig | None
    pages: list[PageRow] = field(default_factory=list)
    # Ban appeals only (the counts are then of appeals); how many appeals `filter` holds.
    appeals: bool = False
    appeal_count: int = 0


def _inbox_filter(state: str, now: datetime) -> Any:
    if state == OVERDUE:
        return and_(
            Concern.first_response_at.is_(None),
            Concern.state != RESOLVED,
            or_(Concern.overdue_at.is_not(None), Concern.due_at <= now),
        )
    return Concern.state == state


def inbox(current: Any, state: str = OPEN, sig: Sig | None = None, appeals: bool = False) -> Inbox:
    """The concerns this sysop handles, by state (overdue ones first), in four queries; with
    `sig`, that SIG's alone (a SIG whose concerns they do not handle is NotFound, as the inbox
    is to a member); with `appeals`, the ban appeals alone."""
    viewer = permissions.actor(current)
    if not permissions.can_handle_any_concerns(viewer):
        raise NotFound()
    if sig is not None and not permissions.can_handle_concerns(viewer, sig.id):
        raise NotFound()
    now = utcnow()
    # The global sysop's clause is every concern, the site's (no SIG) among them.
    where = [permissions.concerns_clause(viewer)]
    if sig is not None:
        where.append(Concern.sig_id == sig.id)
    is_appeal = Concern.is_appeal.is_(True)
    kind = [is_appeal] if appeals else []
    overdue_first = case((_inbox_filter(OVERDUE, now), 0), else_=1)
    result = db.session.execute(
        select(Concern, Conversation, _MEMBER.username, Sig, _ASSIGNEE.username)
        .join(Conversation, Conversation.id == Concern.conversation_id)
        .outerjoin(_MEMBER, _MEMBER.id == Concern.member_id)
        .outerjoin(Sig, Sig.id == Concern.sig_id)
        .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Concern.assignee_id)
        .where(*where, *kind, _inbox_filter(state, now))
        .order_by(overdue_first, Concern.last_activity_at.desc(), Concern.id.desc())
        .limit(PER_PAGE)
    ).all()
    rows = [
        InboxRow(
            c,
            conversation.shown_subject,
            member,
            s,
            assignee,
            is_overdue(c, now),
            *listed_subject(conversation),
        )
        for c, conversation, member, s, assignee in result
    ]
    counts = dict.fromkeys(FILTERS, 0)
    counted = db.session.execute(
        select(
            *(func.count(case((and_(*kind, _inbox_filter(key, now)), 1))) for key in FILTERS),
            func.count(case((and_(is_appeal, _inbox_filter(state, now)), 1))),
        ).where(*where)
    ).one()
    *by_state, appeal_count = (int(n) for n in counted)
    counts.update(zip(FILTERS, by_state, strict=True))
    return Inbox(
        rows=rows,
        filter=state,
        counts=counts,
        sig=sig,
        pages=waiting_pages(viewer),
        appeals=appeals,
        appeal_count=appeal_count,
    )


# --- one concern --------------------------------------------------------------------------------
@dataclass
class MessageView:
    message: PrivateMessage
    from_sysops: bool
    author: str | None  # shown to the sysops only


@dataclass
class ConcernPage:
    concern: Concern
    subject: str
    sig: Sig | None
    to_whom: str
    member: User | None
    messages: list[MessageView]
    is_sysop: bool
    notes: list[tuple[ConcernNote, str | None]]
    sysops: list[User]
    assignee: User | None
    post: Post | None
    post_topic: Topic | None
    can_rate: bool
    overdue: bool
    last_message_id: int
    # A ban appeal read by a sysop who may open the member's sysop tools (/mod/u/<name>).
    member_tools: bool = False
    title: str = ""  # the heading, beside the tags (see listed_subject)
    is_page: bool = False


def concern_page(current: Any, concern_id: int) -> ConcernPage:
    """A concern as its member or one of its sysops reads it: the member sees "the sysops" for
    every sysop's message and never the notes. Eight queries at most."""
    viewer = permissions.actor(current)
    concern = permissions.get_concern_for(viewer, concern_id)
    is_sysop = permissions.can_act_on_concern(viewer, concern)
    conversation = db.session.get(Conversation, concern.conversation_id)
    assert conversation is not None
    sig = db.session.get(Sig, concern.sig_id) if concern.sig_id is not None else None
    messages = [
        MessageView(
            message=m,
            from_sysops=m.user_id != concern.member_id,
            author=name if is_sysop else None,
        )
        for m, name in db.session.execute(
            select(PrivateMessage, User.username)
            .outerjoin(User, User.id == PrivateMessage.user_id)
            .where(PrivateMessage.conversation_id == conversation.id)
            .order_by(PrivateMessage.id)
        )
    ]
    people = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(
                User.id.in_(
                    sorted(
                        {concern.member_id}
                        | ({concern.assignee_id} if concern.assignee_id else set())
                        | (
                            set(permissions.concern_assignees(concern.sig_id))
                            if is_sysop
                            else set()
                        )
                    )
                )
            )
        )
    }
    notes: list[tuple[ConcernNote, str | None]] = []
    if is_sysop:
        notes = [
            (n, name)
            for n, name in db.session.execute(
                select(ConcernNote, User.username)
                .outerjoin(User, User.id == ConcernNote.author_id)
                .where(ConcernNote.concern_id == concern.id)
                .order_by(ConcernNote.id)
            )
        ]
    post = topic = None
    if concern.post_id is not None:
        try:
            post, topic, _sig = permissions.get_post_topic_and_sig_for(viewer, concern.post_id)
        except Exception:  # noqa: BLE001 - a post this reader may not see is simply not shown
            post = topic = None
    sysops = sorted(
        (u for uid, u in people.items() if uid != concern.member_id or is_sysop),
        key=lambda u: u.username.lower(),
    )
    title, is_page = listed_subject(conversation)
    return ConcernPage(
        concern=concern,
        subject=conversation.shown_subject,
        sig=sig,
        to_whom=to_whom(sig.name if sig else None),
        member=people.get(concern.member_id),
        messages=messages,
        is_sysop=is_sysop,
        notes=notes,
        sysops=[u for u in sysops if permissions.can_handle_concerns(u, concern.sig_id)]
        if is_sysop
        else [],
        assignee=people.get(concern.assignee_id) if concern.assignee_id else None,
        post=post,
        post_topic=topic,
        can_rate=permissions.can_rate_concern(viewer, concern),
        overdue=is_overdue(concern),
        last_message_id=conversation.last_message_id,
        member_tools=is_sysop and concern.is_appeal and permissions.can_moderate_anything(viewer),
        title=title,
        is_page=is_page,
    )


def appeal_page(concern: Concern) -> ConcernPage:
    """The concern as its banned member reads it on the appeal form (they proved who they are
    with their password just now; the policy still says whether they may read it)."""
    member = db.session.get(User, concern.member_id)
    return concern_page(member, concern.id)


# --- a member's own concerns ------------------------------------------------------------------
@dataclass
class MyRow:
    concern: Concern
    subject: str
    to_whom: str
    sig: Sig | None = None
    title: str = ""  # beside the row's tags (see listed_subject)
    is_page: bool = False


def my_concerns(current: Any) -> list[MyRow]:
    """The member's own concerns, the newest activity first (/care, GET /api/v1/concerns)."""
    viewer = permissions.actor(current)
    if viewer is None:
        return []
    return [
        MyRow(
            c,
            conversation.shown_subject,
            to_whom(sig.name if sig else None),
            sig,
            *listed_subject(conversation),
        )
        for c, conversation, sig in db.session.execute(
            select(Concern, Conversation, Sig)
            .join(Conversation, Conversation.id == Concern.conversation_id)
            .outerjoin(Sig, Sig.id == Concern.sig_id)
            .where(Concern.member_id == viewer.id)
            .order_by(Concern.last_activity_at.desc(), Concern.id.desc())
            .limit(PER_PAGE)
        )
    ]


# --- a SIG's care box, pages and the /mod section --------------------------------------------
@dataclass
class SigCare:
    sig: Sig
    sysop_here: bool
    can_write: bool
    can_page: bool
    is_sysop: bool
    on_duty: bool = False
    page_sound: bool = False
    response_hours: int = 24
    escalate_hours: int = 48
    open_count: int = 0
    max_hours: int = services.MAX_DEADLINE_HOURS


def sig_care(current: Any, sig: Sig) -> SigCare:
    """What the SIG page shows of care: whether a sysop is on duty, may I write or page; for
    its sysops, their duty, the deadlines and the open concerns (two or three queries)."""
    viewer = permissions.actor(current)
    now = utcnow()
    on_duty = services.on_duty_ids(sig.id, now)
    is_sysop = permissions.can_handle_concerns(viewer, sig.id)
    care = SigCare(
        sig=sig,
        sysop_here=bool(on_duty),
        can_write=viewer is not None and permissions.write_to_sysops_problem(viewer, sig) is None,
        can_page=bool(on_duty)
        and viewer is not None
        and permissions.page_problem(viewer, sig) is None,
        is_sysop=is_sysop,
    )
    if is_sysop and viewer is not None:
        care.on_duty = viewer.id in on_duty
        care.page_sound = services.page_sound(viewer)
        care.response_hours, care.escalate_hours = services.deadlines(sig.id)
        care.open_count = int(
            db.session.scalar(
                select(func.count())
                .select_from(Concern)
                .where(Concern.sig_id == sig.id, Concern.state == OPEN)
            )
            or 0
        )
    return care


@dataclass
class PageRow:
    page: SysopPage
    member: str | None
    sig: Sig


def waiting_pages(viewer: Any) -> list[PageRow]:
    """Pages nobody took yet in the SIGs this sysop handles (/mod, the inbox)."""
    ids = permissions.moderated_sig_ids(viewer)
    if ids is not None and not ids:
        return []
    query = (
        select(SysopPage, User.username, Sig)
        .join(Sig, Sig.id == SysopPage.sig_id)
        .outerjoin(User, User.id == SysopPage.member_id)
        .where(SysopPage.concern_id.is_(None))
        .order_by(SysopPage.created_at)
        .limit(PER_PAGE)
    )
    if ids is not None:
        query = query.where(SysopPage.sig_id.in_(sorted(ids)))
    return [PageRow(p, name, s) for p, name, s in db.session.execute(query)]


@dataclass
class ModCare:
    overdue: list[InboxRow]
    open_count: int
    pages: list[PageRow]


def mod_care(current: Any) -> ModCare | None:
    """The /mod section: the overdue concerns (marked), how many are open, waiting pages."""
    viewer = permissions.actor(current)
    if not permissions.can_handle_any_concerns(viewer):
        return None
    box = inbox(viewer, OVERDUE)
    return ModCare(overdue=box.rows, open_count=box.counts[OPEN], pages=box.pages)


def page_view(current: Any, page_id: int) -> tuple[SysopPage, Sig, str | None, bool]:
    """A page, its SIG, the member's name, and whether the viewer may take it."""
    viewer = permissions.actor(current)
    page = permissions.get_page_for(viewer, page_id)
    sig = db.session.get(Sig, page.sig_id)
    assert sig is not None
    member = db.session.get(User, page.member_id)
    return page, sig, member.username if member else None, permissions.can_take_page(viewer, page)


def duty_sigs(current: Any) -> list[tuple[Sig, datetime]]:
    """The SIGs this sysop is on duty in now, until when (the settings section)."""
    viewer = permissions.actor(current)
    if viewer is None:
        return []
    return [
        (s, until)
        for s, until in db.session.execute(
            select(Sig, SysopDuty.until)
            .join(SysopDuty, SysopDuty.sig_id == Sig.id)
            .where(SysopDuty.user_id == viewer.id, SysopDuty.until > utcnow())
            .order_by(Sig.name)
        )
        if permissions.can_handle_concerns(viewer, s.id)
    ]


def account_concerns(user: User) -> list[dict[str, Any]]:
    """The concerns the member wrote to the sysops, for their data export (hooks.account_data):
    subject, SIG, state, whether it appealed a ban, and dates (their own messages are in
    private_messages; the sysops' notes are the sysops')."""
    return [
        {
            "id": c.id,
            "subject": conversation.shown_subject,
            "sig": sig_slug,
            "conversation_id": c.conversation_id,
            "post_id": c.post_id,
            "state": c.state,
            "appeal": c.is_appeal,
            "created_at": iso(c.created_at),
            "resolved_at": iso(c.resolved_at),
            "helped": c.helped,
        }
        for c, conversation, sig_slug in db.session.execute(
            select(Concern, Conversation, Sig.slug)
            .join(Conversation, Conversation.id == Concern.conversation_id)
            .outerjoin(Sig, Sig.id == Concern.sig_id)
            .where(Concern.member_id == user.id)
            .order_by(Concern.id)
        )
    ]
