"""/api/v1/concerns and /api/v1/sigs/<slug>/care: member care as its pages have it (forum.care) —
a member's concerns, writing to the sysops, the sysops' inbox, answers, notes, assignment,
states and "did it help?"; a SIG's care box, duty and deadlines; paging the sysops on duty and
taking a page — thin views over the same services, read models and policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import permissions, ratelimits
from ..accounts.former import is_former
from ..accounts.former import public as public_name
from ..care import queries as care_queries
from ..care import services as care_services
from ..errors import NotFound
from ..extensions import db
from ..web import absolute_url_for, unless_read_only
from . import bp
from .auth import credential
from .spec import operation
from .views import MODERATE, READ, WRITE, _context, _sig_ref, _viewer

if TYPE_CHECKING:
    from ..care.models import Concern
    from . import schemas
else:  # pydantic's models, loaded on the API's first request (forum.api.spec)
    from .spec import schemas

TAGS = ("Member care",)


# --- shapes ---------------------------------------------------------------------------------
def _ref(user_id: int | None, username: str | None) -> schemas.MemberRef | None:
    # null: nobody, an account gone, or a deleted one (a former member, accounts.former).
    if not user_id or not username or is_former(username):
        return None
    return schemas.MemberRef(id=user_id, username=username)


def _url(concern_id: int) -> str:
    return absolute_url_for("care.concern", concern_id=concern_id)


def _summary(concern: Concern, subject: str, to_whom: str, sig: Any) -> dict[str, Any]:
    return {
        "id": concern.id,
        "subject": subject,
        "sig": _sig_ref(sig) if sig is not None else None,
        "to_whom": to_whom,
        "state": concern.state,
        "appeal": concern.is_appeal,
        "created_at": concern.created_at,
        "last_activity_at": concern.last_activity_at,
        "url": _url(concern.id),
    }


def _detail(page: care_queries.ConcernPage) -> schemas.ConcernDetail:
    """The concern as its page shows it to this reader: the member reads "the sysops" and no
    handling; its sysops read who wrote what, the notes and the assignment."""
    concern = page.concern
    handling = None
    if page.is_sysop:
        member = page.member
        handling = schemas.ConcernHandling(
            member=_ref(member.id, member.username) if member else None,
            assignee=_ref(page.assignee.id, page.assignee.username) if page.assignee else None,
            sysops=[
                schemas.MemberRef(id=u.id, username=u.username)
                for u in page.sysops
                if not is_former(u.username)
            ],
            notes=[
                schemas.SysopNote(
                    id=note.id,
                    author=public_name(name),
                    body_raw=note.body_raw,
                    body_html=note.body_html,
                    created_at=note.created_at,
                )
                for note, name in page.notes
            ],
            due_at=concern.due_at,
            first_response_at=concern.first_response_at,
            escalated_at=concern.escalated_at,
            overdue=page.overdue,
        )
    post = None
    if page.post is not None:
        topic = page.post_topic
        post = schemas.ConcernPost(
            id=page.post.id,
            topic=schemas.TopicRef(id=topic.id, title=topic.title) if topic else None,
            url=absolute_url_for("topics.permalink", post_id=page.post.id),
        )
    return schemas.ConcernDetail(
        **_summary(concern, page.subject, page.to_whom, page.sig),
        source=concern.source,  # type: ignore[arg-type]
        post=post,
        resolved_at=concern.resolved_at,
        helped=concern.helped,
        can_rate=page.can_rate,
        messages=[
            schemas.ConcernMessage(
                id=row.message.id,
                from_sysops=row.from_sysops,
                author=public_name(row.author) if row.from_sysops else None,
                hidden=row.message.is_hidden,
                body_raw=None if row.message.is_hidden else row.message.body_raw,
                body_html=None if row.message.is_hidden else row.message.body_html,
                created_at=row.message.created_at,
            )
            for row in page.messages
        ],
        handling=handling,
    )


def _waiting_page(row: care_queries.PageRow) -> schemas.WaitingPage:
    return schemas.WaitingPage(
        id=row.page.id,
        member=_ref(row.page.member_id, row.member),
        sig=_sig_ref(row.sig),
        body=row.page.body,
        created_at=row.page.created_at,
        url=absolute_url_for("care.page", page_id=row.page.id),
    )


def _concern_by_id(concern_id: int) -> schemas.ConcernDetail:
    db.session.expire_all()
    return _detail(care_queries.concern_page(_viewer(), concern_id))


# --- a member's concerns --------------------------------------------------------------------
@bp.route("/concerns")
@operation(READ, model="ConcernList", tags=TAGS)
def list_concerns() -> Any:
    """List my concerns

    What I wrote to the sysops (of a SIG, or the site's), the newest activity first: the data
    of /care."""
    return schemas.ConcernList(
        items=[
            schemas.ConcernSummary(**_summary(row.concern, row.subject, row.to_whom, row.sig))
            for row in care_queries.my_concerns(_viewer())
        ]
    )


@bp.route("/concerns/<int:concern_id>")
@operation(READ, model="ConcernDetail", tags=TAGS)
def get_concern(concern_id: int) -> Any:
    """Show a concern with its messages

    For its member (every sysop's message is from “the sysops”) and the sysops it was written
    to (who also read who wrote each, the private notes and the assignment). To anyone else
    it is the same 404 as a concern that does not exist. Its member reading it marks it read,
    as its page does."""
    page = care_queries.concern_page(_viewer(), concern_id)
    if not page.is_sysop:
        unless_read_only(
            lambda: care_services.mark_read(_viewer(), page.concern), "the read position"
        )
    return _detail(page)


@bp.route("/concerns", methods=["POST"])
@ratelimits.mail
@operation(WRITE, ok=201, model="ConcernDetail", json="NewConcern", tags=TAGS)
def create_concern() -> Any:
    """Write to the sysops

    Of a SIG (`sig`) or, without it, of the site. Not to one's own SIG's sysops. Every sysop
    of the SIG hears of it and answers as “the sysops”.

    Sent again with the same text within a couple of minutes, it writes nothing and answers
    409 with the first one in `error.existing`."""
    body = _context().json
    viewer = _viewer()
    sig = permissions.get_sig_for(viewer, body.sig) if body.sig is not None else None
    concern = care_services.write_to_sysops(
        viewer, sig.id if sig is not None else None, body.subject, body.body, body.post_id
    )
    return _concern_by_id(concern.id), 201


@bp.route("/concerns/<int:concern_id>/messages", methods=["POST"])
@ratelimits.mail
@operation(WRITE, ok=201, model="ConcernDetail", json="ConcernMessageIn", tags=TAGS)
def reply_to_concern(concern_id: int) -> Any:
    """Write in a concern

    Its member (a waiting or resolved concern opens again), or one of its sysops, as “the
    sysops” (the concern then waits for the member, or is resolved with `resolve`, which needs
    the moderate scope). Answers with the concern as the writer now reads it.

    Sent again with the same text within a couple of minutes, it writes nothing and answers
    409 with the first one in `error.existing`."""
    body = _context().json
    viewer = _viewer()
    if body.resolve:
        # A sysop's verb: the scope before anything is looked up, then the policy.
        permissions.require_scope(credential().scopes, MODERATE)
        concern = permissions.get_concern_for(viewer, concern_id)
        permissions.require_act_on_concern(viewer, concern)
    care_services.reply(viewer, concern_id, body.body, resolve=body.resolve)
    return _concern_by_id(concern_id), 201


@bp.route("/concerns/<int:concern_id>/rating", methods=["POST"])
@operation(WRITE, model="ConcernDetail", json="RatingIn", tags=TAGS, errors=(409,))
def rate_concern(concern_id: int) -> Any:
    """Say whether it helped

    Its member, once, after the concern was resolved (`can_rate`)."""
    care_services.rate(_viewer(), concern_id, _context().json.helped)
    return _concern_by_id(concern_id)


# --- the sysops -----------------------------------------------------------------------------
@bp.route("/concerns/inbox")
@operation(READ, model="ConcernInbox", query="InboxQuery", tags=TAGS)
def concern_inbox() -> Any:
    """The sysops' inbox

    The concerns written to the reader's SIGs' sysops (the global sysop: every SIG's and the
    site's), by `state` (with `appeal`, the ban appeals alone), overdue ones first, 50 at a
    time, with the count of each state and of the appeals in it, and the pages nobody took yet:
    the data of /mod/concerns. A member who handles no concerns has no inbox (404)."""
    args = _context().query
    viewer = _viewer()
    sig = permissions.get_sig_for(viewer, args.sig) if args.sig is not None else None
    box = care_queries.inbox(viewer, args.state, sig, appeals=args.appeal)
    return schemas.ConcernInbox(
        state=box.filter,  # type: ignore[arg-type]
        sig=_sig_ref(box.sig) if box.sig is not None else None,
        appeal=box.appeals,
        counts=schemas.InboxCounts(**box.counts, appeals=box.appeal_count),
        items=[
            schemas.InboxConcern(
                id=row.concern.id,
                subject=row.subject,
                member=_ref(row.concern.member_id, row.member),
                sig=_sig_ref(row.sig) if row.sig is not None else None,
                to_whom=care_queries.to_whom(row.sig.name if row.sig else None),
                state=row.concern.state,  # type: ignore[arg-type]
                assignee=_ref(row.concern.assignee_id, row.assignee),
                overdue=row.overdue,
                appeal=row.concern.is_appeal,
                last_activity_at=row.concern.last_activity_at,
                url=_url(row.concern.id),
            )
            for row in box.rows
        ],
        pages=[_waiting_page(row) for row in box.pages],
    )


@bp.route("/concerns/<int:concern_id>/notes", methods=["POST"])
@operation(MODERATE, ok=201, model="ConcernDetail", json="NoteIn", tags=TAGS)
def add_concern_note(concern_id: int) -> Any:
    """Add a private note (its sysops)

    Only the sysops the concern was written to read it; its member never does."""
    care_services.add_note(_viewer(), concern_id, _context().json.body)
    return _concern_by_id(concern_id), 201


@bp.route("/concerns/<int:concern_id>/assign", methods=["POST"])
@operation(MODERATE, model="ConcernDetail", json="AssignIn", tags=TAGS)
def assign_concern(concern_id: int) -> Any:
    """Assign a concern (its sysops)

    To one of the sysops it was written to (`handling.sysops`), or to nobody (null)."""
    care_services.assign(_viewer(), concern_id, _context().json.assignee)
    return _concern_by_id(concern_id)


@bp.route("/concerns/<int:concern_id>/state", methods=["POST"])
@operation(MODERATE, model="ConcernDetail", json="StateIn", tags=TAGS)
def set_concern_state(concern_id: int) -> Any:
    """Resolve a concern, or set its state (its sysops)

    resolved; waiting (for the member); open (again)."""
    care_services.set_state(_viewer(), concern_id, _context().json.state)
    return _concern_by_id(concern_id)


# --- a SIG's care box: duty and deadlines -----------------------------------------------------
def _sig_care(sig: Any) -> schemas.SigCare:
    db.session.expire_all()
    care = care_queries.sig_care(_viewer(), sig)
    handling = None
    if care.is_sysop:
        handling = schemas.SigCareHandling(
            on_duty=care.on_duty,
            page_sound=care.page_sound,
            response_hours=care.response_hours,
            escalate_hours=care.escalate_hours,
            open_count=care.open_count,
        )
    return schemas.SigCare(
        sig=_sig_ref(care.sig),
        sysop_here=care.sysop_here,
        can_write=care.can_write,
        can_page=care.can_page,
        is_sysop=care.is_sysop,
        handling=handling,
    )


@bp.route("/sigs/<slug>/care")
@operation(READ, model="SigCare", tags=TAGS, guests=True)
def get_sig_care(slug: str) -> Any:
    """A SIG's care box

    What its page shows: whether a sysop is on duty, whether I may write to its sysops or page
    them; for its sysops, their duty, the SIG's deadlines and its open concerns."""
    return _sig_care(permissions.get_sig_for(_viewer(), slug))


@bp.route("/sigs/<slug>/care/duty", methods=["PUT"])
@operation(MODERATE, model="SigCare", json="DutyIn", tags=TAGS)
def set_duty(slug: str) -> Any:
    """Go on or off duty in a SIG (its sysops)

    On duty (for the site's care_duty_hours, again from now if already), members may page me
    there. `sound` is the pages' own choice (a page rings on the forum's pages only)."""
    body = _context().json
    sig = permissions.get_sig_for(_viewer(), slug)
    care_services.set_duty(_viewer(), sig.id, body.on, sound=body.sound if body.on else None)
    return _sig_care(sig)


@bp.route("/sigs/<slug>/care/deadlines", methods=["PUT"])
@operation(MODERATE, model="SigCare", json="DeadlinesIn", tags=TAGS)
def set_care_deadlines(slug: str) -> Any:
    """Set a SIG's deadlines (its sysops)

    The first answer to a concern is due within `response_hours`; unanswered after
    `escalate_hours`, the global sysop is told."""
    body = _context().json
    sig = permissions.get_sig_for(_viewer(), slug)
    # (The service asks the policy whether the caller is one of the SIG's sysops.)
    care_services.set_deadlines(_viewer(), sig.id, body.response_hours, body.escalate_hours)
    return _sig_care(sig)


@bp.route("/concerns/duty")
@operation(READ, model="DutyList", tags=TAGS)
def list_duty() -> Any:
    """The SIGs I am on duty in

    Until when, and whether my pages ring: the data of the settings page's “On duty”."""
    viewer = _viewer()
    return schemas.DutyList(
        items=[
            schemas.Duty(sig=_sig_ref(sig), until=until)
            for sig, until in care_queries.duty_sigs(viewer)
        ],
        page_sound=care_services.page_sound(viewer) if viewer is not None else False,
    )


# --- paging the sysops on duty ----------------------------------------------------------------
def _page(page_id: int) -> schemas.SysopPage:
    db.session.expire_all()
    page, sig, member, can_take = care_queries.page_view(_viewer(), page_id)
    if page.concern_id is None:
        state = "waiting"
    else:
        state = "taken" if page.taken_by_id is not None else "expired"
    return schemas.SysopPage(
        id=page.id,
        sig=_sig_ref(sig),
        member=_ref(page.member_id, member),
        body=page.body,
        state=state,  # type: ignore[arg-type]
        created_at=page.created_at,
        expires_at=page.expires_at,
        taken_at=page.taken_at,
        can_take=can_take and page.is_waiting,
        concern_id=page.concern_id,
        concern_url=_url(page.concern_id) if page.concern_id is not None else None,
        url=absolute_url_for("care.page", page_id=page.id),
    )


@bp.route("/sigs/<slug>/care/pages", methods=["POST"])
@operation(WRITE, ok=201, model="SysopPage", json="NewPage", tags=TAGS)
def page_sysops(slug: str) -> Any:
    """Page the sysops on duty in a SIG

    When one is on duty (`can_page` in its care box). The first to take the page answers in a
    concern; if nobody does by `expires_at`, it becomes an open concern. A member may page so
    many times an hour (the site's care_pages_per_hour); its own sysops do not page."""
    viewer = _viewer()
    sig = permissions.get_sig_for(viewer, slug)
    permissions.require_page(viewer, sig)
    page = care_services.page_sysops(viewer, sig.id, _context().json.body)
    return _page(page.id), 201


@bp.route("/concerns/pages")
@operation(READ, model="WaitingPageList", tags=TAGS)
def list_waiting_pages() -> Any:
    """Pages nobody took yet

    In the SIGs whose concerns I handle, the oldest first (as in /mod). A member who handles
    no concerns has none (404), as the inbox."""
    viewer = _viewer()
    if not permissions.can_handle_any_concerns(viewer):
        raise NotFound()
    return schemas.WaitingPageList(
        items=[_waiting_page(row) for row in care_queries.waiting_pages(viewer)]
    )


@bp.route("/concerns/pages/<int:page_id>")
@operation(READ, model="SysopPage", tags=TAGS)
def get_page(page_id: int) -> Any:
    """Show a page

    For the member who paged (whether a sysop took it, and the concern it became) and its
    SIG's sysops; to anyone else it is the same 404 as a page that does not exist."""
    return _page(page_id)


@bp.route("/concerns/pages/<int:page_id>/take", methods=["POST"])
@operation(MODERATE, ok=201, model="ConcernDetail", tags=TAGS, errors=(409,))
def take_page(page_id: int) -> Any:
    """Take a page (its SIG's sysops)

    The first to take it: it becomes a concern assigned to me, answered like any other (409
    when someone took it already, or nobody did in time)."""
    viewer = _viewer()
    permissions.get_page_for(viewer, page_id)
    concern = care_services.take_page(viewer, page_id)
    return _concern_by_id(concern.id), 201
