"""The JSON API (/api/v1) over the same services and permission policy as the pages, with its
OpenAPI document; personal access tokens for it (/settings/tokens)."""

from __future__ import annotations

from flask import Blueprint, Flask

from .. import events, hooks
from ..extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# The token pages of the member's settings.
tokens_bp = Blueprint("api_tokens", __name__)


def init_app(app: Flask) -> None:
    # The blueprints' hooks, error handlers and routes register on import, once.
    from . import (  # noqa: F401
        announcements,
        auth,
        care,
        mail,
        me,
        pages,
        plumbing,
        queries,
        services,
        views,
    )

    # Writes on a session cookie still need the page's CSRF token: forum.api.auth checks it
    # itself, since a request with a token needs none.
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(tokens_bp)
    hooks.settings_sections.add(app, "api/_settings.html")
    hooks.account_data.add(app, "api_tokens", queries.account_tokens)
    hooks.request_member.add(app, bp.name, auth.member)
    events.subscribe(app, events.AccountDeleted, services.forget_member, phase="in_transaction")
