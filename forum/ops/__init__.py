"""Operations: health and readiness probes, request logs, proxy headers, backups, serving, and
giving freed memory back to the system."""

from flask import Blueprint, Flask

bp = Blueprint("ops", __name__)


def init_app(app: Flask) -> None:
    from . import cli, memory, proxy, requestlog, views  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)
    requestlog.init_app(app)
    proxy.init_app(app)
    cli.init_app(app)
    memory.init_app(app)
