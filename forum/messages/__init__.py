"""Private mail: conversations between members, the mailbox and its unread badge, ignoring
members, reporting a message to the sysop."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from .. import hooks
from ..i18n import gettext as _

bp = Blueprint("messages", __name__)


def header_item(viewer: Any) -> dict[str, Any] | None:
    """The header's "Mail (n)": conversations with unread messages, on every member's page."""
    if viewer is None:
        return None
    from ..web import fixed_url, header_counts

    return {
        "url": fixed_url("messages.mailbox"),
        "label": _("Mail"),
        "count": header_counts(viewer.id)["mail"],
        "css": "mail-link",
        "id": "mail-link",
        "alert": True,
    }


def init_app(app: Flask) -> None:
    from .. import events
    from . import queries, services, views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    hooks.header_items.add(app, header_item)
    hooks.header_counts.add(app, "mail", queries.unread_count_column)
    hooks.settings_sections.add(app, "messages/_settings.html")
    hooks.profile_sections.add(app, "messages/_profile.html")
    hooks.account_data.add(app, "conversations", queries.account_conversations)
    hooks.account_data.add(app, "private_messages", queries.account_messages)
    events.subscribe(app, events.AccountDeleted, services.forget_member, phase="in_transaction")
    views.init_templates(app)
