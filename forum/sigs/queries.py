"""Read models for SIG pages, each loaded in a fixed number of queries."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import (
    Boolean,
    Integer,
    and_,
    bindparam,
    func,
    lambda_stmt,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import aliased, joinedload

from .. import hooks, permissions
from ..accounts.models import User
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..timeutil import UTCDateTime
from ..topics.models import POST_PENDING, Post, Topic, TopicRead, TopicState
from . import services
from .models import REQUEST_PENDING, JoinRequest, Membership, Sig, SigInvite

# The members a listing names beside each topic. Made once: an alias made per request costs
# more CPU to build into a statement than SQLite takes to run it.
_AUTHOR = aliased(User, name="author")
_LAST_POSTER = aliased(User, name="last_poster")
_FIRST_POST = aliased(Post, name="first_post")
_READ = aliased(TopicRead, name="topic_read")
_MEMBERSHIP = aliased(Membership, name="membership")


@dataclass
class SigRow:
    sig: Sig
    last_topic: Topic | None
    last_poster: str | None
    membership: Membership | None
    can_read: bool
    unread: int = 0  # topics with posts this member has not read (members of the SIG only)


@dataclass
class TopicView(TopicState):
    """The columns of a topic that a SIG's listing shows, without the ORM's bookkeeping (as
    forum.topics.queries.PostView is for posts): a page of 30 loads in a third less CPU time
    as plain rows. Answers the same questions as Topic (is_pinned, is_locked, is_deleted)."""

    id: int
    user_id: int | None
    title: str
    slug: str
    created_at: datetime
    last_posted_at: datetime
    last_post_user_id: int | None
    last_post_number: int
    first_post_id: int | None
    post_count: int
    pinned_at: datetime | None
    locked_at: datetime | None
    deleted_at: datetime | None
    answer_post_id: int | None


_TOPIC_COLUMNS = tuple(getattr(Topic, column.name) for column in fields(TopicView))


@dataclass
class TopicRow:
    topic: TopicView
    author: str | None
    last_poster: str | None
    unread: int  # posts this member has not read; 0 for guests and read topics
    is_new: bool  # never opened by this member
    awaits_approval: bool = False  # its first post waits for a sysop (author and sysops see it)


@dataclass
class Pagination:
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, (self.total + self.per_page - 1) // self.per_page)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass
class SigPage:
    sig: Sig
    can_read: bool
    membership: Membership | None
    pending_request: JoinRequest | None
    topics: list[TopicRow] = field(default_factory=list)
    pagination: Pagination | None = None
    write_problem: str | None = None
    # Whether this member may start a topic here (in a public SIG, starting one joins it).
    can_start_topic: bool = False
    is_sysop: bool = False
    pending_requests: int = 0
    filter: str = "all"
    # Where the pager's links seek from (forum.sigs.queries.Cursor): after the last topic shown,
    # before the first. None where there is no such page.
    next_after: str | None = None
    prev_before: str | None = None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(r"([01])-(\d{1,19})-(\d{1,12})")


@dataclass(frozen=True)
class Cursor:
    """A place in a SIG's listing order, between two topics: the topic's group (0 pinned, 1 not),
    its last activity and its id, written `1-1733328000123456-4521` (microseconds since 1970).

    The SIG page's Previous and Next links carry one (`?page=3&after=…`), and the page is read by
    seeking to it in ix_topics_sig_order: the same few index steps on page 700 as on page 2.
    A numbered page without one (`?page=700`, from a bookmark or typed) is counted out with an
    OFFSET, and costs more the deeper it is."""

    unpinned: int
    last_posted_at: datetime
    topic_id: int

    @classmethod
    def of(cls, topic: Topic | TopicView) -> Cursor:
        return cls(int(topic.pinned_at is None), topic.last_posted_at, topic.id)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = _CURSOR.fullmatch(text)
        if not match:
            raise NotFound(_l("That page does not exist."))
        group, micros, topic_id = (int(part) for part in match.groups())
        try:
            moment = _EPOCH + micros * _MICROSECOND
        except OverflowError:
            raise NotFound(_l("That page does not exist.")) from None
        return cls(group, moment, topic_id)

    def __str__(self) -> str:
        micros = (self.last_posted_at - _EPOCH) // _MICROSECOND
        return f"{self.unpinned}-{micros}-{self.topic_id}"


# The SIG index counts a SIG's unread topics up to this many and shows more as "more than 99":
# a count is read in a few index steps whatever the SIG's size, where counting every unread
# topic of a member who has read nothing walked all of them (3.3 of the member's 15.6 ms of CPU
# per SIG index at 50,000 posts, bench/page_cpu.py --sql sig_index_member).
UNREAD_SHOWN = 99


def unread_by_sig(user_id: int, sig_ids: Sequence[int]) -> dict[int, int]:
    """Per SIG of `sig_ids` the member belongs to: how many topics have posts they have not
    read (/new's rule: not deleted, active since the member last marked the SIG read, a post
    beyond their read position), counted up to UNREAD_SHOWN + 1. One statement: a bounded count
    per membership row."""
    if not sig_ids:
        return {}
    # A lambda_stmt, built once per process: every member's SIG index runs it, and building a
    # union of one count per SIG on each request cost more CPU than SQLite took to run it
    # (bench/page_cpu.py sig_index_member, issue 17, seventh session).
    statement = lambda_stmt(lambda: _unread_by_sig(), enable_tracking=False)
    rows = db.session.execute(
        statement,
        {"user_id": user_id, "sig_ids": list(sig_ids), "shown": UNREAD_SHOWN + 1},
    )
    return {sig_id: count for sig_id, count in rows if count}


def _unread_by_sig() -> Any:
    read, member = _READ, _MEMBERSHIP
    unread = (
        select(Topic.id)
        .outerjoin(read, and_(read.topic_id == Topic.id, read.user_id == bindparam("user_id")))
        .where(
            Topic.sig_id == member.sig_id,
            Topic.deleted_at.is_(None),
            Topic.last_post_number > func.coalesce(read.last_read_post_number, 0),
            or_(member.read_through.is_(None), Topic.last_posted_at > member.read_through),
        )
        .limit(bindparam("shown", type_=Integer))
        .correlate(member)
        .subquery()
    )
    count = select(func.count()).select_from(unread).correlate(member).scalar_subquery()
    return select(member.sig_id, count).where(
        member.user_id == bindparam("user_id"),
        member.sig_id.in_(bindparam("sig_ids", expanding=True)),
    )


def sig_index(current: Any) -> list[SigRow]:
    """Every SIG this member may see, with its newest topic, and for a member the unread
    topics of each SIG they belong to (four queries in all)."""
    viewer = permissions.actor(current)
    sigs = list(
        db.session.scalars(
            select(Sig)
            .where(permissions.visible_sigs_clause(viewer))
            .order_by(Sig.archived_at.is_not(None), Sig.position, Sig.name)
        )
    )
    readable = [
        s.last_topic_id for s in sigs if s.last_topic_id and permissions.can_read_sig(viewer, s)
    ]
    last_topics: dict[int, tuple[Topic, str | None]] = {}
    if readable:
        # A lambda_stmt, built once per process: every SIG index runs it, and building it
        # was about a seventh of the index's queries (sig_index() 1.13 → 0.96 ms of CPU for a
        # guest, bench/page_cpu.py sig_index_nocache).
        rows = db.session.execute(
            lambda_stmt(
                lambda: (
                    select(Topic, _LAST_POSTER.username)
                    .outerjoin(_LAST_POSTER, _LAST_POSTER.id == Topic.last_post_user_id)
                    .where(
                        Topic.id.in_(bindparam("ids", expanding=True)), Topic.deleted_at.is_(None)
                    )
                ),
                enable_tracking=False,
            ),
            {"ids": readable},
        )
        last_topics = {t.id: (t, name) for t, name in rows}
    unread = (
        unread_by_sig(viewer.id, list(permissions.memberships(viewer)))
        if viewer is not None
        else {}
    )
    result = []
    for sig in sigs:
        topic, name = last_topics.get(sig.last_topic_id or 0, (None, None))
        membership = permissions.membership(viewer, sig)
        result.append(
            SigRow(
                sig=sig,
                last_topic=topic,
                last_poster=name,
                membership=membership,
                can_read=permissions.can_read_sig(viewer, sig),
                unread=unread.get(sig.id, 0) if membership is not None else 0,
            )
        )
    return result


def sig_page(
    current: Any,
    slug: str,
    page: int = 1,
    filter: str = "all",
    after: Cursor | None = None,
    before: Cursor | None = None,
    per_page: int | None = None,
) -> SigPage:
    """A SIG's topics, pinned first, then by last activity; unread marks for members. Page
    `page` is counted out from the top, or read from a cursor: the topics `after` one, or the
    page `before` one (the page number is then the pager's label). `per_page`: TOPICS_PER_PAGE
    unless given (the JSON API's `limit`)."""
    viewer = permissions.actor(current)
    sig = permissions.get_sig_for(viewer, slug)
    result = SigPage(
        sig=sig,
        can_read=permissions.can_read_sig(viewer, sig),
        membership=permissions.membership(viewer, sig),
        pending_request=None,
        write_problem=permissions.write_problem(viewer, sig),
        can_start_topic=permissions.can_start_topic(viewer, sig),
        is_sysop=permissions.is_sig_sysop(viewer, sig),
        filter=filter,
    )
    if viewer is not None and result.membership is None:
        result.pending_request = db.session.scalar(
            select(JoinRequest).where(
                JoinRequest.sig_id == sig.id,
                JoinRequest.user_id == viewer.id,
                JoinRequest.status == REQUEST_PENDING,
            )
        )
    if result.is_sysop and sig.is_private:
        result.pending_requests = (
            db.session.scalar(
                select(func.count())
                .select_from(JoinRequest)
                .where(JoinRequest.sig_id == sig.id, JoinRequest.status == REQUEST_PENDING)
            )
            or 0
        )
    if not result.can_read:
        return result

    per_page = per_page or current_app.config["TOPICS_PER_PAGE"]
    # The stored counter paginates; a sysop's view of deleted topics may run a page over.
    result.pagination = Pagination(page=max(1, page), per_page=per_page, total=sig.topic_count)
    if page < 1 or page > result.pagination.pages:
        raise NotFound(_l("That page does not exist."))
    # A lambda_stmt, each part built once per process (every value a bindparam; only the
    # hook's filter is tracked): every SIG page runs it, and building the statement and its
    # cache key took longer than running it (sig_page() 1.29 → 0.92 ms of CPU for a guest,
    # a tenth of the page: bench/page_cpu.py sig_page_nocache).
    query = lambda_stmt(
        lambda: (
            select(*_TOPIC_COLUMNS, _AUTHOR.username, _LAST_POSTER.username, _FIRST_POST.status)
            .outerjoin(_AUTHOR, _AUTHOR.id == Topic.user_id)
            .outerjoin(_LAST_POSTER, _LAST_POSTER.id == Topic.last_post_user_id)
            .outerjoin(_FIRST_POST, _FIRST_POST.id == Topic.first_post_id)
            .where(Topic.sig_id == bindparam("sig_id"))
        ),
        enable_tracking=False,
    )
    if result.is_sysop:
        pass  # every topic, deleted ones too
    elif viewer is None:
        query = query.add_criteria(
            lambda q: q.where(topic_visibility_clause(None, False)), enable_tracking=False
        )
    else:
        query = query.add_criteria(
            lambda q: q.where(topic_visibility_clause(viewer, False)), enable_tracking=False
        )
    if viewer is not None:
        query = query.add_criteria(
            lambda q: q.add_columns(TopicRead.last_read_post_number).outerjoin(
                TopicRead,
                and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == bindparam("viewer_id")),
            ),
            enable_tracking=False,
        )
        if filter == "unread":
            query = query.add_criteria(
                lambda q: q.where(
                    func.coalesce(TopicRead.last_read_post_number, 0) < Topic.last_post_number
                ),
                enable_tracking=False,
            )
    narrow = hooks.sig_topic_filters.get().get(filter)
    if narrow is not None:
        clause = narrow(sig)
        query = query.add_criteria(lambda q: q.where(clause))  # tracked: another feature's SQL
    values = {"sig_id": sig.id, "viewer_id": viewer.id if viewer is not None else None}
    if after is not None or before is not None:
        rows = _seek(query, values, after, before, per_page)
    else:
        query = query.add_criteria(
            lambda q: (
                q.order_by(Topic.pinned_at.is_(None), Topic.last_posted_at.desc(), Topic.id.desc())
                .limit(bindparam("limit"))
                .offset(bindparam("offset"))
            ),
            enable_tracking=False,
        )
        values.update(limit=per_page, offset=(page - 1) * per_page)
        rows = list(db.session.execute(query, values).all())
    split = len(_TOPIC_COLUMNS)
    for row in rows:
        topic = TopicView(*row[:split])
        author_name, poster_name, first_status = row[split], row[split + 1], row[split + 2]
        last_read = row[split + 3] if viewer is not None else None
        unread = 0
        if viewer is not None:
            unread = max(0, topic.last_post_number - (last_read or 0))
        result.topics.append(
            TopicRow(
                topic=topic,
                author=author_name,
                last_poster=poster_name,
                unread=unread,
                is_new=viewer is not None and last_read is None,
                awaits_approval=first_status == POST_PENDING and not topic.is_deleted,
            )
        )
    if result.topics and page < result.pagination.pages:
        result.next_after = str(Cursor.of(result.topics[-1].topic))
    if result.topics and page > 2:
        result.prev_before = str(Cursor.of(result.topics[0].topic))
    return result


# The seek's parts of sig_page's statement, each a function so that lambda_stmt builds it once.
def _in_group(q: Any) -> Any:
    return q.where(Topic.pinned_at.is_(None) == bindparam("unpinned", type_=Boolean))


def _past_cursor(q: Any) -> Any:
    at = tuple_(bindparam("at", type_=UTCDateTime()), bindparam("at_id", type_=Integer))
    return q.where(tuple_(Topic.last_posted_at, Topic.id) < at)


def _before_cursor(q: Any) -> Any:
    at = tuple_(bindparam("at", type_=UTCDateTime()), bindparam("at_id", type_=Integer))
    return q.where(tuple_(Topic.last_posted_at, Topic.id) > at)


def _newest_first(q: Any) -> Any:
    return q.order_by(Topic.last_posted_at.desc(), Topic.id.desc()).limit(bindparam("limit"))


def _oldest_first(q: Any) -> Any:
    return q.order_by(Topic.last_posted_at, Topic.id).limit(bindparam("limit"))


def _seek(
    query: Any, values: dict[str, Any], after: Cursor | None, before: Cursor | None, limit: int
) -> list[Any]:
    """Up to `limit` rows of the lambda statement `query` (run with `values`) just after the
    cursor `after` (or just before `before`), in listing order. Each group (pinned, then the
    rest) is one range of ix_topics_sig_order, read from the cursor on: a second query only
    when a page spans both groups."""
    cursor = after or before
    assert cursor is not None
    forward = after is not None
    groups = range(cursor.unpinned, 2) if forward else range(cursor.unpinned, -1, -1)
    rows: list[Any] = []
    for group in groups:
        step = query.add_criteria(_in_group, enable_tracking=False)
        if group == cursor.unpinned:
            step = step.add_criteria(
                _past_cursor if forward else _before_cursor, enable_tracking=False
            )
        step = step.add_criteria(_newest_first if forward else _oldest_first, enable_tracking=False)
        rows += db.session.execute(
            step,
            {
                **values,
                "unpinned": bool(group),
                "at": cursor.last_posted_at,
                "at_id": cursor.topic_id,
                "limit": limit - len(rows),
            },
        ).all()
        if len(rows) >= limit:
            break
    return rows if forward else rows[::-1]


def topic_visibility_clause(viewer: permissions.Actor, is_sysop: bool) -> Any:
    """Topics listed to this member: not deleted, and not a first post still awaiting approval."""
    if is_sysop:
        return Topic.id.is_not(None)
    shown = and_(Topic.deleted_at.is_(None), Topic.post_count > 0)
    if viewer is None:
        return shown
    # The member's id is bound when the statement runs (sig_page's statement is built once).
    return or_(shown, and_(Topic.deleted_at.is_(None), Topic.user_id == bindparam("viewer_id")))


def join_requests(current: Any, slug: str) -> tuple[Sig, list[JoinRequest]]:
    viewer = permissions.actor(current)
    sig = permissions.get_sig_for(viewer, slug)
    permissions.require_sig_sysop(viewer, sig)
    requests = list(
        db.session.scalars(
            select(JoinRequest)
            .options(joinedload(JoinRequest.user))
            .where(JoinRequest.sig_id == sig.id, JoinRequest.status == REQUEST_PENDING)
            .order_by(JoinRequest.created_at)
        )
    )
    return sig, requests


def sig_members(current: Any, slug: str) -> tuple[Sig, Sequence[tuple[Membership, User]]]:
    viewer = permissions.actor(current)
    sig = permissions.get_sig_for(viewer, slug)
    permissions.require_read_sig(viewer, sig)
    rows = list(
        db.session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.sig_id == sig.id)
            .order_by(Membership.role.desc(), User.username)
        )
    )
    return sig, rows


