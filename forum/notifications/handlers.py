"""Subscribers: turn other features' events into notification rows, in the same transaction."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .. import events
from ..extensions import db
from ..topics.models import Topic
from . import services


def on_post_created(event: events.PostCreated) -> None:
    watchers = None
    if event.visible:
        # The topic's watchers, read once: whom the post notifies, and whether its author has
        # a level for the topic already (a statement less a reply, issue 17's ninth session).
        topic = db.session.get(Topic, event.topic_id)
        if topic is not None:
            watchers = services.topic_watchers(topic)
        services.notify_post(event.post_id, new=True, watchers=watchers)
    services.watch_after_posting(event.author_id, event.topic_id, watchers)


def on_post_visibility_changed(event: events.PostVisibilityChanged) -> None:
    if event.change == "approved":
        # A post that waited for approval notifies nobody until now.
        services.notify_post(event.post_id)
    elif event.change in ("hidden", "deleted"):
        services.notify_post_outcome(event.post_id, event.actor_id, event.change)


def on_join_requested(event: events.JoinRequested) -> None:
    services.notify_join_request(event.request_id, event.sig_id, event.user_id)


def on_join_request_decided(event: events.JoinRequestDecided) -> None:
    services.notify_join_decided(
        event.request_id, event.sig_id, event.user_id, event.approved, event.actor_id
    )


def on_flags_resolved(event: Any) -> None:
    services.notify_flaggers(
        event.post_id, event.sig_id, event.flagger_ids, event.outcome, event.actor_id
    )


def on_member_disciplined(event: Any) -> None:
    services.notify_discipline(
        event.user_id, event.kind, event.actor_id, event.sig_id, event.reason
    )


def on_private_message_sent(event: events.PrivateMessageSent) -> None:
    services.notify_private_message(
        event.message_id, event.conversation_id, event.author_id, event.recipient_ids
    )


def on_mail_read(event: events.MailRead) -> None:
    if event.conversation_id is not None:
        services.read_private_message_notifications(event.user_id, event.conversation_id)


def on_message_report_resolved(event: events.MessageReportResolved) -> None:
    services.notify_reporters(event.message_id, event.reporter_ids, event.outcome, event.actor_id)


def on_notifications_created(event: events.NotificationsCreated) -> None:
    """Queue the mail of what members want mailed at once (after commit: a job never mails a
    notification that was rolled back)."""
    from . import mail

    mail.queue_mail(event.notification_ids)


def on_reaction_changed(event: events.ReactionChanged) -> None:
    services.notify_reaction(event.post_id, event.user_id, event.emoji, event.previous)


def on_bookmark_reminder_due(event: events.BookmarkReminderDue) -> None:
    services.notify_bookmark_reminder(event.user_id, event.post_id)


def on_account_decided(event: events.AccountDecided) -> None:
    services.notify_account_decided(event.user_id, event.approved, event.actor_id)


def on_webhook_disabled(event: events.WebhookDisabled) -> None:
    services.notify_webhook_disabled(event.webhook_id, event.sig_id, event.owner_id, event.failures)


def on_concern_opened(event: events.ConcernOpened) -> None:
    services.notify_concern(
        event.sysop_ids, "opened", event.concern_id, event.sig_id, actor_id=event.member_id
    )


def on_concern_message_added(event: events.ConcernMessageAdded) -> None:
    concern = _concern(event.concern_id)
    if concern is None:
        return
    if event.from_sysops:
        services.notify_concern(event.recipient_ids, "answered", concern.id, concern.sig_id)
    else:
        services.notify_concern(
            event.recipient_ids,
            "member_replied",
            concern.id,
            concern.sig_id,
            actor_id=event.author_id,
        )


def on_concern_changed(event: events.ConcernChanged) -> None:
    concern = _concern(event.concern_id)
    if concern is not None and event.change == "resolved":
        services.notify_concern(event.recipient_ids, "resolved", concern.id, concern.sig_id)


def on_concern_overdue(event: events.ConcernOverdue) -> None:
    what = "escalated" if event.escalated else "overdue"
    services.notify_concern(event.recipient_ids, what, event.concern_id, event.sig_id)


def on_sysop_paged(event: events.SysopPaged) -> None:
    services.notify_page(event.sysop_ids, event.page_id, event.sig_id, event.member_id)


def on_page_answered(event: events.PageAnswered) -> None:
    services.settle_page(event.page_id, event.member_id, event.concern_id, event.taken_by_id)
    if event.taken_by_id is None:
        concern = _concern(event.concern_id)
        if concern is not None:
            services.notify_concern([event.member_id], "page_missed", concern.id, concern.sig_id)


def _concern(concern_id: int) -> Any:
    from ..care.models import Concern

    return db.session.get(Concern, concern_id)


def on_account_deleted(event: events.AccountDeleted) -> None:
    services.forget_member_in_tx(event.user_id)


def init_app(app: Flask) -> None:
    sub = events.subscribe
    sub(app, events.AccountDeleted, on_account_deleted, phase="in_transaction")
    sub(app, events.NotificationsCreated, on_notifications_created, phase="after_commit")
    sub(app, events.PostCreated, on_post_created, phase="in_transaction")
    sub(app, events.PostVisibilityChanged, on_post_visibility_changed, phase="in_transaction")
    sub(app, events.JoinRequested, on_join_requested, phase="in_transaction")
    sub(app, events.JoinRequestDecided, on_join_request_decided, phase="in_transaction")
    sub(app, events.PrivateMessageSent, on_private_message_sent, phase="in_transaction")
    sub(app, events.MailRead, on_mail_read, phase="in_transaction")
    sub(app, events.MessageReportResolved, on_message_report_resolved, phase="in_transaction")
    sub(app, events.AccountDecided, on_account_decided, phase="in_transaction")
    sub(app, events.WebhookDisabled, on_webhook_disabled, phase="in_transaction")
    sub(app, events.ReactionChanged, on_reaction_changed, phase="in_transaction")
    sub(app, events.BookmarkReminderDue, on_bookmark_reminder_due, phase="in_transaction")
    sub(app, events.ConcernOpened, on_concern_opened, phase="in_transaction")
    sub(app, events.ConcernMessageAdded, on_concern_message_added, phase="in_transaction")
    sub(app, events.ConcernChanged, on_concern_changed, phase="in_transaction")
    sub(app, events.ConcernOverdue, on_concern_overdue, phase="in_transaction")
    sub(app, events.SysopPaged, on_sysop_paged, phase="in_transaction")
    sub(app, events.PageAnswered, on_page_answered, phase="in_transaction")
    # Moderation's events, when that feature is installed.
    for name, fn in (
        ("FlagsResolved", on_flags_resolved),
        ("MemberDisciplined", on_member_disciplined),
    ):
        event_type = getattr(events, name, None)
        if event_type is not None:
            sub(app, event_type, fn, phase="in_transaction")
