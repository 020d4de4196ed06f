"""Private mail: conversations, the mailbox, privacy, ignoring, reports, live delivery."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from forum import permissions
from forum.errors import Invalid
from forum.extensions import db
from forum.messages import queries, services
from forum.messages.models import (
    Conversation,
    ConversationMember,
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


def test_search_in_my_own_mail_only(app, browser, f):
    ada, bob, cy = f.user("ada"), f.user("bob"), f.user("cyd")
    _start(ada, [bob], subject="Garden", body="The tomatoes are ripe")
    _start(bob, [cy], subject="Secret", body="The tomatoes are rotten")
    _forget()
    html = browser(ada).text("/mail?q=tomatoes")
    assert "Garden" in html and "Secret" not in html
    assert "Garden" not in browser(cy).text("/mail?q=tomatoes")


# --- privacy ----------------------------------------------------------------------------------
def test_nobody_else_reads_a_conversation_the_sysop_included(app, browser, f):
    ada, bob, eve = f.user("ada"), f.user("bob"), f.user("eve")
    root = f.sysop("root")
    conversation = _start(ada, [bob], subject="Between us", body="secret words")
    message = db.session.scalar(select(PrivateMessage))
    _forget()
    missing = browser(eve).get("/mail/c/999999")
    for who in (eve, root):
        for url in (
            f"/mail/c/{conversation.id}",
            f"/mail/m/{message.id}/report",
        ):
            response = browser(who).get(url)
            assert response.status_code == 404, (who, url)
            assert response.get_data(as_text=True) == missing.get_data(as_text=True).replace(
                "999999", str(conversation.id)
            ) or "No such conversation." in response.get_data(as_text=True)
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
