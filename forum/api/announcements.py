"""/api/v1/announcements: the announcements page's list, posting one (now or scheduled) and
ending one, as thin views over forum.announcements' services and read models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import permissions
from ..announcements import queries as announcement_queries
from ..announcements import services as announcement_services
from ..errors import NotFound
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..web import absolute_url_for
from . import bp
from .spec import operation
from .views import MODERATE, READ, _context, _member_ref, _sig_ref, _viewer

if TYPE_CHECKING:
    from . import schemas
else:  # pydantic's models, loaded on the API's first request (forum.api.spec)
    from .spec import schemas

TAGS = ("Announcements",)


def _announcement(row: announcement_queries.AnnouncementRow) -> schemas.Announcement:
    a = row.announcement
    return schemas.Announcement(
        id=a.id,
        title=a.title,
        body_raw=a.body_raw,
        body_html=a.body_html,
        sig=_sig_ref(row.sig) if row.sig is not None else None,
        author=_member_ref((a.author_id, row.author))
        if a.author_id is not None and row.author is not None
        else None,
        created_at=a.created_at,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
        state=row.state,  # type: ignore[arg-type]
        can_end=row.can_end,
        url=absolute_url_for("announcements.permalink", announcement_id=a.id),
    )


def _by_id(announcement_id: int) -> schemas.Announcement:
    db.session.expire_all()
    row = announcement_queries.announcement_row(_viewer(), announcement_id)
    if row is None:
        raise NotFound(_l("No such announcement."))
    return _announcement(row)


@bp.route("/announcements")
@operation(READ, model="AnnouncementList", query="PageQuery", tags=TAGS, guests=True)
def list_announcements() -> Any:
    """List announcements

    Every announcement the caller may read (site-wide ones, and those of SIGs they may read),
    the latest start first, 20 a page, each with its window and its state now."""
    page = _context().query.page
    rows, has_next = announcement_queries.announcement_list(_viewer(), page)
    return schemas.AnnouncementList(
        items=[_announcement(row) for row in rows],
        page=page,
        next_page=page + 1 if has_next else None,
    )


@bp.route("/announcements/<int:announcement_id>")
@operation(READ, model="Announcement", tags=TAGS, guests=True)
def get_announcement(announcement_id: int) -> Any:
    """Show one announcement"""
    return _by_id(announcement_id)


@bp.route("/announcements", methods=["POST"])
@operation(MODERATE, ok=201, model="Announcement", json="NewAnnouncement", tags=TAGS)
def create_announcement() -> Any:
    """Post an announcement

    Site-wide (the sysop) or in a SIG (its sysops), shown in the banner from `starts_at` until
    `ends_at`. One that starts later waits as "scheduled"; it is published (what hears of new
    announcements is told) at its start. An end before the start, or in the past, is refused
    (400, the field named)."""
    body = _context().json
    sig_id = permissions.get_sig_for(_viewer(), body.sig).id if body.sig else None
    made = announcement_services.publish_announcement(
        _viewer(), sig_id, body.title, body.body, body.starts_at, body.ends_at
    )
    return _by_id(made.id), 201


@bp.route("/announcements/<int:announcement_id>/end", methods=["POST"])
@operation(MODERATE, model="Announcement", tags=TAGS)
def end_announcement(announcement_id: int) -> Any:
    """End an announcement now

    It leaves the banner at once and stays listed as ended; a scheduled one never shows. Who
    may remove it may end it. Ending one that has ended changes nothing."""
    announcement_services.end_announcement(_viewer(), announcement_id)
    return _by_id(announcement_id)
