"""Subscribers: a sysop who leaves a SIG, or is dismissed as its sysop, goes off duty there and
is no longer anyone's assignee there (in the same transaction), and so does a global sysop who
loses that role, wherever they no longer handle concerns; the site's sysops' answer to a
banned member is mailed to them (after commit)."""

from __future__ import annotations

from flask import Flask

from .. import events, jobs
from . import services


def on_member_left_sig(event: events.MemberLeftSig) -> None:
    services.drop_sysop(event.sig_id, event.user_id)


def on_sig_sysop_changed(event: events.SigSysopChanged) -> None:
    if not event.is_sysop:
        services.drop_sysop(event.sig_id, event.user_id)


def on_site_role_changed(event: events.SiteRoleChanged) -> None:
    if not event.is_sysop:
        services.drop_site_sysop(event.user_id)


def on_concern_message_added(event: events.ConcernMessageAdded) -> None:
    """A sysops' answer to a member banned site-wide goes to them by mail (after commit)."""
    from ..accounts.models import User
    from ..extensions import db
    from .mail import mail_answer_to_banned

    member = db.session.get(User, event.recipient_ids[0]) if event.recipient_ids else None
    if event.from_sysops and member is not None and member.is_banned:
        jobs.enqueue(mail_answer_to_banned, event.concern_id, event.message_id)


def init_app(app: Flask) -> None:
    sub = events.subscribe
    sub(app, events.MemberLeftSig, on_member_left_sig, phase="in_transaction")
    sub(app, events.SigSysopChanged, on_sig_sysop_changed, phase="in_transaction")
    sub(app, events.SiteRoleChanged, on_site_role_changed, phase="in_transaction")
    sub(app, events.ConcernMessageAdded, on_concern_message_added)
