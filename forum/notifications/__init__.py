"""Notifications: rows written with the post that causes them, the center, watch levels."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from .. import hooks
from ..i18n import gettext as _

bp = Blueprint("notifications", __name__)


def header_items(viewer: Any) -> list[dict[str, Any]] | None:
    """The header's "Tracked" count (topics I watch or track with unread posts) and unread
    notifications badge, server-rendered on every page: both counts in the header's one statement
    (web.header_counts)."""
    if viewer is None:
        return None
    from ..web import fixed_url, header_counts

    counts = header_counts(viewer.id)
    unread, tracked = counts["notifications"], counts["tracked"]
    return [
        {
            "url": fixed_url("topics.unread", filter="tracked"),
            "label": _("Tracked"),
            "count": tracked,
            "css": "tracked-link",
            "id": "tracked-link",
        },
        {
            "url": fixed_url("notifications.index"),
            "label": _("Notifications"),
            "count": unread,
            "css": "notifications-link",
            "id": "notifications-link",
            "alert": True,
        },
    ]


def read_posts_shown(viewer: Any, post_ids: tuple[int, ...]) -> None:
    """A topic page showed the member these posts: their notifications about them are read.
    The header's counts (read once a request, and needed by this page anyway) say whether the
    member has any unread: a member with none pays no statement; one with some, one UPDATE."""
    from ..web import header_count_changed, header_counts

    if not header_counts(viewer.id)["notifications"]:
        return
    from .services import read_post_notifications

    read = read_post_notifications(viewer.id, post_ids)
    if read:
        header_count_changed(viewer.id, "notifications", -read)


def _tracked_filter(viewer: Any) -> Any:
    from .queries import tracked_topics_clause

    return tracked_topics_clause(viewer)


def init_app(app: Flask) -> None:
    from . import handlers, queries, views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    handlers.init_app(app)
    hooks.header_items.add(app, header_items)
    hooks.header_counts.add(app, "notifications", queries.unread_notifications_count)
    hooks.header_counts.add(app, "tracked", queries.tracked_unread_count_column)
    # A topic page reads the notifications about the posts it shows.
    hooks.posts_shown.add(app, read_posts_shown)
    # /new?filter=tracked: the topics behind the "Tracked" count.
    hooks.new_filters.add(app, "tracked", _tracked_filter)
    hooks.settings_sections.add(app, "notifications/_settings.html")
    hooks.account_data.add(app, "watches", queries.account_watches)
    views.init_templates(app)
