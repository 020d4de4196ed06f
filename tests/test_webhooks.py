"""Webhooks: registered by a SIG's sysops (or the global sysop for the site), delivered by the job
queue to a real HTTP receiver on loopback, signed, retried with a growing delay, logged,
redelivered by hand, disabled after failures in a row; what they carry follows the pages' rules;
addresses on private networks are refused unless the site allows them."""

from __future__ import annotations

import difflib
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from forum import permissions, settings
from forum.admin import services as admin
from forum.db import transaction
from forum.extensions import db
from forum.jobs import queue_of
from forum.moderation import services as moderation
from forum.notifications.models import Notification
from forum.sigs import services as sig_services
from forum.webhooks import services, targets
from forum.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery

from .factories import PASSWORD

BASE = "http://forum.example.org"
# The receiver listens on loopback: allowed here, as the site setting allows it.
LOOPBACK = {"BASE_URL": BASE, "WEBHOOK_ALLOW_PRIVATE_TARGETS": True}
pytestmark = pytest.mark.config(**LOOPBACK)


# --- a real receiver --------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A small HTTP server on loopback that records each POST and answers `status`."""

    server: ThreadingHTTPServer
    got: list[Received] = field(default_factory=list)
    status: int = 204
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.got) >= count, timeout)
        return list(self.got)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            r = holder["r"]
            with r.arrived:
                r.got.append(Received(self.path, dict(self.headers), body, time.monotonic()))
                r.arrived.notify_all()
            self.send_response(r.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["r"] = Receiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield holder["r"]
    server.shutdown()
    server.server_close()


def verify(secret: str, header: str, body: bytes) -> bool:
    """The check docs/webhooks.md gives receivers, copied as they would copy it."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    signed = parts["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected, parts.get("v1", ""))


def register(client: Any, slug: str | None, url: str, events: list[str]) -> Any:
    path = f"/s/{slug}/webhooks" if slug else "/admin/webhooks"
    return client.form(path, {"url": url, "events": events, "active": "y"})


def fresh() -> None:
    """End the test's read transaction and forget what it loaded: see what the requests and
    jobs committed since."""
    db.session.commit()
    db.session.expire_all()


def hooks() -> list[Webhook]:
    fresh()
    return list(db.session.scalars(select(Webhook).order_by(Webhook.id)))


def deliveries(hook: Webhook | None = None) -> list[WebhookDelivery]:
    fresh()
    query = select(WebhookDelivery).order_by(WebhookDelivery.id)
    if hook is not None:
        query = query.where(WebhookDelivery.webhook_id == hook.id)
    return list(db.session.scalars(query))


def make_hook(owner: Any, sig: Any, url: str, events: list[str]) -> Webhook:
    return services.create_webhook(owner, sig.id if sig is not None else None, url, events)


# --- the promise of the issue ------------------------------------------------------------------
def test_a_receiver_on_loopback_gets_a_signed_post_created_within_a_second(
    app, make_client, f, receiver, job_queue
) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig, "Tabs or spaces", "The first post.")
    job_queue.run_pending()  # nothing registered yet: nothing queued that matters
    browser = make_client()
    browser.login(sysop)
    response = register(browser, "retro", receiver.url, ["post.created"])
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    [hook] = hooks()
    assert hook.sig_id == sig.id and hook.event_list == ["post.created"]

    # A worker runs the queue, as `flask forum jobs worker` does.
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            if not job_queue.run_pending():
                time.sleep(0.01)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        member = make_client()
        member.login(ada)
        replied = time.monotonic()
        reply = member.form(f"/t/{topic.id}/reply", {"body": "Spaces, **always**."})
        assert reply.status_code == 302
        [got] = receiver.wait_for(1, timeout=1.0)
    finally:
        stop.set()
        thread.join(5)
    assert got.at - replied < 1.0
    assert got.path == "/hook"
    assert got.headers["X-Forum-Event"] == "post.created"
    assert got.headers["Content-Type"] == "application/json"
    secret = services.readable_secret(hook)
    assert verify(secret, got.headers["X-Forum-Signature"], got.body)
    assert not verify(secret, got.headers["X-Forum-Signature"], got.body + b" ")
    assert not verify("whsec_other", got.headers["X-Forum-Signature"], got.body)
    payload = got.json
    assert payload["event"] == "post.created"
    assert payload["sig"] == {
        "id": sig.id,
        "slug": "retro",
        "name": "Retro",
        "visibility": "public",
        "url": f"{BASE}/s/retro/",
    }
    assert payload["topic"]["title"] == "Tabs or spaces"
    assert payload["post"]["author"]["username"] == "ada"
    assert payload["post"]["number"] == 2
    assert payload["post"]["url"].startswith(f"{BASE}/p/")
    assert "<strong>always</strong>" in payload["post"]["html"]
    assert payload["post"]["excerpt"] == "Spaces, always."
    assert got.headers["X-Forum-Delivery"] == str(deliveries()[0].id)
    # The log shows the answer.
    [delivery] = deliveries()
    assert delivery.status == "delivered" and delivery.last_status_code == 204
    page = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
    assert "204" in page and "post.created" in page


def test_signature_header_and_verify_reject_tampering_and_old_timestamps() -> None:
    body = b'{"a":1}'
    header = services.signature("whsec_x", int(time.time()), body)
    assert header.startswith("t=") and ",v1=" in header
    assert services.verify_signature("whsec_x", header, body)
    assert not services.verify_signature("whsec_x", header, b'{"a":2}')
    stale = services.signature("whsec_x", int(time.time()) - 3600, body)
    assert not services.verify_signature("whsec_x", stale, body)
    assert not services.verify_signature("whsec_x", "garbage", body)


def test_each_event_reaches_the_webhooks_that_asked_for_it(app, f, receiver) -> None:
    sysop, ada, bob = f.user("sysop"), f.user("ada"), f.user("bob")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    make_hook(sysop, sig, receiver.url, ["topic.created", "member.joined", "post.flagged"])
    topic = f.topic(ada, sig, "A new topic", "Its **first** post.")
    f.join(bob, sig)
    post = f.reply(ada, topic, "Buy cheap watches")
    moderation.flag_post(bob, post.id, "spam", "my private note about ada")
    got = receiver.wait_for(3)
    by_event = {g.headers["X-Forum-Event"]: g.json for g in got}
    assert set(by_event) == {"topic.created", "member.joined", "post.flagged"}
    assert by_event["topic.created"]["topic"]["title"] == "A new topic"
    assert by_event["topic.created"]["post"]["number"] == 1
    assert by_event["member.joined"]["member"]["username"] == "bob"
    flagged = by_event["post.flagged"]
    assert flagged["flag"]["reason"] == "spam"
    assert flagged["post"]["id"] == post.id
    # Who flagged it and their note are the sysops' business, never a payload's.
    text = json.dumps(flagged)
    assert "bob" not in text and "private note" not in text


def test_a_webhook_added_in_the_events_own_transaction_hears_of_it(app, f, receiver) -> None:
    """Whether a webhook asked is read with the session's changes in: one added in the same
    transaction, not yet written, is found and told."""
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    post = f.reply(ada, f.topic(ada, sig), "Told in the same breath")
    assert services.fan_out_post("post.created", post.id, sig.id) == 0
    with transaction() as session:
        hook = make_hook(sysop, sig, receiver.url, ["post.created"])
        assert hook in session.new
        assert services.fan_out_post("post.created", post.id, sig.id) == 1
    assert [d.post_id for d in deliveries(hook)] == [post.id]


def test_approved_posts_are_told_of_when_approved_not_before(app, f, receiver) -> None:
    root = f.sysop("root")
    sysop, newbie = f.user("sysop"), f.user("newbie")
    sig = f.sig("retro", sysops=[sysop], members=[newbie])
    make_hook(sysop, sig, receiver.url, ["topic.created", "post.created"])
    admin.update_settings(root, {"approval_threshold": "1"})
    settings.forget()
    topic = f.topic(newbie, sig, "Waiting topic", "Held for approval.")
    assert receiver.got == [] and deliveries() == []
    moderation.approve_post(sysop, topic.first_post_id)
    got = receiver.wait_for(2)
    assert sorted(g.headers["X-Forum-Event"] for g in got) == ["post.created", "topic.created"]


# --- what a webhook may be told ----------------------------------------------------------------
@pytest.mark.parametrize("visibility", ["members", "private"])
def test_site_wide_webhooks_hear_nothing_of_members_only_or_private_sigs(
    app, f, receiver, visibility
) -> None:
    root = f.sysop("root")
    ada = f.user("ada")
    hidden = f.sig("lair", visibility=visibility, members=[ada], name="Hidden Lair")
    public = f.sig("plaza", members=[ada])
    make_hook(root, None, receiver.url, ["topic.created", "post.created", "member.joined"])
    f.topic(ada, hidden, "Secret plans", "Nobody outside may read this.")
    f.join(f.user("cyd"), hidden)
    f.topic(ada, public, "Open plans", "Anyone may read this.")
    got = receiver.wait_for(2)
    time.sleep(0.1)
    text = " ".join(g.body.decode() for g in receiver.got)
    assert "Secret plans" not in text and "Hidden Lair" not in text and "cyd" not in text
    assert "Open plans" in text
    assert {g.json["sig"]["slug"] for g in got} == {"plaza"}


def test_a_private_sigs_webhook_hears_of_it_while_its_owner_is_its_sysop(app, f, receiver) -> None:
    root = f.sysop("root")
    sysop, ada = f.user("sysop"), f.user("ada")
    lair = f.sig("lair", visibility="private", sysops=[sysop], members=[ada], name="Hidden Lair")
    hook = make_hook(sysop, lair, receiver.url, ["topic.created"])
    f.topic(ada, lair, "Secret plans", "For the lair's own receiver.")
    [got] = receiver.wait_for(1)
    assert got.json["topic"]["title"] == "Secret plans"
    # No longer its sysop: the webhook is told nothing more.
    sig_services.set_sig_sysop(root, lair.id, sysop.id, False)
    permissions.forget_memberships(sysop)
    f.topic(ada, lair, "More secret plans", "Not for the old sysop's address.")
    time.sleep(0.1)
    assert len(receiver.got) == 1
    assert [d.event for d in deliveries(hook)] == ["topic.created"]


def test_a_post_hidden_before_its_delivery_is_withdrawn(app, f, receiver, job_queue) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    make_hook(sysop, sig, receiver.url, ["post.created"])
    post = f.reply(ada, topic, "Something rude")
    moderation.hide_post(sysop, post.id, "rude")
    job_queue.run_pending()
    [delivery] = deliveries()
    assert delivery.status == "withdrawn" and delivery.attempts == 0
    assert receiver.got == []


def test_hidden_and_waiting_posts_are_never_told_of(app, f, receiver) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    make_hook(sysop, sig, receiver.url, ["post.created"])
    post = f.reply(ada, topic, "First visible")
    receiver.wait_for(1)
    moderation.hide_post(sysop, post.id, "rude")
    # Redelivery asks the policy again too.
    [delivery] = deliveries()
    again = services.redeliver(sysop, delivery.id)
    fresh()
    assert db.session.get(WebhookDelivery, again.id).status == "withdrawn"
    assert len(receiver.got) == 1


# --- retries, the log, disabling, redelivery ------------------------------------------------
@pytest.mark.config(**LOOPBACK, WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_FAILURE_LIMIT=100)
def test_failures_are_retried_with_a_growing_delay_and_logged(app, f, receiver) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    make_hook(sysop, sig, receiver.url, ["post.created"])
    receiver.status = 500
    f.reply(ada, topic, "Hello")
    receiver.wait_for(1)
    [delivery] = deliveries()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code == 500
    first_wait = delivery.next_attempt_at - delivery.created_at
    assert timedelta(seconds=25) < first_wait < timedelta(seconds=35)
    queue = queue_of(app)
    assert queue.run_due(datetime.now(UTC) + timedelta(seconds=10)) == 0  # not yet
    assert queue.run_due(datetime.now(UTC) + timedelta(seconds=31)) == 1
    [delivery] = deliveries()
    assert delivery.attempts == 2 and delivery.status == "pending"
    attempts = list(db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
    fresh()
    second_wait = delivery.next_attempt_at - attempts[-1].attempted_at
    assert timedelta(seconds=115) < second_wait < timedelta(seconds=125)  # 30 s × 4
    receiver.status = 200
    assert queue.run_due(datetime.now(UTC) + timedelta(seconds=200)) == 1
    [delivery] = deliveries()
    assert delivery.status == "delivered" and delivery.attempts == 3
    codes = [a.status_code for a in db.session.scalars(select(WebhookAttempt))]
    assert codes == [500, 500, 200]
    assert len(receiver.got) == 3
    # The same event each time: receivers dedupe on its id.
    assert len({g.json["id"] for g in receiver.got}) == 1


@pytest.mark.config(**LOOPBACK, WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_FAILURE_LIMIT=100)
def test_a_delivery_whose_webhook_was_turned_off_says_so_in_the_readers_language(
    app, make_client, f, receiver
) -> None:
    """A retry that finds its webhook off ends unsent: why is kept as a code, never a sentence
    in the language of the job that wrote it, and the log says it in the reader's."""
    from forum.accounts import services as accounts

    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    receiver.status = 500
    accounts.set_language(ada, "de")  # the job ran in no reader's language; nor in hers
    f.reply(ada, topic, "Hello")
    receiver.wait_for(1)
    with transaction():
        db.session.get(Webhook, hook.id).active = False
    assert queue_of(app).run_due(datetime.now(UTC) + timedelta(seconds=31)) == 1
    [delivery] = deliveries()
    assert delivery.status == "failed" and delivery.attempts == 1  # not tried again
    assert delivery.last_error == services.ENDED_DISABLED == "disabled"
    assert len(receiver.got) == 1
    browser = make_client()
    browser.login(sysop)
    for language, said in [
        ("en", "not sent: the webhook was off"),
        ("de", "nicht gesendet: der Webhook war abgeschaltet"),
        ("es", "no se envió: el webhook estaba desactivado"),
    ]:
        accounts.set_language(sysop, language)
        log = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
        row = log[log.index(f'id="delivery-{delivery.id}"') :].split("</tr>")[0]
        assert f'<p class="muted">{said}</p>' in row, (language, row)
        assert '<span class="status-code">500</span>' in row  # its one attempt, as it went
        assert "disabled" not in row


def test_a_delivery_that_ended_before_the_codes_says_its_stored_words(
    make_client, f, receiver
) -> None:
    """Deliveries that ended unsent before why was kept as a code hold a sentence, in the
    language of the job that wrote it: the log says it as stored (escaped), in every reader's
    language, beside a code said in the reader's; an attempt's own words are said once, with it."""
    from forum.accounts import services as accounts

    sysop = f.user("sysop")
    sig = f.sig("retro", sysops=[sysop])
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    refused = "[Errno 111] Connection refused"
    legacy_de = "Der Webhook ist abgeschaltet. <b>Alt</b> & gut"
    with transaction() as session:

        def ended(last_error: str, *attempts: tuple[int | None, str | None]) -> int:
            delivery = WebhookDelivery(
                webhook_id=hook.id,
                event="post.created",
                event_id=f"e-{last_error[:20]}",
                payload="{}",
                status="failed",
                attempts=len(attempts),
                last_error=last_error,
            )
            session.add(delivery)
            session.flush()
            for code, error in attempts:
                session.add(WebhookAttempt(delivery_id=delivery.id, status_code=code, error=error))
            return delivery.id

        old_en = ended("The webhook is disabled.", (500, None))  # tried once, then turned off
        old_de = ended(legacy_de)
        coded = ended(services.ENDED_SECRET_UNREADABLE)
        tried_out = ended(refused, (None, refused))  # its attempts used up: they say why
    browser = make_client()
    browser.login(sysop)

    def row(page: str, delivery_id: int) -> str:
        return page[page.index(f'id="delivery-{delivery_id}"') :].split("</tr>")[0]

    for language, unreadable, no_answer in [
        ("en", "not sent: its secret could no longer be read", "no answer: "),
        (
            "de",
            "nicht gesendet: sein Geheimnis konnte nicht mehr gelesen werden",
            "keine Antwort: ",
        ),
    ]:
        accounts.set_language(sysop, language)
        page = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
        assert '<p class="muted">The webhook is disabled.</p>' in row(page, old_en), language
        assert '<span class="status-code">500</span>' in row(page, old_en)
        said = '<p class="muted">Der Webhook ist abgeschaltet. &lt;b&gt;Alt&lt;/b&gt; &amp; gut</p>'
        assert said in row(page, old_de), language
        assert "<b>Alt</b>" not in page
        assert f'<p class="muted">{unreadable}</p>' in row(page, coded), language
        assert "secret_unreadable" not in page
        attempts_say = row(page, tried_out)
        assert f"{no_answer}{refused}" in attempts_say and attempts_say.count(refused) == 1
        assert '<p class="muted">' not in attempts_say.split("</td>")[2]


@pytest.mark.config(**LOOPBACK, WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_FAILURE_LIMIT=100)
def test_a_delivery_whose_attempts_are_used_up_fails_and_is_sent_again_by_hand(
    app, make_client, f, receiver
) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    receiver.status = 503
    f.reply(ada, topic, "Hello")
    [first] = deliveries()
    assert first.status == "failed" and first.last_status_code == 503
    receiver.status = 202
    browser = make_client()
    browser.login(sysop)
    response = browser.form(f"/mod/webhooks/deliveries/{first.id}/redeliver")
    assert response.status_code == 302
    got = receiver.wait_for(2)
    assert got[0].json["id"] == got[1].json["id"]  # the same event
    assert got[0].headers["X-Forum-Delivery"] != got[1].headers["X-Forum-Delivery"]
    first_again, second = deliveries(hook)
    assert second.redelivery_of_id == first.id and second.status == "delivered"
    page = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
    assert "503" in page and "202" in page


@pytest.mark.config(**LOOPBACK, WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_FAILURE_LIMIT=3)
def test_a_webhook_failing_again_and_again_is_disabled_and_its_owner_told(
    app, make_client, f, receiver
) -> None:
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    receiver.status = 500
    for n in range(4):
        f.reply(ada, topic, f"Reply {n}")
    [hook] = hooks()
    assert not hook.active and hook.disabled_reason == "failures"
    assert len(receiver.got) == 3  # the fourth was never sent
    [note] = db.session.scalars(select(Notification).where(Notification.user_id == sysop.id))
    assert note.kind == "webhook_disabled" and note.data["webhook_id"] == hook.id
    browser = make_client()
    browser.login(sysop)
    center = browser.get("/notifications").get_data(as_text=True)
    assert "turned off after 3 failed deliveries" in center
    # The notification opens (and marks read) through /notifications/<id>, then the webhook.
    assert f"/notifications/{note.id}" in center
    opened = browser.get(f"/notifications/{note.id}")
    assert opened.status_code == 302 and opened.location.endswith(f"/mod/webhooks/{hook.id}")
    # Turned on again (the receiver mended), it forgets its failures.
    receiver.status = 200
    response = browser.form(
        f"/mod/webhooks/{hook.id}", {"url": hook.url, "events": ["post.created"], "active": "y"}
    )
    assert response.status_code == 302
    [hook] = hooks()
    assert hook.active and hook.failure_streak == 0 and hook.disabled_at is None
    f.reply(ada, topic, "Back again")
    assert receiver.wait_for(4)[-1].json["post"]["excerpt"] == "Back again"


def test_ping_tries_the_receiver(app, make_client, f, receiver) -> None:
    sysop = f.user("sysop")
    sig = f.sig("retro", sysops=[sysop])
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    browser = make_client()
    browser.login(sysop)
    assert browser.form(f"/mod/webhooks/{hook.id}/ping").status_code == 302
    [got] = receiver.wait_for(1)
    assert got.headers["X-Forum-Event"] == "ping"
    assert got.json["webhook"] == {"id": hook.id, "events": ["post.created"]}
    assert verify(services.readable_secret(hook), got.headers["X-Forum-Signature"], got.body)


def test_a_new_secret_signs_from_then_on(app, make_client, f, receiver) -> None:
    sysop = f.user("sysop")
    sig = f.sig("retro", sysops=[sysop])
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    old = services.readable_secret(hook)
    browser = make_client()
    browser.login(sysop)
    assert browser.form(f"/mod/webhooks/{hook.id}/secret").status_code == 302
    [hook] = hooks()
    new = services.readable_secret(hook)
    assert new != old and new.startswith("whsec_")
    services.ping(sysop, hook.id)
    [got] = receiver.wait_for(1)
    assert verify(new, got.headers["X-Forum-Signature"], got.body)
    assert not verify(old, got.headers["X-Forum-Signature"], got.body)


# --- the SSRF guard ----------------------------------------------------------------------------
REFUSED_ALWAYS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://169.254.10.10/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
    "http://100.100.100.200/",
]
REFUSED_BY_DEFAULT = [
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://10.0.0.5/hook",
    "http://192.168.1.10/hook",
    "http://172.16.3.4/hook",
    "http://[::ffff:127.0.0.1]/hook",
]


