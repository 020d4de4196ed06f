"""Bookmark verbs: keep a post (with a reminder time), change the reminder, remove it; the job
that sends the reminders that came due.

A bookmark is its member's alone: every verb works on the actor's own rows. Keeping one asks
`permissions.require_bookmark` (NotFound for a post the member may not read); removing one
asks nothing more, so a bookmark of a post that became unreadable can still go.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from .. import events, jobs, permissions
from ..db import transaction, upsert
from ..errors import Invalid
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..i18n import lazy_number
from ..permissions import Actor
from ..timeutil import from_zone, in_zone, utcnow, zone_or_utc
from .models import Bookmark

# The reminder choices a form offers; "custom" takes a local date and time.
LATER_TODAY = "later_today"
TOMORROW = "tomorrow"
NEXT_WEEK = "next_week"
CUSTOM = "custom"
CHOICES = ("", LATER_TODAY, TOMORROW, NEXT_WEEK, CUSTOM)
# "Later today" is this many hours on; "tomorrow" and "next week" come at this local hour.
LATER_HOURS = 3
MORNING = time(9, 0)
MAX_AHEAD = timedelta(days=366)


def reminder_time(
    choice: str, custom: datetime | None, zone: str, now: datetime | None = None
) -> datetime | None:
    """When to remind, in UTC, for a choice made in the member's time zone `zone`. `custom` is
    a local date and time without a zone (a datetime-local field)."""
    now = now or utcnow()
    if choice not in CHOICES:
        raise Invalid("remind", _l("Choose when to be reminded."))
    if not choice:
        return None
    local_now = in_zone(now, zone)
    if choice == LATER_TODAY:
        return now + timedelta(hours=LATER_HOURS)
    if choice == TOMORROW:
        day = local_now.date() + timedelta(days=1)
        return datetime.combine(day, MORNING, tzinfo=local_now.tzinfo).astimezone(now.tzinfo)
    if choice == NEXT_WEEK:
        day = local_now.date() + timedelta(days=7 - local_now.weekday())  # next Monday
        return datetime.combine(day, MORNING, tzinfo=local_now.tzinfo).astimezone(now.tzinfo)
    if custom is None:
        raise Invalid("remind_at", _l("Give the date and time to be reminded at."))
    when = from_zone(custom, zone)
    if when <= now:
        raise Invalid("remind_at", _l("Choose a time in the future."))
    if when > now + MAX_AHEAD:
        raise Invalid("remind_at", _l("Choose a time within a year."))
    return when


def bookmark_post(
    actor: Actor, post_id: int, remind: str = "", custom: datetime | None = None
) -> Bookmark:
    """Keep this post in the member's bookmarks, reminded at the time chosen (none: no
    reminder). Bookmarking it again changes the reminder."""
    post, topic, sig = permissions.get_post_topic_and_sig_for(actor, post_id)
    permissions.require_bookmark(actor, post, topic, sig)
    assert actor is not None
    remind_at = reminder_time(remind, custom, zone_or_utc(actor.timezone))
    limit = int(current_app.config["BOOKMARKS_PER_MEMBER"])
    with transaction() as session:
        exists = session.scalar(
            select(Bookmark.id).where(Bookmark.user_id == actor.id, Bookmark.post_id == post.id)
        )
        if exists is None:
            count = session.scalar(
                select(func.count()).select_from(Bookmark).where(Bookmark.user_id == actor.id)
            )
            if (count or 0) >= limit:
                raise Invalid(
                    None,
                    _l(
                        "You have %(limit)s bookmarks already: remove some to keep another.",
                        limit=lazy_number(limit),
                    ),
                )
        upsert(
            Bookmark,
            {
                "user_id": actor.id,
                "post_id": post.id,
                "created_at": utcnow(),
                "remind_at": remind_at,
                "reminded_at": None,
            },
            index_elements=["user_id", "post_id"],
            set_={"remind_at": remind_at, "reminded_at": None},
        )
    found = get_bookmark(actor, post.id)
    assert found is not None
    return found


def remove_bookmark(actor: Actor, post_id: int) -> bool:
    """Remove the member's bookmark of this post; True when there was one."""
    if actor is None:
        raise Invalid(None, _l("Log in to bookmark posts."))
    with transaction() as session:
        result = session.execute(
            delete(Bookmark).where(Bookmark.user_id == actor.id, Bookmark.post_id == post_id)
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def get_bookmark(actor: Actor, post_id: int) -> Bookmark | None:
    if actor is None:
        return None
    return db.session.scalar(
        select(Bookmark)
        .where(Bookmark.user_id == actor.id, Bookmark.post_id == post_id)
        .execution_options(populate_existing=True)
    )


# --- reminders ------------------------------------------------------------------------------
BATCH = 500


@jobs.periodic(jobs.crontab(minute="*"))
def send_due_reminders(now: datetime | None = None) -> int:
    """Every minute: each bookmark whose reminder time came is marked reminded and announced
    (BookmarkReminderDue: forum.notifications writes the notification, when the member may
    still read the post), one transaction each, claimed by its row so a run that overlaps
    another never reminds twice."""
    now = now or utcnow()
    due = list(
        db.session.execute(
            select(Bookmark.id, Bookmark.user_id, Bookmark.post_id)
            .where(Bookmark.remind_at <= now, Bookmark.reminded_at.is_(None))
            .order_by(Bookmark.remind_at)
            .limit(BATCH)
        )
    )
    sent = 0
    for bookmark_id, user_id, post_id in due:
        with transaction() as session:
            claimed = session.execute(
                update(Bookmark)
                .where(Bookmark.id == bookmark_id, Bookmark.reminded_at.is_(None))
                .values(reminded_at=now)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                continue
            events.publish(
                events.BookmarkReminderDue(
                    bookmark_id=bookmark_id, user_id=user_id, post_id=post_id
                )
            )
            sent += 1
    return sent


def forget_member(event: events.AccountDeleted) -> None:
    """The member deleted their account: their bookmarks go, in that transaction."""
    db.session.execute(delete(Bookmark).where(Bookmark.user_id == event.user_id))
