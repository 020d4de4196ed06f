"""Webhook verbs (register, change, delete, new secret, ping, redeliver), the fan-out of events
to the webhooks that asked for them, and the delivery job.

What a webhook is told is decided by the permission policy (`permissions.can_deliver_webhook`
and the `webhook_may_carry_*` rules), asked when an event happens and again before every
attempt: a post hidden, or a SIG made private, between the event and the attempt withdraws the
delivery. Each delivery is a job (`deliver`) that tries once; a failure queues the next try
with a growing delay (WEBHOOK_RETRY_DELAY × WEBHOOK_RETRY_BACKOFF^n) until WEBHOOK_MAX_ATTEMPTS,
and each attempt is logged with its answer. After `webhook_failure_limit` failed attempts in a
row the webhook is disabled and `WebhookDisabled` tells its owner (notifications).

The signature: `X-Forum-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
(docs/webhooks.md shows how to check it). The secret is kept sealed (forum.sealed) and read only
through it: a secret that no longer opens (the site's secret key changed without the old one in
SECRET_KEY_FALLBACKS) sends nothing, with one log line per delivery, until a new one is made.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, delete, lambda_stmt, or_, select, update

from .. import content, events, jobs, permissions, sealed, settings
from ..accounts.former import is_former
from ..accounts.models import User
from ..care.models import Concern
from ..db import is_valid_id, read_columns, transaction
from ..errors import Invalid, NotFound, require_at_most
from ..extensions import db
from ..i18n import lazy_gettext as _l
from ..permissions import Actor
from ..sigs.models import Sig
from ..timeutil import utcnow
from ..topics.models import Post, Topic
from ..web import absolute_url_for, site_url
from . import targets
from .models import (
    CONCERN_OPENED,
    DELIVERED,
    EVENTS,
    FAILED,
    MEMBER_JOINED,
    PENDING,
    PING,
    POST_CREATED,
    POST_FLAGGED,
    TOPIC_CREATED,
    WITHDRAWN,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Forum-Signature"
EVENT_HEADER = "X-Forum-Event"
DELIVERY_HEADER = "X-Forum-Delivery"
# How many webhooks one SIG (or the site) may have.
MAX_PER_SCOPE = 20
# Why the forum refused an address, by targets.TargetRefused.reason.
_REFUSALS = {
    "url": _l("This is not a web address."),
    "scheme": _l("The address must start with https:// or http://."),
    "host": _l("The address needs a host name."),
    "credentials": _l("Leave the user name and password out of the address."),
    "fragment": _l("Leave the #fragment out of the address."),
    "resolve": _l("The host name could not be found."),
    "address": _l(
        "That address is on a private, loopback, link-local or metadata network; webhooks "
        "are only sent to public addresses."
    ),
}


def refusal_text(code: str) -> str | None:
    """Why an address is refused (targets.TargetRefused.reason), in the reader's language."""
    text = _REFUSALS.get(code)
    return str(text) if text is not None else None


# Why a delivery ended unsent (webhook_deliveries.last_error; an attempt's failure stores the
# connection's own words there): a code, said in the reader's language on the delivery log
# (queries.Log.ended), never a sentence in the language of the job that wrote it.
ENDED_DISABLED = "disabled"  # the webhook was off when its turn came
ENDED_SECRET_UNREADABLE = "secret_unreadable"  # the site's secret key changed
ENDED_REASONS = {
    ENDED_DISABLED: _l("not sent: the webhook was off"),
    ENDED_SECRET_UNREADABLE: _l("not sent: its secret could no longer be read"),
}

# Shown where a webhook's secret cannot be opened any more.
SECRET_UNREADABLE = _l(
    "This secret can no longer be read: the site's secret key changed. Make a new secret."
)


