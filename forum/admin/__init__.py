"""The global sysop's console: members, SIGs, site settings and invites."""

from flask import Blueprint, Flask

from ..i18n import lazy_gettext as _l

bp = Blueprint("admin", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    from . import settings, views  # noqa: F401  (routes register on bp)

    settings.init_app(app)
    app.register_blueprint(bp)
    # Each registration mode by a short name, for sentences ("Registration is open").
    app.jinja_env.globals["registration_modes"] = {
        "open": _l("open"),
        "invite": _l("invite-only"),
        "closed": _l("closed"),
    }
    app.extensions["forum.registration_mode"] = lambda: settings.get("registration")
    app.extensions["forum.check_invite"] = _check_invite
    app.extensions["forum.consume_invite"] = _consume_invite


def _check_invite(code: str) -> None:
    from .services import check_invite

    check_invite(code)


def _consume_invite(code: str, user_id: int) -> None:
    from .services import consume_invite

    consume_invite(code, user_id)
