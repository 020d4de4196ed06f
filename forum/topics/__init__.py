"""Topics and posts: start, reply, quote, edit, delete, read state."""

from flask import Blueprint, Flask

from .. import shortcodes

bp = Blueprint("topics", __name__)


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    # The composer names the emoji list's version in its address (templates/topics/_composer.html).
    app.jinja_env.globals["emoji_list_version"] = shortcodes.version
