"""Community pulse: the sysops' dashboard, answered topics in support SIGs, visit records."""

from flask import Blueprint, Flask
from sqlalchemy import ColumnElement

from .. import hooks
from ..sigs.models import Sig

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
    # A SIG's topic list: answered or not, as the dashboard counts it.
    hooks.sig_topic_filters.add(app, "answered", _answered)
    hooks.sig_topic_filters.add(app, "unanswered", _unanswered)


def _answered(sig: Sig) -> ColumnElement[bool]:
    from .queries import answered_in

    clause: ColumnElement[bool] = answered_in(sig)
    return clause


def _unanswered(sig: Sig) -> ColumnElement[bool]:
    return ~_answered(sig)