@pytest.mark.config(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
@pytest.mark.parametrize("url", REFUSED_ALWAYS + REFUSED_BY_DEFAULT)
def test_private_loopback_link_local_and_metadata_targets_are_refused(make_client, f, url) -> None:
    sysop = f.user("sysop")
    f.sig("retro", sysops=[sysop])
    browser = make_client()
    browser.login(sysop)
    response = register(browser, "retro", url, ["post.created"])
    assert response.status_code == 400
    assert "only sent to public addresses" in response.get_data(as_text=True)
    assert hooks() == []


@pytest.mark.parametrize("url", REFUSED_ALWAYS)
def test_link_local_and_metadata_stay_refused_when_private_targets_are_allowed(
    make_client, f, url
) -> None:
    sysop = f.user("sysop")
    f.sig("retro", sysops=[sysop])
    browser = make_client()
    browser.login(sysop)
    assert register(browser, "retro", url, ["post.created"]).status_code == 400
    assert hooks() == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/", "must start with https:// or http://"),
        ("https://user:pw@example.org/", "Leave the user name and password out"),
        ("not a url", "must start with https:// or http://"),
        ("https://no-such-host.invalid/", "could not be found"),
    ],
)
def test_addresses_that_are_not_web_addresses_are_refused(make_client, f, url, message) -> None:
    sysop = f.user("sysop")
    f.sig("retro", sysops=[sysop])
    browser = make_client()
    browser.login(sysop)
    response = register(browser, "retro", url, ["post.created"])
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_every_address_a_name_resolves_to_is_checked() -> None:
    target = targets.parse("https://hooks.example.test/x")
    mixed = lambda host, port: ["8.8.8.8", "93.184.216.34", "10.1.1.1"]  # noqa: E731
    with pytest.raises(targets.TargetRefused) as refused:
        targets.checked_addresses(target, False, mixed)
    assert "10.1.1.1" in str(refused.value)
    public = lambda host, port: ["93.184.216.34", "2606:2800:220:1::1"]  # noqa: E731
    assert [str(a) for a in targets.checked_addresses(target, False, public)] == [
        "93.184.216.34",
        "2606:2800:220:1::1",
    ]


