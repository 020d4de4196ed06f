"""Reply by email: notification mail carries the member's reply address for the topic; a reply
sent there (over a real LMTP listener on loopback, or piped to `flask forum mail-in`) is posted
in the topic by the web's own verb, without the quoted mail and the signature; whatever is
refused gets one polite mail back (to a real SMTP server on loopback), in the member's language.
The quote stripping is tested over samples written as the common clients write them."""

from __future__ import annotations

import re
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from forum import mail
from forum.db import transaction
from forum.extensions import db
from forum.jobs import queue_of
from forum.mailin import lmtp, services
from forum.mailin.models import InboundMail
from forum.mailin.parsing import html_to_text, reply_text, strip_reply
from forum.topics.models import Post

from .mailbox import free_port, text_of

ROOT = Path(__file__).resolve().parent.parent

HTTPS = pytest.mark.config(BASE_URL="https://forum.example.org", MAIL_SENDER="forum@example.org")


@pytest.fixture
def listener(app: Any) -> Iterator[int]:
    """The forum's LMTP listener on loopback; yields its port."""
    controller = lmtp.start(app, "127.0.0.1", free_port())
    try:
        yield int(controller.port)
    finally:
        controller.stop()


def deliver(app: Any) -> int:
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


def reply_mail(
    to: str,
    body: str,
    *,
    sender: str = "ada@example.com",
    subject: str = "Re: [Forum] bob mentioned you",
    message_id: str = "<r1@mail.example.com>",
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Ada <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(policy=policy.SMTP)


def posts_in(topic_id: int) -> list[str]:
    return list(
        db.session.scalars(select(Post.body_raw).where(Post.topic_id == topic_id).order_by(Post.id))
    )


# --- the whole way: mention, mail, reply from the mail client, post ----------------------
@HTTPS
def test_a_reply_to_the_notification_mail_over_lmtp_appears_in_the_topic(
    app, f, inbox, listener, client
):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig, "Amiga sound chips")
    f.reply(bob, topic, "What do you think, @ada?")
    assert deliver(app) == 1
    (notice,) = inbox.messages
    reply_to = notice["Reply-To"]
    assert reply_to == mail.reply_address(ada.id, topic.id)
    assert reply_to.startswith(f"reply+{ada.id}-{topic.id}-")
    assert reply_to.endswith("@example.org") and len(reply_to.split("@")[0]) <= 64
    # Bounces come back to a signed envelope sender of the member's address.
    assert inbox.senders == [mail.bounce_address(ada.id, "ada@example.com")]
    assert "Reply to this mail to post your answer" in text_of(notice)

    # Ada answers from Gmail, above the quoted mail, with a signature.
    answer = (
        "Paula is *great*: four channels.\n\n"
        "    move.w #$0f, $dff096\n\n"
        "-- \nAda Lovelace\n\n"
        f"On Mon, Jan 8, 2024 at 10:15 AM Forum <{reply_to}> wrote:\n\n"
        "> What do you think, @ada?\n"
    )
    raw = reply_mail(reply_to, answer, headers={"In-Reply-To": notice["Message-ID"]})
    with smtplib.LMTP("127.0.0.1", listener) as lmtp_client:
        refused = lmtp_client.sendmail("ada@example.com", [reply_to], raw)
    assert refused == {}
    db.session.expire_all()
    bodies = posts_in(topic.id)
    assert bodies[-1] == "Paula is *great*: four channels.\n\n    move.w #$0f, $dff096"
    post = db.session.scalar(select(Post).where(Post.topic_id == topic.id).order_by(Post.id.desc()))
    assert post is not None and post.user_id == ada.id
    assert "<em>great</em>" in post.body_html and "<code>" in post.body_html
    # It is on the topic's page like any reply.
    page = client.get(f"/t/{topic.id}")
    assert "four channels" in page.get_data(as_text=True)
    # The MTA delivers it again (its reply was lost): nothing more is posted.
    with smtplib.LMTP("127.0.0.1", listener) as lmtp_client:
        lmtp_client.sendmail("ada@example.com", [reply_to], raw)
    db.session.expire_all()
    assert len(posts_in(topic.id)) == len(bodies)
    assert len(inbox.messages) == 1  # no refusal either


