"""Notifications: written with the post that causes them, one per member, permission-checked;
the center, the header count, watch levels and preferences, through HTTP as a member uses them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from forum import events, hooks, settings
from forum.db import transaction
from forum.errors import Invalid
from forum.extensions import db
from forum.hooks import Screening
from forum.messages import services as mail_services
from forum.notifications import services
from forum.notifications.models import Notification, TopicWatch
from forum.reactions import services as reactions
from forum.topics.models import POST_PENDING, POST_VISIBLE, Post


def notes(user) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    )


def kinds_of(user) -> list[str]:
    return [n.kind for n in notes(user)]


def badge(html: str) -> int:
    match = re.search(r'id="notifications-link".*?data-count="(\d+)"', html, re.S)
    assert match, "no notifications badge in the header"
    return int(match.group(1))


def opens(client, page: str) -> str:
    """Where the newest notification's link leads (it goes through /notifications/<id>)."""
    link = re.search(r'href="(/notifications/\d+)"', page)
    assert link, "no notification link"
    response = client.get(link.group(1))
    assert response.status_code == 302
    return str(response.headers["Location"])


# --- causes ---------------------------------------------------------------------------------
def test_reply_in_my_topic_reaches_center_and_header_count(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, title="Amiga repairs")
    client.login("bob")
    response = client.form(f"/t/{topic.id}/reply", {"body": "Check **the capacitors** first."})
    assert response.status_code == 302
    client.logout()

    client.login("ada")
    home = client.get("/").get_data(as_text=True)
    assert badge(home) == 1  # server-rendered on every page, no JavaScript needed
    page = client.get("/notifications").get_data(as_text=True)
    post = db.session.scalar(select(Post).where(Post.topic_id == topic.id, Post.number == 2))
    # The link opens the notification (it is read then) and lands on the post.
    note = re.search(r'href="(/notifications/\d+)"', page)
    assert note, "no link to open the notification"
    opened = client.get(note.group(1))
    assert opened.status_code == 302 and opened.headers["Location"] == f"/p/{post.id}"
    assert badge(client.get("/").get_data(as_text=True)) == 0
    assert "bob replied to you in “Amiga repairs”" in page
    assert "Check the capacitors first." in page  # sanitized excerpt, no markup
    assert "<strong>the capacitors" not in page


def test_one_notification_per_post_with_the_strongest_cause(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)  # ada watches her own topic by default
    first = f.first_post(topic)
    quote = f"> **@ada** [wrote](/p/{first.id}):\n>\n> hi\n\nHey @ada, see above."
    f.reply(bob, topic, quote, reply_to_post_id=first.id)
    assert kinds_of(ada) == ["mention"]  # mention + quote + reply + watching -> one
    f.reply(bob, topic, f"> [wrote](/p/{first.id}):\n> hi\n\nquoting only")
    f.reply(bob, topic, "plain reply")
    assert kinds_of(ada) == ["mention", "quote", "reply"]


def test_watchers_hear_of_every_post_and_author_is_never_notified(f):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, bob, cyd])
    topic = f.topic(ada, sig)
    f.reply(bob, topic, "first reply")  # bob now watches (default preference)
    f.reply(cyd, topic, "second reply")
    assert kinds_of(bob) == ["watched"]
    assert kinds_of(cyd) == []
    assert kinds_of(ada) == ["reply", "reply"]


def test_notification_rows_commit_or_roll_back_with_the_post(app, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)

    def explode(event):
        raise RuntimeError("the post transaction fails after notifications were written")

    events.subscribe(app, events.PostCreated, explode, phase="in_transaction")
    with pytest.raises(RuntimeError):
        f.reply(bob, topic, "never saved")
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    assert db.session.scalar(select(func.count()).select_from(Post)) == 1


def test_never_notify_someone_about_a_post_they_cannot_read(f):
    ada, eve = f.user("ada"), f.user("eve")
    secret = f.sig("secret", visibility="private", members=[ada])
    topic = f.topic(ada, secret)
    f.reply(ada, topic, "Hello @eve, you cannot read this")
    assert kinds_of(eve) == []
    members_only = f.sig("club", visibility="members", members=[ada])
    f.topic(ada, members_only, body="@eve neither this")
    assert kinds_of(eve) == []


def test_a_banned_member_hears_of_nothing_even_in_a_public_sig(f):
    from forum.moderation import services as moderation

    ada, eve, root = f.user("ada"), f.user("eve"), f.user("root", sysop=True)
    lounge = f.sig("lounge", members=[ada, eve])
    hidden = f.sig("hidden", visibility="private", members=[ada, eve])
    topic, secret = f.topic(eve, lounge), f.topic(eve, hidden)
    f.reply(ada, topic, "Hello @eve")
    about_posts = {"mention", "reply", "quote", "watched", "new_topic"}
    assert kinds_of(eve)[-1] == "mention"  # (mentioned and replied to: the stronger cause)
    moderation.ban_member(root, eve.id, "spam")
    f.reply(ada, topic, "Hello again @eve")
    f.reply(ada, secret, "And @eve here")
    assert [kind for kind in kinds_of(eve) if kind in about_posts] == ["mention"]