# --- signing ---------------------------------------------------------------------------------
def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def readable_secret(hook: Webhook) -> str | None:
    """The webhook's secret, opened (forum.sealed); None when the site's keys no longer open it."""
    try:
        return sealed.open(hook.sealed_secret)
    except sealed.Unreadable:
        return None


def _require_readable_secret(hook: Webhook) -> None:
    if readable_secret(hook) is None:
        raise Invalid("secret", SECRET_UNREADABLE)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for this body sent at this time."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check (docs/webhooks.md has the same lines to copy): a v1 signature that
    matches, made within `tolerance` seconds (so a captured request cannot be replayed later)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- loading through the policy ---------------------------------------------------------------
def _scope_sig(actor: Actor, sig_id: int | None) -> Sig | None:
    if sig_id is None:
        return None
    return permissions.get_sig_by_id_for(actor, sig_id)


def webhook_for(actor: Actor, webhook_id: int) -> tuple[Webhook, Sig | None]:
    """The webhook and its SIG (None: site-wide) for someone who may manage it."""
    hook = db.session.get(Webhook, webhook_id) if is_valid_id(webhook_id) else None
    if hook is None:
        raise NotFound(permissions.NO_SUCH_WEBHOOK)
    try:
        sig = _scope_sig(actor, hook.sig_id)
        permissions.require_manage_webhooks(actor, sig)
    except NotFound:  # a private SIG's: the same answer as for a webhook that is not there
        raise NotFound(permissions.NO_SUCH_WEBHOOK) from None
    return hook, sig


def sig_for_webhooks(actor: Actor, slug: str | None) -> Sig | None:
    """The SIG whose webhooks the actor manages (None: the site's), checked."""
    sig = permissions.get_sig_for(actor, slug) if slug is not None else None
    permissions.require_manage_webhooks(actor, sig)
    return sig


def delivery_for(actor: Actor, delivery_id: int) -> tuple[WebhookDelivery, Webhook]:
    delivery = db.session.get(WebhookDelivery, delivery_id) if is_valid_id(delivery_id) else None
    if delivery is None:
        raise NotFound(_l("No such delivery."))
    hook, _sig = webhook_for(actor, delivery.webhook_id)
    return delivery, hook


# --- the verbs ---------------------------------------------------------------------------------
def _allow_private() -> bool:
    return bool(settings.get_int("webhook_private_targets"))


def check_url(url: str) -> str:
    """The address as stored, or Invalid("url", …): its form, and every address its host
    resolves to now (checked again before every delivery)."""
    url = (url or "").strip()
    if not url:
        raise Invalid("url", _l("Enter the address to send the events to."))
    require_at_most("url", url, 2000, "address")
    try:
        targets.checked_addresses(targets.parse(url), _allow_private())
    except targets.TargetRefused as exc:
        raise Invalid("url", _REFUSALS.get(exc.reason, _REFUSALS["url"])) from None
    return url


def _check_events(chosen: list[str]) -> str:
    wanted = [e for e in EVENTS if e in set(chosen or [])]
    if not wanted or len(wanted) != len(set(chosen)):
        raise Invalid("events", _l("Choose at least one event."))
    return " ".join(wanted)


def _check_description(description: str) -> str:
    text = " ".join(content.clean_text(description or "").split())
    require_at_most("description", text, 200, "description")
    return text


def create_webhook(
    actor: Actor, sig_id: int | None, url: str, chosen: list[str], description: str = ""
) -> Webhook:
    sig = _scope_sig(actor, sig_id)
    permissions.require_manage_webhooks(actor, sig)
    assert actor is not None
    hook = Webhook(
        sig_id=sig.id if sig is not None else None,
        created_by_id=actor.id,
        url=check_url(url),
        events=_check_events(chosen),
        description=_check_description(description),
        sealed_secret=sealed.seal(new_secret()),
    )
    with transaction() as session:
        scope = Webhook.sig_id == sig.id if sig is not None else Webhook.sig_id.is_(None)
        if len(session.scalars(select(Webhook.id).where(scope)).all()) >= MAX_PER_SCOPE:
            raise Invalid(
                "url", _l("There are %(count)s webhooks here already.", count=MAX_PER_SCOPE)
            )
        session.add(hook)
    return hook


