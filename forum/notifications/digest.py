"""The digest: daily or weekly per member, at an hour of their own clock.

`queue_digests` runs hourly and queues `send_digest` for each member whose clock reads their
digest hour (and, for a weekly digest, whose weekday it is). A digest holds:

- what the member wants "in the digest" of their notifications (forum.notifications.mail's
  categories), unread and not mailed yet, checked again through the one policy;
- the topics of their SIGs with posts since their last digest that they have not read, most
  new posts first, with counts (never a muted topic or SIG, never what they may not view);
- the notes their SIGs' sysops wrote for it since their last digest (a note alone makes no
  digest).

It is never empty: without news, no mail. After "digest_unvisited_limit" digests (a site
setting) without a visit, they stop, and the last one says so; a visit starts them again.
Each goes once per member and day (its key, forum.mail.send_mail).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from .. import jobs, permissions, settings
from ..accounts.models import User, UserSession
from ..db import transaction
from ..extensions import db
from ..i18n import force_locale, language_of, ngettext
from ..i18n import lazy_gettext as _l
from ..mail import already_sent, member_envelope, send_mail
from ..sigs.models import Membership, Sig
from ..timeutil import utcnow, zone_or_utc
from ..topics.models import Post, Topic, TopicRead
from ..web import absolute_url_for, site_url
from . import kinds, queries
from .mail import (
    CATEGORY_LABELS,
    CATEGORY_OF,
    DIGEST_CATEGORY,
    _read_already,
    _withheld,
    digest_kinds,
    may_receive_mail,
    unsubscribe_token,
)
from .models import MUTED, Notification, SigDigestNote, SigWatch, TopicWatch

log = logging.getLogger(__name__)

DAILY = "daily"
WEEKLY = "weekly"
NEVER = "off"
FREQUENCIES = {DAILY: _l("Daily"), WEEKLY: _l("Weekly"), NEVER: _l("Never")}
WEEKDAYS = [
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
]
PREF_DIGEST = "digest"
# The most topics a digest lists (DIGEST_TOPICS) and the most it counts for "and N more".
MAX_COUNTED = 200
NOTE_MAX = 500


@dataclass(frozen=True)
class DigestChoice:
    frequency: str
    hour: int
    weekday: int

    @property
    def days(self) -> int:
        return 7 if self.frequency == WEEKLY else 1


def digest_choice(user: User) -> DigestChoice:
    """The member's rhythm (the site's default where they chose none)."""
    config = current_app.config
    chosen = (user.preferences or {}).get(PREF_DIGEST) or {}
    frequency = chosen.get("frequency")
    if frequency not in FREQUENCIES:
        frequency = str(config["DIGEST_FREQUENCY"])
    hour, weekday = chosen.get("hour"), chosen.get("weekday")
    return DigestChoice(
        frequency=frequency,
        hour=hour if isinstance(hour, int) and 0 <= hour < 24 else int(config["DIGEST_HOUR"]),
        weekday=(
            weekday
            if isinstance(weekday, int) and 0 <= weekday < 7
            else int(config["DIGEST_WEEKDAY"])
        ),
    )


def due_day(user: User, now: datetime) -> str | None:
    """The member's own date when a digest is due for them at `now` (their hour, and for a
    weekly one their weekday), else None."""
    choice = digest_choice(user)
    if choice.frequency == NEVER:
        return None
    local = now.astimezone(ZoneInfo(zone_or_utc(user.timezone)))
    if local.hour != choice.hour:
        return None
    if choice.frequency == WEEKLY and local.weekday() != choice.weekday:
        return None
    return local.date().isoformat()


@jobs.periodic(jobs.crontab(minute="5"))
def queue_digests(now: datetime | None = None) -> int:
    """Hourly: a digest job for each member whose digest is due now. Returns how many."""
    now = now or utcnow()
    queued = 0
    # Banned members too: what a sysop decided about them may be in their digest (nothing else).
    members = select(User).where(
        User.email_verified_at.is_not(None), User.mail_disabled_at.is_(None)
    )
    due: list[tuple[int, str]] = []
    for user in db.session.scalars(members.execution_options(yield_per=1000)):
        day = due_day(user, now)
        if day is not None and may_receive_mail(user):
            due.append((user.id, day))
    # Queued once the members are read: a job run at once (the tests) commits, which would end
    # a server-side cursor still being read.
    for user_id, day in due:
        jobs.enqueue(send_digest, user_id, day)
        queued += 1
    return queued


def last_visit(user: User) -> datetime | None:
    """When the member was last on the site: a listed session's last request, a sign-in, or
    the first request of the last day they visited (pulse's daily row: sessions older than
    the sessions list have no row of their own)."""
    from ..pulse.models import MemberVisit

    seen = db.session.execute(
        select(
            select(func.max(UserSession.last_seen_at))
            .where(UserSession.user_id == user.id)
            .scalar_subquery(),
            select(func.max(MemberVisit.first_seen_at))
            .where(MemberVisit.user_id == user.id)
            .scalar_subquery(),
        )
    ).one()
    times = [t for t in (*seen, user.last_login_at) if t is not None]
    return max(times) if times else None


@dataclass
class TopicNews:
    topic_id: int
    title: str
    sig_name: str
    url: str
    new_posts: int
    unread: int


@dataclass
class Digest:
    rows: list[queries.NotificationRow] = field(default_factory=list)
    topics: list[TopicNews] = field(default_factory=list)
    more_topics: int = 0
    notes: list[tuple[str, str]] = field(default_factory=list)  # (SIG name, note)

    @property
    def empty(self) -> bool:
        return not self.rows and not self.topics


def topic_news(user: User, since: datetime, limit: int) -> tuple[list[TopicNews], int]:
    """The topics of the member's SIGs with others' posts since `since` that the member has
    not read to the end, most new posts first, at most `limit`, and how many there are (up to
    MAX_COUNTED). Two queries."""
    new_posts = func.count(Post.id).label("new_posts")
    read_number = func.coalesce(TopicRead.last_read_post_number, 0).label("read_number")
    muted_topics = select(TopicWatch.topic_id).where(
        TopicWatch.user_id == user.id, TopicWatch.level == MUTED
    )
    muted_sigs = select(SigWatch.sig_id).where(SigWatch.user_id == user.id, SigWatch.level == MUTED)
    my_sigs = select(Membership.sig_id).where(Membership.user_id == user.id)
    statement = (
        select(Topic.id, Topic.title, Topic.slug, Topic.highest_post_number, Sig.name, read_number)
        .add_columns(new_posts)
        .join(Sig, Sig.id == Topic.sig_id)
        .join(Post, Post.topic_id == Topic.id)
        .outerjoin(TopicRead, and_(TopicRead.topic_id == Topic.id, TopicRead.user_id == user.id))
        .where(
            Topic.sig_id.in_(my_sigs),
            Topic.last_posted_at >= since,
            Topic.deleted_at.is_(None),
            Sig.archived_at.is_(None),
            permissions.viewable_topics_clause(user),
            Topic.id.not_in(muted_topics),
            Topic.sig_id.not_in(muted_sigs),
            Post.created_at >= since,
            Post.number > func.coalesce(TopicRead.last_read_post_number, 0),
            or_(Post.user_id.is_(None), Post.user_id != user.id),
            permissions.public_posts_clause(),
        )
        .group_by(
            Topic.id,
            Topic.title,
            Topic.slug,
            Topic.highest_post_number,
            Topic.last_posted_at,
            Sig.name,
            TopicRead.last_read_post_number,
        )
        .order_by(new_posts.desc(), Topic.last_posted_at.desc(), Topic.id.desc())
        .limit(MAX_COUNTED)
    )
    rows = db.session.execute(statement).all()
    base = site_url()
    news = [
        TopicNews(
            topic_id=row.id,
            title=row.title,
            sig_name=row.name,
            url=f"{base}/t/{row.id}/{row.slug}",
            new_posts=int(row.new_posts),
            unread=max(int(row.highest_post_number) - int(row.read_number), int(row.new_posts)),
        )
        for row in rows[:limit]
    ]
    return news, len(rows)


def notes_for(user: User, since: datetime) -> list[tuple[str, str]]:
    """The notes of the member's SIGs' sysops written since `since`, oldest first."""
    rows = db.session.execute(
        select(Sig.name, SigDigestNote.body)
        .join(Sig, Sig.id == SigDigestNote.sig_id)
        .where(
            SigDigestNote.created_at > since,
            SigDigestNote.sig_id.in_(
                select(Membership.sig_id).where(Membership.user_id == user.id)
            ),
            permissions.readable_sigs_clause(user),
        )
        .order_by(SigDigestNote.created_at, SigDigestNote.id)
    ).all()
    return [(str(name), str(body)) for name, body in rows]


def _claim_notifications(user: User, key: str, since: datetime) -> list[Notification]:
    wanted = digest_kinds(user)
    if wanted:
        with transaction() as session:
            session.execute(
                update(Notification)
                .where(
                    Notification.user_id == user.id,
                    Notification.kind.in_(wanted),
                    Notification.read_at.is_(None),
                    Notification.mail_key.is_(None),
                    Notification.created_at >= since,
                )
                .values(mail_key=key)
            )
    claimed = list(
        db.session.scalars(
            select(Notification).where(Notification.mail_key == key).order_by(Notification.id)
        )
    )
    fresh = [n for n in claimed if n.actor_id != user.id and not _read_already(user, n)]
    if user.is_banned:
        fresh = [n for n in fresh if n.kind == kinds.DISCIPLINE.name]
    return fresh


def gather(user: User, now: datetime, key: str) -> Digest:
    """What the member's digest holds now (claims its notifications under `key`)."""
    choice = digest_choice(user)
    period = timedelta(days=choice.days)
    # Since the last digest, but no further back than one period (a changed rhythm, a pause).
    since = max(user.last_digest_at or now - period, now - period)
    days = max(int(current_app.config["DIGEST_DAYS"]), choice.days)
    digest = Digest()
    fresh = _claim_notifications(user, key, now - timedelta(days=days))
    if fresh:
        rows = queries.member_rows(user, [n.id for n in fresh])
        digest.rows = [r for r in rows if not _withheld(r)]
    if not user.is_banned:
        limit = int(current_app.config["DIGEST_TOPICS"])
        digest.topics, total = topic_news(user, since, limit)
        digest.more_topics = total - len(digest.topics)
        digest.notes = notes_for(user, since)
    return digest


