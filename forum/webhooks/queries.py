"""What the webhook pages show, in a fixed number of queries, filtered by the policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .. import permissions
from ..accounts.models import User
from ..extensions import db
from ..permissions import Actor
from ..sigs.models import Sig
from .models import Webhook, WebhookAttempt, WebhookDelivery

# Deliveries a webhook's page lists, newest first.
LOG_SIZE = 50


@dataclass(frozen=True)
class Row:
    hook: Webhook
    sig: Sig | None
    owner: str | None


def _rows(where: object) -> list[Row]:
    found = db.session.execute(
        select(Webhook, Sig, User.username)
        .outerjoin(Sig, Sig.id == Webhook.sig_id)
        .outerjoin(User, User.id == Webhook.created_by_id)
        .where(where)  # type: ignore[arg-type]
        .order_by(Sig.name.is_not(None), Sig.name, Webhook.id)
    ).all()
    return [Row(hook, sig, owner) for hook, sig, owner in found]


def managed(user: Actor) -> list[Row]:
    """Every webhook this member manages (the overview at /mod/webhooks)."""
    return _rows(permissions.webhooks_clause(Webhook.sig_id, user))


def moderated_sigs(user: Actor) -> list[Sig]:
    """The SIGs whose webhooks this member manages (links from the overview)."""
    ids = permissions.moderated_sig_ids(user)
    query = select(Sig).order_by(Sig.name)
    if ids is not None:
        query = query.where(Sig.id.in_(sorted(ids)))
    return list(db.session.scalars(query))


def of_sig(sig: Sig) -> list[Row]:
    return _rows(Webhook.sig_id == sig.id)


def of_site() -> list[Row]:
    return _rows(Webhook.sig_id.is_(None))


@dataclass(frozen=True)
class Log:
    deliveries: list[WebhookDelivery]
    attempts: dict[int, list[WebhookAttempt]]


def delivery_log(hook: Webhook) -> Log:
    """The webhook's newest deliveries and each one's attempts: two queries."""
    deliveries = list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(LOG_SIZE)
        )
    )
    attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for a in db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(attempts)))
            .order_by(WebhookAttempt.id)
        ):
            attempts[a.delivery_id].append(a)
    return Log(deliveries, attempts)
