"""The dashboard's read model: every figure from aggregate SQL, in a fixed number of queries.

Counting rules, the same everywhere:
- a post counts when readers can see it: approved, not deleted, not hidden, in a live topic;
- a topic counts when it is not deleted and its first post counts;
- a reply is a counted post other than the first, by someone other than the topic's author;
- a topic is answered when it has a reply; in a support SIG, when a reply is marked as the answer;
- the first reply "by a sysop" is by a sysop of the topic's SIG or the global sysop.
Days, weeks and months are the viewer's local ones (User.timezone); everything is stored in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    and_,
    case,
    column,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    values,
)
from sqlalchemy.orm import aliased

from .. import permissions
from ..accounts.former import display, is_former
from ..accounts.models import ROLE_SYSOP as SITE_SYSOP
from ..accounts.models import User
from ..care.models import Concern
from ..extensions import db
from ..i18n import calendar_day, format_percent, pgettext
from ..i18n import gettext as _
from ..i18n import number as format_number
from ..moderation.models import Flag
from ..reactions.models import Reaction
from ..sigs.models import ROLE_SYSOP, Membership, Sig
from ..timeutil import UTCDateTime, utcnow
from ..topics.models import POST_VISIBLE, Post, Topic
from . import buckets
from .buckets import DAY, MONTH, WEEK, DateRange
from .models import MemberVisit, SigWelcome

QUEUE_LIMIT = 50
TOP_LIMIT = 10
ANSWER_WINDOW = timedelta(hours=24)

# A SELECT of any columns (SQLAlchemy 2.1 types a Select by its column types).
AnySelect = Select[*tuple[Any, ...]]


# --- result shapes --------------------------------------------------------------------------
@dataclass
class Series:
    """One table of figures; `chart` names the numeric columns drawn against the first one."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    chart: list[int] = field(default_factory=list)
    # Per row: (endpoint, url_for arguments) of the page the row is about.
    links: list[tuple[str, dict[str, Any]] | None] = field(default_factory=list)
    note: str = ""
    # Per row, what a button on it acts on (the welcome queue's "welcomed"), or None.
    actions: list[dict[str, Any] | None] = field(default_factory=list)
    # Categories, not days: the page draws the first `chart` column as bars (no line chart).
    bars: bool = False
    # Over time: the first column's days (DAY, WEEK: "2026-12-07") or months (MONTH:
    # "2026-12"), ISO in the rows and the CSV, in the reader's words on the page.
    period: str = ""
    # Columns only the CSV carries (a figure's raw number and its unit, for a spreadsheet):
    # the page shows the same figure in words, in the reader's language.
    csv_only: list[int] = field(default_factory=list)

    def page_columns(self) -> list[tuple[int, str]]:
        """(index, name) of each column the page shows."""
        return [(i, name) for i, name in enumerate(self.columns) if i not in self.csv_only]

    def first_cell(self, value: Any, *, short: bool = False) -> str:
        """The first column's value as the page shows it: a day in the reader's language
        ("7. Dez. 2026"; `short`, for the chart's axis: "7. Dez."), a month ("Dez. 2026")."""
        if not self.period:
            return str(value)
        if self.period == MONTH:
            return calendar_day(date.fromisoformat(f"{value}-01"), "yMMM")
        return calendar_day(date.fromisoformat(str(value)), "MMMd" if short else "yMMMd")

    def chart_data(self) -> dict[str, Any]:
        return {
            # The legend's first entry: the day under the pointer (uPlot says "Value").
            "x": self.columns[0] if self.columns else "",
            "labels": [self.first_cell(row[0], short=True) for row in self.rows],
            "titles": [self.first_cell(row[0]) for row in self.rows],
            "series": [
                {"label": self.columns[i], "values": [row[i] for row in self.rows]}
                for i in self.chart
            ],
        }

    def bar_rows(self) -> list[tuple[str, Any, float]]:
        """Per row: its label, the first charted value, and that value as a share (0 to 100)
        of the largest one, for a bar's length."""
        if not self.chart:
            return []
        column = self.chart[0]
        values = [row[column] if isinstance(row[column], int | float) else 0 for row in self.rows]
        top = max(values, default=0) or 1
        return [
            (str(row[0]), row[column], round(100 * value / top, 2))
            for row, value in zip(self.rows, values, strict=True)
        ]


# What a figure's raw number is: a count, seconds, or a share from 0 to 1.
COUNT, SECONDS, SHARE = "count", "seconds", "share"


@dataclass
class Figure:
    label: str
    value: str  # in the reader's language, in its unit ("1 h 30 min", "40 % (2 of 5)", "1.234")
    raw: float | int | None
    unit: str = COUNT

    def csv_cells(self) -> list[Any]:
        """The raw number as a spreadsheet reads it (seconds to the millisecond: no float
        noise), and its unit in the reader's words."""
        if self.raw is None:
            return ["", ""]
        raw = round(self.raw, 3) if self.unit == SECONDS else self.raw
        return [raw, unit_name(self.unit)]


def unit_name(unit: str) -> str:
    return {
        COUNT: pgettext("unit", "count"),
        SECONDS: pgettext("unit", "seconds"),
        SHARE: pgettext("unit", "share from 0 to 1"),
    }[unit]


def figures_series(key: str, title: str, figures: list[Figure], note: str) -> Series:
    """A table of figures: the page shows each in words ("1 h 30 min", "40 %"); the CSV adds
    its raw number and unit, for a spreadsheet to compute with."""
    return Series(
        key,
        title,
        [_("Figure"), _("Value"), _("Number"), _("Unit")],
        [[f.label, f.value, *f.csv_cells()] for f in figures],
        note=note,
        csv_only=[2, 3],
    )


@dataclass
class Dashboard:
    sig: Sig | None
    range: DateRange
    figures: list[Figure]
    series: list[Series]

    def get(self, key: str) -> Series:
        return next(s for s in self.series if s.key == key)


