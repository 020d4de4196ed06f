"""Announcement verbs: publish, delete, and dismiss the banner."""

from __future__ import annotations

from flask import current_app

from .. import content, events, permissions
from ..accounts.services import resolve_usernames
from ..db import on_commit, transaction, upsert
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


def _target(actor: Actor, sig_id: int | None) -> Sig | None:
    if sig_id is None:
        return None
    return permissions.get_sig_by_id_for(actor, sig_id)


def publish_announcement(actor: Actor, sig_id: int | None, title: str, body: str) -> Announcement:
    """Post an announcement site-wide (sig_id None: the global sysop) or in one SIG."""
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
    # The title and the body are checked apart, and every refusal said at once.
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
            created_at=utcnow(),
        )
        session.add(announcement)
        session.flush()
        on_commit(queries.forget_newest)  # the banner shows it at once
        events.publish(
            events.AnnouncementPublished(
                announcement_id=announcement.id, sig_id=announcement.sig_id, author_id=actor.id
            )
        )
    return announcement


def get_announcement_for(actor: Actor, announcement_id: int) -> Announcement:
    """Load an announcement the actor may read (NotFound otherwise)."""
    announcement = db.session.get(Announcement, announcement_id) if announcement_id > 0 else None
    if announcement is None:
        raise NotFound(_l("No such announcement."))
    if announcement.sig_id is not None:
        sig = db.session.get(Sig, announcement.sig_id)
        # The same answer as for a missing one, whether its SIG is hidden or only closed.
        if sig is None or not permissions.can_read_sig(actor, sig):
            raise NotFound(_l("No such announcement."))
    return announcement


def delete_announcement(actor: Actor, announcement_id: int) -> None:
    """Remove an announcement (who may post it may remove it)."""
    announcement = get_announcement_for(actor, announcement_id)
    sig = _target(actor, announcement.sig_id)
    if not permissions.can_announce(actor, sig):
        raise Forbidden(_l("You may not remove this announcement."))
    with transaction() as session:
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
