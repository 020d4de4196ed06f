"""The files' subscribers: a post written or edited claims the uploads its text shows (in the
post's transaction, so a post and its files commit together)."""

from __future__ import annotations

from flask import Flask

from .. import events
from . import services


def _post_written(event: events.PostCreated | events.PostEdited) -> None:
    services.claim_for_post(event.post_id, new=isinstance(event, events.PostCreated))


def _account_deleted(event: events.AccountDeleted) -> None:
    services.forget_member_in_tx(event.user_id)


def init_app(app: Flask) -> None:
    events.subscribe(app, events.AccountDeleted, _account_deleted, phase="in_transaction")
    events.subscribe(app, events.PostCreated, _post_written, phase="in_transaction")
    events.subscribe(app, events.PostEdited, _post_written, phase="in_transaction")