# --- shared SQL pieces ----------------------------------------------------------------------
# Aliases are made once: a new one costs SQLAlchemy real work on every statement built with it.
# Each names one role, so that two roles never share an alias in one statement.
_FIRST_POST = aliased(Post, name="first_post")
_ANY_REPLY = aliased(Post, name="any_reply")
_MARKED_ANSWER = aliased(Post, name="marked_answer")
_REPLY = aliased(Post, name="reply")
_SYSOP_REPLY = aliased(Post, name="sysop_reply")
_ANSWER = aliased(Post, name="answer")
_AUTHOR = aliased(User, name="author")
_NEWCOMER = aliased(User, name="newcomer")
_EARLIER_TOPIC = aliased(Topic, name="earlier_topic")
_EARLIER_POST = aliased(Post, name="earlier_post")
_WELCOMER = aliased(User, name="welcomer")


def public_post(post: Any = Post) -> Any:
    return and_(post.status == POST_VISIBLE, post.deleted_at.is_(None), post.hidden_at.is_(None))


def _profile_link(username: str) -> tuple[str, dict[str, Any]] | None:
    """A row's link to the member's profile; none for a deleted account (a former member)."""
    return (
        None
        if not username or is_former(username)
        else ("accounts.profile", {"username": username})
    )


def _by_other(post: Any, topic: Any = Topic) -> Any:
    """A post by someone other than the topic's author (removed accounts count as others)."""
    return func.coalesce(post.user_id, -1) != func.coalesce(topic.user_id, -2)


def _replies(post: Any, topic: Any = Topic) -> Any:
    return and_(
        post.topic_id == topic.id, post.number > 1, public_post(post), _by_other(post, topic)
    )


def _live_topic(topic: Any = Topic) -> Any:
    """Not deleted, and its first post counts."""
    first = _FIRST_POST
    return and_(
        topic.deleted_at.is_(None),
        exists().where(first.id == topic.first_post_id, public_post(first)),
    )


def _answered(topic: Any = Topic, sig: Any = Sig) -> Any:
    """Answered: a marked answer in support SIGs, any reply by another member elsewhere."""
    reply, answer = _ANY_REPLY, _MARKED_ANSWER
    marked = exists().where(
        answer.id == topic.answer_post_id, public_post(answer), _by_other(answer, topic)
    )
    replied = exists().where(_replies(reply, topic))
    return case((sig.is_support, marked), else_=replied)


def answered_in(sig: Sig) -> Any:
    """SQL filter on Topic for one SIG's topic list: the topic is answered."""
    if sig.is_support:
        answer = _MARKED_ANSWER
        return exists().where(
            answer.id == Topic.answer_post_id, public_post(answer), _by_other(answer)
        )
    return exists().where(_replies(_ANY_REPLY))


class Scope:
    """What one dashboard counts: the whole site, or one SIG."""

    def __init__(self, sig: Sig | None, rng: DateRange) -> None:
        self.sig = sig
        self.range = rng
        self.zone = rng.zone

    def topics(self, query: AnySelect, topic: Any = Topic) -> AnySelect:
        if self.sig is not None:
            query = query.where(topic.sig_id == self.sig.id)
        return query

    def in_range(self, column: Any) -> Any:
        return and_(column >= self.range.utc_start, column < self.range.utc_end)


# --- series ---------------------------------------------------------------------------------
def _members(scope: Scope) -> list[Series]:
    """Members in total at the end of each day, new per day and per week (two queries)."""
    if scope.sig is None:
        joined, counted = User.created_at, User.id
        base = select(func.count(counted))
    else:
        joined, counted = Membership.joined_at, Membership.id
        base = select(func.count(counted)).where(Membership.sig_id == scope.sig.id)
    day_of = buckets.bucket(joined, DAY, scope.range)
    before = db.session.scalar(base.where(joined < scope.range.utc_start)) or 0
    rows = db.session.execute(
        base.with_only_columns(day_of, func.count(counted))
        .where(scope.in_range(joined))
        .group_by(day_of)
    )
    new = {buckets.as_date(day): n for day, n in rows}
    daily, total = [], before
    for day in scope.range.days:
        total += new.get(day, 0)
        daily.append([day.isoformat(), new.get(day, 0), total])
    weekly: dict[date, int] = {}
    for day in scope.range.days:
        week = buckets.bucket_start(day, WEEK)
        weekly[week] = weekly.get(week, 0) + new.get(day, 0)
    return [
        Series(
            "members",
            _("Members per day"),
            [_("Day"), _("New members"), _("Members in total")],
            daily,
            chart=[1, 2],
            period=DAY,
            note=_("Members who joined this SIG.") if scope.sig else _("Members who joined."),
        ),
        Series(
            "members-weekly",
            _("New members per week"),
            [_("Week of"), _("New members")],
            [[w.isoformat(), n] for w, n in weekly.items()],
            chart=[1],
            period=WEEK,
            note=_("Weeks start on Monday; the first and last may be cut by the range."),
        ),
    ]


def _activity(scope: Scope) -> list[Series]:
    """Topics and posts per day (two queries)."""
    day_of_topic = buckets.bucket(Topic.created_at, DAY, scope.range)
    topics_q = scope.topics(
        select(day_of_topic, func.count(Topic.id))
        .where(scope.in_range(Topic.created_at), _live_topic())
        .group_by(day_of_topic)
    )
    day_of_post = buckets.bucket(Post.created_at, DAY, scope.range)
    posts_q = scope.topics(
        select(day_of_post, func.count(Post.id))
        .join(Topic, Topic.id == Post.topic_id)
        .where(scope.in_range(Post.created_at), public_post(), Topic.deleted_at.is_(None))
        .group_by(day_of_post)
    )
    topics = {buckets.as_date(d): n for d, n in db.session.execute(topics_q)}
    posts = {buckets.as_date(d): n for d, n in db.session.execute(posts_q)}
    rows = [[d.isoformat(), topics.get(d, 0), posts.get(d, 0)] for d in scope.range.days]
    return [
        Series(
            "activity",
            _("Topics and posts per day"),
            [_("Day"), _("Topics"), _("Posts")],
            rows,
            [1, 2],
            period=DAY,
        )
    ]


