"""Bookmarks: keep a post with plain forms, a reminder in the member's time zone, /bookmarks,
the reminder job and its notification; nothing of a post one may not read."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from forum import jobs
from forum.bookmarks import services
from forum.bookmarks.models import Bookmark
from forum.errors import Invalid
from forum.extensions import db
from forum.moderation import services as mod
from forum.notifications.models import Notification
from forum.timeutil import utcnow

JSON = {"Accept": "application/json"}


@pytest.fixture
def world(f) -> tuple[Any, Any, Any, Any, Any]:
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Amiga repairs", "Recap the board first.")
    return ada, bob, sig, topic, f.reply(ada, topic, "Then the floppy drive.")


def bookmarks_of(user_id: int) -> list[Bookmark]:
    db.session.expire_all()
    return list(db.session.scalars(select(Bookmark).where(Bookmark.user_id == user_id)))


def reminders_of(user_id: int) -> list[Notification]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Notification).where(
                Notification.user_id == user_id, Notification.kind == "bookmark_reminder"
            )
        )
    )


def test_a_member_bookmarks_a_post_with_the_button_under_it(client, f, world):
    ada, bob, sig, topic, post = world
    client.login("bob")
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    # A button of the post's tray (the form of its reactions), sent to the bookmark's address.
    assert f'<button formaction="/p/{post.id}/bookmark"' in page
    response = client.form(f"/p/{post.id}/bookmark")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/p/{post.id}")
    (saved,) = bookmarks_of(bob.id)
    assert saved.post_id == post.id and saved.remind_at is None
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert f'href="/p/{post.id}/bookmark">★ Bookmarked' in page
    listing = client.get("/bookmarks").get_data(as_text=True)
    assert "Amiga repairs · #2" in listing and "Then the floppy drive." in listing
    assert 'aria-current="page">Bookmarks' in listing
    # Bookmarking again keeps one bookmark.
    client.form(f"/p/{post.id}/bookmark")
    assert len(bookmarks_of(bob.id)) == 1
    # Guests keep none: no button for them.
    client.logout()
    guest_page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert "/bookmark" not in guest_page and "★" not in guest_page


def test_the_script_gets_json(client, world):
    ada, bob, sig, topic, post = world
    client.login("bob")
    answer = client.form(f"/p/{post.id}/bookmark", headers=JSON)
    assert answer.get_json() == {"post_id": post.id, "bookmarked": True, "remind_at": None}
    gone = client.form(f"/p/{post.id}/bookmark/delete", headers=JSON)
    assert gone.get_json() == {"post_id": post.id, "bookmarked": False}
    assert bookmarks_of(bob.id) == []


BERLIN_WEDNESDAY = datetime(2026, 3, 11, 21, 30, tzinfo=UTC)  # 22:30 in Berlin


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("", None),
        ("later_today", datetime(2026, 3, 12, 0, 30, tzinfo=UTC)),
        ("tomorrow", datetime(2026, 3, 12, 8, 0, tzinfo=UTC)),  # 09:00 in Berlin
        ("next_week", datetime(2026, 3, 16, 8, 0, tzinfo=UTC)),  # Monday 09:00 in Berlin
    ],
)
def test_reminder_times_follow_the_members_clock(choice, expected):
    assert services.reminder_time(choice, None, "Europe/Berlin", BERLIN_WEDNESDAY) == expected


def test_a_custom_reminder_is_a_local_time_in_the_future_within_a_year():
    when = services.reminder_time(
        "custom", datetime(2026, 7, 1, 18, 0), "Europe/Berlin", BERLIN_WEDNESDAY
    )
    assert when == datetime(2026, 7, 1, 16, 0, tzinfo=UTC)  # summer time: UTC+2
    for bad in (None, datetime(2026, 3, 11, 22, 0), datetime(2027, 6, 1, 9, 0)):
        with pytest.raises(Invalid):
            services.reminder_time("custom", bad, "Europe/Berlin", BERLIN_WEDNESDAY)
    with pytest.raises(Invalid):
        services.reminder_time("someday", None, "UTC", BERLIN_WEDNESDAY)


def test_a_custom_reminder_at_the_calendars_edge_is_refused_not_a_500():
    """Year 1 east of UTC, or 9999 west of it, is outside what Python's datetime holds in UTC:
    the bookmark form was a 500 (OverflowError) where a time gone by or too far ahead is
    refused on its field."""
    for typed, zone in ((datetime(1, 1, 1, 0, 0), "Europe/Berlin"),
                        (datetime(9999, 12, 31, 23, 59), "America/New_York")):  # fmt: skip
        with pytest.raises(Invalid) as refused:
            services.reminder_time("custom", typed, zone, BERLIN_WEDNESDAY)
        assert refused.value.field == "remind_at"


def test_the_reminder_form_works_without_javascript(client, f, world):
    ada, bob, sig, topic, post = world
    bob.timezone = "America/New_York"
    db.session.commit()
    client.login("bob")
    form = client.get(f"/p/{post.id}/bookmark").get_data(as_text=True)
    assert 'type="radio" name="remind" value="tomorrow"' in form
    assert 'type="datetime-local"' in form and "In your time zone, New York." in form
    local = (utcnow() + timedelta(days=3)).astimezone(
        __import__("zoneinfo").ZoneInfo("America/New_York")
    )
    value = local.strftime("%Y-%m-%dT%H:%M")
    response = client.form(f"/p/{post.id}/bookmark", {"remind": "custom", "remind_at": value})
    assert response.status_code == 302
    (saved,) = bookmarks_of(bob.id)
    expected = local.replace(second=0, microsecond=0).astimezone(UTC)
    assert saved.remind_at == expected and saved.reminded_at is None
    # A time gone by is refused on the form's field.
    past = client.form(
        f"/p/{post.id}/bookmark", {"remind": "custom", "remind_at": "2020-01-01T09:00"}
    )
    assert past.status_code == 400
    assert "Choose a time in the future." in past.get_data(as_text=True)
    # The topic page says when the reminder comes.
    page = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert re.search(rf'href="/p/{post.id}/bookmark">★ Bookmarked · reminder ', page)


def test_due_reminders_arrive_as_notifications_once(client, f, world):
    ada, bob, sig, topic, post = world
    saved = services.bookmark_post(bob, post.id, "later_today")
    assert services.send_due_reminders(utcnow()) == 0  # not yet
    later = saved.remind_at + timedelta(seconds=1)
    assert services.send_due_reminders(later) == 1
    assert services.send_due_reminders(later) == 0  # claimed: never twice
    (note,) = reminders_of(bob.id)
    assert note.post_id == post.id and note.actor_id is None
    client.login("bob")
    page = client.get("/notifications").get_data(as_text=True)
    assert "Reminder: the post you bookmarked in “Amiga repairs”" in page
    link = re.search(r'href="(/notifications/\d+)"', page)
    assert link and client.get(link.group(1)).headers["Location"] == f"/p/{post.id}"
    assert db.session.get(Notification, note.id).read_at is not None
    listing = client.get("/bookmarks").get_data(as_text=True)
    assert "Reminded" in listing
    # Choosing a new time starts it again.
    services.bookmark_post(bob, post.id, "tomorrow")
    (again,) = bookmarks_of(bob.id)
    assert again.reminded_at is None and again.remind_at > later


def test_the_reminder_job_runs_every_minute():
    spec = jobs.SPECS[f"{services.send_due_reminders.__module__}.send_due_reminders"]
    assert spec.schedule is not None
    assert spec.schedule(datetime(2026, 3, 11, 10, 17)) is True


def test_no_reminder_of_a_post_the_member_can_no_longer_read(f, world):
    ada, bob, sig, topic, post = world
    root = f.sysop("root")
    services.bookmark_post(bob, post.id, "later_today")
    mod.hide_post(root, post.id, "off topic")
    assert services.send_due_reminders(utcnow() + timedelta(hours=4)) == 1
    assert reminders_of(bob.id) == []
    (saved,) = bookmarks_of(bob.id)
    assert saved.reminded_at is not None


def test_a_bookmark_of_a_post_gone_from_view_stays_listed_and_removable(client, f, world):
    ada, bob, sig, topic, post = world
    root = f.sysop("root")
    services.bookmark_post(bob, post.id)
    mod.hide_post(root, post.id, "off topic")
    client.login("bob")
    listing = client.get("/bookmarks").get_data(as_text=True)
    assert "A post you can no longer read" in listing and "floppy" not in listing
    assert client.form(f"/p/{post.id}/bookmark/delete").status_code == 302
    assert bookmarks_of(bob.id) == []


def test_bookmarking_what_one_may_not_read_is_a_404(make_client, f, world):
    ada, bob, sig, topic, post = world
    eve = f.user("eve")
    lair = f.sig("lair", visibility="private", members=[ada])
    secret = f.first_post(f.topic(ada, lair, "Secret plans"))
    root = f.sysop("root")
    hidden = f.reply(ada, topic, "rude words")
    mod.hide_post(root, hidden.id, "rude")
    client = make_client()
    client.login("eve")
    for post_id in (secret.id, hidden.id, 987_654):
        assert client.form(f"/p/{post_id}/bookmark").status_code == 404
        assert client.get(f"/p/{post_id}/bookmark").status_code == 404
    assert bookmarks_of(eve.id) == []
    guest = make_client()
    assert guest.get(f"/p/{post.id}/bookmark").status_code == 302  # to the login page
    assert guest.get("/bookmarks").status_code == 302


@pytest.mark.config(BOOKMARKS_PER_MEMBER=2)
def test_a_member_keeps_a_limited_number(f, world):
    ada, bob, sig, topic, post = world
    services.bookmark_post(bob, post.id)
    services.bookmark_post(bob, topic.first_post_id)
    third = f.reply(ada, topic, "a third post")
    with pytest.raises(Invalid):
        services.bookmark_post(bob, third.id)
    services.bookmark_post(bob, post.id, "tomorrow")  # changing one is no new one


def test_bookmarks_page_queries_do_not_grow(make_client, f, count_queries, world):
    from .test_queries import _count

    ada, bob, sig, topic, post = world
    client = make_client()
    client.login("bob")
    services.bookmark_post(bob, post.id)
    small = _count(client, count_queries, "/bookmarks")[0]
    other = f.sig("other", members=[ada, bob])
    for i in range(12):
        t = f.topic(ada, other if i % 2 else sig, f"Topic {i}")
        services.bookmark_post(bob, t.first_post_id, "tomorrow" if i % 3 else "")
    large, statements = _count(client, count_queries, "/bookmarks")
    assert small == large, statements


def test_the_reminder_names_the_members_zone_by_its_city(client, f, world):
    ada, bob, sig, topic, post = world
    bob.timezone = "America/Argentina/Buenos_Aires"
    db.session.commit()
    client.login("bob")
    page = client.get(f"/p/{post.id}/bookmark").get_data(as_text=True)
    assert "In your time zone, Buenos Aires." in page
    assert "America/Argentina" not in page


@pytest.mark.parametrize("language", ["en", "de", "es"])
def test_the_bookmark_button_and_the_notifications_save_read_apart(client, world, language):
    """In Spanish "☆ Guardar" (the bookmark) sat just below the notification level's
    "Guardar": the level's button says something else in every language."""
    _ada, _bob, _sig, topic, _reply = world
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    client.login("bob")
    page = client.get(f"/t/{topic.id}").get_data(as_text=True)
    watch = re.search(
        r'<form [^>]*class="watch-form inline".*?<button [^>]*>([^<]*)</button>', page, re.S
    )
    mark = re.search(r'class="link-button bookmark-button">☆ ([^<]*)</button>', page)
    assert watch is not None and mark is not None
    assert watch.group(1).strip().casefold() != mark.group(1).strip().casefold()
