"""Read models: the banner (one query, none while nothing shows) and the announcements page."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select

from .. import content, permissions
from ..accounts.models import User
from ..extensions import db
from ..hooks import AppSlot
from ..sigs.models import Sig
from ..timeutil import utcnow
from .models import ENDED, Announcement, AnnouncementDismissal

BANNER_LIMIT = 3
BANNER_DAYS = 30
PER_PAGE = 20

# When this process last asked (time.monotonic()) and what it learned then: the earliest start
# among the announcements that had not ended (None: none showing or scheduled).
_START: AppSlot[tuple[float, datetime | None]] = AppSlot("forum.announcements.start")


# A sentence's end inside an excerpt: its mark (not a one-letter abbreviation's, "z. B."), a
# closing quote or bracket, then a space and what starts a sentence.
_SENTENCE_END = re.compile(r"(?<!\b\w)[.!?…][\"'“”»)]*(?=\s+[\"„“«¿¡(]?[A-ZÀ-ÖØ-Þ0-9])")


def banner_excerpt(html: str, length: int = 200) -> str:
    """The start of an announcement for the banner, ending at a sentence where one ends in it
    (the banner wraps on a phone, and "nicht…" mid-sentence says less than a whole first
    sentence; the title leads to the rest). A first sentence longer than that is cut at a word."""
    text = content.excerpt(html, length)
    if not text.endswith("…"):
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    return text[: ends[-1]].rstrip() if ends else text


@dataclass
class BannerItem:
    id: int
    title: str
    excerpt: str
    sig_name: str | None
    sig_slug: str | None


@dataclass
class Banner:
    """What the banner shows (at most BANNER_LIMIT, the newest start first) and how many are
    showing to this member in all, which "N more announcements" counts."""

    items: list[BannerItem]
    total: int

    def __bool__(self) -> bool:
        return bool(self.items)

    @property
    def unlisted(self) -> int:
        """Showing, but past what the banner lists: the announcements page has them."""
        return self.total - len(self.items)


@dataclass
class AnnouncementRow:
    announcement: Announcement
    sig: Sig | None
    author: str | None
    can_delete: bool
    state: str  # models.SCHEDULED, SHOWING or ENDED

    @property
    def can_end(self) -> bool:
        """Who may remove it may end it, while it has not ended."""
        return self.can_delete and self.state != ENDED


def banner_start() -> datetime | None:
    """From when the banner may have something to show: the earliest start among the
    announcements (any SIG's, or site-wide) that have not ended; None without any. Kept
    ANNOUNCEMENT_CACHE_SECONDS per process: every page asks (the banner), and there usually is
    nothing showing, so most pages run no banner query (docs/benchmarks.md, 2026-12-06). Being
    a time, it stays true as the clock moves: a scheduled announcement shows at its start to
    the second, and one that ended leaves a page at most these seconds of banner queries that
    find nothing."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    known = _START.get(app)
    now = time.monotonic()
    if known is not None and now - known[0] < float(app.config["ANNOUNCEMENT_CACHE_SECONDS"]):
        return known[1]
    start = db.session.scalar(
        select(func.min(Announcement.starts_at)).where(Announcement.ends_at > utcnow())
    )
    assert start is None or start.tzinfo is not None  # min() keeps the column's UTCDateTime
    _START.set(app, (now, start))
    return start


def forget_banner_start() -> None:
    """Ask again on the next page (services call it when an announcement was posted or
    ended)."""
    _START.pop()


def banner(current: Any) -> Banner:
    """The announcements showing now (started, not ended; the newest start first, at most
    BANNER_LIMIT) that this member has not dismissed: site-wide ones and those of the member's
    SIGs; guests see the site-wide ones; and how many of those are showing in all (a window
    count in the same query, so "N more" counts them all, not only the listed ones). One
    query either way, and none while nothing is showing (banner_start)."""
    now = utcnow()
    start = banner_start()
    if start is None or start > now:
        return Banner([], 0)
    viewer = permissions.actor(current)
    query = (
        select(
            Announcement.id,
            Announcement.title,
            Announcement.body_html,
            Sig.name,
            Sig.slug,
            func.count().over(),
        )
        .outerjoin(Sig, Sig.id == Announcement.sig_id)
        .where(Announcement.starts_at <= now, Announcement.ends_at > now)
        .order_by(Announcement.starts_at.desc(), Announcement.id.desc())
        .limit(BANNER_LIMIT)
    )
    if viewer is None:
        query = query.where(Announcement.sig_id.is_(None))
    else:
        # The member's SIGs as the policy counts them (a SIG ban takes one out, whatever
        # rows say), loaded once per request already: no subquery over the rows.
        mine = sorted(permissions.memberships(viewer))
        query = query.where(
            or_(Announcement.sig_id.is_(None), Announcement.sig_id.in_(mine)),
            ~exists().where(
                AnnouncementDismissal.user_id == viewer.id,
                AnnouncementDismissal.announcement_id == Announcement.id,
            ),
        )
    found = db.session.execute(query).all()
    return Banner(
        [
            BannerItem(id=i, title=title, excerpt=banner_excerpt(html), sig_name=n, sig_slug=s)
            for i, title, html, n, s, _total in found
        ],
        found[0][5] if found else 0,
    )


def _listed(viewer: permissions.Actor) -> Any:
    """The announcements this member may read, with their SIG and author's name. One not yet
    started is still the editors' own: only who may announce there sees it (the global sysop
    any, a SIG's sysops their SIG's; permissions.can_announce)."""
    query = (
        select(Announcement, Sig, User.username)
        .outerjoin(Sig, Sig.id == Announcement.sig_id)
        .outerjoin(User, User.id == Announcement.author_id)
        .where(
            or_(
                Announcement.sig_id.is_(None),
                and_(Sig.id.is_not(None), permissions.readable_sigs_clause(viewer)),
            )
        )
    )
    editors_of = permissions.moderated_sig_ids(viewer)
    if editors_of is None:
        return query
    started = Announcement.starts_at <= utcnow()
    if not editors_of:
        return query.where(started)
    return query.where(or_(started, Announcement.sig_id.in_(editors_of)))


def _row(viewer: permissions.Actor, now: datetime, found: Any) -> AnnouncementRow:
    announcement, sig, name = found
    return AnnouncementRow(
        announcement=announcement,
        sig=sig,
        author=name,
        can_delete=permissions.can_announce(viewer, sig),
        state=announcement.state(now),
    )


def announcement_list(current: Any, page: int = 1) -> tuple[list[AnnouncementRow], bool]:
    """Every announcement this member may read, the latest start first (scheduled ones on
    top), each with its state now; and whether a next page exists."""
    viewer = permissions.actor(current)
    now = utcnow()
    rows = db.session.execute(
        _listed(viewer)
        .order_by(Announcement.starts_at.desc(), Announcement.id.desc())
        .limit(PER_PAGE + 1)
        .offset((max(page, 1) - 1) * PER_PAGE)
    ).all()
    return [_row(viewer, now, found) for found in rows[:PER_PAGE]], len(rows) > PER_PAGE


def announcement_row(current: Any, announcement_id: int) -> AnnouncementRow | None:
    """One announcement as the list shows it to this member; None if they may not read it."""
    viewer = permissions.actor(current)
    found = db.session.execute(
        _listed(viewer)
        .where(Announcement.id == announcement_id)
        .execution_options(populate_existing=True)
    ).first()
    return _row(viewer, utcnow(), found) if found is not None else None


def page_of(current: Any, announcement_id: int) -> int | None:
    """The page of the announcements list this announcement is on for this member (the list's
    order: the latest start first, then the highest id); None if they may not read it. Two
    queries: the announcement as the list filters it, then how many the list puts before it."""
    viewer = permissions.actor(current)
    found = db.session.execute(
        _listed(viewer)
        .with_only_columns(Announcement.starts_at)
        .where(Announcement.id == announcement_id)
    ).first()
    if found is None:
        return None
    (starts_at,) = found
    before = db.session.scalar(
        _listed(viewer)
        .with_only_columns(func.count(Announcement.id))
        .where(
            or_(
                Announcement.starts_at > starts_at,
                and_(Announcement.starts_at == starts_at, Announcement.id > announcement_id),
            )
        )
    )
    return int(before or 0) // PER_PAGE + 1


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