def _active(scope: Scope) -> list[Series]:
    """Distinct members who posted, and who visited, per day, week and month (one query).

    A distinct count cannot be added up from smaller buckets, and grouping every row by its
    local day sorts them all twice (the groups, then the distinct members in each). Instead
    each bucket of each unit is a row of a small table of UTC bounds (`DateRange.bounds`,
    worked out with the zone database, so time zones are exact on both databases), and two
    correlated subqueries count it from the covering indexes `ix_posts_created_cover` and
    `ix_member_visits_seen_user`: each row is read once per unit, and nothing is sorted but
    the members of one bucket.
    """
    units = (DAY, WEEK, MONTH)
    table = (
        values(
            column("unit", Integer),
            column("since", UTCDateTime),
            column("until", UTCDateTime),
            name="pulse_bucket",
        )
        .data(
            [
                (number, since, until)
                for number, unit in enumerate(units)
                for _start, since, until in scope.range.bounds(unit)
            ]
        )
        .cte("pulse_bucket")
    )
    posted = scope.topics(
        select(func.count(distinct(Post.user_id)))
        .join(Topic, Topic.id == Post.topic_id)
        .where(
            Post.created_at >= table.c.since,
            Post.created_at < table.c.until,
            public_post(),
            Topic.deleted_at.is_(None),
        )
    ).scalar_subquery()
    visited_q = select(func.count(distinct(MemberVisit.user_id))).where(
        MemberVisit.first_seen_at >= table.c.since, MemberVisit.first_seen_at < table.c.until
    )
    if scope.sig is not None:
        visited_q = visited_q.where(
            exists().where(
                Membership.user_id == MemberVisit.user_id, Membership.sig_id == scope.sig.id
            )
        )
    visited = visited_q.scalar_subquery()
    counts: dict[int, list[tuple[int, int]]] = {n: [] for n in range(len(units))}
    for unit_number, posted_n, visited_n in db.session.execute(
        select(table.c.unit, posted, visited).order_by(table.c.unit, table.c.since)
    ):
        counts[unit_number].append((posted_n, visited_n))
    titles = {DAY: ("active-daily", _("Day")), WEEK: ("active-weekly", _("Week of"))}
    titles[MONTH] = ("active-monthly", _("Month"))
    result = []
    for number, unit in enumerate(units):
        key, first = titles[unit]
        rows = [
            [_bucket_label(start, unit), posted_n, visited_n]
            for start, (posted_n, visited_n) in zip(
                scope.range.buckets(unit), counts[number], strict=True
            )
        ]
        result.append(
            Series(
                key,
                _("Active members per day")
                if unit == DAY
                else _("Active members per week")
                if unit == WEEK
                else _("Active members per month"),
                [first, _("Posted"), _("Visited")],
                rows,
                chart=[1, 2],
                period=unit,
                note=_(
                    "Visited: members of this SIG who opened any page of the forum. Only days "
                    "inside the range count."
                )
                if scope.sig
                else _(
                    "Visited: members who opened any page of the forum. Only days inside the "
                    "range count."
                ),
            )
        )
    return result


def _bucket_label(start: date, unit: str) -> str:
    # Not strftime("%Y-%m"): glibc writes the year 1 as "1", which is no ISO month to read back.
    return start.isoformat()[:7] if unit == MONTH else start.isoformat()


