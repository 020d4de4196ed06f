"""Digests, delivered to a real SMTP server on loopback: daily or weekly at the member's own hour,
the unread topics of their SIGs with new posts (most first, with counts), never empty, stopping
after N digests without a visit (and saying so in the last), with the notes of their SIGs'
sysops; the settings choose the rhythm, and the mail's one-click unsubscribe stops it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from forum import settings
from forum.accounts.models import User
from forum.db import transaction
from forum.extensions import db
from forum.notifications import services as notifications
from forum.notifications.digest import digest_choice, queue_digests
from forum.settings import SiteSetting
from forum.timeutil import utcnow

from .mailbox import html_of, text_of

BASE = pytest.mark.config(BASE_URL="http://forum.example.org")


def set_setting(key: str, value: str) -> None:
    with transaction() as session:
        session.add(SiteSetting(key=key, value=value))
    settings.forget()


def at_hour(app: Any, zone: str = "UTC") -> datetime:
    """Now, with DIGEST_HOUR set to the hour it is in `zone`."""
    now = utcnow()
    app.config["DIGEST_HOUR"] = now.astimezone(ZoneInfo(zone)).hour
    return now


@BASE
def test_the_daily_digest_lists_unread_topics_most_active_first_and_is_never_empty(
    app, f, inbox, client
):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, bob, cyd], name="Retro")
    busy = f.topic(bob, sig, "Busy topic")
    quiet = f.topic(cyd, sig, "Quiet topic")
    read = f.topic(bob, sig, "Read topic")
    mine = f.topic(ada, sig, "My own topic")
    muted = f.topic(bob, sig, "Muted topic")
    for n in range(3):
        f.reply(cyd, busy, f"Busy reply {n}")
    f.reply(ada, mine, "Only my own words here")
    notifications.set_topic_level(db.session.get(User, ada.id), muted.id, "muted")
    other = f.sig("other", members=[bob])
    f.topic(bob, other, "Not in ada's SIGs")
    client.login(ada)
    client.get(f"/t/{read.id}")  # ada read it to the end
    now = at_hour(app)
    queue_digests(now)
    (digest,) = inbox.to("ada@example.com")
    assert digest["Subject"] == "[Forum] Your daily digest: 2 topics with new posts"
    text = text_of(digest)
    assert "== New in your SIGs ==" in text
    assert text.index("Busy topic (Retro): 4 new posts") < text.index(
        "Quiet topic (Retro): 1 new post"
    )
    assert f"http://forum.example.org/t/{busy.id}/busy-topic" in text
    for absent in ("Read topic", "My own topic", "Muted topic", "Not in ada"):
        assert absent not in text
    assert "Busy topic" in html_of(digest)
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "last digest" not in text
    # Nothing new since: the next day's digest does not come.
    queue_digests(now + timedelta(days=1))
    assert len(inbox.to("ada@example.com")) == 1
    # Something new: it comes, with only what is new since the last one.
    f.reply(cyd, quiet, "A fresh reply")
    queue_digests(now + timedelta(days=2))
    latest = text_of(inbox.to("ada@example.com")[-1])
    assert "Quiet topic (Retro): 1 new post" in latest and "Busy topic" not in latest


@BASE
def test_a_member_who_lost_access_to_a_private_sig_gets_nothing_of_it(app, f, inbox):
    from forum.moderation import services as mod

    ada, bob, root = f.user("ada"), f.user("bob"), f.sysop("root")
    secret = f.sig("secret", visibility="private", members=[ada, bob])
    f.reply(bob, f.topic(bob, secret, "Secret plans"), "More secrets")
    mod.remove_from_sig(root, ada.id, secret.id, "left the project")
    now = at_hour(app)
    queue_digests(now)
    assert inbox.to("ada@example.com") == []


@BASE
def test_the_weekly_digest_comes_on_the_members_day_and_hour(app, f, inbox, client):
    ada, bob = f.user("ada"), f.user("bob")
    with transaction():
        ada.timezone = "Asia/Tokyo"
    sig = f.sig("retro", members=[ada, bob])
    f.topic(bob, sig, "Weekly news")
    now = utcnow()
    local = now.astimezone(ZoneInfo("Asia/Tokyo"))
    # Ada chooses in her settings: weekly, on tomorrow's weekday, at this hour of her clock.
    client.login(ada)
    tomorrow = (local.weekday() + 1) % 7
    response = client.form(
        "/notifications/preferences",
        {
            "watch_posted": "y",
            "digest_frequency": "weekly",
            "digest_hour": str(local.hour),
            "digest_weekday": str(tomorrow),
        },
    )
    assert response.status_code == 302
    choice = digest_choice(db.session.get(User, ada.id))
    assert (choice.frequency, choice.hour, choice.weekday) == ("weekly", local.hour, tomorrow)
    page = client.get("/settings").get_data(as_text=True)
    assert 'value="weekly" selected' in page or 'selected value="weekly"' in page
    queue_digests(now)
    assert inbox.to("ada@example.com") == []  # not her day
    queue_digests(now + timedelta(hours=1))
    assert inbox.to("ada@example.com") == []  # her day, not her hour
    queue_digests(now + timedelta(days=1))
    (digest,) = inbox.to("ada@example.com")
    assert digest["Subject"] == "[Forum] Your weekly digest: 1 topic with new posts"
    assert "You get the weekly digest of your SIGs." in text_of(digest)


@BASE
def test_digests_stop_after_n_without_a_visit_and_the_last_says_so(app, f, inbox, client):
    set_setting("digest_unvisited_limit", "2")
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig, "Ongoing")
    now = at_hour(app)
    queue_digests(now)
    assert "last digest" not in text_of(inbox.to("ada@example.com")[-1])
    f.reply(bob, topic, "Day two")
    queue_digests(now + timedelta(days=1))
    last = text_of(inbox.to("ada@example.com")[-1])
    assert "this is the last digest until you come back" in last
    f.reply(bob, topic, "Day three")
    queue_digests(now + timedelta(days=2))
    assert len(inbox.to("ada@example.com")) == 2  # stopped
    client.login(ada)  # a visit starts them again
    f.reply(bob, topic, "Day four")
    queue_digests(now + timedelta(days=3))
    assert len(inbox.to("ada@example.com")) == 3
    assert "Day" not in text_of(inbox.to("ada@example.com")[-1])  # titles and counts only


@BASE
def test_a_sig_sysop_adds_a_note_to_the_next_digest_of_the_sig(app, f, inbox, client):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, cyd], sysops=[bob], name="Retro")
    f.sig("other", members=[cyd])
    topic = f.topic(bob, sig, "Meetup")
    # A member who is not a sysop of the SIG may not write one.
    client.login(cyd)
    assert client.get("/s/retro/digest-note").status_code == 403
    assert client.form("/s/retro/digest-note", {"body": "Hi"}).status_code == 403
    client.logout()
    client.login(bob)
    page = client.get("/s/retro/").get_data(as_text=True)
    assert "/s/retro/digest-note" in page
    response = client.form(
        "/s/retro/digest-note", {"body": "The meetup moved to <Saturday> & Sunday."}
    )
    assert response.status_code == 302
    assert "Saturday" in client.get("/s/retro/digest-note").get_data(as_text=True)
    now = at_hour(app)
    queue_digests(now)
    text, html = text_of(inbox.to("ada@example.com")[0]), html_of(inbox.to("ada@example.com")[0])
    assert "== From the sysops ==" in text
    assert "[Retro] The meetup moved to <Saturday> & Sunday." in text
    assert "&lt;Saturday&gt; &amp; Sunday" in html
    # Only in the next digest: the one after has news but not the note again.
    f.reply(cyd, topic, "See you there")
    queue_digests(now + timedelta(days=1))
    assert "meetup moved" not in text_of(inbox.to("ada@example.com")[-1])
    # A note alone makes no digest.
    with transaction():
        db.session.get(User, cyd.id).preferences = {"digest": {"frequency": "daily"}}
    client.form("/s/retro/digest-note", {"body": "Another note"})
    queue_digests(now + timedelta(days=2))
    assert all("Another note" not in text_of(m) for m in inbox.messages)


@BASE
def test_the_digests_one_click_unsubscribe_stops_it(app, f, inbox, client):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig, "Something")
    now = at_hour(app)
    queue_digests(now)
    (digest,) = inbox.to("ada@example.com")
    url = digest["List-Unsubscribe"].strip("<>").removeprefix("http://forum.example.org")
    assert "The digest" in client.get(url).get_data(as_text=True)
    assert client.post(url).status_code == 200
    assert digest_choice(db.session.get(User, ada.id)).frequency == "off"
    f.reply(bob, topic, "More")
    queue_digests(now + timedelta(days=1))
    assert len(inbox.to("ada@example.com")) == 1


@BASE
def test_digests_honour_the_members_language(app, f, inbox):
    ada, bob = f.user("ada"), f.user("bob")
    with transaction():
        ada.language = "es"
    sig = f.sig("retro", members=[ada, bob], name="Retro")
    f.topic(bob, sig, "Noticias")
    queue_digests(at_hour(app))
    (digest,) = inbox.to("ada@example.com")
    assert digest["Subject"] == "[Forum] Tu resumen diario: 1 tema con mensajes nuevos"
    assert "Noticias (Retro): 1 mensaje nuevo" in text_of(digest)


def test_the_weekly_default_comes_from_the_configuration(app, f):
    ada = f.user("ada")
    app.config.update(DIGEST_FREQUENCY="weekly", DIGEST_WEEKDAY=3, DIGEST_HOUR=9)
    choice = digest_choice(db.session.get(User, ada.id))
    assert (choice.frequency, choice.weekday, choice.hour) == ("weekly", 3, 9)
    wednesday_9 = datetime(2026, 12, 10, 9, 30, tzinfo=UTC)  # a Thursday (weekday 3)
    assert queue_digests(wednesday_9 - timedelta(days=1)) == 0
    assert queue_digests(wednesday_9) >= 1


def test_the_weekday_menu_names_the_days_as_each_language_writes_them(f, client):
    # Spanish writes the days in lower case ("Cada semana el lunes"); the menu said "Lunes".
    f.user("pilar")
    client.login("pilar")
    page = client.get("/settings", headers={"Accept-Language": "es"}).get_data(as_text=True)
    days = re.findall(r'<option (?:selected )?value="\d">([^<]+)</option>', _weekdays(page))
    assert days == ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]
    page = client.get("/settings", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert re.findall(r'value="\d">([^<]+)<', _weekdays(page))[:2] == ["Montag", "Dienstag"]


def _weekdays(page: str) -> str:
    return page.split('name="digest_weekday">', 1)[1].split("</select>", 1)[0]