@jobs.job(retries=5, retry_delay=120, backoff=2.0, stale_after="NOTIFY_MAIL_MAX_AGE")
def send_digest(user_id: int, day: str) -> None:
    """One member's digest of `day` (their date). Sent once per member and day."""
    key = f"digest:{user_id}:{day}"
    user = db.session.get(User, user_id)
    if user is None or not may_receive_mail(user) or already_sent(key):
        return
    now = utcnow()
    visited = last_visit(user)
    unvisited = user.digests_unvisited or 0
    if user.last_digest_at is None or (visited is not None and visited > user.last_digest_at):
        unvisited = 0
    limit = settings.get_int("digest_unvisited_limit")
    if limit and unvisited >= limit:
        log.info("digest %s: %s digests without a visit, stopped", key, unvisited)
        return
    digest = gather(user, now, key)
    if digest.empty:
        return
    last = bool(limit) and unvisited + 1 >= limit
    with force_locale(language_of(user)):
        subject, text, html, headers = compose(user, digest, key, last)
    send_mail(
        user.email,
        subject,
        text,
        html=html,
        headers=headers,
        key=key,
        envelope_from=member_envelope(user.id, user.email),
    )
    with transaction():
        user.last_digest_at = now
        user.digests_unvisited = unvisited + 1


