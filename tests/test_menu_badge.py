"""The phone header's "Menu" button shows a dot while something waits behind it: unread
notifications, unread mail or (for sysops) the mod queue; none at zero, none for guests. The
links keep their own counts; realtime.js keeps the dot as they change (tests/e2e/test_layout.py)."""

from __future__ import annotations

import re

from forum.extensions import db
from forum.messages import services as mail


def menu_dot(html: str) -> str | None:
    """ "shown" or "hidden" for the Menu button's dot, or None without one."""
    summary = re.search(r'<summary class="site-menu-toggle">(.*?)</summary>', html, re.S)
    assert summary, "every page has the Menu button"
    dot = re.search(r'<span class="menu-badge" id="menu-badge"( hidden)?>', summary.group(1))
    if dot is None:
        return None
    return "hidden" if dot.group(1) else "shown"


def test_the_menu_button_sums_notifications_and_mail(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    f.reply(bob, topic, "A reply ada is told about.")
    mail.start_conversation(bob, "ada", "Lunch?", "Shall we meet at noon?")
    db.session.expire_all()
    client.login("ada")
    html = client.get("/").get_data(as_text=True)
    assert menu_dot(html) == "shown"
    assert "(something new for you)" in html
    # The links inside the menu keep their own counts and are marked as counting.
    assert re.search(
        r'id="notifications-link" data-alert>[^<]*<span class="badge" data-count="2"', html
    )
    assert re.search(r'id="mail-link" data-alert>[^<]*<span class="badge" data-count="1"', html)


def test_tracked_topics_do_not_count_and_nothing_waiting_hides_it(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig)
    f.reply(ada, topic, "Ada replies, so she tracks the topic.")
    f.reply(bob, topic, "Unread in a tracked topic, but no notification for ada.")
    db.session.expire_all()
    client.login("ada")
    assert client.form("/notifications/read").status_code == 302  # "Mark all read"
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'id="tracked-link">[^<]*<span class="badge" data-count="1"', html)
    assert (
        'id="tracked-link"' in html and "data-alert" not in html.split('id="tracked-link"')[1][:20]
    )
    assert menu_dot(html) == "hidden"


def test_guests_get_no_count_on_the_menu(client, f):
    f.sig("retro")
    assert menu_dot(client.get("/").get_data(as_text=True)) is None


def test_the_mod_queue_counts_for_sysops(client, f):
    root = f.sysop("root")
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    post = f.reply(bob, topic, "Something to report.")
    client.login("ada")
    assert client.form(f"/p/{post.id}/flag", {"reason": "spam", "note": ""}).status_code == 302
    client.logout()
    client.login(root.username)
    html = client.get("/").get_data(as_text=True)
    queue = re.search(
        r'id="mod-queue-link" data-alert>[^<]*<span class="badge[^"]*" data-count="(\d+)"', html
    )
    assert queue and int(queue.group(1)) >= 1
    assert menu_dot(html) == "shown"