@HTTPS
def test_the_listener_refuses_addresses_that_are_not_the_forums(app, f, listener):
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    good = mail.reply_address(ada.id, topic.id)
    forged = good.replace(f"reply+{ada.id}-", f"reply+{bob.id}-")
    with smtplib.LMTP("127.0.0.1", listener) as lmtp_client:
        lmtp_client.ehlo_or_helo_if_needed()
        for address in (forged, "postmaster@example.org", good.replace("example.org", "evil.test")):
            lmtp_client.mail("ada@example.com")
            code, _ = lmtp_client.rcpt(address)
            assert code == 550, address
            lmtp_client.rset()
    assert posts_in(topic.id) == ["The first post."]


@HTTPS
def test_the_mail_in_pipe_posts_a_reply_and_exits_67_for_strangers(app, f):
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    runner = app.test_cli_runner()
    raw = reply_mail(address, "Piped in.\n\nAm 08.01.24 um 10:15 schrieb Forum:\n> Hallo\n")
    result = runner.invoke(args=["forum", "mail-in", "--recipient", address], input=raw)
    assert result.exit_code == 0, result.output
    assert "posted" in result.output
    assert posts_in(topic.id)[-1] == "Piped in."
    # Without --recipient the pipe reads Delivered-To (as Postfix writes it).
    raw = reply_mail(
        "Forum <forum@example.org>",
        "Second one.",
        message_id="<r2@mail.example.com>",
        headers={"Delivered-To": address},
    )
    result = runner.invoke(args=["forum", "mail-in"], input=raw)
    assert result.exit_code == 0 and posts_in(topic.id)[-1] == "Second one."
    stranger = reply_mail("nobody@example.org", "Hi", message_id="<r3@mail.example.com>")
    result = runner.invoke(
        args=["forum", "mail-in", "--recipient", "nobody@example.org"], input=stranger
    )
    assert result.exit_code == 67


