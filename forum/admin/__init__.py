"""The global sysop's console: members, SIGs, site settings and invites."""

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("admin", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    from ..settings import REGISTRATION_MODES
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    # Each registration mode by its short name, for sentences ("Registration is open").
    app.jinja_env.globals["registration_modes"] = {
        k: c.short for k, c in REGISTRATION_MODES.items()
    }
    hooks.registration_mode.provide(app, _registration_mode)
    hooks.check_invite.provide(app, _check_invite)
    hooks.consume_invite.provide(app, _consume_invite)


def _registration_mode() -> str:
    from .. import settings

    return str(settings.get("registration"))


def _check_invite(code: str) -> None:
    from .services import check_invite

    check_invite(code)


def _consume_invite(code: str, user_id: int) -> None:
    from .services import consume_invite

    consume_invite(code, user_id)
