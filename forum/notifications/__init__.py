"""Notifications: rows written with the post that causes them, the center, watch levels."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, url_for

bp = Blueprint("notifications", __name__)


def header_item(viewer: Any) -> dict[str, Any] | None:
    """The header's unread badge, server-rendered on every page (one indexed count)."""
    if viewer is None:
        return None
    from .queries import unread_count

    count = unread_count(viewer.id)
    return {
        "url": url_for("notifications.index"),
        "label": "Notifications",
        "count": count,
        "css": "notifications-link",
        "id": "notifications-link",
    }


def tracked_item(viewer: Any) -> dict[str, Any] | None:
    """The header's count of tracked topics with unread posts (levels watching and tracking)."""
    if viewer is None:
        return None
    from .queries import tracked_unread_count

    return {
        "url": url_for("topics.unread", filter="tracked"),
        "label": "Tracked",
        "count": tracked_unread_count(viewer.id),
        "css": "tracked-link",
        "id": "tracked-link",
    }


def _tracked_filter(viewer: Any) -> Any:
    from .queries import tracked_topics_clause

    return tracked_topics_clause(viewer)


def init_app(app: Flask) -> None:
    from . import handlers, views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    handlers.init_app(app)
    app.extensions.setdefault("forum.header_items", []).extend([tracked_item, header_item])
    # /new?filter=tracked: the topics behind the "Tracked" count.
    app.extensions.setdefault("forum.new_filters", {})["tracked"] = _tracked_filter
    app.extensions.setdefault("forum.settings_sections", []).append("notifications/_settings.html")
    views.init_templates(app)