def _documented_pipe_argv() -> list[str]:
    """The argv of Postfix's pipe to the forum, as docs/deployment.md writes it in master.cf."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    found = re.search(r"flags=\S+ user=forum argv=(.+?)\n\n", text, re.S)
    assert found, "docs/deployment.md shows no pipe to the forum"
    return found.group(1).split()


@HTTPS
@pytest.mark.slow
def test_the_documented_pipe_command_reads_the_forums_settings_from_its_env_file(
    app, f, base_config, tmp_path
):
    """Postfix's pipe runs the command as docs/deployment.md shows, elsewhere than the checkout,
    with none of the forum's settings in its environment: it reads them from the file the
    systemd units read (here a temporary one), its database and secret key among them. The
    reply is posted, so the command reached the test's database and checked the address with
    the key."""
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    env_file = tmp_path / "forum.env"
    env_file.write_text(
        "# As deploy/forum.env.example: one NAME=value a line, read by systemd and --env-file.\n"
        f"FORUM_SECRET_KEY={app.config['SECRET_KEY']}\n"
        f"FORUM_DATABASE_URL={base_config['DATABASE_URL']}\n"
        f"FORUM_INSTANCE_PATH={tmp_path / 'instance'}\n"
        f"FORUM_INDEX_DIR={tmp_path / 'index'}\n"
        "FORUM_BASE_URL=https://forum.example.org\n"
        "FORUM_MAIL_SENDER=forum@example.org\n"
        'FORUM_PROXY_TRUSTED=["127.0.0.1", "::1"]\n'
        "FORUM_SEARCH_SYNC_ON_START=false\n"
        "FORUM_SEARCH_DRAIN=inline\n"
    )
    places = {
        "/srv/forum/app/.venv/bin/forum": str(Path(sys.executable).with_name("forum")),
        "/etc/forum/forum.env": str(env_file),
        "${sender}": "ada@example.com",
        "${original_recipient}": address,
    }
    argv = _documented_pipe_argv()
    assert set(places) <= set(argv), argv
    spool = tmp_path / "spool"  # (Postfix's pipe runs in its queue directory)
    spool.mkdir()
    done = subprocess.run(
        [places.get(word, word) for word in argv],
        input=reply_mail(address, "Piped in with the settings from the file."),
        cwd=spool,
        env={"LANG": "C.UTF-8", "TZ": "UTC"},  # Postfix's pipe passes little more
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()[-3000:]
    assert b"posted" in done.stdout
    db.session.expire_all()
    assert posts_in(topic.id)[-1] == "Piped in with the settings from the file."


# --- refused: one polite mail back ------------------------------------------------------
class _Killed(BaseException):
    """A process killed halfway (no `except Exception` catches it)."""


@HTTPS
def test_a_reply_cut_off_halfway_is_posted_when_the_mta_delivers_it_again(
    app, f, inbox, monkeypatch
):
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    raw = reply_mail(address, "Said once, posted once.")
    real = services.topics.reply_to_topic

    def dies_after_writing(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise _Killed

    monkeypatch.setattr(services.topics, "reply_to_topic", dies_after_writing)
    with pytest.raises(_Killed):
        services.receive(raw, [address], "ada@example.com")
    db.session.rollback()
    # Nothing of it was kept: neither the post nor the record that it was acted on.
    assert posts_in(topic.id) == ["The first post."]
    assert db.session.scalar(select(func.count()).select_from(InboundMail)) == 0
    monkeypatch.setattr(services.topics, "reply_to_topic", real)
    (delivery,) = services.receive(raw, [address], "ada@example.com")
    assert delivery.outcome == services.POSTED
    assert posts_in(topic.id) == ["The first post.", "Said once, posted once."]
    (again,) = services.receive(raw, [address], "ada@example.com")
    assert again.outcome == services.DUPLICATE
    assert len(posts_in(topic.id)) == 2 and inbox.messages == []


@HTTPS
def test_two_deliveries_at_once_post_one_reply(app, f, inbox, monkeypatch):
    """The second of two deliveries racing each other passes the first look (it saw no record
    yet) and meets the first one's record at the unique index: one post, no refusal."""
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    raw = reply_mail(address, "Only once.")
    (first,) = services.receive(raw, [address], "ada@example.com")
    real, looks = services._seen, []

    def raced(*args: Any) -> bool:  # the first look finds nothing, as if it raced the first
        looks.append(args)
        return False if len(looks) == 1 else real(*args)

    monkeypatch.setattr(services, "_seen", raced)
    (second,) = services.receive(raw, [address], "ada@example.com")
    assert (first.outcome, second.outcome) == (services.POSTED, services.DUPLICATE)
    assert posts_in(topic.id) == ["The first post.", "Only once."]
    assert inbox.messages == []


@HTTPS
def test_a_reply_to_a_locked_topic_is_refused_with_one_mail_in_the_members_language(app, f, inbox):
    from forum.moderation import services as mod

    ada, bob, root = f.user("ada"), f.user("bob"), f.sysop("root")
    with transaction():
        ada.language = "de"
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    mod.lock_topic(root, topic.id)
    address = mail.reply_address(ada.id, topic.id)
    raw = reply_mail(address, "Meine Antwort.")
    (delivery,) = services.receive(raw, [address], "ada@example.com")
    assert delivery.outcome == services.REFUSED
    assert posts_in(topic.id) == ["The first post."]
    (refusal,) = inbox.messages
    assert inbox.senders == ["forum@example.org"]
    assert refusal["To"] == "ada@example.com"
    assert (
        refusal["Subject"]
        == "[Forum] Deine Antwort wurde nicht veröffentlicht: Re: [Forum] bob mentioned you"
    )
    assert refusal["Auto-Submitted"] == "auto-replied"
    body = text_of(refusal)
    assert "Hallo ada" in body and "Meine Antwort." in body
    assert "geschlossen" in body  # the service's own reason, in German
    # Delivered again: no second refusal.
    services.receive(raw, [address], "ada@example.com")
    assert len(inbox.messages) == 1


