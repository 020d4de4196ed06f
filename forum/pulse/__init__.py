"""Community pulse: the sysops' dashboard, answered topics in support SIGs, visit records."""

from flask import Blueprint, Flask

from .. import hooks

bp = Blueprint("pulse", __name__)


def init_app(app: Flask) -> None:
    from . import (
        models,  # noqa: F401  (tables register on the metadata)
        views,  # noqa: F401  (routes register on bp)
        visits,
    )

    app.register_blueprint(bp)
    visits.init_app(app)
    hooks.topic_page.add(app, views.topic_page_extras)
    hooks.header_items.add(app, views.header_item)
