"""Record that a member visited today: at most one write per member per day.

Each process remembers the last UTC day it recorded for each member, so a request writes only the
first time a member shows up on a given day (and once more per day after a restart, which the
upsert turns into a no-op). Only a page a member actually got counts (a successful GET): a
refused request or a form post changes nothing else besides. Logging in counts as a visit too, so
the write usually happens in the login's own request. Guests never write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from threading import Lock

from flask import Flask, Response, request
from flask_login import current_user, user_logged_in

from ..db import transaction, upsert
from ..hooks import AppSlot
from ..timeutil import utcnow
from ..web import unless_read_only
from .models import MemberVisit

log = logging.getLogger(__name__)

_VISITS: AppSlot[VisitLog] = AppSlot("forum.pulse.visits")
# The login receiver, kept alive by the app (signals hold it weakly).
_ON_LOGIN: AppSlot[Callable[..., None]] = AppSlot("forum.pulse.on_login")
_MAX_REMEMBERED = 100_000


class VisitLog:
    """The per-process memory of who was recorded on which day."""

    def __init__(self) -> None:
        self._days: dict[int, date] = {}
        self._lock = Lock()

    def needs_record(self, user_id: int, day: date) -> bool:
        with self._lock:
            return self._days.get(user_id) != day

    def remember(self, user_id: int, day: date) -> None:
        with self._lock:
            if len(self._days) >= _MAX_REMEMBERED:
                self._days.clear()
            self._days[user_id] = day


def record_visit(visits: VisitLog, user_id: int) -> bool:
    """Upsert today's visit row for this member unless this process did so already today."""
    now = utcnow()
    today = now.date()
    if not visits.needs_record(user_id, today):
        return False
    with transaction():
        upsert(
            MemberVisit,
            {"user_id": user_id, "day": today, "first_seen_at": now},
            index_elements=["user_id", "day"],
        )
    visits.remember(user_id, today)
    return True


def init_app(app: Flask) -> None:
    visits = _VISITS.setdefault(app, VisitLog)

    def on_login(sender: Flask, user: object, **_: object) -> None:
        record_visit(visits, user.id)  # type: ignore[attr-defined]

    # A weak connection, kept alive by the app itself: receivers go when their app goes.
    _ON_LOGIN.set(app, on_login)
    user_logged_in.connect(on_login, sender=app)

    @app.after_request
    def note_visit(response: Response) -> Response:
        user = current_user
        if (
            request.method != "GET"
            or not 200 <= response.status_code < 300
            or request.endpoint == "static"
            or not getattr(user, "is_authenticated", False)
        ):
            return response
        try:
            unless_read_only(lambda: record_visit(visits, user.id), "the visit")
        except Exception:  # a statistic must never break a page
            log.exception("could not record the visit of member %s", user.id)
            if app.config.get("EVENTS_RAISE"):
                raise
        return response