@HTTPS
def test_replies_by_mail_follow_the_policy_discipline_and_word_filter(app, f, inbox):
    from forum.moderation import services as mod

    ada, bob, cyd, root = f.user("ada"), f.user("bob"), f.user("cyd"), f.sysop("root")
    private = f.sig("secret", visibility="private", members=[bob])
    hidden = f.topic(bob, private, "Private plans")
    public = f.sig("retro", members=[ada, bob, cyd])
    topic = f.topic(bob, public, "Open talk")
    mod.add_word_filter(root, "casino", "block")
    mod.ban_member(root, cyd.id, "spam")

    def send(user, topic_id, body, n):
        address = mail.reply_address(user.id, topic_id)
        raw = reply_mail(
            address, body, sender=user.email, message_id=f"<policy{n}@mail.example.com>"
        )
        (delivery,) = services.receive(raw, [address], user.email)
        return delivery.outcome

    # A reply address of a topic the member may not read (a private SIG) posts nothing.
    assert send(ada, hidden.id, "Let me in", 1) == services.REFUSED
    assert send(ada, topic.id, "Visit my casino", 2) == services.REFUSED
    assert send(cyd, topic.id, "I am back", 3) == services.REFUSED
    assert send(ada, topic.id, "A fine reply", 4) == services.POSTED
    assert posts_in(hidden.id) == ["The first post."]
    assert posts_in(topic.id) == ["The first post.", "A fine reply"]
    reasons = [text_of(m) for m in inbox.messages]
    assert len(reasons) == 3
    assert "Private plans" not in reasons[0]  # the refusal tells nothing of what is hidden
    assert "casino" in reasons[1]
    assert "banned" in reasons[2]


@HTTPS
def test_a_new_accounts_reply_by_mail_keeps_to_its_trust_limits(app, f, inbox):
    from forum.accounts.models import TL_NEW

    ada, bob = f.user("ada", trust_level=TL_NEW), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    links = "See https://a.example, https://b.example and https://c.example."
    (delivery,) = services.receive(reply_mail(address, links), [address], "ada@example.com")
    assert delivery.outcome == services.REFUSED
    assert "New accounts can put 2 links in a post; this one has 3." in text_of(inbox.messages[0])
    assert posts_in(topic.id) == ["The first post."]


@pytest.mark.config(
    RATELIMIT_ENABLED=True, BASE_URL="http://forum.example.org", MAIL_SENDER="forum@example.org"
)
def test_replies_by_mail_spend_the_same_posting_budget_as_the_web(app, f, inbox, client):
    from forum import settings
    from forum.settings import SiteSetting

    with transaction() as session:
        session.add(SiteSetting(key="post_rate_limit", value="3 per minute"))
    settings.forget()
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    client.login(ada)
    assert client.form(f"/t/{topic.id}/reply", {"body": "From the web"}).status_code == 302
    address = mail.reply_address(ada.id, topic.id)
    outcomes = [
        services.receive(
            reply_mail(address, f"Reply {n}", message_id=f"<rate{n}@mail.example.com>"),
            [address],
            "ada@example.com",
        )[0].outcome
        for n in range(3)
    ]
    assert outcomes == [services.POSTED, services.POSTED, services.REFUSED]
    assert "faster than this forum allows" in text_of(inbox.messages[0])
    # And the web form finds the budget spent too.
    assert client.form(f"/t/{topic.id}/reply", {"body": "Once more"}).status_code == 429


