"""Member care: a sysop inbox per SIG (and the site's), concerns with a lifecycle and
deadlines, sysops on duty and "page the sysop"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, url_for

from .. import hooks

bp = Blueprint("care", __name__)


def _concern_url(viewer: Any, conversation_id: int) -> str | None:
    """/mail/c/<id> of a concern's conversation: its care page, for whoever may read it."""
    from .queries import concern_id_of

    concern_id = concern_id_of(viewer, conversation_id)
    return url_for("care.concern", concern_id=concern_id) if concern_id else None


def init_app(app: Flask) -> None:
    from . import handlers, mail, queries, views  # noqa: F401  (routes and jobs register)

    app.register_blueprint(bp)
    handlers.init_app(app)
    hooks.sig_page_sections.add(app, "care/_sig.html")
    hooks.mod_queue_sections.add(app, "care/_mod.html")
    hooks.settings_sections.add(app, "care/_settings.html")
    hooks.topic_page.add(app, views.topic_page_extras)
    hooks.account_data.add(app, "concerns", queries.account_concerns)
    hooks.conversation_elsewhere.provide(app, _concern_url)
    views.init_templates(app)
