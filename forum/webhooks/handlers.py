"""Subscribers: each event a webhook may ask for becomes deliveries, in the event's own
transaction (a delivery commits or rolls back with what it tells of, and its job is queued
once it commits)."""

from __future__ import annotations

from flask import Flask

from .. import events
from ..extensions import db
from ..moderation.models import Flag
from ..topics.models import Post
from . import services
from .models import POST_CREATED, TOPIC_CREATED


def on_topic_created(event: events.TopicCreated) -> None:
    # A topic waiting for approval is told of when it is approved (the policy refuses it now).
    services.fan_out_post(TOPIC_CREATED, event.post_id, event.sig_id)


def on_post_created(event: events.PostCreated) -> None:
    if event.visible:
        services.fan_out_post(POST_CREATED, event.post_id, event.sig_id)


def on_post_visibility_changed(event: events.PostVisibilityChanged) -> None:
    if event.change != "approved":
        return
    # A post that waited for approval is new to everyone else now.
    post = db.session.get(Post, event.post_id)
    if post is None:
        return
    if post.number == 1:
        services.fan_out_post(TOPIC_CREATED, event.post_id, event.sig_id)
    services.fan_out_post(POST_CREATED, event.post_id, event.sig_id)


def on_post_flagged(event: events.PostFlagged) -> None:
    flag = db.session.get(Flag, event.flag_id)
    if flag is not None:
        services.fan_out_flag(flag.id, flag.reason, event.post_id, event.sig_id)


def on_member_joined(event: events.MemberJoinedSig) -> None:
    services.fan_out_member(event.sig_id, event.user_id)


def on_concern_opened(event: events.ConcernOpened) -> None:
    services.fan_out_concern(event.concern_id)


def on_account_deleted(event: events.AccountDeleted) -> None:
    # Deliveries stored before the deletion name the member; a redelivery (or retry) resends
    # the stored payload, so it is rewritten as one built now would be (the member null).
    services.forget_member(event.user_id, event.post_ids)


def init_app(app: Flask) -> None:
    sub = events.subscribe
    sub(app, events.TopicCreated, on_topic_created, phase="in_transaction")
    sub(app, events.PostCreated, on_post_created, phase="in_transaction")
    sub(app, events.PostVisibilityChanged, on_post_visibility_changed, phase="in_transaction")
    sub(app, events.PostFlagged, on_post_flagged, phase="in_transaction")
    sub(app, events.MemberJoinedSig, on_member_joined, phase="in_transaction")
    sub(app, events.ConcernOpened, on_concern_opened, phase="in_transaction")
    sub(app, events.AccountDeleted, on_account_deleted, phase="in_transaction")