@dataclass(frozen=True)
class OrderStats:
    """How many durations, and their median and 90th percentile (nearest rank), in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None


def _order_stats(durations: Any) -> dict[int, OrderStats]:
    """Per kind, the order statistics of `durations`, a selectable of (kind, micros) rows.

    The database ranks the durations and hands back only the ones at the ranks that matter:
    the middle one or two (the median is their mean, as `statistics.median` has it) and the
    nearest rank for 90 % (rank ceil(0.9 n)). Whole microseconds keep every figure exact.
    """
    d = durations.subquery("durations")
    ranked = select(
        d.c.kind,
        d.c.micros,
        func.row_number().over(partition_by=d.c.kind, order_by=d.c.micros).label("rank"),
        func.count().over(partition_by=d.c.kind).label("n"),
    ).subquery("ranked")
    n, rank, micros = ranked.c.n, ranked.c.rank, ranked.c.micros
    query = select(
        ranked.c.kind,
        func.max(n),
        func.max(case((rank == (n + 1) // 2, micros))),
        func.max(case((rank == (n + 2) // 2, micros))),
        func.max(case((rank == (9 * n + 9) // 10, micros))),
    ).group_by(ranked.c.kind)
    return {
        kind: _stats(count, low, high, p90)
        for kind, count, low, high, p90 in db.session.execute(query)
    }


def _stats(count: int, low: Any, high: Any, p90: Any) -> OrderStats:
    def seconds(micros: Any) -> float:
        return int(micros) / 1_000_000

    middle = seconds(low) if low == high else (seconds(low) + seconds(high)) / 2
    return OrderStats(int(count), middle, seconds(p90))


# What `_response` counts, one kind of row each: topics, and their waits for a reply.
_STARTED, _DUE, _IN_TIME, _SUPPORT, _TO_REPLY, _TO_SYSOP, _TO_ANSWER = range(7)


def _sysops(scope: Scope) -> tuple[list[tuple[int, int]], list[int]]:
    """(SIG id, member id) of each SIG sysop in scope, and the ids of the global sysops."""
    sig_q = select(Membership.sig_id, Membership.user_id).where(Membership.role == ROLE_SYSOP)
    if scope.sig is not None:
        sig_q = sig_q.where(Membership.sig_id == scope.sig.id)
    rows = db.session.execute(
        union_all(
            sig_q,
            select(literal(None, Integer), User.id).where(User.role == SITE_SYSOP),
        )
    )
    sig_sysops: list[tuple[int, int]] = []
    site_sysops: list[int] = []
    for sig_id, user_id in rows:
        if sig_id is None:
            site_sysops.append(user_id)
        else:
            sig_sysops.append((sig_id, user_id))
    return sig_sysops, site_sysops


def _response(scope: Scope, now: datetime) -> tuple[list[Figure], list[Series]]:
    """Time to first reply and to the first sysop reply, answered within 24 hours (two queries:
    who is a sysop, then the figures).

    One row per topic started in the range (its first reply, first sysop reply and marked
    answer, looked up through `ix_posts_topic_created_cover`) stays in the database, which
    sends back the counts and, per kind of reply, the order statistics of the waiting times.
    """
    reply, sysop_reply, answer = _REPLY, _SYSOP_REPLY, _ANSWER
    first_reply = select(func.min(reply.created_at)).where(_replies(reply)).scalar_subquery()
    # Who counts as a sysop where, looked up once: a handful of rows, where an EXISTS per reply
    # costs more than the rest of the query together.
    sig_sysops, site_sysops = _sysops(scope)
    first_sysop_reply = (
        select(func.min(sysop_reply.created_at))
        .where(
            _replies(sysop_reply),
            or_(
                tuple_(Topic.sig_id, sysop_reply.user_id).in_(sig_sysops),
                sysop_reply.user_id.in_(site_sysops),
            ),
        )
        .scalar_subquery()
    )
    marked_at = (
        select(answer.created_at)
        .where(answer.id == Topic.answer_post_id, public_post(answer), _by_other(answer))
        .scalar_subquery()
    )
    t = scope.topics(
        select(
            Topic.created_at,
            first_reply.label("first_reply"),
            first_sysop_reply.label("first_sysop_reply"),
            marked_at.label("marked_at"),
            Sig.is_support,
        )
        .join(Sig, Sig.id == Topic.sig_id)
        .where(scope.in_range(Topic.created_at), _live_topic())
    ).cte("topic_times")
    answered_at = case((t.c.is_support, t.c.marked_at), else_=t.c.first_reply)
    window = int(ANSWER_WINDOW.total_seconds()) * 1_000_000
    # Topics younger than 24 hours have not had their chance yet: they are left out.
    due = t.c.created_at <= now - ANSWER_WINDOW
    in_time = and_(
        due,
        answered_at.is_not(None),
        buckets.micros_between(answered_at, t.c.created_at) <= window,
    )

    def topics(kind: int, *where: Any) -> AnySelect:
        return (
            select(literal(kind).label("kind"), literal(0).label("micros"))
            .select_from(t)
            .where(*where)
        )

    def waits(kind: int, at: Any, *where: Any) -> AnySelect:
        return select(
            literal(kind).label("kind"),
            buckets.micros_between(at, t.c.created_at).label("micros"),
        ).where(at.is_not(None), *where)  # FROM topic_times, through `at`

    stats = _order_stats(
        union_all(
            topics(_STARTED),
            topics(_DUE, due),
            topics(_IN_TIME, in_time),
            topics(_SUPPORT, t.c.is_support),
            waits(_TO_REPLY, t.c.first_reply),
            waits(_TO_SYSOP, t.c.first_sysop_reply),
            waits(_TO_ANSWER, t.c.marked_at, t.c.is_support),
        )
    )
    started, due_n, in_time_n, support_n = (
        stats.get(kind, OrderStats()).count for kind in (_STARTED, _DUE, _IN_TIME, _SUPPORT)
    )
    to_reply = stats.get(_TO_REPLY, OrderStats())
    to_sysop = stats.get(_TO_SYSOP, OrderStats())
    to_answer = stats.get(_TO_ANSWER, OrderStats())
    share = (in_time_n / due_n) if due_n else None
    figures = [
        Figure(_("Topics started"), format_number(started), started),
        Figure(_("Topics with a reply"), format_number(to_reply.count), to_reply.count),
        _duration_figure(_("Topics: median time to first reply"), to_reply.median),
        _duration_figure(_("Topics: 90th percentile time to first reply"), to_reply.p90),
        _duration_figure(_("Topics: median time to first sysop reply"), to_sysop.median),
        _duration_figure(_("Topics: 90th percentile time to first sysop reply"), to_sysop.p90),
        Figure(
            _("Topics answered within 24 hours"),
            "—"
            if share is None
            else _(
                "%(share)s (%(num)s of %(total)s)",
                share=format_percent(share),
                num=format_number(in_time_n),
                total=format_number(due_n),
            ),
            None if share is None else round(share, 4),
            SHARE,
        ),
    ]
    if support_n:
        figures.append(
            Figure(
                _("Support topics with a marked answer"),
                _(
                    "%(num)s of %(total)s",
                    num=format_number(to_answer.count),
                    total=format_number(support_n),
                ),
                to_answer.count,
            )
        )
        figures.append(_duration_figure(_("Median time to the answer"), to_answer.median))
    series = figures_series(
        "response",
        _("Response"),
        figures,
        _(
            "Replies by the topic’s author do not count. Topics answered within 24 hours counts "
            "the topics at least 24 hours old; in support SIGs a topic is answered when a reply is "
            "marked as the answer."
        ),
    )
    return figures, [series]


def _duration_figure(label: str, seconds: float | None) -> Figure:
    return Figure(label, "—" if seconds is None else format_duration(seconds), seconds, SECONDS)


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return _("%(seconds)s s", seconds=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("%(minutes)s min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        if minutes:
            return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
        return _("%(hours)s h", hours=hours)
    days, hours = divmod(hours, 24)
    if hours:
        return _("%(days)s d %(hours)s h", days=days, hours=hours)
    return _("%(days)s d", days=days)


def _queues(scope: Scope) -> list[Series]:
    """Unanswered topics started in the range, oldest first; new members' first topics (two)."""
    author = _AUTHOR
    unanswered = scope.topics(
        select(Topic.id, Topic.slug, Topic.title, Topic.created_at, Sig.name, author.username)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(author, author.id == Topic.user_id)
        .where(scope.in_range(Topic.created_at), _live_topic(), ~_answered())
        .order_by(Topic.created_at, Topic.id)
        .limit(QUEUE_LIMIT)
    )
    result = []
    for key, title, query, note in (
        (
            "unanswered",
            _("Unanswered topics"),
            unanswered,
            _(
                "Topics started in the range with no answer yet, oldest first (at most %(num)s).",
                num=QUEUE_LIMIT,
            ),
        ),
    ):
        rows = list(db.session.execute(query))
        result.append(
            Series(
                key,
                title,
                [_("Started"), _("Topic"), _("SIG"), _("Author")],
                [[r.created_at, r.title, r.name, display(r.username) or ""] for r in rows],
                links=[("topics.show", {"topic_id": r.id, "slug": r.slug}) for r in rows],
                note=note,
            )
        )
    return [*result, _welcome(scope)]