def test_the_connection_goes_to_the_address_that_was_checked(receiver) -> None:
    """DNS rebinding: the name is resolved once, checked, and that address is connected to (a
    second lookup, which the name's owner could answer differently, never happens)."""
    port = receiver.server.server_address[1]
    lookups: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        lookups.append(host)
        return ["127.0.0.1"] if len(lookups) == 1 else ["169.254.169.254"]

    outcome = targets.post(
        f"http://hooks.example.test:{port}/hook",
        b"{}",
        {},
        allow_private=True,
        timeout=5,
        resolve=resolve,
    )
    assert outcome.status_code == 204, outcome
    assert lookups == ["hooks.example.test"]
    [got] = receiver.wait_for(1)
    assert got.headers["Host"] == f"hooks.example.test:{port}"
    # Refused before any connection when the (only) lookup names a refused address.
    refused = targets.post(
        f"http://hooks.example.test:{port}/hook",
        b"{}",
        {},
        allow_private=False,
        timeout=5,
        resolve=lambda host, _port: ["127.0.0.1"],
    )
    assert refused.status_code is None and refused.error.startswith("refused")
    assert len(receiver.got) == 1


def test_a_target_refused_at_delivery_time_is_logged_not_called(app, f, receiver) -> None:
    """The address is checked again before each attempt: the setting turned off since the
    webhook was registered (or its name now resolving elsewhere) stops the delivery."""
    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    make_hook(sysop, sig, receiver.url, ["post.created"])
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False
    f.reply(ada, topic, "Hello")
    [delivery] = deliveries()
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("refused: address: 127.0.0.1 (loopback)")
    assert receiver.got == []


