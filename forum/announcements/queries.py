"""Read models: the banner (one query) and the announcements page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select

from .. import content, permissions
from ..accounts.models import User
from ..extensions import db
from ..hooks import AppSlot
from ..sigs.models import Membership, Sig
from ..timeutil import utcnow
from .models import Announcement, AnnouncementDismissal

BANNER_LIMIT = 3
BANNER_DAYS = 30
PER_PAGE = 20

# When this process last asked (time.monotonic()) and the newest announcement's time then.
_NEWEST: AppSlot[tuple[float, datetime | None]] = AppSlot("forum.announcements.newest")


@dataclass
class BannerItem:
    id: int
    title: str
    excerpt: str
    sig_name: str | None
    sig_slug: str | None


@dataclass
class AnnouncementRow:
    announcement: Announcement
    sig: Sig | None
    author: str | None
    can_delete: bool


def newest_announcement() -> datetime | None:
    """When the newest announcement (any SIG's, or site-wide) was posted; None without any.
    Kept ANNOUNCEMENT_CACHE_SECONDS per process: every page asks (the banner), and there usually
    is no recent announcement, so most pages run no banner query (docs/benchmarks.md,
    2026-12-06)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    known = _NEWEST.get(app)
    now = time.monotonic()
    if known is not None and now - known[0] < float(app.config["ANNOUNCEMENT_CACHE_SECONDS"]):
        return known[1]
    newest = db.session.scalar(select(func.max(Announcement.created_at)))
    assert newest is None or newest.tzinfo is not None  # max() keeps the column's UTCDateTime
    _NEWEST.set(app, (now, newest))
    return newest


def forget_newest() -> None:
    """Ask again on the next page (services call it when an announcement was published)."""
    _NEWEST.pop()


def banner(current: Any) -> list[BannerItem]:
    """Recent announcements this member has not dismissed: site-wide ones and those of the
    member's SIGs; guests see the site-wide ones. One query either way, and none while the
    newest announcement is older than the banner shows."""
    since = utcnow() - timedelta(days=BANNER_DAYS)
    newest = newest_announcement()
    if newest is None or newest < since:
        return []
    viewer = permissions.actor(current)
    query = (
        select(Announcement.id, Announcement.title, Announcement.body_html, Sig.name, Sig.slug)
        .outerjoin(Sig, Sig.id == Announcement.sig_id)
        .where(Announcement.created_at >= since)
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(BANNER_LIMIT)
    )
    if viewer is None:
        query = query.where(Announcement.sig_id.is_(None))
    else:
        mine = select(Membership.sig_id).where(Membership.user_id == viewer.id)
        query = query.where(
            or_(Announcement.sig_id.is_(None), Announcement.sig_id.in_(mine)),
            ~exists().where(
                AnnouncementDismissal.user_id == viewer.id,
                AnnouncementDismissal.announcement_id == Announcement.id,
            ),
        )
    return [
        BannerItem(id=i, title=title, excerpt=content.excerpt(html, 200), sig_name=n, sig_slug=s)
        for i, title, html, n, s in db.session.execute(query)
    ]


def announcement_list(current: Any, page: int = 1) -> tuple[list[AnnouncementRow], bool]:
    """Every announcement this member may read, newest first; and whether a next page exists."""
    viewer = permissions.actor(current)
    rows = db.session.execute(
        select(Announcement, Sig, User.username)
        .outerjoin(Sig, Sig.id == Announcement.sig_id)
        .outerjoin(User, User.id == Announcement.author_id)
        .where(
            or_(
                Announcement.sig_id.is_(None),
                and_(Sig.id.is_not(None), permissions.readable_sigs_clause(viewer)),
            )
        )
        .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        .limit(PER_PAGE + 1)
        .offset((max(page, 1) - 1) * PER_PAGE)
    ).all()
    result = [
        AnnouncementRow(
            announcement=a, sig=sig, author=name, can_delete=permissions.can_announce(viewer, sig)
        )
        for a, sig, name in rows[:PER_PAGE]
    ]
    return result, len(rows) > PER_PAGE


def announce_targets(current: Any) -> list[tuple[str, str]]:
    """Where this member may post: ("", "") for the whole site (the view names it) if they are
    the global sysop, then SIGs by id and name."""
    viewer = permissions.actor(current)
    moderated = permissions.moderated_sig_ids(viewer)
    query = select(Sig).where(Sig.archived_at.is_(None)).order_by(Sig.name)
    if moderated is not None:
        if not moderated:
            return []
        query = query.where(Sig.id.in_(moderated))
    targets = [("", "")] if permissions.can_announce(viewer, None) else []
    targets += [
        (str(sig.id), sig.name)
        for sig in db.session.scalars(query)
        if permissions.can_announce(viewer, sig)
    ]
    return targets
