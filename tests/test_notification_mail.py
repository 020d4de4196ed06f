"""Notification mail, delivered to a real SMTP server (aiosmtpd on loopback): a mention makes one
threaded mail a few minutes later, in the member's language, with a one-click unsubscribe that
works without login; what was read meanwhile, or can no longer be read, is not mailed; several
events of one topic make one mail; the choices in /settings decide what is mailed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.jobs import queue_of
from forum.messages.models import ConversationMember, PrivateMessage
from forum.notifications.mail import mail_choices, send_notification_mail, unsubscribe_token
from forum.notifications.models import Notification
from forum.notifications.queries import member_rows
from forum.sigs import services as sigs

from .mailbox import free_port, html_of, text_of

HTTPS = pytest.mark.config(BASE_URL="https://forum.example.org")


def deliver(app: Any) -> int:
    """Let NOTIFY_MAIL_DELAY pass: the consumer's scheduler would run the waiting mail jobs."""
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


@HTTPS
def test_a_mention_makes_one_threaded_mail_after_the_delay(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob], name="Retro Computing")
    topic = f.topic(ada, sig, "Amiga sound chips")
    f.reply(bob, topic, "Hey @ada, Paula has four <channels> & DMA.")
    assert inbox.messages == []  # it waits, so what ada reads meanwhile is not mailed
    assert deliver(app) == 1
    (message,) = inbox.messages
    assert inbox.recipients == [["ada@example.com"]]
    assert message["Subject"] == "[Forum] bob mentioned you in “Amiga sound chips”"
    assert message.get_content_type() == "multipart/alternative"
    text, html = text_of(message), html_of(message)
    assert "Hello ada, you were mentioned on Forum:" in text
    assert "Paula has four <channels> & DMA." in text
    assert "Paula has four &lt;channels&gt; &amp; DMA." in html and "<channels>" not in html
    post_id = db.session.scalar(select(Notification.post_id).where(Notification.kind == "mention"))
    assert f"https://forum.example.org/p/{post_id}" in text
    assert f'href="https://forum.example.org/p/{post_id}"' in html
    # Threaded per topic, listed per SIG.
    root = f"<topic.{topic.id}@forum.example.org>"
    assert message["In-Reply-To"] == message["References"] == root
    assert re.fullmatch(r"<notify\.\d+\.\d+@forum\.example\.org>", message["Message-ID"])
    assert message["List-Id"] == '"Retro Computing" <retro.sigs.forum.example.org>'
    # One-click unsubscribe (RFC 8058) and the way to the preferences.
    assert re.fullmatch(
        r"<https://forum\.example\.org/mail/unsubscribe/[\w.-]+>", message["List-Unsubscribe"]
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://forum.example.org/settings#notifications-heading" in text
    # Run again (a retry, a restarted worker): not sent twice.
    job = db.session.scalar(select(Notification.id).where(Notification.kind == "mention"))
    queue_of(app).task("forum.notifications.mail.send_notification_mail")(job)
    assert len(inbox.messages) == 1


@HTTPS
def test_one_click_unsubscribe_works_without_login_or_form(app, f, inbox, client):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig)
    f.reply(bob, topic, "@ada first")
    deliver(app)
    (message,) = inbox.messages
    url = message["List-Unsubscribe"].strip("<>")
    path = url.removeprefix("https://forum.example.org")
    # A link scanner's GET changes nothing; it shows the button.
    page = client.get(path)
    assert page.status_code == 200 and "Stop these mails" in page.get_data(as_text=True)
    assert mail_choices(db.session.get(User, ada.id))["mention"] == "now"
    # The mail client's POST: no session, no CSRF token, just the RFC 8058 body.
    response = client.post(
        path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "you will get no more mail about these" in response.get_data(as_text=True)
    assert mail_choices(db.session.get(User, ada.id))["mention"] == "off"
    assert mail_choices(db.session.get(User, ada.id))["reply"] == "now"
    f.reply(bob, topic, "@ada second")
    deliver(app)
    assert len(inbox.messages) == 1
    # A forged or altered token does nothing, and CSRF still guards every other form.
    assert client.post(path[:-4] + "AAAA", data="List-Unsubscribe=One-Click").status_code == 400
    other = unsubscribe_token(bob.id, ["reply"]).replace(".", ".x", 1)
    assert client.post(f"/mail/unsubscribe/{other}").status_code == 400
    assert mail_choices(db.session.get(User, bob.id))["reply"] == "now"
    assert client.post("/notifications/preferences", data={"mail_reply": "off"}).status_code == 400


def test_a_member_who_lost_access_to_a_private_sig_gets_no_mail(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("secret", visibility="private", members=[ada, bob])
    topic = f.topic(bob, sig, "Plans")
    f.reply(bob, topic, "@ada the plan is ready")
    assert db.session.scalar(select(Notification.id).where(Notification.kind == "mention"))
    sigs.leave_sig(ada, sig.id)  # before the mail goes out
    assert deliver(app) == 1
    assert inbox.messages == []
    # A public SIG the same way: mailed.
    open_sig = f.sig("open", members=[ada, bob])
    f.reply(bob, f.topic(bob, open_sig), "@ada here")
    deliver(app)
    assert [m["To"] for m in inbox.messages] == ["ada@example.com"]
    assert "Plans" not in text_of(inbox.messages[0])


def test_a_post_hidden_before_the_mail_goes_is_not_mailed(app, f, inbox):
    from forum.moderation import services as moderation

    ada, bob, root = f.user("ada"), f.user("bob"), f.sysop("root")
    sig = f.sig("retro", members=[ada, bob])
    post = f.reply(bob, f.topic(bob, sig), "@ada something a sysop will hide")
    moderation.hide_post(root, post.id, "off topic")
    deliver(app)
    assert [m["To"] for m in inbox.messages] == []  # bob's "post hidden" is off by default


def test_a_member_who_wants_moderation_mail_hears_that_a_sysop_hid_their_post(app, f, inbox):
    from forum.moderation import services as moderation

    ada, root = f.user("ada"), f.sysop("root")
    with transaction():
        ada.preferences = {"mail": {"moderation": "now"}}
    sig = f.sig("retro", members=[ada])
    post = f.reply(ada, f.topic(ada, sig, "Mine"), "Something hideable")
    moderation.hide_post(root, post.id, "off topic")
    deliver(app)
    (message,) = inbox.messages
    assert message["Subject"] == "[Forum] A sysop hid your post in “Mine”: off topic"
    assert "a sysop hid one of your posts on Forum" in text_of(message)


def test_a_post_read_before_the_mail_goes_is_not_mailed(app, f, inbox, client):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Read it first")
    f.reply(bob, topic, "A reply to ada's topic")
    client.login("ada")
    page = client.get(f"/t/{topic.id}/{topic.slug}", follow_redirects=True)
    assert "A reply to ada" in page.get_data(as_text=True)  # read, on the topic page
    deliver(app)
    assert inbox.messages == []
    # Unread: mailed.
    f.reply(bob, topic, "Another one, while ada is away")
    deliver(app)
    assert len(inbox.messages) == 1
    assert "Another one" in text_of(inbox.messages[0])
    assert "A reply to ada" not in text_of(inbox.messages[0])


def test_several_events_of_one_topic_make_one_mail(app, f, inbox):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, bob, cyd])
    topic = f.topic(ada, sig, "Busy topic")
    f.reply(bob, topic, "First answer")
    f.reply(cyd, topic, "@ada second answer")
    elsewhere = f.topic(bob, sig, "Another topic")
    f.reply(cyd, elsewhere, "@ada over here")
    assert deliver(app) == 4  # one job per notification: ada's three, bob's reply
    to_ada = sorted(m["Subject"] for m in inbox.messages if m["To"] == "ada@example.com")
    assert to_ada == [
        "[Forum] 2 new notifications in “Busy topic”",
        "[Forum] cyd mentioned you in “Another topic”",
    ]
    to_bob = [m["Subject"] for m in inbox.messages if m["To"] == "bob@example.com"]
    assert to_bob == ["[Forum] cyd replied to you in “Another topic”"]
    busy = next(m for m in inbox.messages if "Busy topic" in m["Subject"])
    body = text_of(busy)
    assert "bob replied to you" in body and "cyd mentioned you" in body
    assert "First answer" in body and "second answer" in body
    # The mention is the strongest cause: its template's lead.
    assert "you were mentioned on Forum" in body