def _welcome(scope: Scope) -> Series:
    """Each member's first post in a SIG, written in the range (the SIG's sysops and the
    global sysop left out), those not welcomed yet first, with who welcomed the others (one
    query)."""
    newcomer, welcomer = _NEWCOMER, _WELCOMER
    earlier, earlier_topic = _EARLIER_POST, _EARLIER_TOPIC
    sysop_there = (
        select(Membership.id)
        .where(
            Membership.sig_id == Topic.sig_id,
            Membership.user_id == Post.user_id,
            Membership.role == ROLE_SYSOP,
        )
        .exists()
    )
    earlier_post = (
        select(earlier.id)
        .join(earlier_topic, earlier_topic.id == earlier.topic_id)
        .where(
            earlier.user_id == Post.user_id,
            earlier.id < Post.id,
            earlier_topic.sig_id == Topic.sig_id,
            public_post(earlier),
        )
        .exists()
    )
    query = scope.topics(
        select(
            Post.id,
            Post.created_at,
            Topic.title,
            Sig.id.label("sig_id"),
            Sig.name,
            newcomer.id.label("user_id"),
            newcomer.username,
            welcomer.username.label("welcomer"),
            SigWelcome.welcomed_at,
        )
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .join(newcomer, newcomer.id == Post.user_id)
        .outerjoin(
            SigWelcome,
            and_(SigWelcome.sig_id == Topic.sig_id, SigWelcome.user_id == Post.user_id),
        )
        .outerjoin(welcomer, welcomer.id == SigWelcome.welcomed_by_id)
        .where(
            scope.in_range(Post.created_at),
            public_post(),
            Topic.deleted_at.is_(None),
            newcomer.role != SITE_SYSOP,
            ~sysop_there,
            ~earlier_post,
        )
        .order_by(SigWelcome.welcomed_at.is_not(None), Post.created_at, Post.id)
        .limit(QUEUE_LIMIT)
    )
    rows = list(db.session.execute(query))
    return Series(
        "welcome",
        _("Welcome queue"),
        [_("Posted"), _("Post"), _("SIG"), _("Member"), _("Welcomed by")],
        [
            [r.created_at, r.title, r.name, display(r.username) or "", display(r.welcomer) or ""]
            for r in rows
        ],
        links=[("topics.permalink", {"post_id": r.id}) for r in rows],
        actions=[
            None if r.welcomed_at is not None else {"sig_id": r.sig_id, "user_id": r.user_id}
            for r in rows
        ],
        note=_(
            "Each member's first post in a SIG, written in the range (not the SIG's sysops'), "
            "those nobody has welcomed yet first (at most %(num)s).",
            num=QUEUE_LIMIT,
        ),
    )


def _contributors(scope: Scope) -> list[Series]:
    """Top members by posts in the range; busiest SIGs on the site dashboard (one or two)."""
    # Count per member from the index first; names are looked up per member, not per post.
    per_member = scope.topics(
        select(
            Post.user_id,
            func.count().label("posts"),
            func.sum(case((Post.number == 1, 1), else_=0)).label("topics"),
        )
        .join(Topic, Topic.id == Post.topic_id)
        .where(scope.in_range(Post.created_at), public_post(), Topic.deleted_at.is_(None))
        .group_by(Post.user_id)
    ).subquery("per_member")
    query = (
        select(User.username, per_member.c.posts, per_member.c.topics)
        .join(per_member, per_member.c.user_id == User.id)
        .order_by(per_member.c.posts.desc(), User.username)
        .limit(TOP_LIMIT)
    )
    found = list(db.session.execute(query))
    rows = [[display(r.username), r.posts, int(r.topics or 0)] for r in found]
    result = [
        Series(
            "contributors",
            _("Top contributors"),
            [_("Member"), _("Posts"), _("Topics started")],
            rows,
            chart=[1],
            links=[_profile_link(r.username) for r in found],
            bars=True,
        )
    ]
    if scope.sig is None:
        busiest = (
            select(
                Sig.name,
                Sig.slug,
                func.count(Post.id).label("posts"),
                func.count(distinct(Post.user_id)).label("authors"),
            )
            .join(Topic, Topic.sig_id == Sig.id)
            .join(Post, Post.topic_id == Topic.id)
            .where(scope.in_range(Post.created_at), public_post(), Topic.deleted_at.is_(None))
            .group_by(Sig.id, Sig.name, Sig.slug)
            .order_by(func.count(Post.id).desc(), Sig.name)
            .limit(TOP_LIMIT)
        )
        sig_rows = list(db.session.execute(busiest))
        result.append(
            Series(
                "sigs",
                _("Busiest SIGs"),
                [_("SIG"), _("Posts"), _("Members who posted")],
                [[r.name, r.posts, r.authors] for r in sig_rows],
                chart=[1],
                links=[("pulse.sig_dashboard", {"slug": r.slug}) for r in sig_rows],
                bars=True,
            )
        )
    return result


def _flags(scope: Scope) -> tuple[list[Figure], list[Series]]:
    """Flags raised and handled per day; median handling time of those raised (three queries)."""

    def scoped(query: AnySelect) -> AnySelect:
        if scope.sig is None:
            return query
        return query.join(Post, Post.id == Flag.post_id).join(
            Topic, and_(Topic.id == Post.topic_id, Topic.sig_id == scope.sig.id)
        )

    raised_day = buckets.bucket(Flag.created_at, DAY, scope.range)
    handled_day = buckets.bucket(Flag.resolved_at, DAY, scope.range)
    raised = {
        buckets.as_date(d): n
        for d, n in db.session.execute(
            scoped(select(raised_day, func.count(Flag.id)))
            .where(scope.in_range(Flag.created_at))
            .group_by(raised_day)
        )
    }
    handled = {
        buckets.as_date(d): n
        for d, n in db.session.execute(
            scoped(select(handled_day, func.count(Flag.id)))
            .where(Flag.resolved_at.is_not(None), scope.in_range(Flag.resolved_at))
            .group_by(handled_day)
        )
    }
    handling = _order_stats(
        scoped(
            select(
                literal(0).label("kind"),
                buckets.micros_between(Flag.resolved_at, Flag.created_at).label("micros"),
            )
        ).where(scope.in_range(Flag.created_at), Flag.resolved_at.is_not(None))
    ).get(0, OrderStats())
    total = sum(raised.values())
    figures = [
        Figure(_("Flags raised"), format_number(total), total),
        Figure(
            _("Flags raised and handled"),
            _(
                "%(num)s of %(total)s",
                num=format_number(handling.count),
                total=format_number(total),
            ),
            handling.count,
        ),
        _duration_figure(_("Median time to handle a flag"), handling.median),
    ]
    rows = [[d.isoformat(), raised.get(d, 0), handled.get(d, 0)] for d in scope.range.days]
    return figures, [
        Series(
            "flags",
            _("Flags per day"),
            [_("Day"), _("Raised"), _("Handled")],
            rows,
            chart=[1, 2],
            period=DAY,
            note=_("Handling time counts the flags raised in the range that a sysop has handled."),
        )
    ]


