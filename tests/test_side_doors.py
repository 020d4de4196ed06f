"""Side doors into private content, found by the fifteenth security review: what a member may
no longer read (a topic moved into a private SIG, a SIG they left) stays out of notification
mail's headers and subject as it does out of its body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from forum.db import transaction
from forum.jobs import queue_of
from forum.moderation import posts as moderation
from forum.moderation import topic_tools

from .mailbox import text_of


def deliver(app: Any) -> int:
    later = datetime.now(UTC) + timedelta(seconds=app.config["NOTIFY_MAIL_DELAY"] + 1)
    return queue_of(app).run_due(later)


def test_mail_about_a_topic_moved_into_a_private_sig_names_neither(app, f, inbox):
    ada, root = f.user("ada"), f.sysop("root")
    with transaction():
        ada.preferences = {"mail": {"moderation": "now"}}
    open_sig = f.sig("open", members=[ada])
    council = f.sig("council", visibility="private", name="Hidden Council")
    topic = f.topic(ada, open_sig, "Mine")
    first, second = f.reply(ada, topic, "One"), f.reply(ada, topic, "Two")
    topic_tools.move_topic(root, topic.id, council.id)
    moderation.hide_post(root, first.id, "off topic")
    moderation.hide_post(root, second.id, "off topic")
    deliver(app)
    (message,) = inbox.messages
    raw = message.as_string()
    assert "Hidden Council" not in raw and "council.sigs" not in raw
    assert "Mine" not in str(message["Subject"])
    assert "Mine" not in text_of(message)


def test_the_banner_leaves_out_a_sig_the_policy_says_the_member_is_out_of(app, f, client):
    """A SIG ban takes the SIG out of a member's memberships whatever rows say (the policy's
    rule): a membership row left beside a ban (a join racing the ban) shows its SIG's
    announcements in the banner no more than on the list, where they are a 404."""
    from forum.announcements import services as announcements
    from forum.sigs.models import DISCIPLINE_BAN, SigDiscipline

    ada, bob = f.user("ada"), f.user("bob")
    council = f.sig("council", visibility="private", members=[ada, bob], name="Hidden Council")
    from forum.sigs import services as sigs

    sigs.set_sig_sysop(f.sysop("root"), council.id, ada.id, True)
    made = announcements.publish_announcement(
        ada, council.id, "Council minutes", "Only for the council.", None, None
    )
    with transaction() as session:
        session.add(
            SigDiscipline(user_id=bob.id, sig_id=council.id, kind=DISCIPLINE_BAN, reason="x")
        )
    client.login(bob)
    assert client.get(f"/announcements/{made.id}").status_code == 404
    page = client.get("/").get_data(as_text=True)
    assert "Council minutes" not in page and "Hidden Council" not in page