def update_webhook(
    actor: Actor,
    webhook_id: int,
    url: str,
    chosen: list[str],
    description: str,
    active: bool,
) -> Webhook:
    """Change a webhook; turning a disabled one on again forgets its failures."""
    hook, _sig = webhook_for(actor, webhook_id)
    new_url = check_url(url)
    new_events = _check_events(chosen)
    new_description = _check_description(description)
    with transaction():
        hook.url = new_url
        hook.events = new_events
        hook.description = new_description
        if active and not hook.active:
            hook.failure_streak = 0
            hook.disabled_at = None
            hook.disabled_reason = None
        hook.active = active
    return hook


def delete_webhook(actor: Actor, webhook_id: int) -> None:
    hook, _sig = webhook_for(actor, webhook_id)
    with transaction() as session:
        session.delete(hook)


def rotate_secret(actor: Actor, webhook_id: int) -> Webhook:
    """A new secret, sealed with the site's current key (the way out of an unreadable one)."""
    hook, _sig = webhook_for(actor, webhook_id)
    with transaction():
        hook.sealed_secret = sealed.seal(new_secret())
    return hook


def reseal_secrets() -> tuple[int, int]:
    """Every webhook's secret sealed again with SECRET_KEY (`flask forum reseal-secrets`): after
    a move to a new key with the old one in SECRET_KEY_FALLBACKS, so the old key may then go.
    Returns how many were resealed, and how many no key opens (left as they are: their pages
    ask for a new secret)."""
    resealed = unreadable = 0
    with transaction() as session:
        for hook in session.scalars(select(Webhook).order_by(Webhook.id)):
            try:
                hook.sealed_secret = sealed.reseal(hook.sealed_secret)
            except sealed.Unreadable:
                unreadable += 1
            else:
                resealed += 1
    return resealed, unreadable


def ping(actor: Actor, webhook_id: int) -> WebhookDelivery:
    """Send the receiver a "ping" now, to try it (queued like any delivery)."""
    hook, _sig = webhook_for(actor, webhook_id)
    if not hook.active:
        raise Invalid("active", _l("Turn the webhook on first."))
    _require_readable_secret(hook)
    body = {"webhook": {"id": hook.id, "events": hook.event_list}}
    with transaction() as session:
        delivery = _add_delivery(session, hook, PING, str(uuid.uuid4()), body)
    return delivery


