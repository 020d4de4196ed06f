"""Subscribers: what a SIG's sysops do through the SIG's own verbs (forum.sigs, which never
imports moderation) goes into the moderation log, in the verb's transaction."""

from __future__ import annotations

from flask import Flask

from .. import events
from ..accounts.models import User
from ..extensions import db
from ..sigs.models import SigInvite
from .common import log_action


def _invite_details(invite_id: int) -> str:
    """How the log tells invite links apart: the token's first characters, its limits."""
    invite = db.session.get(SigInvite, invite_id)
    if invite is None:
        return ""
    parts = [f"{invite.prefix}…"]
    if invite.expires_at is not None:
        parts.append(f"until {invite.expires_at:%Y-%m-%d %H:%M} UTC")
    if invite.max_uses is not None:
        parts.append(f"{invite.uses}/{invite.max_uses} uses")
    else:
        parts.append(f"{invite.uses} uses")
    return ", ".join(parts)


def _invite_params(invite_id: int) -> dict | None:
    """The same as data, said in the reader's language and zone by the log."""
    invite = db.session.get(SigInvite, invite_id)
    if invite is None:
        return None
    return {
        "prefix": invite.prefix,
        "until": invite.expires_at.isoformat() if invite.expires_at is not None else None,
        "uses": invite.uses,
        "max_uses": invite.max_uses,
    }


def on_sig_invite_created(event: events.SigInviteCreated) -> None:
    actor = db.session.get(User, event.actor_id)
    log_action(
        actor,
        "create_sig_invite",
        sig_id=event.sig_id,
        details=_invite_details(event.invite_id),
        params=_invite_params(event.invite_id),
    )


def on_sig_invite_revoked(event: events.SigInviteRevoked) -> None:
    actor = db.session.get(User, event.actor_id)
    log_action(
        actor,
        "revoke_sig_invite",
        sig_id=event.sig_id,
        details=_invite_details(event.invite_id),
        params=_invite_params(event.invite_id),
    )


def init_app(app: Flask) -> None:
    sub = events.subscribe
    sub(app, events.SigInviteCreated, on_sig_invite_created, phase="in_transaction")
    sub(app, events.SigInviteRevoked, on_sig_invite_revoked, phase="in_transaction")
