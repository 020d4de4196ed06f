"""Read models for /mod (the queue), /mod/log and a member's moderation panel.

Each page loads in a fixed number of queries whatever the number of rows.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, join, or_, select
from sqlalchemy.orm import aliased

from .. import permissions
from ..accounts.models import User
from ..errors import NotFound
from ..extensions import db
from ..i18n import gettext
from ..i18n import lazy_gettext as _l
from ..messages.models import MessageReport
from ..sigs.models import REQUEST_PENDING, JoinRequest, Membership, Sig, SigDiscipline
from ..timeutil import utcnow
from ..topics.models import POST_PENDING, Post, Topic
from .models import (
    ACTION_LABELS,
    Flag,
    MemberNote,
    MemberWarning,
    ModAction,
    PostReview,
    ReviewNote,
    WordFilter,
    action_label,
    details_label,
)

QUEUE_LIMIT = 50
LOG_PER_PAGE = 50

# Aliases are module constants (docs/architecture.md, "Data rules").
_REPORTER = aliased(User, name="reporter")
_FLAGGER = aliased(User, name="flagger")
_CLAIMER = aliased(User, name="claimer")
_WRITER = aliased(User, name="writer")
_ACTOR = aliased(User, name="actor_user")
_MEMBER = aliased(User, name="member_user")
_TOPIC_SIG = aliased(Sig, name="topic_sig")
_ISSUER = aliased(User, name="issuer")


@dataclass
class NoteRow:
    note: MemberNote | ReviewNote
    author: str | None
    sig: Sig | None = None  # the SIG a note on a member is filed under (None: site-wide)


@dataclass
class QueueItem:
    post: Post
    topic: Topic
    sig: Sig
    author: User | None
    flags: list[tuple[Flag, str]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    claimed_by: str | None = None
    claimed_by_id: int | None = None
    claimed_at: datetime | None = None
    review_notes: list[NoteRow] = field(default_factory=list)
    member_notes: list[NoteRow] = field(default_factory=list)


@dataclass
class MessageReportItem:
    """A reported private message as the global sysop sees it: the excerpt the first report
    carries (the message and the two before it), the reports, never the conversation."""

    report: MessageReport
    author: str | None
    reports: list[tuple[MessageReport, str]] = field(default_factory=list)


@dataclass
class ModQueue:
    flagged: list[QueueItem]
    pending: list[QueueItem]
    join_requests: list[tuple[Sig, int]]
    sigs: list[Sig]
    message_reports: list[MessageReportItem] = field(default_factory=list)


def message_reports(viewer: permissions.Actor) -> list[MessageReportItem]:
    """Open reports of private messages, grouped by message (the global sysop's): one query."""
    if not permissions.can_handle_message_reports(viewer):
        return []
    reporter = _REPORTER
    items: dict[int, MessageReportItem] = {}
    for report, name in db.session.execute(
        select(MessageReport, reporter.username)
        .join(reporter, reporter.id == MessageReport.reporter_id)
        .where(MessageReport.resolved_at.is_(None))
        .order_by(MessageReport.created_at, MessageReport.id)
        .limit(QUEUE_LIMIT * 5)
    ):
        item = items.get(report.message_id)
        if item is None:
            reported: dict[str, Any] = next(
                (m for m in report.excerpt or [] if m.get("reported")), {}
            )
            item = items[report.message_id] = MessageReportItem(
                report=report, author=reported.get("author")
            )
        item.reports.append((report, name))
    return list(items.values())[:QUEUE_LIMIT]


def mod_queue(current: Any) -> ModQueue:
    """Flagged posts (flags grouped) and posts awaiting approval in the SIGs I moderate."""
    viewer = permissions.actor(current)
    permissions.require_moderate_anything(viewer)
    in_scope = permissions.moderated_clause(Topic.sig_id, viewer)
    open_flags = (
        select(Flag.post_id, func.min(Flag.created_at).label("first"))
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.post_id)
        .subquery()
    )
    flagged = [
        QueueItem(post=post, topic=topic, sig=sig, author=author)
        for post, topic, sig, author, _first in db.session.execute(
            select(Post, Topic, Sig, User, open_flags.c.first)
            .join(open_flags, open_flags.c.post_id == Post.id)
            .join(Topic, Topic.id == Post.topic_id)
            .join(Sig, Sig.id == Topic.sig_id)
            .outerjoin(User, User.id == Post.user_id)
            .where(in_scope)
            .order_by(open_flags.c.first)
            .limit(QUEUE_LIMIT)
        )
    ]
    pending = [
        QueueItem(post=post, topic=topic, sig=sig, author=author)
        for post, topic, sig, author in db.session.execute(
            select(Post, Topic, Sig, User)
            .join(Topic, Topic.id == Post.topic_id)
            .join(Sig, Sig.id == Topic.sig_id)
            .outerjoin(User, User.id == Post.user_id)
            .where(in_scope, Post.status == POST_PENDING, Post.deleted_at.is_(None))
            .order_by(Post.created_at)
            .limit(QUEUE_LIMIT)
        )
    ]
    by_post = {item.post.id: item for item in flagged}
    if by_post:
        flagger = _FLAGGER
        for flag, name in db.session.execute(
            select(Flag, flagger.username)
            .join(flagger, flagger.id == Flag.user_id)
            .where(Flag.post_id.in_(list(by_post)), Flag.resolved_at.is_(None))
            .order_by(Flag.created_at)
        ):
            item = by_post[flag.post_id]
            item.flags.append((flag, name))
            item.reasons[flag.reason] = item.reasons.get(flag.reason, 0) + 1
        claimer = _CLAIMER
        for review, name in db.session.execute(
            select(PostReview, claimer.username)
            .outerjoin(claimer, claimer.id == PostReview.claimed_by_id)
            .where(PostReview.post_id.in_(list(by_post)))
        ):
            by_post[review.post_id].claimed_by = name
            by_post[review.post_id].claimed_by_id = review.claimed_by_id
            by_post[review.post_id].claimed_at = review.claimed_at
    items = flagged + pending
    post_ids = [item.post.id for item in items]
    if post_ids:
        writer = _WRITER
        notes: dict[int, list[NoteRow]] = defaultdict(list)
        for note, name in db.session.execute(
            select(ReviewNote, writer.username)
            .outerjoin(writer, writer.id == ReviewNote.author_id)
            .where(ReviewNote.post_id.in_(post_ids))
            .order_by(ReviewNote.created_at)
        ):
            notes[note.post_id].append(NoteRow(note, name))
        for item in items:
            item.review_notes = notes.get(item.post.id, [])
    author_ids = sorted({item.post.user_id for item in items if item.post.user_id})
    member_notes = notes_for_members(viewer, author_ids)
    for item in items:
        item.member_notes = member_notes.get(item.post.user_id or 0, [])
    request_rows = list(
        db.session.execute(
            select(Sig, func.count(JoinRequest.id))
            .join(JoinRequest, JoinRequest.sig_id == Sig.id)
            .where(
                JoinRequest.status == REQUEST_PENDING, permissions.moderated_clause(Sig.id, viewer)
            )
            .group_by(Sig.id)
            .order_by(Sig.name)
        )
    )
    sigs = list(
        db.session.scalars(
            select(Sig).where(permissions.moderated_clause(Sig.id, viewer)).order_by(Sig.name)
        )
    )
    return ModQueue(
        flagged=flagged,
        pending=pending,
        join_requests=[(sig, count) for sig, count in request_rows],
        sigs=sigs,
        message_reports=message_reports(viewer),
    )