def test_the_mail_is_in_the_members_language(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    with transaction():
        ada.language = "de"
    sig = f.sig("retro", members=[ada, bob])
    f.reply(bob, f.topic(bob, sig, "Amiga"), "@ada schau mal")
    deliver(app)
    (message,) = inbox.messages
    assert message["Subject"] == "[Forum] bob hat dich in „Amiga“ erwähnt"
    assert "Hallo ada" in text_of(message)


def test_the_settings_choose_what_is_mailed(app, f, inbox, client):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    client.login("ada")
    page = client.get("/settings").get_data(as_text=True)
    assert "When someone mentions me" in page and "New posts and topics I watch" in page
    response = client.form(
        "/notifications/preferences",
        {"watch_posted": "y", "mail_mention": "now", "mail_reply": "off", "mail_watched": "now"},
    )
    assert response.status_code == 302
    choices = mail_choices(db.session.get(User, ada.id))
    assert choices == {
        "mention": "now",
        "reply": "off",
        "quote": "off",
        "watched": "now",
        "moderation": "off",
        "private_message": "now",
        "reaction": "off",
        "reminder": "off",
        "concern": "now",  # member care (tests/test_concerns.py)
    }
    topic = f.topic(ada, sig, "Mine")  # ada watches it (she started it)
    f.reply(bob, topic, "A reply: ada hears of it as a watched topic only")
    deliver(app)
    assert inbox.messages == []  # a reply to her is "reply" (off), the strongest cause
    other = f.topic(bob, sig, "Bob's")
    client.form(f"/t/{other.id}/watch", {"level": "watching"})
    f.reply(bob, other, "News in a watched topic")
    deliver(app)
    (message,) = inbox.messages
    assert message["Subject"] == "[Forum] bob posted in “Bob's”"
    assert "a topic you watch" in text_of(message)
    bad = client.form("/notifications/preferences", {"mail_reply": "weekly"})
    assert bad.status_code == 400


def test_nothing_is_mailed_to_an_address_that_cannot_receive_mail(app, f, inbox):
    ada = f.user("ada", email="ada@sysop.invalid")
    bob = f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    f.reply(bob, f.topic(bob, sig), "@ada hello")
    assert deliver(app) == 0  # no job is even queued
    assert inbox.messages == []


def test_a_refused_mail_is_tried_again(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    f.reply(bob, f.topic(bob, sig), "@ada hello")
    app.config["MAIL_PORT"] = free_port()  # nobody listens there
    deliver(app)
    assert inbox.messages == []
    (retry,) = queue_of(app).scheduled()
    assert retry.name == "send_notification_mail"
    app.config["MAIL_PORT"] = inbox.port
    queue_of(app).run_due(datetime.now(UTC) + timedelta(minutes=5))
    assert len(inbox.messages) == 1


def test_send_notification_mail_ignores_what_is_gone(app):
    send_notification_mail(12345)  # deleted since: nothing to do, no error


def test_the_daily_digest_mails_what_is_unread_once_a_day_on_the_members_clock(app, f, inbox):
    from forum.notifications import services as notifications
    from forum.notifications.digest import queue_digests
    from forum.timeutil import utcnow

    ada, bob = f.user("ada"), f.user("bob")
    with transaction():
        ada.timezone = "America/New_York"
        ada.preferences = {"mail": {"mention": "digest", "watched": "digest", "reply": "off"}}
    sig = f.sig("retro", members=[ada, bob])
    watched = f.topic(bob, sig, "Watched topic")
    notifications.set_topic_level(db.session.get(User, ada.id), watched.id, "watching")
    f.reply(bob, watched, "News for the digest")
    f.reply(bob, f.topic(bob, sig, "Elsewhere"), "@ada see this")
    f.reply(bob, f.topic(bob, sig, "Read already"), "@ada and this")
    read_topic = db.session.scalars(select(Notification).order_by(Notification.id.desc())).first()
    with transaction():
        read_topic.read_at = utcnow()
    assert deliver(app) == 0 and inbox.messages == []  # nothing "immediately"
    now = utcnow()
    local_hour = now.astimezone(ZoneInfo("America/New_York")).hour
    app.config["DIGEST_HOUR"] = (local_hour + 1) % 24
    assert queue_digests(now) == 0  # not ada's hour yet
    app.config["DIGEST_HOUR"] = local_hour
    assert queue_digests(now) == 1  # ada (the others keep UTC clocks)
    (message,) = inbox.messages
    assert message["Subject"] == "[Forum] Your daily digest: 2 new notifications"
    text = text_of(message)
    assert "== Watched topic ==" in text and "News for the digest" in text
    assert "== Elsewhere ==" in text and "bob mentioned you" in text
    # The read notification is not told again (its topic is listed with the SIG's news).
    notifications_part = text.split("== New in your SIGs ==")[0]
    assert "Read already" not in notifications_part and "and this" not in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Watched topic" in html_of(message)
    # Once a day: a rerun within the hour, even with news since, sends nothing more that day.
    f.reply(bob, f.topic(bob, sig, "Later"), "@ada one more")
    queue_digests(now)
    assert len(inbox.messages) == 1
    # The next day it is in that day's digest.
    tomorrow = now + timedelta(days=1)
    queue_digests(tomorrow)
    assert len(inbox.messages) == 2 and "one more" in text_of(inbox.messages[1])


# --- private mail -----------------------------------------------------------------------------
def _write_to(sender, to, subject="Lunch?", body="Shall we meet at <noon> & talk?"):
    from forum.messages import services as messages

    return messages.start_conversation(sender, to.username, subject, body)


@HTTPS
def test_a_private_message_mails_the_recipient_once_threaded_per_conversation(app, f, inbox):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    assert mail_choices(ada)["private_message"] == "now"  # the default
    conversation = _write_to(bob, ada)
    assert inbox.messages == []  # it waits, like every notification mail
    assert deliver(app) == 1
    (message,) = inbox.messages
    assert inbox.recipients == [["ada@example.com"]]  # the participant, and nobody else
    assert message["Subject"] == "[Forum] bob sent you private mail: “Lunch?”"
    text, html = text_of(message), html_of(message)
    assert "Hello ada, there is new private mail for you in “Lunch?” on Forum:" in text
    assert "Shall we meet at <noon> & talk?" in text
    assert "Shall we meet at &lt;noon&gt; &amp; talk?" in html and "<noon>" not in html
    message_id = db.session.scalar(select(PrivateMessage.id))
    link = f"https://forum.example.org/mail/c/{conversation.id}#message-{message_id}"
    assert link in text and f'href="{link}"' in html
    root = f"<conversation.{conversation.id}@forum.example.org>"
    assert message["In-Reply-To"] == message["References"] == root
    assert "List-Id" not in message  # private mail belongs to no SIG
    assert "When someone writes me private mail" in text
    # Run again (a retry): not sent twice; the author hears nothing of their own message.
    notification_id = db.session.scalar(select(Notification.id))
    queue_of(app).task("forum.notifications.mail.send_notification_mail")(notification_id)
    assert deliver(app) == 0 and len(inbox.messages) == 1
    # Two answers in the same conversation before the mail goes: one mail, same thread.
    from forum.messages import services as messages

    messages.reply_to_conversation(ada, conversation.id, "Noon is fine.")
    messages.reply_to_conversation(ada, conversation.id, "Bring cyd's notes.")
    deliver(app)
    assert len(inbox.messages) == 2 and inbox.recipients[1] == ["bob@example.com"]
    second = inbox.messages[1]
    assert second["Subject"] == "[Forum] 2 new private messages in “Lunch?”"
    assert second["References"] == root
    assert "Noon is fine." in text_of(second) and "cyd&#39;s notes" in html_of(second)
    assert "cyd@example.com" not in str(inbox.recipients)
    assert cyd.id not in set(db.session.scalars(select(Notification.user_id)))


def test_a_private_message_mail_is_in_the_recipients_language(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    with transaction():
        ada.language = "de"
    _write_to(bob, ada, subject="Mittag?", body="Treffen wir uns?")
    deliver(app)
    (message,) = inbox.messages
    assert message["Subject"] == "[Forum] bob hat dir eine private Nachricht geschickt: „Mittag?“"
    text = text_of(message)
    assert "Hallo ada" in text and "„Mittag?“" in text and "Treffen wir uns?" in text


def test_a_member_who_left_the_conversation_gets_no_mail(app, f, inbox):
    from forum.messages import services as messages

    ada, bob = f.user("ada"), f.user("bob")
    f.user("cyd")
    conversation = messages.start_conversation(
        bob, "ada, cyd", "Team", "Something only participants read"
    )
    messages.leave_conversation(ada, conversation.id)
    assert deliver(app) == 2  # both jobs run: ada's finds nothing to say
    assert inbox.recipients == [["cyd@example.com"]]


def test_a_member_whose_access_is_gone_gets_no_mail_even_with_the_notification_unread(
    app, f, inbox
):
    ada, bob = f.user("ada"), f.user("bob")
    conversation = _write_to(bob, ada, subject="Secret plans", body="The words of the secret")
    # Access gone without the notification being read (the policy alone decides at send time).
    with transaction():
        row = db.session.get(ConversationMember, (conversation.id, ada.id))
        row.left_at = datetime.now(UTC)
    assert db.session.scalar(select(Notification.read_at)) is None
    deliver(app)
    assert inbox.messages == []
    # What the center says of it keeps the conversation to itself, too.
    (row,) = member_rows(db.session.get(User, ada.id), [db.session.scalar(select(Notification.id))])
    assert row.withheld and row.excerpt == "" and row.url == "/mail"
    assert "Secret plans" not in row.text


def test_no_private_message_mail_when_the_category_is_off(app, f, inbox, client):
    ada, bob = f.user("ada"), f.user("bob")
    client.login("ada")
    page = client.get("/settings").get_data(as_text=True)
    assert "When someone writes me private mail" in page
    response = client.form("/notifications/preferences", {"mail_private_message": "off"})
    assert response.status_code == 302
    assert mail_choices(db.session.get(User, ada.id))["private_message"] == "off"
    _write_to(bob, ada)
    assert deliver(app) == 0  # no job is even queued
    assert inbox.messages == []
    # The notification itself is still there, in the center.
    assert db.session.scalar(select(Notification.kind)) == "private_message"


def test_a_private_message_hidden_before_the_mail_goes_is_not_mailed(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    _write_to(bob, ada, subject="Hidden", body="Words a sysop will hide")
    _write_to(bob, ada, subject="Fine", body="Words that stay")
    with transaction():
        db.session.scalar(
            select(PrivateMessage).order_by(PrivateMessage.id)
        ).hidden_at = datetime.now(UTC)
    deliver(app)
    (message,) = inbox.messages  # the other conversation's mail only
    assert message["Subject"] == "[Forum] bob sent you private mail: “Fine”"
    assert "Words a sysop will hide" not in text_of(message)


def test_private_mail_in_the_daily_digest_only_while_the_member_reads_it(app, f, inbox):
    from forum.notifications.digest import queue_digests
    from forum.timeutil import utcnow

    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    with transaction():
        ada.preferences = {"mail": {"private_message": "digest"}}
    _write_to(bob, ada, subject="Kept", body="Words for the digest")
    gone = _write_to(cyd, ada, subject="Left behind", body="Words ada walked away from")
    with transaction():  # access gone, the notification still unread
        db.session.get(ConversationMember, (gone.id, ada.id)).left_at = utcnow()
    assert deliver(app) == 0 and inbox.messages == []  # nothing "immediately"
    now = utcnow()
    app.config["DIGEST_HOUR"] = now.hour  # ada's clock is UTC
    queue_digests(now)
    (message,) = inbox.messages
    assert message["Subject"] == "[Forum] Your daily digest: 1 new notification"
    text = text_of(message)
    assert "bob sent you private mail: “Kept”" in text and "Words for the digest" in text
    assert "Left behind" not in text and "walked away" not in text
    assert "Left behind" not in html_of(message)
