"""/new at any size: a member who has read nothing sees every unread topic newest first, page by
page; one who has marked everything read sees only what moved since, and the database is asked
for no more than that (forum.topics.queries.new_topics, Membership.read_through)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from forum.accounts.models import User
from forum.extensions import db
from forum.sigs.models import Membership
from forum.timeutil import utcnow
from forum.topics.models import Topic


def _titles(client: Any, url: str = "/new") -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    return re.findall(r'class="topic-title"[^>]*>([^<]+)</a>', response.get_data(as_text=True))


def _age(topics: list[Topic]) -> None:
    """The first topic moved longest ago, the last most recently (a minute apart)."""
    start = utcnow() - timedelta(days=1)
    for n, topic in enumerate(topics):
        db.session.get(Topic, topic.id).last_posted_at = start + timedelta(minutes=n)
    db.session.commit()


@pytest.fixture
def forum(f: Any) -> dict[str, Any]:
    ada, bob, carl = f.user("ada"), f.user("bob"), f.user("carl")
    club = f.sig("club", members=[ada, bob])
    other = f.sig("other", members=[ada, bob])
    elsewhere = f.sig("elsewhere", members=[carl])
    topics = [f.topic(ada, (club, other)[n % 2], f"Topic {n}") for n in range(7)]
    f.topic(carl, elsewhere, "Not for bob")
    _age(topics)
    return {"bob": bob, "club": club, "other": other, "topics": topics}


@pytest.mark.config(TOPICS_PER_PAGE=3)
def test_a_member_who_has_read_nothing_pages_through_every_topic(make_client, forum) -> None:
    bob = make_client()
    bob.login("bob")
    assert _titles(bob) == ["Topic 6", "Topic 5", "Topic 4"]
    assert _titles(bob, "/new?page=2") == ["Topic 3", "Topic 2", "Topic 1"]
    assert _titles(bob, "/new?page=3") == ["Topic 0"]


def test_marking_everything_read_records_how_far_each_sig_was_read(client, forum) -> None:
    client.login("bob")
    assert client.form("/s/club/read").status_code == 302
    marks = dict(
        db.session.execute(
            select(Membership.sig_id, Membership.read_through).where(
                Membership.user_id == forum["bob"].id
            )
        ).all()
    )
    newest_in_club = forum["topics"][6].last_posted_at
    newest_in_club = db.session.get(Topic, forum["topics"][6].id).last_posted_at
    assert marks == {forum["club"].id: newest_in_club, forum["other"].id: None}
    assert _titles(client) == ["Topic 5", "Topic 3", "Topic 1"]

    assert client.form("/new/read").status_code == 302
    newest_in_other = db.session.get(Topic, forum["topics"][5].id).last_posted_at
    marks = {
        m.sig_id: m.read_through
        for m in db.session.scalars(select(Membership).where(Membership.user_id == forum["bob"].id))
    }
    assert marks == {forum["club"].id: newest_in_club, forum["other"].id: newest_in_other}
    assert _titles(client) == []


def test_after_marking_everything_read_what_moves_again_is_listed(make_client, f, forum) -> None:
    bob = make_client()
    bob.login("bob")
    bob.form("/new/read")
    ada = db.session.scalar(select(User).where(User.username == "ada"))
    f.reply(ada, forum["topics"][0], "the oldest topic moves again")
    f.topic(ada, forum["other"], "A brand new topic")
    html = bob.get("/new").get_data(as_text=True)
    assert _titles(bob) == ["A brand new topic", "Topic 0"]
    assert re.search(r"Topic 0</a>\s*<span[^>]*>1 unread<", html)
    assert re.search(r"A brand new topic</a>\s*<span[^>]*>new<", html)
    # Reading them empties the list again.
    bob.get(f"/t/{forum['topics'][0].id}", follow_redirects=True)
    assert _titles(bob) == ["A brand new topic"]


def test_new_walks_the_topics_newest_first_from_the_mark(app, make_client, forum) -> None:
    """The statement is driven by the topics' last activity (an index range from the oldest
    mark), not by every topic of the member's SIGs: its cost stays put as the forum grows."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan; PostgreSQL's depends on its statistics")
    bob = make_client()
    bob.login("bob")
    bob.form("/new/read")
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "topic_reads" in statement and "ORDER BY" in statement and "LIMIT" in statement:
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        bob.get("/new")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(seen) == 1, seen
    with db.engine.connect() as conn:
        plan = [
            row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1])
        ]
    assert "SEARCH topics USING INDEX ix_topics_last_posted_at (last_posted_at>?)" in plan, plan
    assert not any("ix_topics_sig" in step or "SCAN topics" in step for step in plan), plan