def _reactions(scope: Scope) -> tuple[list[Figure], list[Series]]:
    """Reactions given per day to posts readers see, and how many members gave them (one
    query: per day, the reactions and distinct members; the total's members from the same
    rows would need a second distinct count, so the figure is the reactions alone); and per
    emoji (a second query)."""
    day_of = buckets.bucket(Reaction.created_at, DAY, scope.range)
    query = scope.topics(
        select(day_of, func.count(), func.count(distinct(Reaction.user_id)))
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(scope.in_range(Reaction.created_at), public_post(), Topic.deleted_at.is_(None))
        .group_by(day_of)
    )
    per_day = {buckets.as_date(d): (n, who) for d, n, who in db.session.execute(query)}
    rows = [
        [d.isoformat(), per_day.get(d, (0, 0))[0], per_day.get(d, (0, 0))[1]]
        for d in scope.range.days
    ]
    total = sum(r[1] for r in rows)
    return [Figure(_("Reactions given"), format_number(total), total)], [
        Series(
            "reactions",
            _("Reactions per day"),
            [_("Day"), _("Reactions"), _("Members who reacted")],
            rows,
            chart=[1, 2],
            period=DAY,
            note=_(
                "Reactions to posts readers can see, on the day they were given (a changed "
                "reaction counts on the day of the change)."
            ),
        ),
        *_reactions_by_emoji(scope),
    ]


def _reactions_by_emoji(scope: Scope) -> list[Series]:
    """Reactions given in the range per emoji, the most used first (one query)."""
    query = scope.topics(
        select(Reaction.emoji, func.count().label("n"), func.count(distinct(Reaction.user_id)))
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(scope.in_range(Reaction.created_at), public_post(), Topic.deleted_at.is_(None))
        .group_by(Reaction.emoji)
        .order_by(func.count().desc(), Reaction.emoji)
    )
    rows = [[emoji, n, who] for emoji, n, who in db.session.execute(query)]
    return [
        Series(
            "reactions-emoji",
            _("Reactions by emoji"),
            [_("Emoji"), _("Reactions"), _("Members who reacted")],
            rows,
            chart=[1],
            bars=True,
        )
    ]


# --- member care: concerns and how the sysops answered them ----------------------------------
_OVERALL = -1  # the order statistics' kind for every concern; else the first responder's id