@HTTPS
def test_mail_from_another_address_an_empty_reply_and_auto_replies(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    wrong = reply_mail(address, "I am Ada, honestly", sender="mallory@example.net")
    assert services.receive(wrong, [address], "mallory@example.net")[0].outcome == "refused"
    empty = reply_mail(
        address, "On Mon, Jan 8, 2024, Forum wrote:\n> hi\n", message_id="<e@mail.example.com>"
    )
    assert services.receive(empty, [address], "ada@example.com")[0].outcome == "refused"
    vacation = reply_mail(
        address,
        "I am away until Monday.",
        message_id="<v@mail.example.com>",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert services.receive(vacation, [address], "ada@example.com")[0].outcome == "ignored"
    bounce = reply_mail(address, "Undeliverable", message_id="<b@mail.example.com>")
    assert services.receive(bounce, [address], "")[0].outcome == "ignored"
    assert posts_in(topic.id) == ["The first post."]
    # The two refusals went to the member's own address, never to the stranger.
    assert [m["To"] for m in inbox.messages] == ["ada@example.com", "ada@example.com"]
    assert "mallory@example.net" in text_of(inbox.messages[0])
    assert "nothing was left" in text_of(inbox.messages[1])
    kinds = db.session.scalar(select(func.count()).select_from(InboundMail))
    assert kinds == 2


# --- the quoted mail and the signature, as the clients write them -----------------------
ANSWER = "Sounds good to me."
SAMPLES = {
    # Gmail wraps its attribution line; it quotes with "> ".
    "gmail-en": (
        f"{ANSWER}\n\nOn Mon, Jan 8, 2024 at 10:15 AM Forum <\nreply+1-2-abc@forum.example.org> "
        "wrote:\n\n> What do you think?\n>\n> --\n> Forum\n"
    ),
    "gmail-de": (
        f"{ANSWER}\n\nAm Mo., 8. Jan. 2024 um 10:15 Uhr schrieb Forum <\n"
        "reply+1-2-abc@forum.example.org>:\n\n> Was meinst du?\n"
    ),
    "gmail-es": (
        f"{ANSWER}\n\nEl lun, 8 ene 2024 a las 10:15, Forum (<reply+1-2-abc@forum.example.org>)\n"
        "escribió:\n\n> ¿Qué opinas?\n"
    ),
    # Outlook puts the original under a line and a header block, without quote marks.
    "outlook-en": (
        f"{ANSWER}\n\nGet Outlook for iOS<https://aka.ms/o0ukef>\n"
        "________________________________\nFrom: Forum <reply+1-2-abc@forum.example.org>\n"
        "Sent: Monday, January 8, 2024 10:15 AM\nTo: Ada <ada@example.com>\n"
        "Subject: [Forum] bob mentioned you\n\nWhat do you think?\n"
    ),
    "outlook-de": (
        f"{ANSWER}\n\nMit freundlichen Grüßen\nAda\n\n"
        "Von: Forum <reply+1-2-abc@forum.example.org>\nGesendet: Montag, 8. Januar 2024 10:15\n"
        "An: Ada <ada@example.com>\nBetreff: [Forum] bob hat dich erwähnt\n\nWas meinst du?\n"
    ),
    "outlook-es": (
        f"{ANSWER}\n\n________________________________\n"
        "De: Forum <reply+1-2-abc@forum.example.org>\nEnviado: lunes, 8 de enero de 2024 10:15\n"
        "Para: Ada <ada@example.com>\nAsunto: [Forum] bob te mencionó\n\n¿Qué opinas?\n"
    ),
    "outlook-classic": (
        f"{ANSWER}\n\n-----Original Message-----\nFrom: Forum\nSent: Monday\n\nWhat?\n"
    ),
    # Apple Mail: "Sent from my iPhone", then a quoted attribution.
    "apple-en": (
        f"{ANSWER}\n\nSent from my iPhone\n\n> On 8 Jan 2024, at 10:15, Forum "
        "<reply+1-2-abc@forum.example.org> wrote:\n> \n> What do you think?\n"
    ),
    "apple-de": (
        f"{ANSWER}\n\nVon meinem iPhone gesendet\n\n> Am 08.01.2024 um 10:15 schrieb Forum "
        "<reply+1-2-abc@forum.example.org>:\n> \n> Was meinst du?\n"
    ),
    "apple-es": (
        f"{ANSWER}\n\nEnviado desde mi iPhone\n\n> El 8 ene 2024, a las 10:15, Forum "
        "<reply+1-2-abc@forum.example.org> escribió:\n> \n> ¿Qué opinas?\n"
    ),
    # Thunderbird: a short attribution right above the quote; "-- " signatures.
    "thunderbird-en": (
        f"{ANSWER}\n\n-- \nAda\n\nOn 08.01.24 10:15, Forum wrote:\n> What do you think?\n"
    ),
    "thunderbird-de": f"{ANSWER}\n\nAm 08.01.24 um 10:15 schrieb Forum:\n> Was meinst du?\n",
    "thunderbird-es": f"{ANSWER}\n\nEl 8/1/24 a las 10:15, Forum escribió:\n> ¿Qué opinas?\n",
    # mutt: its default attribution, and a custom one no pattern knows.
    "mutt-en": (
        f"{ANSWER}\n\n-- \nAda Lovelace | Analytical Engines\n\n"
        "On Mon, Jan 08, 2024 at 10:15:00AM +0100, Forum wrote:\n> What do you think?\n"
    ),
    "mutt-custom": (
        f"{ANSWER}\n\n* Forum <reply+1-2-abc@forum.example.org> [2024-01-08 10:15]:\n> What?\n"
    ),
}


@pytest.mark.parametrize("client_name", sorted(SAMPLES))
def test_quoted_mail_and_signatures_are_stripped(client_name):
    assert strip_reply(SAMPLES[client_name], ["de", "es"]) == ANSWER


def test_the_members_words_keep_their_shape():
    text = (
        "I agree with this part:\n\n> point one\n\nYes, exactly.\n\n"
        "Steps:\n\n- one\n  - nested\n- two\n\n    code block\n\n"
        "Thanks, Bob, that was it.\n\nOn Mon, 8 Jan 2024, Forum wrote:\n> point one\n"
    )
    assert strip_reply(text) == text.split("\n\nOn Mon")[0]


def test_html_only_replies_and_flowed_text():
    gmail = (
        '<div dir="ltr">Sounds <b>good</b>.<br><br>Second line</div><br>'
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, Forum wrote:<br></div>'
        '<blockquote class="gmail_quote">What <div>nested</div> do you think?</blockquote></div>'
    )
    assert html_to_text(gmail) == "Sounds good.\n\nSecond line"
    outlook = (
        '<html><body><p>Fine by me.</p><div id="appendonsend"></div><hr>'
        '<div id="divRplyFwdMsg"><b>From:</b> Forum</div><p>What?</p></body></html>'
    )
    assert html_to_text(outlook) == "Fine by me."
    message = EmailMessage()
    message["From"] = "ada@example.com"
    message.set_content(
        "This line is long and was wrapped \nby the client.\n\n-- \nAda\n",
        params={"format": "flowed"},
    )
    parsed = services.parse(bytes(message))
    assert reply_text(parsed) == "This line is long and was wrapped by the client."


@pytest.mark.config(
    BASE_URL="https://forum.example.org", MAIL_SENDER="forum@example.org", MAIL_IN=False
)
def test_without_mail_in_the_mail_carries_no_reply_address(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    f.reply(bob, topic, "@ada hi")
    deliver(app)
    (notice,) = inbox.messages
    assert notice["Reply-To"] is None
    assert inbox.senders == ["forum@example.org"]
    assert "Reply to this mail" not in text_of(notice)


@pytest.mark.slow
@HTTPS
def test_the_mail_in_server_command_listens_for_lmtp(app, f, base_config, tmp_path):
    """`flask forum mail-in-server` as its own process (as systemd runs it), on the test's
    database: a reply delivered to it over LMTP is posted."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    ada, bob = f.user("ada"), f.user("bob")
    topic = f.topic(bob, f.sig("retro", members=[ada, bob]))
    address = mail.reply_address(ada.id, topic.id)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FORUM_", "FLASK_"))}
    env.update(
        FORUM_DATABASE_URL=base_config["DATABASE_URL"],
        FORUM_INSTANCE_PATH=str(tmp_path),
        FORUM_INDEX_DIR=str(tmp_path / "index"),
        FORUM_SECRET_KEY=app.config["SECRET_KEY"],
        FORUM_MAIL_SENDER="forum@example.org",
        FORUM_SEARCH_SYNC_ON_START="false",
        FORUM_SEARCH_DRAIN="inline",
    )
    root = Path(__file__).resolve().parent.parent
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    log = tmp_path / "mail-in-server.log"
    with log.open("wb") as output:
        proc = subprocess.Popen(
            [*flask, "forum", "mail-in-server", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = smtplib.LMTP("127.0.0.1", port)
                break
            except OSError:
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the listener did not start"
                time.sleep(0.2)
        with client:
            refused = client.sendmail(
                "ada@example.com", [address], reply_mail(address, "From a separate process.")
            )
        assert refused == {}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    db.session.expire_all()
    assert posts_in(topic.id)[-1] == "From a separate process."
