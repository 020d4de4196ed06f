"""Trust levels: new, basic, member, regular (Discourse's model, our thresholds in the site
settings). The review raises members; forum.permissions applies what each level may do."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request
from flask_login import current_user

from .. import hooks
from ..hooks import AppSlot
from .reading import ReadingClock

bp = Blueprint("trust", __name__)

_CLOCK: AppSlot[ReadingClock] = AppSlot("forum.trust.reading_clock")


def reading_clock(app: Flask | None = None) -> ReadingClock:
    return _CLOCK.require(app)


def init_app(app: Flask) -> None:
    from . import handlers, views

    clock = _CLOCK.setdefault(app, ReadingClock)
    hooks.reading_time.provide(app, clock.take)

    @app.after_request
    def note_page(response: Response) -> Response:
        # A page a member got (as forum.pulse.visits counts them): memory only, no write.
        if (
            request.method == "GET"
            and 200 <= response.status_code < 300
            and request.endpoint != "static"
            and getattr(current_user, "is_authenticated", False)
        ):
            clock.tick(current_user.id)
        return response

    handlers.init_app(app)
    app.register_blueprint(bp)
    hooks.profile_sections.add(app, "trust/_profile.html")
    # The card on a member's name: their trust level, for sysops.
    hooks.member_card_sections.add(app, "trust/_card.html")
    views.init_templates(app)
