"""A draft vanishes with the post it became, in the post's own transaction."""

from __future__ import annotations

from flask import Flask

from .. import events
from . import services


def discard_topic_draft(event: events.TopicCreated) -> None:
    services.discard_in_tx(event.author_id, services.topic_key(event.sig_id))


def discard_reply_draft(event: events.PostCreated) -> None:
    if not event.is_first:
        services.discard_in_tx(event.author_id, services.reply_key(event.topic_id))


def discard_edit_draft(event: events.PostEdited) -> None:
    services.discard_in_tx(event.editor_id, services.edit_key(event.post_id))


def forget_member(event: events.AccountDeleted) -> None:
    services.forget_member_in_tx(event.user_id)


def init_app(app: Flask) -> None:
    events.subscribe(app, events.AccountDeleted, forget_member, phase="in_transaction")
    events.subscribe(app, events.TopicCreated, discard_topic_draft, phase="in_transaction")
    events.subscribe(app, events.PostCreated, discard_reply_draft, phase="in_transaction")
    events.subscribe(app, events.PostEdited, discard_edit_draft, phase="in_transaction")