def compose(
    user: User, digest: Digest, key: str, last: bool = False
) -> tuple[str, str, str, dict[str, str]]:
    """Subject, text, HTML and headers of a digest, in the current locale."""
    choice = digest_choice(user)
    base = site_url()
    groups: dict[int | None, dict[str, Any]] = {}
    topic_ids = {r.notification.topic_id for r in digest.rows if r.notification.topic_id}
    titles: dict[int | None, str] = (
        dict(db.session.execute(select(Topic.id, Topic.title).where(Topic.id.in_(topic_ids))).all())
        if topic_ids
        else {}
    )
    for r in digest.rows:
        topic_id = r.notification.topic_id
        group = groups.setdefault(topic_id, {"title": titles.get(topic_id), "items": []})
        group["items"].append(
            {"text": r.text, "excerpt": r.excerpt, "url": base + r.url, "kind": r.kind.name}
        )
    site = str(settings.get("site_name"))
    categories = sorted({CATEGORY_OF.get(r.kind.name, "moderation") for r in digest.rows})
    unsubscribe_url = absolute_url_for(
        "notifications.unsubscribe", token=unsubscribe_token(user.id, [DIGEST_CATEGORY])
    )
    context: dict[str, Any] = {
        "user": user,
        "site": site,
        "weekly": choice.frequency == WEEKLY,
        "groups": list(groups.values()),
        "count": len(digest.rows),
        "topics": digest.topics,
        "more_topics": digest.more_topics,
        "notes": digest.notes,
        "last": last,
        "site_url": base,
        "preferences_url": absolute_url_for("accounts.settings", _anchor="notifications-heading"),
        "unsubscribe_url": unsubscribe_url,
        "categories": [str(CATEGORY_LABELS[c]) for c in categories],
    }
    template = current_app.jinja_env.get_template("mail/digest.jinja")
    weekly = choice.frequency == WEEKLY
    if digest.rows:
        subject = (
            ngettext(
                "Your weekly digest: %(num)s new notification",
                "Your weekly digest: %(num)s new notifications",
                len(digest.rows),
            )
            if weekly
            else ngettext(
                "Your daily digest: %(num)s new notification",
                "Your daily digest: %(num)s new notifications",
                len(digest.rows),
            )
        )
    else:
        count = len(digest.topics) + digest.more_topics
        subject = (
            ngettext(
                "Your weekly digest: %(num)s topic with new posts",
                "Your weekly digest: %(num)s topics with new posts",
                count,
            )
            if weekly
            else ngettext(
                "Your daily digest: %(num)s topic with new posts",
                "Your daily digest: %(num)s topics with new posts",
                count,
            )
        )
    domain = urlsplit(base).hostname or "forum.invalid"
    headers = {
        "Message-ID": f"<{key.replace(':', '.')}@{domain}>",
        "Auto-Submitted": "auto-generated",
        "List-Id": f'"{site.replace(chr(34), "")}" <digest.{domain}>',
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return (
        f"[{site}] {subject}",
        template.render(part="text", **context),
        template.render(part="html", **context),
        headers,
    )
