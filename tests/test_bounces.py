"""Bounces and spam complaints come back to the envelope sender of each mail (a signed
bounce+… address per member and address) through the LMTP listener; past the threshold (a site
setting) mail to that address stops, and the member is told on their next visit by a banner
that turns it back on. Real SMTP (what the forum sends) and LMTP (what comes back) on loopback."""

from __future__ import annotations

import email
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import pytest

from forum import mail, settings
from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.jobs import queue_of
from forum.mailin import lmtp, services
from forum.settings import SiteSetting

from .mailbox import free_port

BASE = pytest.mark.config(BASE_URL="http://forum.example.org", MAIL_SENDER="forum@example.org")


@pytest.fixture
def listener(app: Any) -> Iterator[int]:
    controller = lmtp.start(app, "127.0.0.1", free_port())
    try:
        yield int(controller.port)
    finally:
        controller.stop()


def deliver(app: Any) -> int:
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


def dsn(to: str, failed: str, status: str = "5.1.1", n: int = 1, action: str = "failed") -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes one."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.com (Mail Delivery System)"
    report["To"] = to
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Message-ID"] = f"<dsn{n}@mx.example.com>"
    report["Auto-Submitted"] = "auto-replied"
    report.attach(
        MIMEText("I'm sorry to have to inform you that your message could not be delivered.")
    )
    per_message = "Reporting-MTA: dns; mx.example.com\n"
    per_recipient = (
        f"Final-Recipient: rfc822; {failed}\nOriginal-Recipient: rfc822;{failed}\n"
        f"Action: {action}\nStatus: {status}\nDiagnostic-Code: smtp; 550 {status} no such user\n"
    )
    status_part = email.message_from_string(
        "Content-Type: message/delivery-status\n\n" + per_message + "\n" + per_recipient
    )
    report.attach(status_part)
    original = EmailMessage()
    original["Subject"] = "[Forum] bob mentioned you"
    original.set_content("…")
    report.attach(MIMEMessage(original))
    return report.as_bytes(policy=policy.SMTP)


def arf(to: str, n: int = 1) -> bytes:
    """A spam complaint (RFC 5965, ARF) as a mailbox provider's feedback loop sends it."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "feedback@provider.example"
    report["To"] = to
    report["Subject"] = "Abuse report"
    report["Message-ID"] = f"<arf{n}@provider.example>"
    report.attach(MIMEText("This is an email abuse report."))
    feedback = email.message_from_string(
        "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: Provider/1.0\n"
        "Version: 1\n"
    )
    report.attach(feedback)
    return report.as_bytes(policy=policy.SMTP)


def set_setting(key: str, value: str) -> None:
    with transaction() as session:
        session.add(SiteSetting(key=key, value=value))
    settings.forget()


@BASE
def test_bounces_past_the_threshold_stop_mail_and_the_member_is_told(
    app, f, inbox, listener, client
):
    set_setting("bounce_threshold", "2")
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig)
    f.reply(bob, topic, "@ada one")
    deliver(app)
    (sent,) = inbox.messages
    envelope = inbox.senders[0]
    assert envelope == mail.bounce_address(ada.id, "ada@example.com")
    assert envelope.startswith(f"bounce+{ada.id}-") and envelope.endswith("@example.org")

    def bounce(n: int, status: str = "5.1.1", action: str = "failed") -> None:
        with smtplib.LMTP("127.0.0.1", listener) as client_lmtp:
            refused = client_lmtp.sendmail(
                "", [envelope], dsn(envelope, "ada@example.com", status, n, action)
            )
        assert refused == {}

    bounce(1)
    # A delay warning counts for nothing; the same report delivered twice counts once.
    bounce(2, status="4.4.1", action="delayed")
    bounce(1)
    db.session.expire_all()
    user = db.session.get(User, ada.id)
    assert user.mail_bounces == 1 and user.mail_disabled_at is None
    f.reply(bob, topic, "@ada two")
    deliver(app)
    assert len(inbox.messages) == 2
    bounce(3)
    db.session.expire_all()
    assert db.session.get(User, ada.id).mail_disabled_at is not None
    # No more notification mail.
    f.reply(bob, topic, "@ada three")
    deliver(app)
    assert len(inbox.messages) == 2
    # Ada's next visit shows the banner, with a way to turn mail back on.
    client.login(ada)
    page = client.get("/").get_data(as_text=True)
    assert "Mail to ada@example.com bounced" in page
    assert client.form("/settings/mail/resume", {"next": "/"}).status_code == 302
    user = db.session.get(User, ada.id)
    assert user.mail_disabled_at is None and user.mail_bounces == 0
    assert "bounced" not in client.get("/").get_data(as_text=True)
    f.reply(bob, topic, "@ada four")
    deliver(app)
    assert len(inbox.messages) == 3
    assert sent["To"] == "ada@example.com"


@BASE
def test_one_spam_complaint_stops_mail_at_once(app, f, inbox):
    ada = f.user("ada")
    envelope = mail.bounce_address(ada.id, ada.email)
    (delivery,) = services.receive(arf(envelope), [envelope], "")
    assert delivery.outcome == services.COUNTED
    assert db.session.get(User, ada.id).mail_disabled_at is not None


@BASE
def test_a_bounce_for_an_address_the_member_has_left_counts_for_nothing(app, f, listener):
    ada = f.user("ada")
    old = mail.bounce_address(ada.id, "ada@example.com")
    with transaction():
        ada.email = "ada@new.example.net"
    assert services.receive(dsn(old, "ada@example.com"), [old], "")[0].outcome == services.UNKNOWN
    with smtplib.LMTP("127.0.0.1", listener) as client_lmtp:
        client_lmtp.ehlo_or_helo_if_needed()
        client_lmtp.mail("")
        code, _ = client_lmtp.rcpt(old)
    assert code == 550
    assert db.session.get(User, ada.id).mail_bounces == 0


@BASE
def test_mail_to_the_bounce_address_that_is_no_report_is_dropped(app, f):
    ada = f.user("ada")
    envelope = mail.bounce_address(ada.id, ada.email)
    vacation = EmailMessage()
    vacation["From"] = "ada@example.com"
    vacation["Subject"] = "Out of office"
    vacation["Auto-Submitted"] = "auto-replied"
    vacation.set_content("I am away.")
    assert services.receive(bytes(vacation), [envelope], "")[0].outcome == services.IGNORED
    assert db.session.get(User, ada.id).mail_bounces == 0


@BASE
def test_the_threshold_is_a_site_setting_the_sysop_changes(app, f, client):
    root = f.sysop("root")
    client.login(root)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert "Bounces before mail stops" in page and "Digests without a visit" in page
