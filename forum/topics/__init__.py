"""Topics and posts: start, reply, quote, edit, delete, read state."""

from flask import Blueprint, Flask

bp = Blueprint("topics", __name__)


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
