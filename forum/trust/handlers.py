"""A new account that reads a topic to its end may have earned "basic": look at once."""

from __future__ import annotations

from flask import Flask

from .. import events
from . import services


def review_reader(event: events.TopicsRead) -> None:
    services.review_new_member(event.user_id)


def init_app(app: Flask) -> None:
    events.subscribe(app, events.TopicsRead, review_reader)