# --- invite links ---------------------------------------------------------------------------
INVITES_SHOWN = 100  # the newest links on the SIG's invites page


@dataclass
class InviteRow:
    invite: SigInvite
    creator: str | None  # None: the account is gone
    problem: str | None  # why the link no longer lets anyone in; None while it holds


def sig_invites(current: Any, slug: str) -> tuple[Sig, list[InviteRow]]:
    """A SIG's invite links for its sysops, newest first, with their creators (one query)."""
    viewer = permissions.actor(current)
    sig = permissions.get_sig_for(viewer, slug)
    permissions.require_manage_sig_invites(viewer, sig)
    rows = db.session.execute(
        select(SigInvite, User.username)
        .outerjoin(User, User.id == SigInvite.created_by_id)
        .where(SigInvite.sig_id == sig.id)
        .order_by(SigInvite.created_at.desc(), SigInvite.id.desc())
        .limit(INVITES_SHOWN)
    )
    return sig, [
        InviteRow(invite=invite, creator=name, problem=permissions.sig_invite_problem(invite))
        for invite, name in rows
    ]


@dataclass
class InvitePage:
    """What /s/<slug>/invite/<token> shows: the SIG, and whether this member can join by it."""

    sig: Sig
    invite: SigInvite
    link_problem: str | None  # revoked, expired or used up
    is_member: bool
    join_problem: str | None  # banned from the SIG or the site, an archived SIG


def invite_page(current: Any, slug: str, token: str) -> InvitePage:
    """The invite link's page; NotFound as for a SIG that does not exist when the token is
    wrong (forum.sigs.services.find_sig_invite)."""
    viewer = permissions.actor(current)
    sig, invite = services.find_sig_invite(slug, token)
    return InvitePage(
        sig=sig,
        invite=invite,
        link_problem=permissions.sig_invite_problem(invite),
        is_member=permissions.is_member(viewer, sig),
        join_problem=permissions.invite_join_problem(viewer, sig) if viewer else None,
    )
