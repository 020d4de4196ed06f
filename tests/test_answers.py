"""Answered topics: support SIGs, marking the answer, the answered filter, and the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from forum import permissions
from forum.accounts.models import User
from forum.db import transaction
from forum.errors import Forbidden, Invalid
from forum.extensions import db
from forum.pulse import queries, services
from forum.pulse.buckets import DateRange
from forum.sigs.models import Sig
from forum.topics.models import Post, Topic


@pytest.fixture
def world(f: Any) -> dict[str, Any]:
    ada, bob, cyd, dee = (f.user(n) for n in ("ada", "bob", "cyd", "dee"))
    help_sig = f.sig("help", members=[ada, bob, cyd, dee], sysops=[ada])
    question = f.topic(bob, help_sig, "How do I load a tape?")
    own = f.reply(bob, question, "Bumping my own question.")
    answer = f.reply(cyd, question, "Type LOAD and press play on tape.")
    for user in (ada, bob, cyd, dee):
        permissions.forget_memberships(user)
    return {"sig": help_sig, "question": question, "own": own, "answer": answer}


def make_support(client: Any, slug: str = "help") -> Any:
    client.login("ada")
    response = client.form(f"/s/{slug}/pulse/support", {"value": "on"})
    client.logout()
    return response


def test_sig_sysops_turn_a_sig_into_a_support_sig(client, world):
    client.login("bob")  # a member, not a sysop
    assert client.form("/s/help/pulse/support", {"value": "on"}).status_code == 404
    client.logout()
    assert not db.session.get(Sig, world["sig"].id).is_support
    response = make_support(client)
    assert response.status_code == 302
    assert db.session.get(Sig, world["sig"].id).is_support
    client.login("ada")
    page = client.get("/s/help/pulse").get_data(as_text=True)
    assert "Stop being a support SIG" in page
    client.form("/s/help/pulse/support", {"value": "off"})
    assert not db.session.get(Sig, world["sig"].id).is_support


def test_the_author_marks_an_answer_that_shows_under_the_question(client, world):
    make_support(client)
    question, answer = world["question"], world["answer"]
    client.login("bob")
    page = client.get(f"/t/{question.id}?page=1").get_data(as_text=True)
    assert f'action="/p/{answer.id}/answer"' in page
    assert f'action="/p/{world["own"].id}/answer"' not in page  # not his own reply
    assert client.form(f"/p/{answer.id}/answer").status_code == 302
    assert db.session.get(Topic, question.id).answer_post_id == answer.id
    page = client.get(f"/t/{question.id}?page=1").get_data(as_text=True)
    box = page.index('class="answer-box"')
    assert page.index('id="post-1"') < box < page.index('id="post-2"')
    assert "Answer from" in page[box : box + 400] and "cyd" in page[box : box + 400]
    assert "Type LOAD and press play on tape." in page[box:]
    assert "Not the answer" in page


def test_own_replies_and_other_members_cannot_answer(client, world):
    make_support(client)
    question = world["question"]
    client.login("bob")
    client.form(f"/p/{world['own'].id}/answer")
    assert db.session.get(Topic, question.id).answer_post_id is None
    assert "someone other than the author" in client.get("/").get_data(as_text=True)
    client.logout()
    client.login("dee")  # neither the author nor a sysop
    page = client.get(f"/t/{question.id}?page=1").get_data(as_text=True)
    assert "Mark as the answer" not in page
    client.form(f"/p/{world['answer'].id}/answer")
    assert db.session.get(Topic, question.id).answer_post_id is None


def test_a_sysop_marks_and_clears_the_answer(client, world):
    make_support(client)
    question = world["question"]
    client.login("ada")
    client.form(f"/p/{world['answer'].id}/answer")
    assert db.session.get(Topic, question.id).answer_post_id == world["answer"].id
    client.form(f"/t/{question.id}/answer/clear")
    assert db.session.get(Topic, question.id).answer_post_id is None


def test_answers_only_in_support_sigs(app, world):
    bob = db.session.scalar(db.select(User).where(User.username == "bob"))
    with pytest.raises(Invalid, match="support SIGs only"):
        services.mark_answer(bob, world["answer"].id)
    services.set_support_sig(
        db.session.scalar(db.select(User).where(User.username == "ada")), world["sig"].id, True
    )
    dee = db.session.scalar(db.select(User).where(User.username == "dee"))
    with pytest.raises(Forbidden):
        services.mark_answer(dee, world["answer"].id)
    assert services.mark_answer(bob, world["answer"].id).answer_post_id == world["answer"].id


def test_private_sig_answers_are_404_to_outsiders(client, f):
    ada, bob, cyd = f.user("ada"), f.user("bob"), f.user("cyd")
    f.user("eve")
    secret = f.sig("secret", visibility="private", members=[bob, cyd], sysops=[ada])
    question = f.topic(bob, secret, "Secret question")
    answer = f.reply(cyd, question, "Secret answer")
    client.login("eve")
    assert client.form(f"/p/{answer.id}/answer").status_code == 404
    assert client.form(f"/t/{question.id}/answer/clear").status_code == 404
    assert client.form(f"/s/{secret.slug}/pulse/support", {"value": "on"}).status_code == 404


def test_topic_lists_filter_answered_and_unanswered(client, world, f):
    bob = db.session.scalar(db.select(User).where(User.username == "bob"))
    alone = f.topic(bob, world["sig"], "Talking to myself")
    f.reply(bob, alone, "Still me.")
    # An ordinary SIG: any reply by someone else answers a topic.
    answered = client.get("/s/help/?filter=answered").get_data(as_text=True)
    unanswered = client.get("/s/help/?filter=unanswered").get_data(as_text=True)
    assert "How do I load a tape?" in answered and "Talking to myself" not in answered
    assert "Talking to myself" in unanswered and "How do I load a tape?" not in unanswered
    # A support SIG: only a marked answer does.
    make_support(client)
    unanswered = client.get("/s/help/?filter=unanswered").get_data(as_text=True)
    assert "How do I load a tape?" in unanswered
    client.login("bob")
    client.form(f"/p/{world['answer'].id}/answer")
    answered = client.get("/s/help/?filter=answered").get_data(as_text=True)
    assert "How do I load a tape?" in answered and "Talking to myself" not in answered
    assert ">answered</span>" in answered


def test_a_hidden_answer_does_not_count(client, world):
    make_support(client)
    client.login("bob")
    client.form(f"/p/{world['answer'].id}/answer")
    with transaction():
        db.session.get(Post, world["answer"].id).hidden_at = datetime.now(UTC)
    page = client.get(f"/t/{world['question'].id}?page=1").get_data(as_text=True)
    assert 'class="answer-box"' not in page
    assert "How do I load a tape?" in client.get("/s/help/?filter=unanswered").get_data(
        as_text=True
    )


def test_dashboard_response_figures_use_marked_answers(app, world, monkeypatch):
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    monkeypatch.setattr("forum.pulse.queries.utcnow", lambda: now)
    ada = db.session.scalar(db.select(User).where(User.username == "ada"))
    bob = db.session.scalar(db.select(User).where(User.username == "bob"))
    services.set_support_sig(ada, world["sig"].id, True)
    db.session.expire_all()
    topic = db.session.get(Topic, world["question"].id)
    first, own, answer = (
        db.session.get(Post, i)
        for i in (world["question"].first_post_id, world["own"].id, world["answer"].id)
    )
    with transaction():
        topic.created_at = first.created_at = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        own.created_at = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
        answer.created_at = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    rng = DateRange(date(2026, 3, 1), date(2026, 3, 10), "UTC", "custom")

    def figures() -> dict[str, Any]:
        data = queries.dashboard(ada, world["sig"], rng)
        return {fig.label: fig.raw for fig in data.figures} | {
            "queue": [r[1] for r in data.get("unanswered").rows]
        }

    before = figures()
    assert before["Support topics with a marked answer"] == 0
    assert before["Topics answered within 24 hours"] == 0.0
    assert (
        before["Topics: median time to first reply"] == 108000.0
    )  # 30 h; the own reply does not count
    assert before["queue"] == ["How do I load a tape?"]
    services.mark_answer(bob, world["answer"].id)
    after = figures()
    assert after["Support topics with a marked answer"] == 1
    assert after["Median time to the answer"] == 108000.0
    assert after["Topics answered within 24 hours"] == 0.0  # answered, but after 30 hours
    assert after["queue"] == []
