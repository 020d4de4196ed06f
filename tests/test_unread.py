"""Finding what's new: unread topics per SIG on the SIG index (a fixed number of queries),
opening a notification reads it, "mark all read", and one set of tabs for New, Tracked,
Notifications and Bookmarks."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from forum.extensions import db
from forum.moderation import topic_tools
from forum.notifications.models import Notification

from .test_queries import _count


def unread_in(html: str, slug: str) -> int | None:
    row = re.search(rf'<a class="sig-name" href="/s/{slug}/".*?</tr>', html, re.S)
    assert row, slug
    found = re.search(r'class="unread-count"[^>]*>(\d+) topics? with unread posts', row.group(0))
    return int(found.group(1)) if found else None


def test_the_sig_index_shows_each_members_unread_topics_per_sig(make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    retro = f.sig("retro", members=[ada, bob])
    games = f.sig("games", members=[bob])
    lair = f.sig("lair", visibility="private", members=[ada, bob])
    first = f.topic(bob, retro, "Amiga repairs")
    f.topic(bob, retro, "C64 power supplies")
    f.topic(bob, games, "Chess openings")
    f.topic(bob, lair, "Secret plans")
    client = make_client()
    client.login("ada")
    html = client.get("/").get_data(as_text=True)
    assert unread_in(html, "retro") == 2
    assert unread_in(html, "lair") == 1
    assert unread_in(html, "games") is None  # not a member: not counted
    # Reading a topic takes it off; a new reply puts it back.
    client.get(f"/t/{first.id}/{first.slug}?page=1")
    assert unread_in(client.get("/").get_data(as_text=True), "retro") == 1
    f.reply(bob, first, "One more thing.")
    assert unread_in(client.get("/").get_data(as_text=True), "retro") == 2
    # "Mark read" on the SIG clears it.
    client.form("/s/retro/read")
    assert unread_in(client.get("/").get_data(as_text=True), "retro") is None
    # Guests see no counts (their page is the cached one everybody gets).
    assert "unread-count" not in make_client().get("/").get_data(as_text=True)
    # The author has read what they wrote.
    bobs = make_client()
    bobs.login("bob")
    assert "unread-count" not in bobs.get("/").get_data(as_text=True)


def test_the_sig_index_counts_unread_in_a_fixed_number_of_queries(make_client, f, count_queries):
    ada, bob = f.user("ada"), f.user("bob")
    client = make_client()
    client.login("ada")

    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            sig = f.sig(f"sig-{i:02d}", members=[ada, bob])
            for n in range(3):
                f.topic(bob, sig, f"Topic {n} in {i}")

    add(0, 2)
    small, _ = _count(client, count_queries, "/")
    add(2, 12)
    large, statements = _count(client, count_queries, "/")
    assert small == large, statements
    html = client.get("/").get_data(as_text=True)
    assert html.count("3 topics with unread posts") == 12


def test_the_sig_index_counts_unread_topics_up_to_a_bound(make_client, f, monkeypatch):
    """Beyond UNREAD_SHOWN a SIG's count says "more than": each SIG's count stops there."""
    monkeypatch.setattr("forum.sigs.queries.UNREAD_SHOWN", 2)
    ada, bob = f.user("ada"), f.user("bob")
    retro, games = f.sig("retro", members=[ada, bob]), f.sig("games", members=[ada, bob])
    for n in range(4):
        f.topic(bob, retro, f"Retro topic {n}")
    for n in range(2):
        f.topic(bob, games, f"Games topic {n}")
    client = make_client()
    client.login("ada")
    html = client.get("/").get_data(as_text=True)
    assert unread_in(html, "games") == 2
    row = re.search(r'<a class="sig-name" href="/s/retro/".*?</tr>', html, re.S)
    assert row and 'class="unread-count"' in row.group(0)
    assert "More than 2 topics with unread posts" in row.group(0)
    assert "More than" not in html.replace(row.group(0), "")


def test_each_sigs_count_starts_where_the_member_marked_it_read(make_client, f):
    """The counts come in one statement, each SIG's bounded by its own membership row: a SIG
    marked read counts only topics active since, beside one never marked; deleted topics never
    count."""
    ada, bob = f.user("ada"), f.user("bob")
    retro, games = f.sig("retro", members=[ada, bob]), f.sig("games", members=[ada, bob])
    for n in range(3):
        f.topic(bob, retro, f"Retro topic {n}")
    f.topic(bob, games, "Chess openings")
    gone = f.topic(bob, games, "Spam")
    topic_tools.delete_topic(f.sysop(), gone.id)
    client = make_client()
    client.login("ada")
    client.form("/s/retro/read")
    assert unread_in(client.get("/").get_data(as_text=True), "retro") is None
    f.topic(bob, retro, "Newer than the mark")
    html = client.get("/").get_data(as_text=True)
    assert unread_in(html, "retro") == 1
    assert unread_in(html, "games") == 1


def notes(user_id: int) -> list[Notification]:
    db.session.expire_all()
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user_id)))


def test_opening_a_notification_reads_it_and_lands_on_what_it_names(make_client, f):
    ada, bob, eve = f.user("ada"), f.user("bob"), f.user("eve")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Amiga repairs")
    post = f.reply(bob, topic, "Hey @ada, recap it.")
    (note,) = notes(ada.id)
    client = make_client()
    client.login("ada")
    page = client.get("/notifications").get_data(as_text=True)
    assert f'href="/notifications/{note.id}"' in page
    response = client.get(f"/notifications/{note.id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/p/{post.id}"
    assert notes(ada.id)[0].read_at is not None
    # Someone else's notification, or none at all: the same 404.
    other = make_client()
    other.login("eve")
    assert other.get(f"/notifications/{note.id}").status_code == 404
    assert other.get("/notifications/987654").status_code == 404
    assert make_client().get(f"/notifications/{note.id}").status_code == 302  # log in first
    assert eve.id not in {n.user_id for n in notes(ada.id)}


def test_mark_all_read_and_the_tabs_for_whats_new(make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Amiga repairs")
    f.reply(bob, topic, "@ada one")
    f.reply(bob, topic, "@ada two")
    client = make_client()
    client.login("ada")
    pages: dict[str, Any] = {
        "New": "/new",
        "Tracked": "/new?filter=tracked",
        "Notifications": "/notifications",
        "Bookmarks": "/bookmarks",
    }
    for name, url in pages.items():
        html = client.get(url).get_data(as_text=True)
        tabs = re.search(r'<ul class="activity-tabs">.*?</ul>', html, re.S)
        assert tabs, url
        current = re.findall(r'aria-current="page">([^<]+)', tabs.group(0))
        assert [c.strip() for c in current] == [name], url
        for other in pages.values():
            assert f'href="{other}"' in tabs.group(0).replace("&amp;", "&")
    html = client.get("/notifications").get_data(as_text=True)
    assert re.search(r"Notifications <span class=\"badge\">2</span>", html)
    assert html.count("Mark all read") == 1
    client.form("/notifications/read")
    assert all(n.read_at is not None for n in notes(ada.id))
    html = client.get("/notifications").get_data(as_text=True)
    assert "Mark all read" not in html