def redeliver(actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again by hand: a new delivery of the same event (the same payload and
    event id), tried at once and retried like any other."""
    old, hook = delivery_for(actor, delivery_id)
    if not hook.active:
        raise Invalid("active", _l("Turn the webhook on first."))
    _require_readable_secret(hook)
    with transaction() as session:
        delivery = WebhookDelivery(
            webhook_id=hook.id,
            event=old.event,
            event_id=old.event_id,
            post_id=old.post_id,
            member_id=old.member_id,
            payload=old.payload,
            redelivery_of_id=old.id,
        )
        session.add(delivery)
        session.flush()
        jobs.enqueue(deliver, delivery.id)
    return delivery


# --- payloads --------------------------------------------------------------------------------
def _iso(moment: Any) -> str:
    return str(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _sig_part(sig: Sig) -> dict[str, Any]:
    return {
        "id": sig.id,
        "slug": sig.slug,
        "name": sig.name,
        "visibility": sig.visibility,
        "url": absolute_url_for("sigs.show", slug=sig.slug),
    }


def _member_part(user: User | None) -> dict[str, Any] | None:
    """A member, or None for an account that is gone or was deleted by its member (as the
    JSON API, accounts.former.public): a deleted account's placeholder is never told."""
    if user is None or is_former(user.username):
        return None
    return {
        "id": user.id,
        "username": user.username,
        "url": absolute_url_for("accounts.profile", username=user.username),
    }


def _topic_part(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.id,
        "title": topic.title,
        "url": absolute_url_for("topics.show", topic_id=topic.id, slug=topic.slug),
        "created_at": _iso(topic.created_at),
    }


def _post_part(post: Post, author: User | None) -> dict[str, Any]:
    return {
        "id": post.id,
        "number": post.number,
        "url": absolute_url_for("topics.permalink", post_id=post.id),
        "author": _member_part(author),
        "created_at": _iso(post.created_at),
        "excerpt": content.excerpt(post.body_html, 300),
        "html": post.body_html,
    }


def _envelope(event: str, event_id: str, body: dict[str, Any]) -> str:
    document = {
        "id": event_id,
        "event": event,
        "created_at": _iso(utcnow()),
        "site": {"name": str(settings.get("site_name")), "url": site_url() + "/"},
        **body,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _add_delivery(
    session: Any,
    hook: Webhook,
    event: str,
    event_id: str,
    body: dict[str, Any],
    *,
    post_id: int | None = None,
    member_id: int | None = None,
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        webhook_id=hook.id,
        event=event,
        event_id=event_id,
        post_id=post_id,
        member_id=member_id,
        payload=_envelope(event, event_id, body),
    )
    session.add(delivery)
    session.flush()
    jobs.enqueue(deliver, delivery.id)  # once the transaction commits
    return delivery


def _hooks_for(event: str, sig_id: int | None) -> list[tuple[Webhook, User | None]]:
    """The active webhooks (of this SIG, and the site's) that asked for `event`, with their
    owners. Most forums have none: whether there is one is asked first, of columns, and the
    webhooks and their owners are loaded only then (asking the ORM for them when there were
    none cost every reply 0.1 ms of CPU on SQLite, 0.15 on PostgreSQL: 0.26 against 0.16 and
    0.41 against 0.26 ms; issue 17's ninth session)."""
    # The question, a lambda_stmt built once per process: every post asks it in its
    # transaction, and building it cost more CPU than running it: 0.05 ms against 0.14 built
    # each time, no webhooks (SQLite, thread CPU, 400 calls; eleventh session).
    asked = lambda_stmt(
        lambda: select(Webhook.id).where(*_hooks_asked()).limit(1), enable_tracking=False
    )
    if read_columns(asked, {"sig_id": sig_id, "event": event}).first() is None:
        return []
    rows = db.session.execute(
        select(Webhook, User)
        .outerjoin(User, User.id == Webhook.created_by_id)
        .where(*_hooks_asked())
        .order_by(Webhook.id),
        {"sig_id": sig_id, "event": event},
    ).all()
    return [(hook, owner) for hook, owner in rows if hook.wants(event)]


def _hooks_asked() -> tuple[Any, ...]:
    """Active, of this SIG (bound as sig_id) or the site's, asking for the event (event)."""
    return (
        Webhook.active.is_(True),
        or_(Webhook.sig_id == bindparam("sig_id"), Webhook.sig_id.is_(None)),
        Webhook.events.contains(bindparam("event")),
    )


def _post_context(post_id: int) -> tuple[Post, Topic, Sig, User | None] | None:
    row = db.session.execute(
        select(Post, Topic, Sig, User)
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(User, User.id == Post.user_id)
        .where(Post.id == post_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2], row[3])


def fan_out_post(event: str, post_id: int, sig_id: int) -> int:
    """In the event's transaction: a delivery for each webhook that asked for `event` and may
    be told of this post (topic.created, post.created). Returns how many."""
    hooks = _hooks_for(event, sig_id)
    if not hooks:
        return 0
    found = _post_context(post_id)
    if found is None:
        return 0
    post, topic, sig, author = found
    body: dict[str, Any] = {"sig": _sig_part(sig), "topic": _topic_part(topic)}
    body["post"] = _post_part(post, author)
    event_id = str(uuid.uuid4())
    count = 0
    session = db.session()
    for hook, owner in hooks:
        if permissions.webhook_may_carry_post(owner, hook.sig_id, post, topic, sig):
            _add_delivery(session, hook, event, event_id, body, post_id=post.id)
            count += 1
    return count


def fan_out_flag(flag_id: int, reason: str, post_id: int, sig_id: int) -> int:
    """post.flagged: the flag's reason (never who flagged it, nor their note), and the post as
    far as the webhook may be told of it."""
    hooks = _hooks_for(POST_FLAGGED, sig_id)
    if not hooks:
        return 0
    found = _post_context(post_id)
    if found is None:
        return 0
    post, topic, sig, author = found
    event_id = str(uuid.uuid4())
    count = 0
    session = db.session()
    for hook, owner in hooks:
        if not permissions.webhook_may_carry_flag(owner, hook.sig_id, sig):
            continue
        body: dict[str, Any] = {"sig": _sig_part(sig), "flag": {"id": flag_id, "reason": reason}}
        if permissions.webhook_may_carry_post(owner, hook.sig_id, post, topic, sig):
            body["topic"] = _topic_part(topic)
            body["post"] = _post_part(post, author)
        else:  # hidden by the flags already, or deleted: where to look, not what it said
            body["post"] = {
                "id": post.id,
                "url": absolute_url_for("topics.permalink", post_id=post.id),
            }
        _add_delivery(session, hook, POST_FLAGGED, event_id, body, post_id=post.id)
        count += 1
    return count


def fan_out_member(sig_id: int, user_id: int) -> int:
    """member.joined: who joined which SIG (their public name and profile)."""
    hooks = _hooks_for(MEMBER_JOINED, sig_id)
    if not hooks:
        return 0
    sig = db.session.get(Sig, sig_id)
    member = db.session.get(User, user_id)
    if sig is None or member is None:
        return 0
    event_id = str(uuid.uuid4())
    body = {"sig": _sig_part(sig), "member": _member_part(member)}
    count = 0
    session = db.session()
    for hook, owner in hooks:
        if permissions.webhook_may_carry_membership(owner, hook.sig_id, sig):
            _add_delivery(session, hook, MEMBER_JOINED, event_id, body, member_id=user_id)
            count += 1
    return count


def fan_out_concern(concern_id: int) -> int:
    """concern.opened: that a member wrote to a SIG's sysops (or the site's), as ids and a
    link to the concern's page, where the permission policy decides who reads it. Never its
    subject, words, nor who wrote it."""
    concern = db.session.get(Concern, concern_id)
    if concern is None:
        return 0
    hooks = _hooks_for(CONCERN_OPENED, concern.sig_id)
    if not hooks:
        return 0
    sig = db.session.get(Sig, concern.sig_id) if concern.sig_id is not None else None
    body: dict[str, Any] = {
        "sig": _sig_part(sig) if sig is not None else None,
        "concern": {
            "id": concern.id,
            "url": absolute_url_for("care.concern", concern_id=concern.id),
            "source": concern.source,
            "about_post_id": concern.post_id,
            "created_at": _iso(concern.created_at),
            "due_at": _iso(concern.due_at),
        },
    }
    event_id = str(uuid.uuid4())
    count = 0
    session = db.session()
    for hook, owner in hooks:
        if permissions.webhook_may_carry_concern(owner, hook.sig_id, concern):
            _add_delivery(session, hook, CONCERN_OPENED, event_id, body)
            count += 1
    return count


# --- a deleted account -----------------------------------------------------------------------
FORGET_BATCH = 500


def _names(part: Any, user_id: int) -> bool:
    return isinstance(part, dict) and part.get("id") == user_id


def _without_member(payload: str, user_id: int) -> str | None:
    """The payload with the member's parts (a post's `author`, member.joined's `member`) null,
    as `_member_part` gives them now; None when it does not name the member."""
    document = json.loads(payload)
    post = document.get("post")
    changed = False
    if isinstance(post, dict) and _names(post.get("author"), user_id):
        post["author"] = None
        changed = True
    if _names(document.get("member"), user_id):
        document["member"] = None
        changed = True
    if not changed:
        return None
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def forget_member(user_id: int, post_ids: tuple[int, ...]) -> int:
    """In the account deletion's transaction: the stored deliveries that name the member
    (about one of their posts, or their member.joined) are rewritten without them, so that a
    retry or redelivery sends no name nor profile link (it is signed when sent, over the
    payload as stored). Found through the indexed `post_id`/`member_id` columns, read
    `FORGET_BATCH` rows at a time. Returns how many were rewritten."""
    session = db.session()
    ids = sorted(set(post_ids))
    scopes = [WebhookDelivery.member_id == user_id] + [
        WebhookDelivery.post_id.in_(ids[start : start + FORGET_BATCH])
        for start in range(0, len(ids), FORGET_BATCH)
    ]
    count = 0
    for scope in scopes:
        after = 0
        while True:
            rows = session.execute(
                select(WebhookDelivery.id, WebhookDelivery.payload)
                .where(scope, WebhookDelivery.id > after)
                .order_by(WebhookDelivery.id)
                .limit(FORGET_BATCH)
            ).all()
            if not rows:
                break
            after = rows[-1].id
            changes = []
            for delivery_id, payload in rows:
                rewritten = _without_member(payload, user_id)
                if rewritten is not None:
                    changes.append({"id": delivery_id, "payload": rewritten})
            if changes:  # one UPDATE by primary key for the batch
                session.execute(update(WebhookDelivery), changes)
                count += len(changes)
    return count


# --- delivery ---------------------------------------------------------------------------------
def _still_tellable(delivery: WebhookDelivery, hook: Webhook, owner: User | None) -> bool:
    """Ask the policy again, now: may this webhook still be told what the delivery says?"""
    if delivery.event == PING:
        sig = db.session.get(Sig, hook.sig_id) if hook.sig_id is not None else None
        return permissions.can_manage_webhooks(owner, sig)
    if delivery.post_id is not None:
        found = _post_context(delivery.post_id)
        if found is None:
            return False
        post, topic, sig, _author = found
        if delivery.event == POST_FLAGGED:
            return permissions.webhook_may_carry_flag(owner, hook.sig_id, sig)
        return permissions.webhook_may_carry_post(owner, hook.sig_id, post, topic, sig)
    if delivery.event == CONCERN_OPENED:
        concern_id = (json.loads(delivery.payload).get("concern") or {}).get("id")
        concern = db.session.get(Concern, concern_id) if isinstance(concern_id, int) else None
        return concern is not None and permissions.webhook_may_carry_concern(
            owner, hook.sig_id, concern
        )
    if delivery.event == MEMBER_JOINED:
        sig_id = json.loads(delivery.payload).get("sig", {}).get("id")
        sig = db.session.get(Sig, sig_id) if isinstance(sig_id, int) else None
        return sig is not None and permissions.webhook_may_carry_membership(owner, hook.sig_id, sig)
    return False


def retry_delay(attempts: int) -> float:
    """Seconds before the next try, after `attempts` failed ones (1, 2, …)."""
    config = current_app.config
    base = float(config["WEBHOOK_RETRY_DELAY"])
    return base * float(config["WEBHOOK_RETRY_BACKOFF"]) ** max(0, attempts - 1)


@jobs.job(retries=0)
def deliver(delivery_id: int) -> None:
    """Try a delivery once (a job; retries queue themselves with their delay)."""
    attempt(delivery_id)


def attempt(delivery_id: int) -> str:
    """One attempt at a delivery; returns its state after it."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status != PENDING:
        return delivery.status if delivery is not None else "gone"
    hook = db.session.get(Webhook, delivery.webhook_id)
    if hook is None:
        return "gone"
    owner = db.session.get(User, hook.created_by_id) if hook.created_by_id else None
    if not hook.active:
        return _finish(delivery.id, FAILED, ENDED_DISABLED)
    permissions.forget_memberships(owner)
    if not _still_tellable(delivery, hook, owner):
        return _finish(delivery.id, WITHDRAWN, None)
    secret = readable_secret(hook)
    if secret is None:
        # Not the receiver's fault, and no retry mends it: one line, and the delivery ends.
        log.warning(
            "webhook %s: delivery %s not sent: its secret no longer opens with SECRET_KEY or "
            "SECRET_KEY_FALLBACKS (the site's secret key changed); make a new secret on its page",
            hook.id,
            delivery.id,
        )
        return _finish(delivery.id, FAILED, ENDED_SECRET_UNREADABLE)
    url, body = hook.url, delivery.payload.encode()
    headers = {
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.id),
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
    }
    db.session.commit()  # no read transaction held open while the receiver answers
    outcome = targets.post(
        url,
        body,
        headers,
        allow_private=_allow_private(),
        timeout=float(current_app.config["WEBHOOK_TIMEOUT"]),
    )
    return _record(delivery_id, outcome)


def _finish(delivery_id: int, status: str, error: str | None) -> str:
    with transaction():
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is not None:
            delivery.status = status
            delivery.finished_at = utcnow()
            delivery.next_attempt_at = None
            if error is not None:
                delivery.last_error = error
    return status


def _record(delivery_id: int, outcome: targets.Outcome) -> str:
    """Log the attempt; on failure queue the next one or give up; count the webhook's failures
    in a row and disable it at the limit."""
    config = current_app.config
    now = utcnow()
    with transaction() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            return "gone"
        hook = session.get(Webhook, delivery.webhook_id)
        if hook is None:
            return "gone"
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                attempted_at=now,
                status_code=outcome.status_code,
                error=outcome.error,
                response=outcome.response,
                duration_ms=outcome.duration_ms,
            )
        )
        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        hook.last_delivery_at = now
        if outcome.ok:
            delivery.status = DELIVERED
            delivery.finished_at = now
            delivery.next_attempt_at = None
            hook.failure_streak = 0
            return DELIVERED
        hook.failure_streak += 1
        limit = settings.get_int("webhook_failure_limit")
        if hook.active and limit and hook.failure_streak >= limit:
            hook.active = False
            hook.disabled_at = now
            hook.disabled_reason = "failures"
            events.publish(
                events.WebhookDisabled(
                    webhook_id=hook.id,
                    sig_id=hook.sig_id,
                    owner_id=hook.created_by_id,
                    failures=hook.failure_streak,
                )
            )
        if hook.active and delivery.attempts < int(config["WEBHOOK_MAX_ATTEMPTS"]):
            delay = retry_delay(delivery.attempts)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            jobs.enqueue(deliver, delivery.id, delay=delay)
            return PENDING
        delivery.status = FAILED
        delivery.finished_at = now
        delivery.next_attempt_at = None
        return FAILED


@jobs.periodic(jobs.crontab(minute="41", hour="3"))
def forget_old_deliveries() -> None:
    """Nightly: deliveries older than WEBHOOK_KEEP_DAYS go, with their attempts."""
    days = int(current_app.config["WEBHOOK_KEEP_DAYS"])
    with transaction() as session:
        session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.created_at < utcnow() - timedelta(days=days),
                WebhookDelivery.status != PENDING,
            )
        )


__all__ = [
    "EVENTS",
    "POST_CREATED",
    "TOPIC_CREATED",
    "attempt",
    "create_webhook",
    "deliver",
    "fan_out_flag",
    "fan_out_member",
    "fan_out_post",
]
