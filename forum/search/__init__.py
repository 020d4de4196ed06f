"""Full-text search with the reader's rights: PostgreSQL full-text search written with each post,
or a Whoosh index kept current after commit."""

from __future__ import annotations

import weakref

from flask import Blueprint, Flask

bp = Blueprint("search", __name__)


def init_app(app: Flask) -> None:
    from . import commands, handlers, indexer, views  # noqa: F401  (routes and commands register)

    app.register_blueprint(bp)
    handlers.init_app(app)
    backend = indexer.get_backend(app)
    # Close the index files when the app goes away (tests build many apps) or at exit.
    weakref.finalize(app, backend.close)
    if app.config.get("SEARCH_SYNC_ON_START"):
        indexer.startup(app)