def _care(scope: Scope, now: datetime) -> tuple[list[Figure], list[Series]]:
    """Concerns opened in the range: first responses (median, 90th percentile, within the
    deadline), resolved, "it helped", per sysop and per week (six queries)."""
    in_scope = [scope.in_range(Concern.created_at)]
    if scope.sig is not None:
        in_scope.append(Concern.sig_id == scope.sig.id)
    answered = Concern.first_response_at.is_not(None)
    # A concern counts for "within the deadline" once answered, or once its deadline passed.
    due = or_(answered, Concern.due_at <= now)
    in_time = and_(answered, Concern.first_response_at <= Concern.due_at)
    resolved = Concern.resolved_at.is_not(None)

    def counts(*group: Any) -> Select[Any]:
        return select(
            *group,
            func.count(Concern.id),
            func.count(case((answered, 1))),
            func.count(case((due, 1))),
            func.count(case((in_time, 1))),
            func.count(case((resolved, 1))),
            func.count(Concern.helped),
            func.count(case((Concern.helped.is_(True), 1))),
        ).where(*in_scope)

    opened, answered_n, due_n, in_time_n, resolved_n, rated, helped = db.session.execute(
        counts()
    ).one()
    wait = buckets.micros_between(Concern.first_response_at, Concern.created_at)
    stats = _order_stats(
        union_all(
            select(literal(_OVERALL).label("kind"), wait.label("micros")).where(
                *in_scope, answered
            ),
            select(Concern.first_responder_id.label("kind"), wait.label("micros")).where(
                *in_scope, answered, Concern.first_responder_id.is_not(None)
            ),
        )
    )
    overall = stats.get(_OVERALL, OrderStats())

    def share(part: int, whole: int) -> tuple[str, float | None]:
        if not whole:
            return "—", None
        value = part / whole
        text = _(
            "%(share)s (%(num)s of %(total)s)",
            share=format_percent(value),
            num=format_number(part),
            total=format_number(whole),
        )
        return text, round(value, 4)

    in_time_text, in_time_share = share(in_time_n, due_n)
    helped_text, helped_share = share(helped, rated)
    figures = [
        Figure(_("Concerns opened"), format_number(opened), opened),
        Figure(_("Concerns answered"), format_number(answered_n), answered_n),
        _duration_figure(_("Concerns: median time to first response"), overall.median),
        _duration_figure(_("Concerns: 90th percentile time to first response"), overall.p90),
        Figure(_("Concerns answered within the deadline"), in_time_text, in_time_share, SHARE),
        Figure(_("Concerns resolved"), format_number(resolved_n), resolved_n),
        Figure(_("“It helped”"), helped_text, helped_share, SHARE),
    ]
    care = figures_series(
        "care",
        _("Member care"),
        figures,
        _(
            "Concerns members wrote to the sysops in the range, pages that became concerns "
            "included. Within the deadline counts the concerns answered or past their "
            "deadline; “it helped” counts the members who answered the question."
        ),
    )
    # Per sysop: first responses by the first responder, resolutions by who resolved.
    responders: dict[int, tuple[int, int]] = {
        uid: (n, in_time_count)
        for uid, n, in_time_count in db.session.execute(
            select(
                Concern.first_responder_id,
                func.count(Concern.id),
                func.count(case((in_time, 1))),
            )
            .where(*in_scope, answered, Concern.first_responder_id.is_not(None))
            .group_by(Concern.first_responder_id)
        )
        if uid is not None
    }
    resolvers: dict[int, tuple[int, int, int]] = {
        uid: (n, yes, said)
        for uid, n, yes, said in db.session.execute(
            select(
                Concern.resolved_by_id,
                func.count(Concern.id),
                func.count(case((Concern.helped.is_(True), 1))),
                func.count(Concern.helped),
            )
            .where(*in_scope, resolved, Concern.resolved_by_id.is_not(None))
            .group_by(Concern.resolved_by_id)
        )
        if uid is not None
    }
    ids = sorted(set(responders) | set(resolvers))
    # Always asked (an empty IN when nobody answered): the page's query count stays fixed.
    names = dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())
    by_sysop = []
    ids_in_order = sorted(ids, key=lambda i: (-responders.get(i, (0, 0))[0], names.get(i, "")))
    for uid in ids_in_order:
        first, on_time = responders.get(uid, (0, 0))
        mine = stats.get(uid, OrderStats())
        done, yes, said = resolvers.get(uid, (0, 0, 0))
        by_sysop.append(
            [
                display(names.get(uid)) or "",
                first,
                "" if mine.median is None else mine.median,
                on_time,
                done,
                "" if not said else round(yes / said, 4),
            ]
        )
    sysops = Series(
        "care-sysops",
        _("Member care by sysop"),
        [
            _("Sysop"),
            _("First responses"),
            _("Median seconds to first response"),
            _("Within the deadline"),
            _("Resolved"),
            _("“It helped” share"),
        ],
        by_sysop,
        chart=[1],
        links=[_profile_link(names.get(uid, "")) for uid in ids_in_order],
        bars=True,
    )
    # Per week: the trend.
    week = buckets.bucket(Concern.created_at, WEEK, scope.range)
    per_week = {
        buckets.as_date(w): rest for w, *rest in db.session.execute(counts(week).group_by(week))
    }
    weeks = sorted({buckets.bucket_start(d, WEEK) for d in scope.range.days})
    trend_rows = []
    for start in weeks:
        n, ans, due_w, on_time, res, said, yes = per_week.get(start, (0,) * 7)
        trend_rows.append(
            [
                start.isoformat(),
                n,
                res,
                "" if not due_w else round(on_time / due_w, 4),
                "" if not said else round(yes / said, 4),
            ]
        )
    trend = Series(
        "care-weekly",
        _("Member care per week"),
        [
            _("Week of"),
            _("Concerns opened"),
            _("Resolved"),
            _("Within the deadline"),
            _("“It helped” share"),
        ],
        trend_rows,
        chart=[1, 2],
        period=WEEK,
        note=_("Weeks start on Monday; shares are of the concerns opened that week."),
    )
    return figures, [care, sysops, trend]


# --- the morning: the latest day or week against the one before ----------------------------
@dataclass
class Change:
    """One headline figure in the current period and the previous one."""

    key: str
    label: str
    current: int
    previous: int

    @property
    def diff(self) -> int:
        return self.current - self.previous

    @property
    def direction(self) -> str:
        return "up" if self.diff > 0 else "down" if self.diff < 0 else "same"

    @property
    def share(self) -> float | None:
        """The change as a share of the previous figure; None when that was 0."""
        return self.diff / self.previous if self.previous else None

    @property
    def value(self) -> str:
        return format_number(self.current)

    @property
    def change(self) -> str:
        """ "up +3 (+75%) from 4" in words: the page never says it with colour alone."""
        before = format_number(self.previous)
        if self.direction == "same":
            return _("no change from %(before)s", before=before)
        sign = "+" if self.diff > 0 else "\u2212"
        diff = sign + format_number(abs(self.diff))
        if self.share is None:
            if self.diff > 0:
                return _("up %(diff)s from %(before)s", diff=diff, before=before)
            return _("down %(diff)s from %(before)s", diff=diff, before=before)
        percent = sign + format_percent(abs(self.share))
        if self.diff > 0:
            return _(
                "up %(diff)s (%(percent)s) from %(before)s",
                diff=diff,
                percent=percent,
                before=before,
            )
        return _(
            "down %(diff)s (%(percent)s) from %(before)s",
            diff=diff,
            percent=percent,
            before=before,
        )


@dataclass
class Morning:
    comparison: buckets.Comparison
    changes: list[Change]

    def get(self, key: str) -> Change:
        return next(c for c in self.changes if c.key == key)


# The rows of the morning's one statement, in this order.
_MORNING_KEYS = (
    "new-members",
    "posted",
    "visited",
    "topics",
    "answered",
    "posts",
    "reactions",
    "concerns",
    "flags-raised",
    "flags-handled",
)


