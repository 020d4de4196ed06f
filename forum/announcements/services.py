"""Announcement verbs: publish (now or scheduled), end, delete, and dismiss the banner; the job
that starts a scheduled announcement."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from .. import content, events, jobs, permissions
from ..accounts.services import resolve_usernames
from ..db import lock_for_write, on_commit, transaction, upsert
from ..errors import Forbidden, Invalid, NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import lazy_number
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from . import queries
from .models import Announcement, AnnouncementDismissal

MAX_TITLE = 200
# How far ahead a start may be set, and an end after its start (a bookmark's reminder's year).
MAX_AHEAD = timedelta(days=366)


def _target(actor: Actor, sig_id: int | None) -> Sig | None:
    if sig_id is None:
        return None
    return permissions.get_sig_by_id_for(actor, sig_id)


def _window(
    starts_at: datetime | None, ends_at: datetime | None, now: datetime
) -> tuple[datetime, datetime, list[Invalid]]:
    """When the banner shows it: from `starts_at` (None, or a time already past: now) until
    `ends_at` (None: BANNER_DAYS after the start), and the refusals of a window that cannot
    be."""
    starts = now if starts_at is None or starts_at <= now else starts_at
    refused = []
    if starts > now + MAX_AHEAD:
        refused.append(Invalid("starts_at", _l("Choose a time within a year.")))
        starts = now  # (the end is still checked, and no year 9999 + 30 days is reckoned)
    ends = ends_at if ends_at is not None else starts + timedelta(days=queries.BANNER_DAYS)
    if ends <= now:
        refused.append(Invalid("ends_at", _l("Choose a time in the future.")))
    elif ends <= starts:
        refused.append(Invalid("ends_at", _l("The end must come after the start.")))
    elif ends > starts + MAX_AHEAD:
        refused.append(Invalid("ends_at", _l("Choose a time within a year.")))
    return starts, ends, refused


def publish_announcement(
    actor: Actor,
    sig_id: int | None,
    title: str,
    body: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Announcement:
    """Post an announcement site-wide (sig_id None: the global sysop) or in one SIG, shown from
    `starts_at` until `ends_at` (aware datetimes; None: now, and BANNER_DAYS after the start).
    One that starts later is published (AnnouncementPublished) by a job at its start."""
    sig = _target(actor, sig_id)
    if not permissions.can_announce(actor, sig):
        raise Forbidden(
            _l("Only the sysop posts site-wide announcements.")
            if sig is None
            else _l("Only this SIG's sysops post announcements in it.")
        )
    assert actor is not None
    title = " ".join(content.clean_text(title).split())
    body = content.clean_text(body).strip()
    limit = current_app.config["MAX_POST_LENGTH"]
    now = utcnow()
    starts, ends, window_refused = _window(starts_at, ends_at, now)
    # The title, the body and the window are checked apart, and every refusal said at once.
    refused = []
    if len(title) < 3 or len(title) > MAX_TITLE:
        refused.append(
            Invalid(
                "title",
                _l(
                    "Give the announcement a title of 3 to %(MAX_TITLE)s characters.",
                    MAX_TITLE=MAX_TITLE,
                ),
            )
        )
    if not body:
        refused.append(Invalid("body", _l("Write something first.")))
    elif len(body) > limit:
        refused.append(
            Invalid(
                "body",
                _l(
                    "Announcements are limited to %(limit)s characters.",
                    limit=lazy_number(limit),
                ),
            )
        )
    refused += window_refused
    if refused:
        first, *more = refused
        raise Invalid(first.field, first.lazy_message, more=more)
    cooked = content.render(body, resolve_usernames)
    with transaction() as session:
        announcement = Announcement(
            sig_id=sig.id if sig else None,
            author_id=actor.id,
            title=title,
            body_raw=body,
            body_html=cooked.html,
            render_version=cooked.version,
            created_at=now,
            starts_at=starts,
            ends_at=ends,
            published_at=now if starts <= now else None,
        )
        session.add(announcement)
        session.flush()
        # This process's banner shows it at once, or learns when it starts.
        on_commit(queries.forget_banner_start)
        if announcement.published_at is not None:
            _publish_event(announcement)
        else:
            jobs.enqueue(start_announcement, announcement.id, delay=(starts - now).total_seconds())
    return announcement


def _publish_event(announcement: Announcement) -> None:
    events.publish(
        events.AnnouncementPublished(
            announcement_id=announcement.id,
            sig_id=announcement.sig_id,
            author_id=announcement.author_id,
        )
    )


@jobs.job(retries=3, retry_delay=30)
def start_announcement(announcement_id: int) -> bool:
    """A scheduled announcement's start came: AnnouncementPublished goes out now, not when it
    was saved (once: the row's published_at claims it, against the minute sweep too). Nothing
    for one deleted or ended before its start; a job that runs early (another machine's clock)
    queues itself for the start; a job lost is made up for by sweep_announcements.
    The banner needs no job: each process knows the next start (queries.banner_start)."""
    now = utcnow()
    announcement = db.session.get(Announcement, announcement_id)
    if announcement is None or announcement.published_at is not None:
        return False
    if announcement.ends_at <= now:
        return False
    if announcement.starts_at > now:
        delay = (announcement.starts_at - now).total_seconds()
        jobs.enqueue(start_announcement, announcement_id, delay=delay)
        return False
    with transaction() as session:
        claimed = session.execute(
            update(Announcement)
            .where(Announcement.id == announcement_id, Announcement.published_at.is_(None))
            .values(published_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return False
        _publish_event(announcement)
    return True


# --- the minute sweep: the events the clock alone would not send ----------------------------
BATCH = 500


@jobs.periodic(jobs.crontab(minute="*"))
def sweep_announcements(now: datetime | None = None) -> tuple[list[int], list[int]]:
    """Every minute: AnnouncementPublished for each announcement showing whose start went
    unannounced (its start_announcement job lost: the queue was down when it was posted, and
    the log said so), and AnnouncementEnded for each that reached its end by itself (so the
    guest page cache drops its banner). Each once, in a transaction of its own, claimed by its
    row's published_at or end_published_at as start_announcement and end_announcement claim
    them, so a sweep that overlaps the delayed job, "End now" or another sweep never tells
    twice. Returns (published ids, ended ids)."""
    now = now or utcnow()
    unstarted = db.session.scalars(
        select(Announcement.id)
        .where(
            Announcement.published_at.is_(None),
            Announcement.starts_at <= now,
            Announcement.ends_at > now,
        )
        .order_by(Announcement.starts_at)
        .limit(BATCH)
    ).all()
    published = []
    for announcement_id in unstarted:
        with transaction() as session:
            claimed = session.execute(
                update(Announcement)
                .where(Announcement.id == announcement_id, Announcement.published_at.is_(None))
                .values(published_at=now)
                .returning(Announcement.sig_id, Announcement.author_id)
            ).first()
            if claimed is None:
                continue
            events.publish(
                events.AnnouncementPublished(
                    announcement_id=announcement_id,
                    sig_id=claimed.sig_id,
                    author_id=claimed.author_id,
                )
            )
            published.append(announcement_id)
    unended = db.session.scalars(
        select(Announcement.id)
        .where(Announcement.end_published_at.is_(None), Announcement.ends_at <= now)
        .order_by(Announcement.ends_at)
        .limit(BATCH)
    ).all()
    ended = []
    for announcement_id in unended:
        with transaction() as session:
            told = session.execute(
                update(Announcement)
                .where(Announcement.id == announcement_id, Announcement.end_published_at.is_(None))
                .values(end_published_at=now)
                .returning(Announcement.sig_id)
            ).first()
            if told is None:
                continue
            events.publish(
                events.AnnouncementEnded(
                    announcement_id=announcement_id, sig_id=told.sig_id, actor_id=None
                )
            )
            ended.append(announcement_id)
    return published, ended


def get_announcement_for(actor: Actor, announcement_id: int) -> Announcement:
    """Load an announcement the actor may read (NotFound otherwise)."""
    announcement = db.session.get(Announcement, announcement_id) if announcement_id > 0 else None
    if announcement is None:
        raise NotFound(_l("No such announcement."))
    sig = None
    if announcement.sig_id is not None:
        sig = db.session.get(Sig, announcement.sig_id)
        # The same answer as for a missing one, whether its SIG is hidden or only closed.
        if sig is None or not permissions.can_read_sig(actor, sig):
            raise NotFound(_l("No such announcement."))
    # Until it starts it is its editors' own (queries._listed says the same of the list).
    if announcement.starts_at > utcnow() and not permissions.can_announce(actor, sig):
        raise NotFound(_l("No such announcement."))
    return announcement


def end_announcement(actor: Actor, announcement_id: int) -> Announcement:
    """End an announcement now (who may remove it may end it): it leaves the banner and stays
    listed as ended. A scheduled one never shows; one ended already stays as it is."""
    announcement = get_announcement_for(actor, announcement_id)
    sig = _target(actor, announcement.sig_id)
    if not permissions.can_announce(actor, sig):
        raise Forbidden(_l("You may not end this announcement."))
    assert actor is not None
    with transaction():
        lock_for_write(Announcement, announcement.id)  # (read afresh: one ending it too)
        now = utcnow()
        if announcement.ends_at <= now:
            return announcement
        announcement.ends_at = now
        announcement.starts_at = min(announcement.starts_at, now)
        announcement.end_published_at = now  # (the sweep then has nothing to tell of it)
        on_commit(queries.forget_banner_start)  # this process's banner drops it at once
        events.publish(
            events.AnnouncementEnded(
                announcement_id=announcement.id, sig_id=announcement.sig_id, actor_id=actor.id
            )
        )
    return announcement


def delete_announcement(actor: Actor, announcement_id: int) -> None:
    """Remove an announcement (who may post it may remove it). One that was showing leaves the
    banner as one ended does (AnnouncementEnded): guests' cached pages showed it too."""
    announcement = get_announcement_for(actor, announcement_id)
    sig = _target(actor, announcement.sig_id)
    if not permissions.can_announce(actor, sig):
        raise Forbidden(_l("You may not remove this announcement."))
    assert actor is not None
    with transaction() as session:
        lock_for_write(Announcement, announcement.id)  # (read afresh: one ending it too)
        now = utcnow()
        # Showing by its times, whether or not its AnnouncementPublished went out yet (the
        # banner asks the times alone).
        if announcement.starts_at <= now < announcement.ends_at:
            on_commit(queries.forget_banner_start)
            events.publish(
                events.AnnouncementEnded(
                    announcement_id=announcement.id, sig_id=announcement.sig_id, actor_id=actor.id
                )
            )
        session.delete(announcement)


def dismiss_announcement(actor: Actor, announcement_id: int) -> None:
    """Hide an announcement's banner for this member (one upsert; repeats are harmless)."""
    if actor is None:
        raise Forbidden(_l("Log in to dismiss announcements."))
    announcement = get_announcement_for(actor, announcement_id)
    with transaction():
        upsert(
            AnnouncementDismissal,
            {"user_id": actor.id, "announcement_id": announcement.id, "dismissed_at": utcnow()},
            index_elements=["user_id", "announcement_id"],
        )
