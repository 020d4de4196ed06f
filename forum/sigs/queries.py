"""Read models for SIG pages, each loaded in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from .. import permissions
from ..accounts.models import User
from ..errors import NotFound
from ..extensions import db
from ..topics.models import Topic, TopicRead
from .models import REQUEST_PENDING, JoinRequest, Membership, Sig

# The members a listing names beside each topic. Made once: an alias made per request costs
# more CPU to build into a statement than SQLite takes to run it.
_AUTHOR = aliased(User, name="author")
_LAST_POSTER = aliased(User, name="last_poster")


@dataclass
class SigRow:
    sig: Sig
    last_topic: Topic | None
    last_poster: str | None
    membership: Membership | None
    can_read: bool


@dataclass
class TopicRow:
    topic: Topic
    author: str | None
    last_poster: str | None
    unread: int  # posts this member has not read; 0 for guests and read topics
    is_new: bool  # never opened by this member


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
    is_sysop: bool = False
    pending_requests: int = 0
    filter: str = "all"


def sig_index(current: Any) -> list[SigRow]:
    """Every SIG this member may see, with its newest topic (three queries in all)."""
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
        rows = db.session.execute(
            select(Topic, _LAST_POSTER.username)
            .outerjoin(_LAST_POSTER, _LAST_POSTER.id == Topic.last_post_user_id)
            .where(Topic.id.in_(readable), Topic.deleted_at.is_(None))
        )
        last_topics = {t.id: (t, name) for t, name in rows}
    result = []
    for sig in sigs:
        topic, name = last_topics.get(sig.last_topic_id or 0, (None, None))
        result.append(
            SigRow(
                sig=sig,
                last_topic=topic,
                last_poster=name,
                membership=permissions.membership(viewer, sig),
                can_read=permissions.can_read_sig(viewer, sig),
            )
        )
    return result


def sig_page(current: Any, slug: str, page: int = 1, filter: str = "all") -> SigPage:
    """A SIG's topics, pinned first, then by last activity; unread marks for members."""
    viewer = permissions.actor(current)
    sig = permissions.get_sig_for(viewer, slug)
    result = SigPage(
        sig=sig,
        can_read=permissions.can_read_sig(viewer, sig),
        membership=permissions.membership(viewer, sig),
        pending_request=None,
        write_problem=permissions.write_problem(viewer, sig),
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

    per_page = current_app.config["TOPICS_PER_PAGE"]
    # The stored counter paginates; a sysop's view of deleted topics may run a page over.
    result.pagination = Pagination(page=max(1, page), per_page=per_page, total=sig.topic_count)
    if page < 1 or page > result.pagination.pages:
        raise NotFound("That page does not exist.")
    query = (
        select(Topic, _AUTHOR.username, _LAST_POSTER.username)
        .outerjoin(_AUTHOR, _AUTHOR.id == Topic.user_id)
        .outerjoin(_LAST_POSTER, _LAST_POSTER.id == Topic.last_post_user_id)
        .where(Topic.sig_id == sig.id, topic_visibility_clause(viewer, result.is_sysop))
    )
    if viewer is not None:
        query = query.add_columns(TopicRead.last_read_post_number).outerjoin(
            TopicRead, and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == viewer.id)
        )
        if filter == "unread":
            query = query.where(
                func.coalesce(TopicRead.last_read_post_number, 0) < Topic.last_post_number
            )
    if filter in ("answered", "unanswered"):
        from ..pulse.queries import answered_in

        answered = answered_in(sig)
        query = query.where(answered if filter == "answered" else ~answered)
    query = query.order_by(Topic.pinned_at.is_(None), Topic.last_posted_at.desc(), Topic.id.desc())
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    for row in rows:
        topic, author_name, poster_name = row[0], row[1], row[2]
        last_read = row[3] if viewer is not None else None
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
            )
        )
    return result


def topic_visibility_clause(viewer: permissions.Actor, is_sysop: bool) -> Any:
    """Topics listed to this member: not deleted, and not a first post still awaiting approval."""
    if is_sysop:
        return Topic.id.is_not(None)
    shown = and_(Topic.deleted_at.is_(None), Topic.post_count > 0)
    if viewer is None:
        return shown
    return or_(shown, and_(Topic.deleted_at.is_(None), Topic.user_id == viewer.id))


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


def sig_members(current: Any, slug: str) -> tuple[Sig, list[tuple[Membership, User]]]:
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