def morning(current: Any, sig: Sig | None, comparison: buckets.Comparison) -> Morning:
    """The headline figures of the current period and the one before it (one query: a UNION
    of one row per figure, each counting both periods at once with CASE)."""
    permissions.require_pulse(permissions.actor(current), sig)
    since, middle, until = comparison.edges

    def both(column: Any, what: Any = None) -> tuple[Any, Any]:
        """COUNTs of `column` in the current and previous period (of DISTINCT `what`)."""
        now_ = and_(column >= middle, column < until)
        before = and_(column >= since, column < middle)
        if what is None:
            return func.count(case((now_, 1))), func.count(case((before, 1)))
        return func.count(distinct(case((now_, what)))), func.count(distinct(case((before, what))))

    def window(column: Any) -> Any:
        return and_(column >= since, column < until)

    def row(key: str, column: Any, what: Any = None) -> AnySelect:
        return select(literal(_MORNING_KEYS.index(key)).label("k"), *both(column, what))

    def scoped(query: AnySelect) -> AnySelect:
        return query if sig is None else query.where(Topic.sig_id == sig.id)

    if sig is None:
        joined = row("new-members", User.created_at).where(window(User.created_at))
    else:
        joined = row("new-members", Membership.joined_at).where(
            Membership.sig_id == sig.id, window(Membership.joined_at)
        )
    visited = row("visited", MemberVisit.first_seen_at, MemberVisit.user_id).where(
        window(MemberVisit.first_seen_at)
    )
    if sig is not None:
        visited = visited.where(
            exists().where(Membership.user_id == MemberVisit.user_id, Membership.sig_id == sig.id)
        )

    def posts(key: str, what: Any = None) -> AnySelect:
        return scoped(
            row(key, Post.created_at, what)
            .select_from(Post)
            .join(Topic, Topic.id == Post.topic_id)
            .where(window(Post.created_at), public_post(), Topic.deleted_at.is_(None))
        )

    def topics(key: str, *where: Any) -> AnySelect:
        return scoped(
            row(key, Topic.created_at)
            .select_from(Topic)
            .join(Sig, Sig.id == Topic.sig_id)
            .where(window(Topic.created_at), _live_topic(), *where)
        )

    reactions = scoped(
        row("reactions", Reaction.created_at)
        .select_from(Reaction)
        .join(Post, Post.id == Reaction.post_id)
        .join(Topic, Topic.id == Post.topic_id)
        .where(window(Reaction.created_at), public_post(), Topic.deleted_at.is_(None))
    )
    concerns = row("concerns", Concern.created_at).where(window(Concern.created_at))
    if sig is not None:
        concerns = concerns.where(Concern.sig_id == sig.id)

    def flags(key: str, column: Any) -> AnySelect:
        query = row(key, column).select_from(Flag).where(window(column))
        if sig is None:
            return query
        return query.join(Post, Post.id == Flag.post_id).join(
            Topic, and_(Topic.id == Post.topic_id, Topic.sig_id == sig.id)
        )

    counts = {
        key: (now_n, before_n)
        for key, now_n, before_n in db.session.execute(
            union_all(
                joined,
                posts("posted", Post.user_id),
                visited,
                topics("topics"),
                topics("answered", _answered()),
                posts("posts"),
                reactions,
                concerns,
                flags("flags-raised", Flag.created_at),
                flags("flags-handled", Flag.resolved_at),
            )
        )
    }

    def change(key: str, label: str) -> Change:
        now_n, before_n = counts.get(_MORNING_KEYS.index(key), (0, 0))
        return Change(key, label, int(now_n), int(before_n))

    topics_started = change("topics", _("Topics started"))
    answered = change("answered", _("Topics answered"))
    unanswered = Change(
        "unanswered",
        _("Topics unanswered"),
        topics_started.current - answered.current,
        topics_started.previous - answered.previous,
    )
    return Morning(
        comparison,
        [
            change("new-members", _("New members")),
            change("posted", _("Members who posted")),
            change("visited", _("Members who visited")),
            change("posts", _("Posts")),
            topics_started,
            answered,
            unanswered,
            change("reactions", _("Reactions given")),
            change("concerns", _("Concerns opened")),
            change("flags-raised", _("Flags raised")),
            change("flags-handled", _("Flags handled")),
        ],
    )


# --- entry points ---------------------------------------------------------------------------
Builder = Callable[[Scope], list[Series]]

BUILDERS: dict[str, Builder] = {}
for _builder, _keys in (
    (_members, ("members", "members-weekly")),
    (_activity, ("activity",)),
    (_active, ("active-daily", "active-weekly", "active-monthly")),
    (lambda scope: _response(scope, utcnow())[1], ("response",)),
    (_queues, ("unanswered", "welcome")),
    (_contributors, ("contributors", "sigs")),
    (lambda scope: _flags(scope)[1], ("flags",)),
    (lambda scope: _reactions(scope)[1], ("reactions", "reactions-emoji")),
    (lambda scope: _care(scope, utcnow())[1], ("care", "care-sysops", "care-weekly")),
):
    for _key in _keys:
        BUILDERS[_key] = _builder

SERIES_KEYS = tuple(BUILDERS)


def dashboard(current: Any, sig: Sig | None, rng: DateRange) -> Dashboard:
    """Every figure and series for one dashboard (a fixed number of queries)."""
    viewer = permissions.actor(current)
    permissions.require_pulse(viewer, sig)
    scope = Scope(sig, rng)
    figures, response = _response(scope, utcnow())
    series = _members(scope) + _activity(scope) + _active(scope) + response
    flag_figures, flags = _flags(scope)
    reaction_figures, reactions = _reactions(scope)
    care_figures, care = _care(scope, utcnow())
    series += _queues(scope) + _contributors(scope) + flags + reactions + care
    figures += flag_figures + reaction_figures + care_figures
    total = series[0].rows[-1][2] if series[0].rows else 0
    figures.insert(0, Figure(_("Members in total"), format_number(total), total))
    return Dashboard(sig=sig, range=rng, figures=figures, series=series)


def one_series(current: Any, sig: Sig | None, rng: DateRange, key: str) -> Series | None:
    """Just one series (for its CSV download); None when there is no such series here."""
    viewer = permissions.actor(current)
    permissions.require_pulse(viewer, sig)
    builder = BUILDERS.get(key)
    if builder is None:
        return None
    return next((s for s in builder(Scope(sig, rng)) if s.key == key), None)


def pulse_sigs() -> list[Sig]:
    """SIGs the global sysop can pick on /pulse."""
    return list(db.session.scalars(select(Sig).order_by(Sig.position, Sig.name)))


def marked_answer(topic: Topic) -> tuple[Post, User | None] | None:
    """The reply marked as this topic's answer, with its author, when readers can see it."""
    if topic.answer_post_id is None:
        return None
    row = db.session.execute(
        select(Post, User)
        .outerjoin(User, User.id == Post.user_id)
        .where(
            Post.id == topic.answer_post_id,
            public_post(),
            func.coalesce(Post.user_id, -1) != (topic.user_id or -2),
        )
    ).first()
    return (row[0], row[1]) if row else None
