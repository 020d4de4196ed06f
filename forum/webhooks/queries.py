"""What the webhook pages show, in a fixed number of queries, filtered by the policy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from .. import permissions
from ..accounts.models import User
from ..extensions import db
from ..i18n import gettext
from ..permissions import Actor
from ..sigs.models import Sig
from .models import Webhook, WebhookAttempt, WebhookDelivery
from .services import ENDED_REASONS, refusal_text

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

    def error(self, attempt: WebhookAttempt) -> str | None:
        """What went wrong with the attempt, said in the reader's language."""
        return said_error(attempt.error)

    def ended(self, delivery: WebhookDelivery) -> str | None:
        """Why a failed delivery was never sent (the webhook was off, its secret unreadable),
        in the reader's language; None when its attempts say it (the stored error is the last
        attempt's own). A delivery that ended before those reasons were codes kept a sentence,
        in the language of the job that wrote it ("The webhook is disabled."): that is said as
        stored, plain text (the page escapes it), so the sysop still sees why."""
        stored = delivery.last_error
        if not stored:
            return None
        reason = ENDED_REASONS.get(stored)
        if reason is not None:
            return str(reason)
        tried = self.attempts.get(delivery.id) or []
        if tried and tried[-1].error == stored:
            return None
        return stored


# An attempt's error as the delivery stored it (forum.webhooks.targets.post): "refused: <code>"
# or "refused: <code>: <detail>" for an address the forum would not call, where an address's
# detail is "<address> (<problem code>)"; otherwise the connection's technical words.
_REFUSED = "refused: "


def said_error(error: str | None) -> str | None:
    """An attempt's stored error in the reader's language: a refusal's code said as the form
    says it (with the address, the scheme or the lookup's words as its detail); a connection's
    failure as "no answer" with its technical words (the system's, as stored). None: none."""
    if not error:
        return None
    if error.startswith(_REFUSED):
        code, _sep, detail = error[len(_REFUSED) :].partition(": ")
        reason = refusal_text(code)
        if reason is not None:
            if code == "address" and detail.endswith(")") and " (" in detail:
                detail = detail.rsplit(" (", 1)[0]  # the sentence says which networks
            if not detail:
                return reason
            return gettext("%(reason)s Details: %(detail)s", reason=reason, detail=detail)
    return gettext("no answer: %(detail)s", detail=error)


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
