"""Private mail: conversations, the mailbox, privacy, ignoring, reports, live delivery."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from forum import permissions
from forum.errors import Forbidden, Invalid, NotFound
from forum.extensions import db
from forum.messages import queries, services
from forum.messages.models import (
    Conversation,
    ConversationMember,
    MemberIgnore,
    MessageReport,
    PrivateMessage,
)


def _start(sender, to, subject="Lunch?", body="Shall we meet at noon?"):
    names = to if isinstance(to, str) else ", ".join(u.username for u in to)
    return services.start_conversation(sender, names, subject, body)


def _forget():
    db.session.rollback()
    db.session.expire_all()


# --- conversations ----------------------------------------------------------------------------
def test_a_member_writes_to_another_through_the_forms(app, browser, f):
    ada, bob = f.user("ada"), f.user("bob")
    form = browser(ada).get("/mail/new?to=bob")
    assert form.status_code == 200 and 'value="bob"' in form.get_data(as_text=True)
    response = browser(ada).form(
        "/mail/new", {"to": "bob", "subject": "Hello", "body": "Hi **Bob**, @ada here."}
    )
    assert response.status_code == 302
    conversation = db.session.scalar(select(Conversation))
    assert response.headers["Location"].startswith(f"/mail/c/{conversation.id}")
    message = db.session.scalar(select(PrivateMessage))
    # Markdown through the content pipeline, cooked when written; mentions link.
    assert "<strong>Bob</strong>" in message.body_html
    assert '<a class="mention" href="/u/ada">@ada</a>' in message.body_html
    page = browser(bob).text(f"/mail/c/{conversation.id}")
    assert "Hello" in page and "<strong>Bob</strong>" in page
    reply = browser(bob).form(f"/mail/c/{conversation.id}/reply", {"body": "Hi Ada!"})
    assert reply.status_code == 302
    assert "Hi Ada!" in browser(ada).text(f"/mail/c/{conversation.id}")
    assert db.session.get(Conversation, conversation.id).message_count == 2


def test_the_conversation_names_its_members_as_a_list_in_the_readers_language(app, browser, f):
    # "Private conversation between ada, ken": a list of names reads "ada and ken" ("ada und
    # ken", "ada y ken"), with commas only before the last.
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    conversation = _start(ada, [bob, cyd])
    url = f"/mail/c/{conversation.id}"

    def said(language: str) -> str:
        response = browser(bob).get(url, headers={"Accept-Language": language})
        page = response.get_data(as_text=True)
        line = re.search(r'<p class="muted">(.*?)</p>', page, re.S)
        assert line is not None
        return " ".join(re.sub(r"<[^>]+>", "", line.group(1)).split())

    assert said("en") == "Private conversation between ada, bob and cyd"
    assert said("de") == "Private Unterhaltung zwischen ada, bob und cyd"
    assert said("es") == "Conversación privada entre ada, bob y cyd"
    services.leave_conversation(cyd, conversation.id)
    assert said("de") == "Private Unterhaltung zwischen ada und bob"


def test_bad_input_keeps_what_was_typed_with_a_clear_error(app, browser, f):
    ada = f.user("ada")
    f.user("bob")
    response = browser(ada).form(
        "/mail/new", {"to": "bob, nobody_here", "subject": "Plans", "body": "Typed text stays"}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "There is no member named nobody_here." in html
    assert "Typed text stays" in html and 'value="Plans"' in html
    # The refused field takes the focus (it stayed on the page's top, the error far below).
    to = re.search(r'<input[^>]*name="to"[^>]*>', html)
    assert to is not None and " autofocus" in to.group(0) and 'aria-invalid="true"' in to.group(0)
    assert html.count("autofocus") == 1
    empty = browser(ada).form("/mail/new", {"to": "bob", "subject": "Plans", "body": "   "})
    assert empty.status_code == 400
    assert db.session.scalar(select(Conversation)) is None
    conversation = _start(ada, "bob")
    _forget()
    too_long = "x" * (app.config["MAX_POST_LENGTH"] + 1)
    reply = browser(ada).form(f"/mail/c/{conversation.id}/reply", {"body": too_long})
    assert reply.status_code == 400
    assert "Messages are limited to" in reply.get_data(as_text=True)


def test_conversations_hold_up_to_the_configured_number_of_members(app, f):
    ada = f.user("ada")
    others = [f.user(f"mem{i}") for i in range(3)]
    app.config["MAIL_MAX_PARTICIPANTS"] = 3
    with pytest.raises(Invalid, match="at most 3 members"):
        _start(ada, others)
    conversation = _start(ada, others[:2])
    with pytest.raises(Invalid, match="its 3 members already"):
        services.add_member(ada, conversation.id, "mem2")
    assert app.config["MAIL_MAX_PARTICIPANTS"] == 3
    with pytest.raises(Invalid, match="someone else"):
        _start(ada, "ada")


def test_the_mailbox_lists_unread_first_then_newest_with_counts_and_pages(app, browser, f):
    ada, bob, cy = f.user("ada"), f.user("bob"), f.user("cyd")
    old = _start(bob, [ada], subject="Old and unread")
    read = _start(cy, [ada], subject="Newer but read")
    mine = _start(ada, [cy], subject="Newest, my own")
    _forget()
    browser(ada).get(f"/mail/c/{read.id}")
    html = browser(ada).text("/mail")
    assert (
        html.index("Old and unread") < html.index("Newest, my own") < html.index("Newer but read")
    )
    assert 'id="mail-link"' in html and 'data-count="1"' in html
    assert "1 conversation with unread messages" in html
    assert queries.unread_count(ada.id) == 1
    del old, mine
    for i in range(queries.PER_PAGE):
        _start(bob, [ada], subject=f"Bulk {i}")
    _forget()
    first = browser(ada).text("/mail")
    assert "?page=2" in first
    second = browser(ada).text("/mail?page=2")
    assert "Newer but read" in second
    assert browser(ada).get("/mail?page=9").status_code == 404


def test_on_a_phone_each_mailbox_cell_says_what_it_is(app, browser, f):
    """The mailbox's rows stack on a phone, where its column heads are gone: who the
    conversation is with and when its last message came say so (data-label)."""
    ada, bob = f.user("ada"), f.user("bob")
    _start(bob, [ada], subject="Labelled")
    _forget()
    page = browser(ada).get("/mail").get_data(as_text=True)
    assert '<td data-label="With">' in page and '<td data-label="Last message">' in page


def test_archive_per_participant_and_a_new_message_brings_it_back(app, browser, f):
    ada, bob = f.user("ada"), f.user("bob")
    conversation = _start(ada, [bob], subject="Archive me")
    _forget()
    assert browser(bob).form(f"/mail/c/{conversation.id}/archive").status_code == 302
    assert "Archive me" not in browser(bob).text("/mail")
    assert "Archive me" in browser(bob).text("/mail?folder=archive")
    assert "Archive me" in browser(ada).text("/mail")  # only bob's mailbox changed
    services.reply_to_conversation(db.session.get(type(ada), ada.id), conversation.id, "Ping")
    _forget()
    assert "Archive me" in browser(bob).text("/mail")


def test_leaving_takes_the_conversation_away(app, browser, f):
    ada, bob, cy = f.user("ada"), f.user("bob"), f.user("cyd")
    conversation = _start(ada, [bob, cy], subject="Group")
    _forget()
    assert browser(cy).form(f"/mail/c/{conversation.id}/leave").status_code == 302
    assert "Group" not in browser(cy).text("/mail")
    assert browser(cy).get(f"/mail/c/{conversation.id}").status_code == 404
    page = browser(ada).text(f"/mail/c/{conversation.id}")
    assert "cyd left the conversation." in page
    services.reply_to_conversation(db.session.get(type(ada), ada.id), conversation.id, "Still here")
    row = db.session.get(ConversationMember, (conversation.id, cy.id))
    assert row.left_at is not None and row.last_read_message_id < conversation.last_message_id


@pytest.mark.parametrize("sees_history", [False, True])
def test_an_added_member_reads_from_their_addition_unless_configured(app, browser, f, sees_history):
    app.config["MAIL_NEW_MEMBER_SEES_HISTORY"] = sees_history
    ada, bob, cy = f.user("ada"), f.user("bob"), f.user("cyd")
    conversation = _start(ada, [bob], body="Before cy came")
    _forget()
    response = browser(bob).form(f"/mail/c/{conversation.id}/add", {"username": "cyd"})
    assert response.status_code == 302
    services.reply_to_conversation(
        db.session.get(type(ada), ada.id), conversation.id, "After cy came"
    )
    _forget()
    page = browser(cy).text(f"/mail/c/{conversation.id}")
    assert "After cy came" in page and "bob added cyd." in page
    assert ("Before cy came" in page) is sees_history
    assert "Before cy came" not in browser(cy).text("/mail?q=before") or sees_history


def test_add_member_errors_are_shown_on_the_form(app, browser, f):
    ada, bob = f.user("ada"), f.user("bob")
    conversation = _start(ada, [bob])
    _forget()
    response = browser(ada).form(f"/mail/c/{conversation.id}/add", {"username": "bob"})
    assert response.status_code == 400
    assert "bob is in this conversation already." in response.get_data(as_text=True)


def test_who_may_not_manage_a_conversation_sees_no_add_form_and_is_refused(app, browser, f):
    """Adding members is the policy's one rule (permissions.manage_conversation_problem): a
    participant whom someone in the conversation takes no mail from brings nobody in, though
    the page used to hide the form by a rule of its own while the service took the addition."""
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    f.user("dan")
    conversation = _start(ada, [bob, cyd])
    services.ignore_member(cyd, "ada")
    _forget()
    add = f'action="/mail/c/{conversation.id}/add"'
    assert add not in browser(ada).text(f"/mail/c/{conversation.id}")
    assert add in browser(bob).text(f"/mail/c/{conversation.id}")
    refused = browser(ada).form(f"/mail/c/{conversation.id}/add", {"username": "dan"})
    assert refused.status_code == 403
    assert "cyd does not accept private mail." in refused.get_data(as_text=True)
    assert 'value="dan"' in refused.get_data(as_text=True)  # the name typed stays
    members = set(
        db.session.scalars(
            select(ConversationMember.user_id).where(
                ConversationMember.conversation_id == conversation.id
            )
        )
    )
    assert members == {ada.id, bob.id, cyd.id}
    assert (
        browser(bob).form(f"/mail/c/{conversation.id}/add", {"username": "dan"}).status_code == 302
    )


def test_search_in_my_own_mail_only(app, browser, f):
    ada, bob, cy = f.user("ada"), f.user("bob"), f.user("cyd")
    _start(ada, [bob], subject="Garden", body="The tomatoes are ripe")
    _start(bob, [cy], subject="Secret", body="The tomatoes are rotten")
    _forget()
    html = browser(ada).text("/mail?q=tomatoes")
    assert "Garden" in html and "Secret" not in html
    assert "Garden" not in browser(cy).text("/mail?q=tomatoes")


# --- privacy ----------------------------------------------------------------------------------
@pytest.mark.search
def test_nobody_else_reads_a_conversation_the_sysop_included(app, browser, f):
    ada, bob, eve = f.user("ada"), f.user("bob"), f.user("eve")
    root = f.sysop("root")
    conversation = _start(ada, [bob], subject="Between us", body="secret words")
    message = db.session.scalar(select(PrivateMessage))
    _forget()
    for who in (eve, root):
        for url in (f"/mail/c/{conversation.id}", f"/mail/m/{message.id}/report"):
            response = browser(who).get(url)
            assert response.status_code == 404, (who, url)
            assert "Between us" not in response.get_data(as_text=True)
        for url, data in (
            (f"/mail/c/{conversation.id}/reply", {"body": "let me in"}),
            (f"/mail/c/{conversation.id}/add", {"username": who.username}),
            (f"/mail/c/{conversation.id}/leave", {}),
            (f"/mail/c/{conversation.id}/archive", {}),
        ):
            assert browser(who).form(url, data).status_code == 404, (who, url)
        assert "Between us" not in browser(who).text("/mail")
        assert "Between us" not in browser(who).text("/mail?q=secret")
        assert "secret words" not in browser(who).text("/search?q=secret")
        assert "secret" not in browser(who).text("/notifications")
    assert browser(None).get(f"/mail/c/{conversation.id}").status_code == 302  # log in first
    assert permissions.can_read_conversation(root, conversation.id) is False


def test_private_mail_is_not_indexed_into_the_public_search(app, f):
    ada, bob = f.user("ada"), f.user("bob")
    _start(ada, [bob], subject="Zebra", body="quixotic zebra crossing")
    from forum.search.models import SearchQueueEntry

    assert db.session.scalar(select(SearchQueueEntry)) is None


# --- notifications, the badge and live delivery -------------------------------------------------
def _sock(app, client):
    from forum.extensions import socketio

    return socketio.test_client(app, flask_test_client=client)


def _received(sc, name):
    return [e["args"][0] for e in sc.get_received() if e["name"] == name]


def test_a_new_message_notifies_the_recipients_after_their_preference(app, browser, f):
    from forum.notifications.models import Notification

    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    services.set_mail_preferences(cyd, "everyone", notify=False)
    conversation = _start(ada, [bob, cyd], body="words nobody else reads")
    rows = list(db.session.scalars(select(Notification)))
    assert [(n.user_id, n.kind) for n in rows] == [(bob.id, "private_message")]
    assert rows[0].data == {
        "conversation_id": conversation.id,
        "message_id": conversation.last_message_id,
    }
    page = browser(bob).text("/notifications")
    assert "ada sent you private mail" in page
    assert f'href="/notifications/{rows[0].id}"' in page
    assert "words nobody else reads" not in page
    # Reading the conversation reads its notification too: the two badges agree.
    browser(bob).get(f"/mail/c/{conversation.id}")
    assert db.session.get(Notification, rows[0].id).read_at is not None
    # Its link opens it (/notifications/<id>), landing on the message in the conversation.
    opened = browser(bob).get(f"/notifications/{rows[0].id}")
    assert opened.headers["Location"] == (
        f"/mail/c/{conversation.id}#message-{conversation.last_message_id}"
    )


def test_live_delivery_nudges_only_the_recipients_rooms(app, make_client, f):
    ada, bob = f.user("ada"), f.user("bob")
    f.user("cyd")
    sockets = {}
    for name in ("ada", "bob", "cyd"):
        c = make_client()
        c.login(name)
        sockets[name] = _sock(app, c)
    conversation = _start(ada, [bob], body="live words")
    got = _received(sockets["bob"], "mail")
    assert got == [{"unread_count": 1, "conversation_id": conversation.id}]
    assert _received(sockets["cyd"], "mail") == []
    assert _received(sockets["ada"], "mail") == []
    assert "live words" not in str(_received(sockets["bob"], "notification"))
    # Reading it in one tab updates the badge in the others.
    c = make_client()
    c.login("bob")
    c.get(f"/mail/c/{conversation.id}")
    assert _received(sockets["bob"], "mail") == [{"unread_count": 0}]


def test_a_rolled_back_message_nudges_nobody(app, make_client, f):
    from forum import events

    ada, bob = f.user("ada"), f.user("bob")
    c = make_client()
    c.login("bob")
    sc = _sock(app, c)
    sc.get_received()

    def explode(event):
        raise RuntimeError("boom")

    events.subscribe(app, events.PrivateMessageSent, explode, phase="in_transaction")
    with pytest.raises(RuntimeError):
        _start(ada, [bob])
    assert sc.get_received() == []
    assert db.session.scalar(select(Conversation)) is None


def test_the_header_badge_is_rendered_on_every_page_for_members(app, browser, f):
    ada, bob = f.user("ada"), f.user("bob")
    _start(ada, [bob])
    _start(ada, [bob], subject="Second")
    _forget()
    html = browser(bob).text("/")
    assert 'id="mail-link"' in html and 'data-count="2"' in html
    assert 'id="mail-link"' not in browser(None).text("/")


# --- ignoring, and who may write to me ----------------------------------------------------------
def test_refusals_say_clearly_why(app, browser, f):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    root = f.sysop("root")
    services.ignore_member(bob, "ada")
    services.set_mail_preferences(cyd, "sysops", notify=True)
    _forget()
    for name in ("bob", "cyd"):
        response = browser(ada).form(
            "/mail/new", {"to": name, "subject": "Hi", "body": "Kept text"}
        )
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert f"{name} does not accept private mail." in html and "Kept text" in html
    # The profile says so too, instead of offering the link.
    assert "cyd does not accept private mail." in browser(ada).text("/u/cyd")
    assert "/mail/new?to=dan" not in browser(ada).text("/u/cyd")
    # The sysop always gets through.
    assert _start(root, [bob, cyd]) is not None
    # A conversation where someone ignores the writer takes no more from them.
    conversation = _start(root, [ada, bob])
    with pytest.raises(Invalid, match="bob does not accept private mail."):
        services.reply_to_conversation(ada, conversation.id, "Hello?")
    _forget()
    refused = browser(ada).form(f"/mail/c/{conversation.id}/reply", {"body": "Typed reply"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "bob does not accept private mail." in html and "Typed reply" in html


def test_profiles_link_to_private_mail_and_ignore(app, browser, f):
    f.user("ada")
    bob = f.user("bob")
    html = browser(bob).text("/u/ada")
    assert "/mail/new?to=ada" in html and "Send private mail" in html
    assert "Send private mail" not in browser(bob).text("/u/bob")
    assert browser(bob).form("/u/ada/ignore").status_code == 302
    ada = db.session.scalar(select(type(bob)).where(type(bob).username == "ada"))
    assert db.session.get(MemberIgnore, (bob.id, ada.id)) is not None
    html = browser(bob).text("/settings")
    assert "Members you ignore" in html and "Stop ignoring" in html
    browser(bob).form("/u/ada/ignore", {"value": "unignore"})
    assert db.session.scalar(select(MemberIgnore)) is None


def test_an_ignored_members_mentions_do_not_notify_and_posts_fold(app, browser, f):
    from forum.notifications.models import Notification

    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("gardening")
    f.join(ada, sig)
    f.join(bob, sig)
    topic = f.topic(ada, sig, "Tomatoes", "Let us talk tomatoes.")
    services.ignore_member(ada, "bob")
    f.reply(bob, topic, "Hey @ada, look at this")
    assert db.session.scalar(select(Notification).where(Notification.user_id == ada.id)) is None
    _forget()
    html = browser(ada).text(f"/t/{topic.id}")
    assert "Post by a member you ignore — show" in html
    assert "Post by a member you ignore" not in browser(bob).text(f"/t/{topic.id}")


def test_the_sysop_cannot_be_ignored_and_settings_reject_bad_values(app, browser, f):
    ada = f.user("ada")
    f.sysop("root")
    with pytest.raises(Invalid, match="cannot be ignored"):
        services.ignore_member(ada, "root")
    with pytest.raises(Invalid, match="yourself"):
        services.ignore_member(ada, "ada")
    response = browser(ada).form("/settings/mail", {"mail_from": "martians"})
    assert response.status_code == 400
    assert browser(ada).form("/settings/mail", {"mail_from": "sysops"}).status_code == 302
    assert db.session.get(type(ada), ada.id).preferences["mail_from"] == "sysops"


def test_a_refused_mail_setting_brings_the_settings_page_back_and_saves_nothing(app, client, f):
    """Who may write to me, sent with a value the form does not offer: the settings page, 400,
    the error beside the choice (in the member's language), the check box as sent, the choice as
    saved, and nothing saved."""
    import re

    ada = f.user("ada")
    services.set_mail_preferences(ada, "sysops", True)
    client.login("ada")
    response = client.form("/settings/mail", {"mail_from": "martians"})  # notify: unchecked
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and ">Settings</h1>" in page
    assert '<p class="error" id="mail_from-error">Choose who may send you private mail.</p>' in page
    assert '<fieldset class="has-error" aria-describedby="mail_from-error">' in page
    assert re.search(r'<input[^>]*checked[^>]*value="sysops"', page)
    assert not re.search(r'<input[^>]*checked[^>]*name="notify"', page)
    assert "Your private mail settings are saved." not in page
    # The page's other forms as saved: the notifications form shows no error and its choices.
    assert 'class="error"' not in page.replace('class="error" id="mail_from-error"', "")
    _forget()
    assert services.mail_from(ada) == "sysops" and services.notifies_mail(ada)
    back = client.get("/settings/mail")  # the footer's language switch, from this page
    assert back.status_code == 302 and back.headers["Location"] == "/settings#mail-heading"

    german = client.form(
        "/settings/mail", {"mail_from": "", "notify": "y"}, headers={"Accept-Language": "de"}
    )
    page = german.get_data(as_text=True)
    assert german.status_code == 400 and ">Einstellungen</h1>" in page
    assert "Wähle, wer dir private Nachrichten schicken darf." in page
    assert re.search(r'<input[^>]*checked[^>]*name="notify"', page)
    _forget()
    assert services.mail_from(ada) == "sysops" and services.notifies_mail(ada)


# --- reports ------------------------------------------------------------------------------------
def test_a_report_shows_the_sysop_the_message_and_two_before_it_only(app, browser, f):
    from forum.moderation.models import ModAction

    ada, bob = f.user("ada"), f.user("bob")
    root = f.sysop("root")
    conversation = _start(ada, [bob], body="first words")
    for body in ("second words", "third words", "fourth words"):
        services.reply_to_conversation(ada, conversation.id, body)
    services.reply_to_conversation(bob, conversation.id, "later words")
    reported = db.session.scalar(
        select(PrivateMessage).where(PrivateMessage.body_raw == "fourth words")
    )
    _forget()
    assert browser(bob).get(f"/mail/m/{reported.id}/report").status_code == 200
    bad = browser(bob).form(f"/mail/m/{reported.id}/report", {"reason": "other", "note": ""})
    assert bad.status_code == 400 and "Tell the sysop what is wrong" in bad.get_data(as_text=True)
    response = browser(bob).form(f"/mail/m/{reported.id}/report", {"reason": "abuse"})
    assert response.status_code == 302
    # Your own messages are not yours to report; strangers get the uniform 404.
    own = db.session.scalar(select(PrivateMessage).where(PrivateMessage.body_raw == "later words"))
    assert browser(bob).form(f"/mail/m/{own.id}/report", {"reason": "spam"}).status_code == 403
    assert browser(root).get(f"/mail/m/{reported.id}/report").status_code == 404
    queue = browser(root).text("/mod")
    assert "Reported private messages (1)" in queue
    assert "second words" in queue and "third words" in queue and "fourth words" in queue
    assert "first words" not in queue and "later words" not in queue
    assert f"/mail/c/{conversation.id}" not in queue
    # The sysop's header counts it; a SIG sysop sees nothing of it.
    assert browser(root).get(f"/mail/c/{conversation.id}").status_code == 404
    sig_sysop = f.user("siggy")
    f.sig("garden", sysops=[sig_sysop])
    _forget()
    assert "fourth words" not in browser(sig_sysop).text("/mod")
    report = db.session.scalar(select(MessageReport))
    assert (
        browser(sig_sysop).form(f"/mod/mail/{report.id}/resolve", {"outcome": "hidden"}).status_code
        == 404
    )
    done = browser(root).form(f"/mod/mail/{report.id}/resolve", {"outcome": "hidden"})
    assert done.status_code == 302
    assert db.session.get(PrivateMessage, reported.id).is_hidden
    assert db.session.get(MessageReport, report.id).outcome == "hidden"
    assert (
        db.session.scalar(
            select(ModAction).where(ModAction.action == "resolve_message_report")
        ).target_user_id
        == ada.id
    )
    page = browser(bob).text(f"/mail/c/{conversation.id}")
    assert "fourth words" not in page and "hidden by the sysop" in page
    assert "Reported private messages (0)" in browser(root).text("/mod")
    # The member who reported it hears how it was handled.
    assert "The sysop handled the private message you reported: the message was hidden." in browser(
        bob
    ).text("/notifications")


def test_warning_the_author_of_a_reported_message_needs_a_reason(app, f):
    from forum.moderation import services as mod
    from forum.moderation.models import MemberWarning

    ada, bob = f.user("ada"), f.user("bob")
    root = f.sysop("root")
    conversation = _start(ada, [bob], body="rude words")
    report = services.report_message(bob, conversation.last_message_id, "abuse")
    with pytest.raises(Invalid):
        mod.resolve_message_report(root, report.id, "warned", "")
    with pytest.raises(NotFound):
        mod.resolve_message_report(bob, report.id, "dismissed")
    mod.resolve_message_report(root, report.id, "warned", "Be kind.")
    warning = db.session.scalar(select(MemberWarning))
    assert (warning.user_id, warning.reason, warning.sig_id) == (ada.id, "Be kind.", None)


def test_a_refused_handling_of_a_report_keeps_the_chosen_outcome(app, browser, f):
    """From the queue: the warning chosen comes back chosen, the error beside the reason."""
    ada, bob = f.user("ada"), f.user("bob")
    root = f.sysop("root")
    conversation = _start(ada, [bob], body="rude words")
    report = services.report_message(bob, conversation.last_message_id, "abuse")
    _forget()
    response = browser(root).form(f"/mod/mail/{report.id}/resolve", {"outcome": "warned"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<option value="warned" selected>' in page
    assert f'aria-describedby="mail-reason-{report.id}-error"' in page
    assert db.session.get(MessageReport, report.id).outcome is None


# --- who may write: standing, new accounts, the rate limit, the site setting ---------------------
def test_members_who_may_not_write_may_not_send_mail(app, f):
    from datetime import timedelta

    from forum.timeutil import utcnow

    ada, bob = f.user("ada"), f.user("bob")
    conversation = _start(bob, [ada])
    ada.silenced_until = utcnow() + timedelta(days=1)
    db.session.commit()
    with pytest.raises(Forbidden, match="silenced"):
        _start(ada, [bob])
    with pytest.raises(Forbidden, match="silenced"):
        services.reply_to_conversation(ada, conversation.id, "hello")
    with pytest.raises(Forbidden):
        services.start_conversation(None, "bob", "Hi", "there")


@pytest.mark.config(MAIL_MIN_ACCOUNT_AGE_HOURS=24)
def test_new_accounts_wait_before_sending_mail(app, browser, f):
    from datetime import timedelta

    from forum.timeutil import utcnow

    ada, bob = f.user("ada"), f.user("bob")
    root = f.sysop("root")
    with pytest.raises(Forbidden, match="after 24 hours"):
        _start(ada, [bob])
    assert _start(root, [ada]) is not None  # the sysop is never held back
    _forget()
    assert "after 24 hours" in browser(ada).text("/mail/new?to=bob")
    ada = db.session.get(type(ada), ada.id)
    ada.created_at = utcnow() - timedelta(hours=25)
    db.session.commit()
    assert _start(ada, [bob]) is not None


NEW_LIMIT = "New accounts cannot send private mail yet."


def test_a_new_account_answers_a_conversation_another_member_started(app, browser, f):
    from forum.accounts.models import TL_NEW

    ada, wanda = f.user("ada"), f.user("wanda", trust_level=TL_NEW)
    conversation = _start(ada, [wanda])
    _forget()
    # The conversation page offers the reply box, not the limit, and no "Add a member".
    page = browser(wanda).text(f"/mail/c/{conversation.id}")
    assert NEW_LIMIT not in page
    assert f'action="/mail/c/{conversation.id}/reply"' in page
    assert f'action="/mail/c/{conversation.id}/add"' not in page
    reply = browser(wanda).form(f"/mail/c/{conversation.id}/reply", {"body": "Thanks, Ada!"})
    assert reply.status_code == 302
    assert "Thanks, Ada!" in browser(ada).text(f"/mail/c/{conversation.id}")
    # Starting a conversation is still refused, on the page and in the service.
    assert NEW_LIMIT in browser(wanda).text("/mail/new?to=ada")
    with pytest.raises(Forbidden, match=NEW_LIMIT):
        _start(db.session.get(type(wanda), wanda.id), "ada")


def test_a_new_account_adds_nobody_and_answers_nothing_it_started(app, browser, f):
    from forum.accounts.models import TL_BASIC, TL_NEW

    ada, bob = f.user("ada"), f.user("bob")
    wanda = f.user("wanda", trust_level=TL_BASIC)
    own = _start(wanda, [ada])  # started while basic; a sysop sets the account back to new
    theirs = _start(ada, [wanda])
    wanda.trust_level = TL_NEW
    db.session.commit()
    _forget()
    wanda = db.session.get(type(wanda), wanda.id)
    with pytest.raises(Forbidden, match=NEW_LIMIT):
        services.reply_to_conversation(wanda, own.id, "Hello again")
    with pytest.raises(Forbidden, match=NEW_LIMIT):
        services.add_member(wanda, theirs.id, "bob")
    assert NEW_LIMIT in browser(wanda).text(f"/mail/c/{own.id}")
    added = browser(wanda).form(f"/mail/c/{theirs.id}/add", {"username": "bob"})
    assert added.status_code == 403 and NEW_LIMIT in added.get_data(as_text=True)
    members = db.session.scalars(
        select(ConversationMember.user_id).where(ConversationMember.conversation_id == theirs.id)
    )
    assert bob.id not in set(members)


@pytest.mark.config(MAIL_MIN_ACCOUNT_AGE_HOURS=24)
def test_a_young_account_answers_but_does_not_start(app, browser, f):
    ada, bob = f.user("ada"), f.user("bob")
    with pytest.raises(Forbidden, match="after 24 hours"):
        _start(ada, [bob])
    conversation = _start(f.sysop("root"), [ada])
    assert services.reply_to_conversation(ada, conversation.id, "Thank you") is not None


@pytest.mark.config(RATELIMIT_ENABLED=True, RATELIMIT_MAIL="2 per minute")
def test_sending_is_rate_limited_per_account(app, browser, f):
    ada = browser(f.user("ada"))
    f.user("bob")
    for i in range(2):
        sent = ada.form("/mail/new", {"to": "bob", "subject": f"Hi {i}", "body": "hello"})
        assert sent.status_code == 302
    assert (
        ada.form("/mail/new", {"to": "bob", "subject": "Hi 3", "body": "hello"}).status_code == 429
    )


def test_the_conversation_size_is_a_site_setting(app, browser, f):
    from forum.admin import services as admin_services

    root = f.sysop("root")
    admin_services.update_settings(root, {"mail_max_participants": "3"})
    _forget()
    ada = f.user("ada")
    for name in ("bob", "cyd", "dan"):
        f.user(name)
    _forget()
    response = browser(ada).form(
        "/mail/new", {"to": "bob, cyd, dan", "subject": "Crowd", "body": "All of you"}
    )
    assert response.status_code == 400
    assert "at most 3 members" in response.get_data(as_text=True)
    assert "Members per private conversation" in browser(root).text("/admin/settings")


# --- cost -----------------------------------------------------------------------------------------
def test_the_mailbox_and_a_conversation_do_not_grow_with_their_content(
    app, make_client, f, count_queries
):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    first = _start(bob, [ada, cyd], subject="First")
    client = make_client()
    client.login("ada")

    def measure(url):
        client.get(url)
        with count_queries() as counter:
            assert client.get(url).status_code == 200
        return counter.count

    small = (measure("/mail"), measure(f"/mail/c/{first.id}?page=1"))
    for i in range(12):
        _start([bob, cyd][i % 2], [ada], subject=f"More {i}")
        services.reply_to_conversation([bob, cyd][i % 2], first.id, f"message {i}")
    large = (measure("/mail"), measure(f"/mail/c/{first.id}?page=1"))
    assert small == large, (small, large)
    assert max(large) <= 15


def test_an_empty_mailbox_counts_no_unread_conversations(app, browser, f):
    ada, bob = f.user("ada"), f.user("bob")
    html = browser(ada).text("/mail")
    assert "conversations with unread messages" not in html
    _start(ada, [bob], subject="Mine, so read")
    _forget()
    assert "with unread messages" not in browser(ada).text("/mail")
    _start(bob, [ada], subject="Unread")
    _forget()
    assert "1 conversation with unread messages" in browser(ada).text("/mail")