@pytest.mark.parametrize(
    ("language", "refused", "no_answer"),
    [
        ("de", "Diese Adresse liegt in einem privaten, Loopback-", "keine Antwort: "),
        ("es", "Esa dirección está en una red privada, de loopback", "sin respuesta: "),
    ],
)
def test_the_delivery_log_says_a_refusal_in_the_reader_s_language(
    app, make_client, f, receiver, language, refused, no_answer
) -> None:
    """The attempt keeps the refusal as a code ("refused: address: 127.0.0.1 (loopback)"); the
    webhook's page says it as the form does, in the sysop's language, with the address. A
    connection's failure is "no answer" with the system's own technical words."""
    from forum.accounts import services as accounts

    sysop, ada = f.user("sysop"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    topic = f.topic(ada, sig)
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = False
    f.reply(ada, topic, "Hello")
    app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = True
    with transaction():
        db.session.get(Webhook, hook.id).url = "http://127.0.0.1:9/"  # nobody listens there
    f.reply(ada, topic, "Hello again")
    stored = sorted(a.error for a in db.session.scalars(select(WebhookAttempt)))
    assert stored[1] == "refused: address: 127.0.0.1 (loopback)"
    assert stored[0].startswith("127.0.0.1: ConnectionRefusedError")
    accounts.set_language(sysop, language)
    browser = make_client()
    browser.login(sysop)
    page = browser.get(f"/mod/webhooks/{hook.id}").get_data(as_text=True)
    log = page.split('id="log-heading"')[1].split("</table>")[0]
    assert refused in log and "127.0.0.1" in log and no_answer in log
    assert "refused:" not in log and "(loopback)" not in log


def test_each_stored_refusal_is_said_in_german_and_spanish(app) -> None:
    from forum.i18n import force_locale
    from forum.webhooks.queries import said_error

    stored = [
        "refused: url",
        "refused: scheme: ftp",
        "refused: resolve: [Errno -2] Name or service not known",
        "refused: address: 10.0.0.7 (private)",
    ]
    with app.test_request_context():
        with force_locale("de"):
            assert [said_error(e) for e in stored] == [
                "Das ist keine Webadresse.",
                "Die Adresse muss mit https:// oder http:// beginnen. Einzelheiten: ftp",
                "Der Hostname wurde nicht gefunden. Einzelheiten: [Errno -2] Name or service "
                "not known",
                "Diese Adresse liegt in einem privaten, Loopback-, link-lokalen oder "
                "Metadaten-Netz; Webhooks gehen nur an öffentliche Adressen. Einzelheiten: "
                "10.0.0.7",
            ]
        with force_locale("es"):
            assert said_error("refused: resolve: example.invalid") == (
                "No se encontró el nombre de host. Detalles: example.invalid"
            )
            # A shape the forum never wrote is shown as the system's words after "no answer".
            assert said_error("refused: elsewhere") == "sin respuesta: refused: elsewhere"
        assert said_error(None) is None and said_error("") is None


# --- who may manage webhooks -----------------------------------------------------------------
def test_only_a_sigs_sysops_manage_its_webhooks(make_client, f, receiver) -> None:
    sysop, other, ada = f.user("sysop"), f.user("other"), f.user("ada")
    sig = f.sig("retro", sysops=[sysop], members=[ada])
    f.sig("elsewhere", sysops=[other])
    hook = make_hook(sysop, sig, receiver.url, ["post.created"])
    for who in (ada, other):
        browser = make_client()
        browser.login(who)
        assert browser.get("/s/retro/webhooks").status_code == 403
        assert register(browser, "retro", receiver.url, ["post.created"]).status_code == 403
        assert browser.get(f"/mod/webhooks/{hook.id}").status_code == 403
        assert browser.form(f"/mod/webhooks/{hook.id}/delete").status_code == 403
        assert browser.get("/admin/webhooks").status_code == 403
    assert len(hooks()) == 1
    guest = make_client()
    assert guest.get("/s/retro/webhooks").status_code == 302  # to the login page
    # The other sysop's overview lists nothing of retro's.
    browser = make_client()
    browser.login(other)
    assert receiver.url not in browser.get("/mod/webhooks").get_data(as_text=True)
    browser = make_client()
    browser.login(sysop)
    assert receiver.url in browser.get("/mod/webhooks").get_data(as_text=True)
    assert browser.form(f"/mod/webhooks/{hook.id}/delete").status_code == 302
    assert hooks() == []


def test_site_wide_webhooks_are_the_global_sysops(make_client, f, receiver) -> None:
    root = f.sysop("root")
    browser = make_client()
    browser.login(root)
    page = browser.get("/admin/webhooks")
    assert page.status_code == 200
    response = register(browser, None, receiver.url, ["topic.created"])
    assert response.status_code == 302
    [hook] = hooks()
    assert hook.sig_id is None and hook.created_by_id == root.id


def test_the_form_needs_an_event(make_client, f, receiver) -> None:
    sysop = f.user("sysop")
    f.sig("retro", sysops=[sysop])
    browser = make_client()
    browser.login(sysop)
    response = register(browser, "retro", receiver.url, [])
    assert response.status_code == 400
    assert "Choose at least one event" in response.get_data(as_text=True)
    response = register(browser, "retro", receiver.url, ["post.deleted"])
    assert response.status_code == 400


def test_a_private_sigs_webhook_looks_like_a_missing_one(make_client, f, receiver) -> None:
    sysop, outsider = f.user("sysop"), f.user("outsider")
    lair = f.sig("lair", visibility="private", sysops=[sysop], name="Hidden Lair")
    hook = make_hook(sysop, lair, receiver.url, ["post.created"])
    browser = make_client()
    browser.login(outsider)
    browser.get("/")  # shows the welcome
    for path in ("", "/delete", "/ping", "/secret"):
        method = browser.get if path == "" else browser.form
        real = method(f"/mod/webhooks/{hook.id}{path}")
        missing = method(f"/mod/webhooks/999999{path}")
        assert real.status_code == missing.status_code == 404
        # The same page, but for the links back to the address asked for (log in, language)
        # and the CSRF tokens (timestamped).
        own = re.compile(
            r'(next=|name="next" value="|csrf-token" content="|csrf_token" value=")[^"]*'
        )
        a, b = (own.sub("", r.get_data(as_text=True)) for r in (real, missing))
        assert a == b, "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), path))
        assert "Hidden Lair" not in real.get_data(as_text=True)
    assert hooks()[0].id == hook.id


# --- a member who deletes their account ---------------------------------------------------------
def test_stored_deliveries_forget_a_member_who_deletes_their_account(
    app, make_client, f, receiver, monkeypatch
) -> None:
    """Deliveries stored before the deletion (a retry or a redelivery resends them) lose the
    member's name and profile link, as a payload built now would; the redelivery is signed
    over what it sends; deliveries about other members stay as they were."""
    monkeypatch.setattr(services, "FORGET_BATCH", 2)  # several batches, each column's scope
    sysop, ada, bob = f.user("sysop"), f.user("floppyqueen"), f.user("bob")
    sig = f.sig("retro", sysops=[sysop], members=[bob])
    hook = make_hook(sysop, sig, receiver.url, ["topic.created", "post.created", "member.joined"])
    f.join(ada, sig)
    topic = f.topic(ada, sig, "Floppies", "Keep them dry.")
    for n in range(3):
        f.reply(ada, topic, f"Ada's reply {n}")
    f.reply(bob, topic, "Bob's reply")
    f.join(f.user("cyd"), sig)
    before = {d.id: d.payload for d in deliveries(hook)}
    assert len(before) == 8 and len(receiver.wait_for(8)) == 8
    names_ada = [d for d, p in before.items() if '"floppyqueen"' in p]
    assert len(names_ada) == 6  # joined, topic.created and post.created, three replies
    browser = make_client()
    browser.login(ada)
    assert browser.form("/settings/delete", {"delete-password": PASSWORD}).status_code == 302
    after = {d.id: d.payload for d in deliveries(hook)}
    for delivery_id, payload in after.items():
        if delivery_id in names_ada:
            assert "floppyqueen" not in payload and "/u/" not in payload
            assert "former-" not in payload
            document = json.loads(payload)
            assert document.get("member", 0) is None or document["post"]["author"] is None
            assert json.loads(before[delivery_id])["id"] == document["id"]  # the same event
        else:  # bob's post, cyd joining: untouched, to the byte
            assert payload == before[delivery_id]
    # A redelivery sends the payload as stored now, signed over it.
    old = min(names_ada)
    sysop_browser = make_client()
    sysop_browser.login(sysop)
    assert sysop_browser.form(f"/mod/webhooks/deliveries/{old}/redeliver").status_code == 302
    got = receiver.wait_for(9)[-1]
    assert got.body.decode() == after[old]
    assert "floppyqueen" not in got.body.decode()
    [hook] = [h for h in hooks() if h.id == hook.id]
    assert verify(services.readable_secret(hook), got.headers["X-Forum-Signature"], got.body)