def test_muted_topic_suppresses_even_mentions(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(bob, sig)
    client.login("ada")
    response = client.form(f"/t/{topic.id}/watch", {"level": "muted"})
    assert response.status_code == 302
    f.reply(bob, topic, "@ada are you there?")
    assert kinds_of(ada) == []
    other = f.topic(bob, sig)
    f.reply(bob, other, "@ada here?")
    assert kinds_of(ada) == ["mention"]


def test_sig_levels_watching_tracking_and_topic_override(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    client.login("ada")
    assert client.form(f"/s/{sig.slug}/watch", {"level": "watching"}).status_code == 302
    topic = f.topic(bob, sig, title="New thing")
    assert kinds_of(ada) == ["new_topic"]
    f.reply(bob, topic, "more")
    assert kinds_of(ada) == ["new_topic", "watched"]
    client.form(f"/s/{sig.slug}/watch", {"level": "tracking"})
    second = f.topic(bob, sig)
    f.reply(bob, second, "tracked, not notified")
    assert len(notes(ada)) == 2
    f.reply(bob, second, "but @ada is addressed")
    assert kinds_of(ada)[-1] == "mention"
    # The topic's own level wins over the SIG's.
    client.form(f"/t/{second.id}/watch", {"level": "watching"})
    f.reply(bob, second, "watched topic in a tracked SIG")
    assert kinds_of(ada)[-1] == "watched"
    page = client.get(f"/t/{second.id}?page=1").get_data(as_text=True)
    assert '<option selected value="watching">' in page


def test_watch_level_is_validated_and_private_sig_is_404(client, f):
    ada = f.user("ada")
    f.user("eve")
    secret = f.sig("secret", visibility="private", members=[ada])
    topic = f.topic(ada, secret)
    client.login("eve")
    assert client.form(f"/s/{secret.slug}/watch", {"level": "watching"}).status_code == 404
    assert client.form(f"/t/{topic.id}/watch", {"level": "watching"}).status_code == 404
    client.logout()
    client.login("ada")
    client.form(f"/t/{topic.id}/watch", {"level": "loud"})
    level = db.session.scalar(
        select(TopicWatch.level).where(
            TopicWatch.user_id == ada.id, TopicWatch.topic_id == topic.id
        )
    )
    assert level == "watching"  # unchanged: the default from starting it
    assert client.post(f"/t/{topic.id}/watch", data={"level": "muted"}).status_code == 400


def test_preference_turns_off_watching_what_i_post_in(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    client.login("bob")
    settings = client.get("/settings").get_data(as_text=True)
    assert "Watch the topics I start or reply to" in settings
    assert client.form("/notifications/preferences", {}).status_code == 302  # unchecked
    topic = f.topic(ada, sig)
    f.reply(bob, topic, "my reply")
    f.reply(ada, topic, "answer, not addressed to bob")
    assert kinds_of(bob) == []
    client.form("/notifications/preferences", {"watch_posted": "y"})
    f.reply(bob, topic, "again")
    f.reply(ada, topic, "and again")
    assert kinds_of(bob) == ["watched"]


def chosen(page: str, name: str) -> str | None:
    """The option a select of the page shows chosen (None: none is, the browser shows the first)."""
    select_html = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select_html, f"no select {name} on the page"
    found = re.search(r'<option[^>]*\bselected\b[^>]*value="([^"]*)"', select_html.group(1))
    found = found or re.search(
        r'<option[^>]*value="([^"]*)"[^>]*\bselected\b', select_html.group(1)
    )
    return found.group(1) if found else None


def test_refused_preferences_bring_the_settings_page_back_and_save_nothing(client, f):
    """A value the form does not offer (a stale page, a hand-made POST): the settings page, 400,
    the error beside its field in the member's language, what was sent still chosen, the other
    forms as saved, and nothing saved: not the parts that were fine either."""
    from forum.accounts import services as accounts
    from forum.accounts.models import User
    from forum.notifications.digest import digest_choice
    from forum.notifications.mail import mail_choices

    ada = f.user("ada")
    accounts.update_profile(ada, signature="Poetical science", bio="", timezone="UTC")
    services.set_digest_preferences(ada, frequency="weekly", hour=7, weekday=4)
    services.set_watch_preference(ada, False)

    def preferences() -> tuple[Any, ...]:
        db.session.expire_all()
        member = db.session.get(User, ada.id)
        return mail_choices(member), digest_choice(member), services.watches_posted_topics(member)

    saved = preferences()
    client.login("ada")
    sent = {
        "watch_posted": "y",
        "mail_reply": "off",
        "mail_quote": "digest",
        "digest_frequency": "daily",
        "digest_hour": "25",
        "digest_weekday": "2",
    }
    response = client.form("/notifications/preferences", sent)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<h1" in page and ">Settings</h1>" in page
    assert '<p class="error" id="digest_hour-error">Choose an hour from 0 to 23.</p>' in page
    assert re.search(
        r'<select[^>]*aria-describedby="digest_hour-error"[^>]*name="digest_hour"', page
    )
    assert "Your notification preferences are saved." not in page
    # What was sent is what the form shows; what was left out, and the refused hour, as saved.
    assert chosen(page, "mail_reply") == "off" and chosen(page, "mail_quote") == "digest"
    assert chosen(page, "digest_frequency") == "daily" and chosen(page, "digest_weekday") == "2"
    assert chosen(page, "mail_mention") == "now" and chosen(page, "digest_hour") == "7"
    assert re.search(r'<input[^>]*checked[^>]*name="watch_posted"', page)
    # The page's other forms show what is saved.
    assert 'value="Poetical science"' in page
    assert preferences() == saved
    # The footer's language switch goes back to where the page is: to the settings page.
    back = client.get("/notifications/preferences")
    assert back.status_code == 302 and back.headers["Location"] == "/settings#notifications-heading"

    # In German, an unknown frequency and mail choice: each error beside its own field.
    sent.update(digest_hour="9", digest_frequency="fortnightly", mail_reply="weekly")
    response = client.form("/notifications/preferences", sent, headers={"Accept-Language": "de"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<html lang="de"' in page and ">Einstellungen</h1>" in page
    error = '<p class="error" id="{}-error">{}</p>'
    assert error.format("digest_frequency", "Wähle täglich, wöchentlich oder nie.") in page
    assert (
        error.format("mail_reply", "Wähle „Aus“, „Sofort“ oder „In der Zusammenfassung“.") in page
    )
    assert "digest_hour-error" not in page and chosen(page, "digest_hour") == "9"
    assert preferences() == saved

    # The same form, all of it fine, is saved whole.
    sent.update(digest_frequency="daily", mail_reply="off")
    assert client.form("/notifications/preferences", sent).status_code == 302
    db.session.expire_all()
    member = db.session.get(User, ada.id)
    assert mail_choices(member)["reply"] == "off" and mail_choices(member)["quote"] == "digest"
    assert (digest_choice(member).frequency, digest_choice(member).hour) == ("daily", 9)


def test_a_part_the_service_refuses_keeps_the_others_unsaved(app, f):
    """services.set_preferences is one unit of work: the digest refused, the mail and watch
    choices sent with it are not saved either."""
    from forum.notifications.mail import mail_choices

    ada = f.user("ada")
    with pytest.raises(Invalid) as refused:
        services.set_preferences(
            ada, watch_posted=False, mail={"reply": "off"}, digest_frequency="fortnightly"
        )
    assert refused.value.field == "digest_frequency"
    db.session.expire_all()
    assert mail_choices(ada)["reply"] == "now"
    assert services.watches_posted_topics(ada)


def test_replying_watches_the_topic_and_keeps_a_level_chosen_for_it(client, f):
    """The author's level is read with the topic's watchers: one chosen for the topic itself
    stays, and one of the SIG's alone still makes the reply watch the topic."""
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("retro", members=[ada, bob, cyd])
    topic = f.topic(ada, sig)
    client.login("bob")
    assert client.form(f"/s/{sig.slug}/watch", {"level": "tracking"}).status_code == 302
    f.reply(bob, topic, "tracking the SIG, watching what I reply to")
    f.reply(ada, topic, "answer, not addressed to bob")
    assert kinds_of(bob) == ["watched"]
    client.form(f"/t/{topic.id}/watch", {"level": "tracking"})
    client.logout()
    client.login("cyd")
    client.form(f"/t/{topic.id}/watch", {"level": "muted"})
    f.reply(bob, topic, "my own level stays")
    f.reply(cyd, topic, "mine too, @bob")
    f.reply(ada, topic, "and again")

    def level(user) -> str | None:
        return db.session.scalar(
            select(TopicWatch.level).where(
                TopicWatch.user_id == user.id, TopicWatch.topic_id == topic.id
            )
        )

    assert (level(bob), level(cyd)) == ("tracking", "muted")
    assert kinds_of(bob) == ["watched", "mention"]
    assert kinds_of(cyd) == []


def test_pending_post_notifies_nobody_until_approved(app, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    hooks.screen_post.provide(app, lambda author, sig, text: Screening(POST_PENDING))
    post = f.reply(bob, topic, "@ada waits for approval")
    assert kinds_of(ada) == []
    hooks.screen_post.withdraw(app)
    root = f.user("root", sysop=True)
    # What the moderation feature's approve service does: make it visible, publish "approved".
    with transaction():
        post.status = POST_VISIBLE
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id, topic_id=topic.id, sig_id=sig.id, actor_id=root.id,
                change="approved",
            )
        )  # fmt: skip
    assert kinds_of(ada) == ["mention"]


def test_hidden_and_deleted_posts_tell_their_author(f):
    ada, bob = f.user("ada"), f.user("bob")
    root = f.user("root", sysop=True)
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    post = f.reply(bob, topic, "rude words")
    with transaction():
        from forum.timeutil import utcnow

        post.hidden_at = utcnow()
        post.hide_reason = "Be kind."
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id, topic_id=topic.id, sig_id=sig.id, actor_id=root.id,
                change="hidden",
            )
        )  # fmt: skip
    assert kinds_of(bob) == ["post_hidden"]
    assert notes(bob)[0].data == {"reason": "Be kind."}
    from forum.topics import services as topics

    other = f.reply(bob, topic, "another")
    topics.delete_post(root, other.id)
    assert kinds_of(bob)[-1] == "post_deleted"
    own = f.reply(bob, topic, "mine to delete")
    topics.delete_post(bob, own.id)
    assert kinds_of(bob)[-1] == "post_deleted"  # deleting my own post tells nobody
    assert len(notes(bob)) == 2


def test_join_request_goes_to_sig_sysops_and_the_answer_to_the_member(client, f):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    secret = f.sig("secret", visibility="private", members=[ada], sysops=[ada])
    client.login("bob")
    client.form("/sigs/request", {"slug": "secret", "message": "let me in"})
    assert kinds_of(ada)[-1] == "join_request"
    assert kinds_of(cyd) == []
    client.logout()
    client.login("ada")
    page = client.get("/notifications").get_data(as_text=True)
    assert "bob asked to join Secret" in page
    assert opens(client, page) == "/s/secret/requests"
    request_id = notes(ada)[-1].data["request_id"]
    client.form(f"/s/secret/requests/{request_id}", {"value": "approve"})
    assert kinds_of(bob) == ["join_decided"]
    client.logout()
    client.login("bob")
    page = client.get("/notifications").get_data(as_text=True)
    assert "Your request to join Secret was approved." in page
    assert opens(client, page) == f"/s/{secret.slug}/"


def test_moderation_outcomes_when_moderation_publishes_them(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    root = f.user("root", sysop=True)
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    post = f.reply(bob, topic, "spam")
    services_ = services
    with transaction():
        services_.notify_flaggers(post.id, sig.id, [ada.id], "hidden", root.id)
        services_.notify_discipline(bob.id, "suspended", root.id, sig.id, "spamming")
    assert kinds_of(ada) == ["reply", "flag_resolved"]
    assert kinds_of(bob) == ["discipline"]
    client.login("bob")
    page = client.get("/notifications").get_data(as_text=True)
    assert "A sysop suspended you in Retro: spamming" in page
    client.logout()
    client.login("ada")
    page = client.get("/notifications").get_data(as_text=True)
    assert "A sysop handled the post you flagged in “A topic title”: hidden." in page


# --- the center -----------------------------------------------------------------------------
def test_center_is_newest_first_and_marks_read_one_and_all(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    for n in range(3):
        f.reply(bob, topic, f"reply number {n}")
    client.login("ada")
    page = client.get("/notifications").get_data(as_text=True)
    assert (
        page.index("reply number 2") < page.index("reply number 1") < page.index("reply number 0")
    )
    first, second, third = notes(ada)
    # Mark one read: POST with CSRF; without it, nothing changes.
    assert client.post(f"/notifications/{third.id}/read").status_code == 400
    assert client.form(f"/notifications/{third.id}/read").status_code == 302
    assert badge(client.get("/").get_data(as_text=True)) == 2
    assert client.form("/notifications/read").status_code == 302
    assert badge(client.get("/").get_data(as_text=True)) == 0
    assert all(n.read_at is not None for n in notes(ada))


def test_members_cannot_touch_each_others_notifications(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    f.reply(bob, topic, "hi")
    client.login("bob")
    assert client.form(f"/notifications/{notes(ada)[0].id}/read").status_code == 404
    assert notes(ada)[0].read_at is None
    client.logout()
    assert client.get("/notifications").status_code == 302  # guests log in first


def test_center_paginates(client, f, app):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    with transaction() as session:
        for _ in range(31):
            session.add(Notification(user_id=ada.id, kind="reply", actor_id=bob.id,
                                     topic_id=topic.id, sig_id=sig.id, data={}))  # fmt: skip
    client.login("ada")
    first = client.get("/notifications").get_data(as_text=True)
    assert first.count('class="notification ') == 30 and "?page=2" in first
    second = client.get("/notifications?page=2").get_data(as_text=True)
    assert second.count('class="notification ') == 1
    assert client.get("/notifications?page=x").status_code == 404


def test_center_hides_what_is_no_longer_readable(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    secret = f.sig("secret", visibility="private", members=[ada, bob])
    topic = f.topic(bob, secret, title="Secret plans")
    f.reply(ada, topic, "@bob the plans are in the vault")
    from forum.sigs import services as sigs

    sigs.leave_sig(bob, secret.id)
    client.login("bob")
    page = client.get("/notifications").get_data(as_text=True)
    assert "vault" not in page and "Secret plans" not in page
    assert "ada mentioned you in a topic" in page


def test_center_loads_in_a_fixed_number_of_queries(client, f, count_queries):
    ada = f.user("ada")
    others = [f.user() for _ in range(3)]
    sig = f.sig("retro", members=[ada, *others])
    topic = f.topic(ada, sig)
    client.login("ada")
    # A first page: the process's first also asks for the newest announcement (kept 10 s).
    client.get("/")
    f.reply(others[0], topic, "one")
    with count_queries() as few:
        client.get("/notifications")
    for other in others:
        f.reply(other, topic, "more @ada")
        f.reply(other, topic, "and more")
    with count_queries() as many:
        client.get("/notifications")
    assert len(notes(ada)) == 7
    assert many.count == few.count


def test_header_count_is_one_query(client, f, count_queries):
    f.user("ada")
    client.login("ada")
    with count_queries() as q:
        client.get("/notifications")
    counts = [s for s in q.statements if "count(" in s.lower() and "notifications" in s]
    assert len(counts) == 2  # the header's badge and the page's own line


def test_moderation_services_tell_authors_flaggers_and_disciplined_members(client, f):
    from forum.moderation import services as moderation

    ada, bob = f.user("ada"), f.user("bob")
    root = f.user("root", sysop=True)
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, title="Amiga repairs")
    post = f.reply(bob, topic, "buy cheap pills")
    moderation.flag_post(ada, post.id, "spam")
    moderation.resolve_flags(root, post.id, "hidden", reason="Spam.")
    assert kinds_of(ada)[-1] == "flag_resolved"
    assert "post_hidden" in kinds_of(bob)
    moderation.warn_member(root, bob.id, "Please stop.", sig_id=sig.id)
    assert kinds_of(bob)[-1] == "discipline"
    client.login("bob")
    page = client.get("/notifications").get_data(as_text=True)
    assert "A sysop hid your post in “Amiga repairs”" in page
    assert "Please stop." in page
    client.logout()
    client.login("ada")
    page = client.get("/notifications").get_data(as_text=True)
    assert "A sysop handled the post you flagged in “Amiga repairs”: hidden." in page


# --- tracking: an unread count, no notification per post -----------------------------------
def header_count(html: str, link_id: str) -> int:
    match = re.search(rf'id="{link_id}".*?data-count="(\d+)"', html, re.S)
    assert match, f"no {link_id} badge in the header"
    return int(match.group(1))


def test_tracking_counts_unread_topics_and_sends_no_notifications(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    tracked = f.sig("retro", members=[ada, bob])
    plain = f.sig("plain", members=[ada, bob])
    client.login("ada")
    assert client.form(f"/s/{tracked.slug}/watch", {"level": "tracking"}).status_code == 302
    assert header_count(client.get("/").get_data(as_text=True), "tracked-link") == 0

    topic = f.topic(bob, tracked, title="Tracked thing")
    f.reply(bob, topic, "an ordinary reply")
    f.topic(bob, plain, title="Plain thing")  # ada's level there is normal
    assert kinds_of(ada) == []  # tracking: no notification for ordinary posts
    home = client.get("/").get_data(as_text=True)
    assert header_count(home, "tracked-link") == 1
    assert badge(home) == 0

    tracked_list = client.get("/new?filter=tracked").get_data(as_text=True)
    assert "Tracked thing" in tracked_list and "Plain thing" not in tracked_list
    everything = client.get("/new").get_data(as_text=True)
    assert "Tracked thing" in everything and "Plain thing" in everything

    client.get(f"/t/{topic.id}", follow_redirects=True)  # read it: the count drops
    assert header_count(client.get("/").get_data(as_text=True), "tracked-link") == 0
    f.reply(bob, topic, "one more")
    f.reply(bob, topic, "and another")
    page = client.get("/new?filter=tracked").get_data(as_text=True)
    assert re.search(r"Tracked thing</a>\s*<span[^>]*>2 unread<", page)
    assert header_count(page, "tracked-link") == 1
    assert kinds_of(ada) == []
    f.reply(bob, topic, "but @ada is addressed")
    assert kinds_of(ada) == ["mention"]  # what is addressed to me still arrives


def test_each_level_for_a_topic_in_the_tracked_count(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topics = {level: f.topic(bob, sig, title=f"A {level} topic") for level in LEVEL_NAMES}
    client.login("ada")
    for level, topic in topics.items():
        assert client.form(f"/t/{topic.id}/watch", {"level": level}).status_code == 302
    for topic in topics.values():
        f.reply(bob, topic, "news")
    assert kinds_of(ada) == ["watched"]  # watching notifies; tracking counts; the rest neither
    page = client.get("/new?filter=tracked").get_data(as_text=True)
    assert header_count(page, "tracked-link") == 2
    assert "A watching topic" in page and "A tracking topic" in page
    assert "A normal topic" not in page and "A muted topic" not in page
    # A topic's own level wins over its SIG's, both ways.
    client.form(f"/s/{sig.slug}/watch", {"level": "tracking"})
    page = client.get("/new?filter=tracked").get_data(as_text=True)
    assert header_count(page, "tracked-link") == 2
    assert "A normal topic" not in page


def test_tracked_count_leaves_out_sigs_i_left_and_deleted_topics(client, f):
    ada, bob = f.user("ada"), f.user("bob")
    secret = f.sig("secret", visibility="private", members=[ada, bob])
    client.login("ada")
    client.form(f"/s/{secret.slug}/watch", {"level": "watching"})
    first, second = f.topic(bob, secret), f.topic(bob, secret)
    assert header_count(client.get("/").get_data(as_text=True), "tracked-link") == 2
    from forum.moderation import services as moderation

    moderation.delete_topic(f.sysop("root"), second.id)
    assert header_count(client.get("/").get_data(as_text=True), "tracked-link") == 1
    client.form(f"/s/{secret.slug}/leave")
    assert header_count(client.get("/").get_data(as_text=True), "tracked-link") == 0
    assert first.title not in client.get("/new?filter=tracked").get_data(as_text=True)


def test_tracked_header_count_is_one_query_and_unknown_filters_are_404(client, f, count_queries):
    from forum.notifications.queries import tracked_unread_count

    ada, bob = f.user("ada"), f.user("bob")
    ada_id = ada.id  # (read before the requests, which expire what the test's session holds)
    sigs = [f.sig(f"sig-{n}", members=[ada, bob]) for n in range(3)]
    client.login("ada")
    for sig in sigs:
        client.form(f"/s/{sig.slug}/watch", {"level": "tracking"})
        for _ in range(3):
            f.topic(bob, sig)
    with count_queries() as q:
        assert tracked_unread_count(ada_id) == 9
    assert q.count == 1
    assert client.get("/new?filter=nonsense").status_code == 404
    assert client.get("/new?filter=tracked").status_code == 200


LEVEL_NAMES = ("watching", "tracking", "normal", "muted")


# --- mentions: a limit per post -------------------------------------------------------------
def mentions_of(names: list[str]) -> str:
    return "Hello " + " ".join(f"@{name}" for name in names) + "!"


def mention_notes(users) -> int:
    return sum(kinds_of(u).count("mention") for u in users)


def test_a_reply_mentioning_more_members_than_the_limit_is_refused_and_keeps_the_text(client, f):
    bob = f.user("bob")
    crowd = [f.user(f"crowd{n}") for n in range(11)]
    sig = f.sig("retro", members=[bob])
    topic = f.topic(bob, sig)
    client.login("bob")
    body = mentions_of([u.username for u in crowd])
    response = client.form(f"/t/{topic.id}/reply", {"body": body})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Sorry, you can only mention 10 members in a post; this one mentions 11." in page
    assert 'aria-describedby="body-error' in page  # tied to the text box
    assert "@crowd10!</textarea>" in page  # what was typed comes back
    assert db.session.scalar(select(func.count(Post.id)).where(Post.topic_id == topic.id)) == 1
    assert mention_notes(crowd) == 0

    # Ten is the default limit, and then every one of them hears of it.
    response = client.form(f"/t/{topic.id}/reply", {"body": mentions_of(["crowd0"] * 3 + [
        u.username for u in crowd[:10]])})  # fmt: skip
    assert response.status_code == 302
    assert mention_notes(crowd[:10]) == 10


def test_new_topics_and_edits_obey_the_mention_limit_too(client, f):
    bob = f.user("bob")
    crowd = [f.user(f"crowd{n}") for n in range(12)]
    sig = f.sig("retro", members=[bob])
    client.login("bob")
    names = [u.username for u in crowd]
    response = client.form(f"/s/{sig.slug}/new", {"title": "Roll call", "body": mentions_of(names)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "you can only mention 10 members" in page and 'value="Roll call"' in page
    topic = f.topic(bob, sig, body="Roll call, nobody mentioned yet.")
    post = f.first_post(topic)
    response = client.form(f"/p/{post.id}/edit", {"title": "Roll call", "body": mentions_of(names)})
    assert response.status_code == 400
    assert "you can only mention 10 members" in response.get_data(as_text=True)
    assert db.session.get(Post, post.id).body_raw == "Roll call, nobody mentioned yet."
    assert mention_notes(crowd) == 0


@pytest.mark.config(QUOTES_PER_POST=3)
def test_a_post_quoting_more_posts_than_the_limit_is_refused_and_keeps_the_text(client, f):
    """Each quote notifies its author: quotes are capped as mentions are."""
    bob = f.user("bob")
    authors = [f.user(f"author{n}") for n in range(4)]
    sig = f.sig("retro", members=[bob, *authors])
    topic = f.topic(bob, sig)
    posts = [f.reply(a, topic, f"Point {n}.") for n, a in enumerate(authors)]
    client.login("bob")
    body = "\n\n".join(
        f"> **@{a.username}** [wrote](/p/{p.id}):\n>\n> Point {n}.\n\nAgreed."
        for n, (a, p) in enumerate(zip(authors, posts, strict=True))
    )
    response = client.form(f"/t/{topic.id}/reply", {"body": body})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Sorry, a post can quote 3 posts at most; this one quotes 4." in page
    assert "Point 3.\n\nAgreed.</textarea>" in page  # what was typed comes back

    def addressed() -> list[list[str]]:  # what each author heard as quoted or named
        return [[k for k in kinds_of(a) if k in ("quote", "mention")] for a in authors]

    assert addressed() == [[]] * 4
    # Three quotes are fine, and each author hears of theirs (as a mention: it names them).
    body = body.rsplit("\n\n> ", 1)[0]
    assert client.form(f"/t/{topic.id}/reply", {"body": body}).status_code == 302
    assert addressed() == [["mention"]] * 3 + [[]]


def test_sysops_have_a_limit_of_their_own_and_both_are_site_settings(client, f):
    from forum import settings

    root = f.sysop("root")
    bob, sysop = f.user("bob"), f.user("grace")
    crowd = [f.user(f"crowd{n}") for n in range(4)]
    sig = f.sig("retro", members=[bob], sysops=[sysop])
    other = f.sig("other", members=[sysop])
    admin = client
    admin.login("root")
    response = admin.form(
        "/admin/settings",
        {**{k: ("" if v is None else str(v)) for k, v in settings.current().items()},
         "mention_limit": "2", "mention_limit_sysop": "3"},
    )  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)
    admin.logout()
    names = [u.username for u in crowd[:3]]
    topic = f.topic(bob, sig)
    with pytest.raises(Invalid, match="only mention 2 members"):
        f.reply(bob, topic, mentions_of(names))
    # The SIG's sysop may mention three there, but is a member like any other in another SIG.
    f.reply(sysop, topic, mentions_of(names))
    assert mention_notes(crowd) == 3
    with pytest.raises(Invalid, match="only mention 2 members"):
        f.reply(sysop, f.topic(sysop, other), mentions_of(names))
    with pytest.raises(Invalid, match="only mention 3 members"):
        f.reply(root, topic, mentions_of([u.username for u in crowd]))


def test_a_post_written_before_the_limit_notifies_only_its_first_mentions(app, f):
    bob = f.user("bob")
    crowd = [f.user(f"crowd{n}") for n in range(12)]
    sig = f.sig("retro", members=[bob])
    topic = f.topic(bob, sig)
    app.config["MENTIONS_PER_POST"] = 100
    hooks.screen_post.provide(app, lambda author, sig, text: Screening(POST_PENDING))
    post = f.reply(bob, topic, mentions_of([u.username for u in crowd]))
    hooks.screen_post.withdraw(app)
    app.config["MENTIONS_PER_POST"] = 10
    root = f.user("root", sysop=True)
    with transaction():
        post.status = POST_VISIBLE
        events.publish(
            events.PostVisibilityChanged(
                post_id=post.id, topic_id=topic.id, sig_id=sig.id, actor_id=root.id,
                change="approved",
            )
        )  # fmt: skip
    assert mention_notes(crowd[:10]) == 10
    assert mention_notes(crowd[10:]) == 0


def test_the_composer_says_how_many_members_a_post_may_mention(client, f):
    bob, grace = f.user("bob"), f.user("grace")
    sig = f.sig("retro", members=[bob], sysops=[grace])
    topic = f.topic(bob, sig)
    post = f.first_post(topic)
    client.login("bob")
    for url in (
        f"/t/{topic.id}",
        f"/t/{topic.id}/reply",
        f"/s/{sig.slug}/new",
        f"/p/{post.id}/edit",
    ):
        page = client.get(url).get_data(as_text=True)
        assert "Mention someone with @name (up to 10 members a post)." in page, url
    client.logout()
    client.login("grace")
    page = client.get(f"/t/{topic.id}/reply").get_data(as_text=True)
    assert "(up to 50 members a post)" in page


# --- checks from the review of the sixth session's performance work ---------------------
# who_may_read_post(..., unless_ignoring=...) on its slow path: a private SIG loads members.
def _kinds_of(user_id: int) -> list[str]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(select(Notification.kind).where(Notification.user_id == user_id))
    )


def test_ignorers_hear_nothing_of_a_post_or_reaction_in_a_private_sig(f: Any) -> None:
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    sig = f.sig("secret", visibility="private", members=[ada, bob, cyd])
    topic = f.topic(ada, sig, "Plans", "Where do we meet?")
    mail_services.ignore_member(ada, "bob")
    before_ada, before_cyd = _kinds_of(ada.id), _kinds_of(cyd.id)
    f.reply(bob, topic, "Hey @ada and @cyd, at mine?")
    assert _kinds_of(ada.id) == before_ada  # she ignores bob: no reply, no mention
    assert _kinds_of(cyd.id) == sorted([*before_cyd, "mention"])
    post = f.first_post(topic)
    reactions.set_reaction(bob, post.id, settings.reactions()[0])
    assert "reaction" not in _kinds_of(ada.id)
    reactions.set_reaction(cyd, post.id, settings.reactions()[0])
    assert _kinds_of(ada.id).count("reaction") == 1


# --- read on the topic page -------------------------------------------------------------------
def _unread_about(user) -> dict[int | None, str]:
    """The member's unread notifications: post id -> kind."""
    return {n.post_id: n.kind for n in notes(user) if n.read_at is None}


@pytest.mark.config(POSTS_PER_PAGE=3)
def test_a_topic_page_reads_the_notifications_of_the_posts_it_shows(client, make_client, f):
    """Discourse's rule: viewing a post reads what it notified you of. Page 1 reads the
    notifications of its own posts, every post kind; page 2's stay unread, as do a sysop's
    word on a post and another member's notifications."""
    wanda, ada, cyd = f.user("wanda"), f.user("ada"), f.user("cyd")
    sig = f.sig("retro", members=[wanda, ada, cyd])
    topic = f.topic(wanda, sig, title="Amiga repairs")
    first = f.reply(ada, topic, "Check the capacitors first.")  # reply, page 1
    second = f.reply(ada, topic, "And @wanda, @cyd: the fuses.")  # mention, page 1
    later = f.reply(ada, topic, "Page two says hello.")  # reply, page 2
    assert _unread_about(wanda) == {first.id: "reply", second.id: "mention", later.id: "reply"}
    before_cyd = _unread_about(cyd)
    assert before_cyd == {second.id: "mention"}
    root = f.user("root", sysop=True)
    with transaction():  # a sysop's word on the post: not read by seeing the post
        services.notify_post_outcome(first.id, root.id, "hidden")
    hidden = {n.id for n in notes(ada) if n.kind == "post_hidden"}
    assert hidden

    client.login("wanda")
    html = client.get(f"/t/{topic.id}/{topic.slug}?page=1").get_data(as_text=True)
    assert "the fuses" in html and "Page two says hello" not in html
    assert _unread_about(wanda) == {later.id: "reply"}
    assert badge(html) == 1  # the header on that very page shows the new count
    assert 'id="notifications-unread">1<' in client.get("/notifications").get_data(as_text=True)
    assert _unread_about(cyd) == before_cyd  # another member's are theirs

    # Ada sees her hidden post on page 1: the sysop's word on it stays unread.
    ada_client = make_client()
    ada_client.login("ada")
    ada_client.get(f"/t/{topic.id}/{topic.slug}?page=1")
    assert {n.id for n in notes(ada) if n.read_at is None} >= hidden

    # A guest's view reads nothing.
    make_client().get(f"/t/{topic.id}/{topic.slug}?page=1")
    make_client().get(f"/t/{topic.id}/{topic.slug}?page=2")
    assert _unread_about(wanda) == {later.id: "reply"}
    assert _unread_about(cyd) == before_cyd

    # Page 2 reads the last one.
    html = client.get(f"/t/{topic.id}/{topic.slug}?page=2").get_data(as_text=True)
    assert _unread_about(wanda) == {} and badge(html) == 0


def test_reading_a_reply_in_its_topic_reads_its_notification(client, f):
    """The browser walk: ada replies to wanda's topic; wanda opens the topic (the first unread
    post's page) and the notification and the header count are read with it."""
    wanda, ada = f.user("wanda"), f.user("ada")
    sig = f.sig("retro", members=[wanda, ada])
    topic = f.topic(wanda, sig, title="Amiga repairs")
    client.login("ada")
    assert client.form(f"/t/{topic.id}/reply", {"body": "Try the capacitors."}).status_code == 302
    client.logout()
    client.login("wanda")
    assert badge(client.get("/").get_data(as_text=True)) == 1
    html = client.get(f"/t/{topic.id}", follow_redirects=True).get_data(as_text=True)
    assert "Try the capacitors." in html and badge(html) == 0
    assert all(n.read_at is not None for n in notes(wanda))


# --- a topic moved away since (found by the twelfth session's browser review) ---------------
def test_a_topic_moved_into_a_private_sig_is_no_longer_named_in_its_notifications(
    client, f: Any
) -> None:
    """A notification keeps the SIG of the day it was written; what it may say of a topic and
    its posts is asked of the SIG the topic is in now: the centre, the API and the mail say
    nothing of a topic moved where the member may not read."""
    from forum.moderation import topic_tools
    from forum.notifications import queries

    grace, ada = f.user("grace"), f.user("ada")
    public = f.sig("retro", members=[grace, ada])
    lounge = f.sig("lounge", visibility="private", members=[grace])
    topic = f.topic(grace, public, "What was your first BBS?", "Mine was a FidoNet node.")
    f.reply(grace, topic, "A FidoNet node in town. @ada, did yours carry echoes?")
    (note,) = [n for n in notes(ada) if n.kind == "mention"]

    def said() -> tuple[str, str, str, bool]:
        (row,) = queries.member_rows(ada, [note.id])
        return row.text, row.excerpt, row.url, row.withheld

    def named() -> tuple[int | None, int | None]:
        # What the live nudge tells a page showing the topic (forum.realtime.handlers).
        (row,) = queries.rows_by_id([note.id]).values()
        return row[1].topic_id, row[1].post_id

    text, excerpt, url, withheld = said()
    assert "What was your first BBS?" in text and "FidoNet node in town" in excerpt
    assert not withheld
    assert named() == (topic.id, note.post_id)

    root = f.sysop()
    topic_tools.move_topic(root, topic.id, lounge.id)
    text, excerpt, url, withheld = said()
    assert "What was your first BBS?" not in text and excerpt == "" and withheld
    assert named() == (None, None)
    assert url != f"/p/{note.post_id}"
    client.login("ada")
    page = client.get("/notifications").get_data(as_text=True)
    assert "What was your first BBS?" not in page and "FidoNet" not in page
    api = client.get("/api/v1/notifications").get_data(as_text=True)
    assert "What was your first BBS?" not in api and "FidoNet" not in api

    # Moved back, the notification says it all again.
    topic_tools.move_topic(root, topic.id, public.id)
    text, excerpt, _url, withheld = said()
    assert "What was your first BBS?" in text and "FidoNet node in town" in excerpt


def test_a_post_split_into_a_private_sig_is_no_longer_named_in_its_notifications(f: Any) -> None:
    """The same when a sysop splits the post into a new topic of a private SIG: the post's
    topic now is the one asked of, not the topic the notification was written with."""
    from forum.moderation import topic_tools
    from forum.notifications import queries

    grace, ada = f.user("grace"), f.user("ada")
    public = f.sig("retro", members=[grace, ada])
    lounge = f.sig("lounge", visibility="private", members=[grace])
    topic = f.topic(grace, public, "Modems", "Which modem?")
    post = f.reply(grace, topic, "A US Robotics, @ada. Yours?")
    (note,) = [n for n in notes(ada) if n.kind == "mention"]
    topic_tools.split_topic(f.sysop(), topic.id, [post.id], "Modem talk", to_sig_id=lounge.id)
    (row,) = queries.member_rows(ada, [note.id])
    assert "Modem" not in row.text and row.excerpt == "" and row.withheld
