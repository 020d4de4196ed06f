"""Moderation: flags and the queue, topic tools, member discipline, notes, the approval queue,
the word filter and the moderation log."""

from typing import Any

from flask import Blueprint, Flask

from .. import hooks
from ..i18n import gettext as _

bp = Blueprint("moderation", __name__)


def init_app(app: Flask) -> None:
    from . import handlers, views  # noqa: F401  (routes register on bp)
    from .models import FLAG_REASONS, action_label
    from .screening import screen_post

    app.register_blueprint(bp)
    handlers.init_app(app)
    app.jinja_env.globals.update(mod_action_label=action_label, flag_reasons=FLAG_REASONS)
    hooks.screen_post.provide(app, screen_post)
    hooks.header_items.add(app, _queue_item)
    hooks.settings_sections.add(app, "moderation/_settings_standing.html")

    @app.context_processor
    def standing() -> dict[str, Any]:
        from .queries import my_standing

        return {"my_standing": my_standing}


def _queue_item(viewer: Any) -> dict[str, Any] | None:
    from .. import permissions
    from ..web import fixed_url
    from .queries import queue_size

    if not permissions.can_moderate_anything(viewer):
        return None
    return {
        "url": fixed_url("moderation.queue"),
        "label": _("Mod queue"),
        "count": queue_size(viewer),
        "css": "mod-queue",
        "id": "mod-queue-link",
        "alert": True,
    }
