"""SIGs: special interest groups with their members, sysops and visibility."""

from flask import Blueprint, Flask

bp = Blueprint("sigs", __name__)


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