def notes_for_members(
    viewer: permissions.Actor, user_ids: list[int], limit: int | None = None
) -> dict[int, list[NoteRow]]:
    """Private notes on these members that the viewer may read, newest first (one query)."""
    if not user_ids:
        return {}
    writer = _WRITER
    result: dict[int, list[NoteRow]] = defaultdict(list)
    for note, name, sig in db.session.execute(
        select(MemberNote, writer.username, Sig)
        .outerjoin(writer, writer.id == MemberNote.author_id)
        .outerjoin(Sig, Sig.id == MemberNote.sig_id)
        .where(
            MemberNote.user_id.in_(user_ids),
            permissions.moderated_clause(MemberNote.sig_id, viewer),
        )
        .order_by(MemberNote.created_at.desc(), MemberNote.id.desc())
    ):
        if limit is None or len(result[note.user_id]) < limit:
            result[note.user_id].append(NoteRow(note, name, sig))
    return result


def queue_size(current: Any) -> int:
    """Flagged plus pending posts waiting in the SIGs I moderate (for the header)."""
    viewer = permissions.actor(current)
    if not permissions.can_moderate_anything(viewer):
        return 0
    in_scope = permissions.moderated_clause(Topic.sig_id, viewer)
    flagged = (
        select(Flag.post_id.label("post_id"))
        .join(Post, Post.id == Flag.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(Flag.resolved_at.is_(None), in_scope)
    )
    pending = (
        select(Post.id.label("post_id"))
        .join(Topic, Topic.id == Post.topic_id)
        .where(Post.status == POST_PENDING, Post.deleted_at.is_(None), in_scope)
    )
    union = flagged.union(pending).subquery()
    size = int(db.session.scalar(select(func.count()).select_from(union)) or 0)
    if permissions.can_handle_message_reports(viewer):
        size += int(
            db.session.scalar(
                select(func.count(func.distinct(MessageReport.message_id))).where(
                    MessageReport.resolved_at.is_(None)
                )
            )
            or 0
        )
    return size


# --- the moderation log ---------------------------------------------------------------------
@dataclass
class LogRow:
    entry: ModAction
    actor: str | None
    member: str | None
    sig: Sig | None
    topic: Topic | None  # None too when the viewer may not see the topic (now)
    details: str  # "" when they name a SIG (or its topics) the viewer does not moderate
    params: dict | None = None  # the details as data (None too where `details` is "")

    @property
    def said(self) -> str:
        """The details in the reader's language (old rows: the English text as stored)."""
        return details_label(self.details, self.entry.action, self.params) if self.details else ""


def _log_rows(
    viewer: permissions.Actor,
    conditions: list[ColumnElement[bool]],
    limit: int,
    offset: int = 0,
) -> list[LogRow]:
    """Log entries the viewer may read (their SIGs'; all for the global sysop), newest first:
    the topic only while the viewer may see it where it is now, the details only when the
    entry names no other SIG, or one the viewer moderates too."""
    actor_user, member_user, topic_sig = _ACTOR, _MEMBER, _TOPIC_SIG
    viewable = permissions.viewable_topics_clause(viewer, Topic, topic_sig)
    rows = db.session.execute(
        select(ModAction, actor_user.username, member_user.username, Sig, Topic)
        .outerjoin(actor_user, actor_user.id == ModAction.actor_id)
        .outerjoin(member_user, member_user.id == ModAction.target_user_id)
        .outerjoin(Sig, Sig.id == ModAction.sig_id)
        .outerjoin(
            join(Topic, topic_sig, topic_sig.id == Topic.sig_id),
            and_(Topic.id == ModAction.topic_id, viewable),
        )
        .where(permissions.moderated_clause(ModAction.sig_id, viewer), *conditions)
        .order_by(ModAction.created_at.desc(), ModAction.id.desc())
        .limit(limit)
        .offset(offset)
    )
    result = []
    for entry, actor, member, sig, topic in rows:
        shown = entry.other_sig_id is None or permissions.is_sig_sysop(viewer, entry.other_sig_id)
        details, params = (entry.details, entry.params) if shown else ("", None)
        result.append(LogRow(entry, actor, member, sig, topic, details, params))
    return result


@dataclass
class LogFilters:
    sig: str = ""
    actor: str = ""
    member: str = ""
    action: str = ""


@dataclass
class ModLog:
    rows: list[LogRow]
    page: int
    has_next: bool
    filters: LogFilters
    actions: list[str]
    sigs: list[Sig]
    unknown: list[str] = field(default_factory=list)


def mod_log(current: Any, filters: LogFilters, page: int = 1) -> ModLog:
    """The moderation log, newest first: SIG sysops see their SIGs' entries, the sysop all."""
    viewer = permissions.actor(current)
    permissions.require_moderate_anything(viewer)
    conditions: list[ColumnElement[bool]] = []
    unknown: list[str] = []
    sigs = list(
        db.session.scalars(
            select(Sig).where(permissions.moderated_clause(Sig.id, viewer)).order_by(Sig.name)
        )
    )
    if filters.sig:
        chosen = next((s for s in sigs if s.slug == filters.sig), None)
        if chosen is None:
            unknown.append(gettext("SIG “%(name)s”", name=filters.sig))
            conditions.append(ModAction.id < 0)
        else:
            conditions.append(ModAction.sig_id == chosen.id)
    names = [n for n in (filters.actor, filters.member) if n]
    found: dict[str, int] = {}
    if names:
        found = {
            name.lower(): user_id
            for user_id, name in db.session.execute(
                select(User.id, User.username).where(
                    func.lower(User.username).in_([n.lower() for n in names])
                )
            )
        }
    for name, column in (
        (filters.actor, ModAction.actor_id),
        (filters.member, ModAction.target_user_id),
    ):
        if name:
            user_id = found.get(name.lower())
            if user_id is None:
                unknown.append(gettext("member “%(name)s”", name=name))
                conditions.append(ModAction.id < 0)
            else:
                conditions.append(column == user_id)
    if filters.action:
        conditions.append(ModAction.action == filters.action)
    rows = _log_rows(viewer, conditions, LOG_PER_PAGE + 1, offset=(max(page, 1) - 1) * LOG_PER_PAGE)
    return ModLog(
        rows=rows[:LOG_PER_PAGE],
        page=page,
        has_next=len(rows) > LOG_PER_PAGE,
        filters=filters,
        actions=sorted(
            permissions.readable_log_actions(viewer, ACTIONS),
            key=lambda action: _collation_key(action_label(action)),
        ),
        sigs=sigs,
        unknown=unknown,
    )


def _collation_key(label: str) -> str:
    """A label as a reader sorts it: case and accents aside ("bloqueo" after "ajuste")."""
    return "".join(
        c for c in unicodedata.normalize("NFKD", label.casefold()) if c.isalnum() or c == " "
    )


# Every action the log can hold (models.ACTION_LABELS names them all).
ACTIONS = sorted(ACTION_LABELS)


# --- a member, as sysops see them -----------------------------------------------------------
@dataclass
class MembershipRow:
    """One of the member's SIGs that the viewer can see (`moderated`: one the viewer moderates)."""

    sig: Sig
    is_sysop: bool
    moderated: bool


@dataclass
class SiteStanding:
    """A site-wide ban, silence or suspension: every sysop sees that it holds (it bars the
    member from their SIGs too); its reason is a site-wide record, the global sysop's."""

    kind: str  # "ban", "silence", "suspension"
    since: datetime | None
    until: datetime | None
    reason: str | None


# The member panel's forms (moderation/member.html), by the name its view knows each by.
MEMBER_FORMS = ("note", "warn", "suspend", "remove", "silence", "ban")


@dataclass
class MemberPanel:
    member: User
    memberships: list[MembershipRow]
    standing: list[SiteStanding]
    # Suspensions and bans in SIGs the viewer moderates that hold now, member or not.
    sig_disciplines: list[tuple[SigDiscipline, Sig]]
    notes: list[NoteRow]
    warnings: Sequence[tuple[MemberWarning, str | None, Sig | None]]
    recent_posts: Sequence[tuple[Post, Topic, Sig]]
    history: list[LogRow]
    moderated: list[Sig]  # the member's SIGs the viewer moderates (for SIG discipline)
    note_sigs: list[Sig]  # where the viewer may file a note on the member
    topic_count: int | None  # over every SIG: the global sysop's
    is_global: bool

    def offers(self, form: str) -> bool:
        """Whether the page offers the viewer one of its forms (`form` in MEMBER_FORMS): the
        template shows it by this, and its view takes a refused one back onto the page by it
        (a form the page no longer offers, the member having left the SIG meanwhile, is not).
        A note wherever they may file one (the global sysop site-wide too); a warning or a
        suspension to a sysop of one of the member's SIGs, or the global sysop; removal from
        a SIG they moderate that the member is in; silence and ban to the global sysop."""
        if form not in MEMBER_FORMS:
            raise ValueError(f"the member panel has no form {form!r}")
        if form == "note":
            return bool(self.note_sigs) or self.is_global
        if form == "remove":
            return bool(self.moderated)
        if form in ("silence", "ban"):
            return self.is_global
        return bool(self.moderated) or self.is_global

    @property
    def offers_discipline(self) -> bool:
        """Whether the page has its discipline section (any form but the note's)."""
        return any(self.offers(form) for form in MEMBER_FORMS if form != "note")


def member_panel(current: Any, username: str) -> MemberPanel:
    """Status, memberships, notes, warnings, recent posts and log entries of one member, each
    filtered through the policy: a SIG sysop reads nothing of SIGs they do not moderate."""
    viewer = permissions.actor(current)
    permissions.require_moderate_anything(viewer)
    member = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if member is None:
        raise NotFound(_l("No such member."))
    now = utcnow()
    memberships = [
        MembershipRow(sig, m.is_sysop, permissions.is_sig_sysop(viewer, sig))
        for m, sig in db.session.execute(
            select(Membership, Sig)
            .join(Sig, Sig.id == Membership.sig_id)
            .where(Membership.user_id == member.id, permissions.visible_sigs_clause(viewer))
            .order_by(Sig.name)
        )
    ]
    sig_disciplines = [
        (d, sig)
        for d, sig in db.session.execute(
            select(SigDiscipline, Sig)
            .join(Sig, Sig.id == SigDiscipline.sig_id)
            .where(
                SigDiscipline.user_id == member.id,
                SigDiscipline.lifted_at.is_(None),
                permissions.moderated_clause(SigDiscipline.sig_id, viewer),
            )
            .order_by(Sig.name, SigDiscipline.created_at)
        )
        if d.is_active(now)
    ]
    site = permissions.can_read_site_records(viewer)
    standing = [
        SiteStanding(kind, since, until, reason if site else None)
        for kind, holds, since, until, reason in (
            ("ban", member.is_banned, member.banned_at, None, member.ban_reason),
            (
                "suspension",
                member.is_suspended(now),
                None,
                member.suspended_until,
                member.suspension_reason,
            ),
            (
                "silence",
                member.is_silenced(now),
                None,
                member.silenced_until,
                member.silence_reason,
            ),
        )
        if holds
    ]
    issuer = _ISSUER
    warnings = list(
        db.session.execute(
            select(MemberWarning, issuer.username, Sig)
            .outerjoin(issuer, issuer.id == MemberWarning.actor_id)
            .outerjoin(Sig, Sig.id == MemberWarning.sig_id)
            .where(
                MemberWarning.user_id == member.id,
                permissions.moderated_clause(MemberWarning.sig_id, viewer),
            )
            .order_by(MemberWarning.created_at.desc())
            .limit(50)
        )
    )
    recent = list(
        db.session.execute(
            select(Post, Topic, Sig)
            .join(Topic, Topic.id == Post.topic_id)
            .join(Sig, Sig.id == Topic.sig_id)
            .where(Post.user_id == member.id, permissions.viewable_posts_clause(viewer))
            .order_by(Post.created_at.desc())
            .limit(20)
        )
    )
    history = _log_rows(viewer, [ModAction.target_user_id == member.id], 50)
    moderated = [row.sig for row in memberships if row.moderated]
    note_sigs = moderated
    if not site:
        # A SIG sysop files a note under one of their SIGs, the member's or not.
        note_sigs = list(
            db.session.scalars(
                select(Sig).where(permissions.moderated_clause(Sig.id, viewer)).order_by(Sig.name)
            )
        )
    return MemberPanel(
        member=member,
        memberships=memberships,
        standing=standing,
        sig_disciplines=sig_disciplines,
        notes=notes_for_members(viewer, [member.id]).get(member.id, []),
        warnings=warnings,
        recent_posts=recent,
        history=history,
        moderated=moderated,
        note_sigs=note_sigs,
        topic_count=member.topic_count if site else None,
        is_global=permissions.moderated_sig_ids(viewer) is None,
    )


def my_standing(
    current: Any,
) -> tuple[Sequence[tuple[MemberWarning, Sig | None]], list[tuple[SigDiscipline, Sig]]]:
    """A member's own warnings, and SIG suspensions and bans that hold (for /settings)."""
    viewer = permissions.actor(current)
    if viewer is None:
        return [], []
    warnings = list(
        db.session.execute(
            select(MemberWarning, Sig)
            .outerjoin(Sig, Sig.id == MemberWarning.sig_id)
            .where(MemberWarning.user_id == viewer.id)
            .order_by(MemberWarning.created_at.desc())
            .limit(20)
        )
    )
    suspensions = [
        (d, sig)
        for d, sig in db.session.execute(
            select(SigDiscipline, Sig)
            .join(Sig, Sig.id == SigDiscipline.sig_id)
            .where(SigDiscipline.user_id == viewer.id, SigDiscipline.lifted_at.is_(None))
            .order_by(Sig.name)
        )
        if d.is_active()
    ]
    return warnings, suspensions


def word_filters(current: Any) -> list[tuple[WordFilter, Sig | None]]:
    """The word filters the viewer manages: site-wide ones for the sysop, its SIGs' ones."""
    viewer = permissions.actor(current)
    permissions.require_moderate_anything(viewer)
    scope = permissions.moderated_clause(WordFilter.sig_id, viewer)
    return [
        (entry, sig)
        for entry, sig in db.session.execute(
            select(WordFilter, Sig)
            .outerjoin(Sig, Sig.id == WordFilter.sig_id)
            .where(scope)
            .order_by(WordFilter.sig_id.is_not(None), Sig.name, WordFilter.word)
        )
    ]


def approval_thresholds(current: Any) -> list[tuple[Sig, int | None]]:
    """The SIGs I moderate with their own approval threshold (None: the site's)."""
    from .models import SigModeration

    viewer = permissions.actor(current)
    permissions.require_moderate_anything(viewer)
    return [
        (sig, threshold)
        for sig, threshold in db.session.execute(
            select(Sig, SigModeration.approval_threshold)
            .outerjoin(SigModeration, SigModeration.sig_id == Sig.id)
            .where(permissions.moderated_clause(Sig.id, viewer), Sig.archived_at.is_(None))
            .order_by(Sig.name)
        )
    ]


def undoable_cleanups(current: Any, mod_action_ids: list[int]) -> dict[int, int]:
    """Of these log entries, the spam cleanups the viewer may undo: entry id -> cleanup id."""
    from .models import SpamCleanup

    viewer = permissions.actor(current)
    if not mod_action_ids:
        return {}
    return {
        c.mod_action_id: c.id
        for c in db.session.scalars(
            select(SpamCleanup).where(
                SpamCleanup.mod_action_id.in_(mod_action_ids), SpamCleanup.undone_at.is_(None)
            )
        )
        if c.mod_action_id is not None and permissions.can_undo_spam_cleanup(viewer, c.sig_id)
    }


# --- the pickers of the split and merge pages -----------------------------------------------
@dataclass
class SplitChoice:
    post: Post
    author: str | None


# The split page lists a topic's replies this many at a time (a page per 50 post numbers, #2–#51
# first): a topic of 2,000 replies had listed every one of them, with its excerpt, on one page.
SPLIT_PAGE = 50


@dataclass
class SplitPage:
    choices: list[SplitChoice]
    page: int
    pages: int
    replies: int  # the replies the topic's numbers run to (#2 onwards)

    @property
    def first(self) -> int:
        """The number of the first reply this page lists."""
        return 2 + (self.page - 1) * SPLIT_PAGE

    @property
    def last(self) -> int:
        return min(self.first + SPLIT_PAGE - 1, self.replies + 1)


def split_page_of(topic: Topic, post_id: int | None) -> int:
    """The split page a reply of this topic is listed on (page 1 for any other post)."""
    number = db.session.scalar(
        select(Post.number).where(Post.id == post_id, Post.topic_id == topic.id)
    )
    return 1 if number is None or number < 2 else (number - 2) // SPLIT_PAGE + 1


def split_choices(topic: Topic, page: int = 1) -> SplitPage:
    """One page of a topic's replies, each with its author's name, for the split page's
    checkboxes (its template shows each one's rendered excerpt): the replies numbered from
    2 + (page - 1) × SPLIT_PAGE, a page beyond the last being the last. One query."""
    replies = max(0, topic.highest_post_number - 1)
    pages = max(1, -(-replies // SPLIT_PAGE))
    listing = SplitPage(choices=[], page=min(max(page, 1), pages), pages=pages, replies=replies)
    rows = db.session.execute(
        select(Post, User.username)
        .outerjoin(User, User.id == Post.user_id)
        .where(Post.topic_id == topic.id, Post.number.between(listing.first, listing.last))
        .order_by(Post.number)
    )
    listing.choices = [SplitChoice(post, username) for post, username in rows]
    return listing


MERGE_CHOICES = 20


@dataclass
class MergeChoice:
    topic: Topic
    sig: Sig


def merge_candidates(
    current: Any, topic: Topic, words: str, number: int | None = None
) -> list[MergeChoice]:
    """The topics the merge page offers to merge `topic` into: ones the member both moderates
    and may read (permissions.moderated_clause and viewable_topics_clause), not deleted, not
    the topic itself. With no words, the latest topics of the topic's own SIG; else titles that
    contain the words, and the topic of that number (the words were a number or an address)
    first. One query, at most MERGE_CHOICES rows."""
    actor = permissions.actor(current)
    words = " ".join(words.split())[:200]
    query = (
        select(Topic, Sig)
        .join(Sig, Sig.id == Topic.sig_id)
        .where(
            Topic.id != topic.id,
            Topic.deleted_at.is_(None),
            permissions.moderated_clause(Topic.sig_id, actor),
            permissions.viewable_topics_clause(actor),
        )
    )
    if not words:
        query = query.where(Topic.sig_id == topic.sig_id).order_by(Topic.last_posted_at.desc())
    else:
        matches: ColumnElement[bool] = func.lower(Topic.title).contains(
            words.lower(), autoescape=True
        )
        if number is not None:
            matches = or_(matches, Topic.id == number)
            query = query.order_by((Topic.id == number).desc())
        query = query.where(matches).order_by(Topic.last_posted_at.desc())
    rows = db.session.execute(query.order_by(Topic.id.desc()).limit(MERGE_CHOICES)).all()
    return [MergeChoice(t, s) for t, s in rows]
