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
