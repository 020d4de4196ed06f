"""Pages load in a fixed number of SQL queries, however much content there is (no N+1).

Each test measures a page with a little content and again with a lot, for a guest and for a
member (and a sysop where that changes the page), and wants the same count both times.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from forum.extensions import db
from forum.sigs.models import Sig
from forum.topics.models import Topic

# A page is a handful of queries: the session's member, their memberships, the page's rows,
# header counts added by other features, and for a member the read-position upsert.
CEILING = 15


def _count(client: Any, count_queries: Any, url: str) -> tuple[int, list[str]]:
    client.get("/")  # warm up whatever the first request of a client does
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return counter.count, counter.statements


def _viewers(make_client: Any, *names: str | None) -> dict[str | None, Any]:
    viewers = {}
    for name in names:
        client = make_client()
        if name:
            client.login(name)
        viewers[name] = client
    return viewers


def _measure(viewers: dict[str | None, Any], count_queries: Any, url: str) -> dict[Any, Any]:
    return {name: _count(client, count_queries, url) for name, client in viewers.items()}


def _assert_fixed(small: dict[Any, Any], large: dict[Any, Any]) -> None:
    for name in small:
        count, statements = large[name]
        assert small[name][0] == count, "\n".join(
            [f"queries for {name or 'a guest'} grew with the content:", *statements]
        )
        assert count <= CEILING, "\n".join(statements)


def _writers(f: Any, n: int = 6) -> list[Any]:
    """Several authors, so loading them one by one would show."""
    people = [f.user(f"writer{i}") for i in range(n)]
    for person in people:
        person.signature = f"signed, {person.username}"
    db.session.commit()
    return people


def test_sig_index_queries_do_not_grow_with_sigs(make_client, f, count_queries) -> None:
    ada = f.user("ada")
    writers = _writers(f)

    def add_sigs(start: int, stop: int) -> None:
        for i in range(start, stop):
            visibility = ("public", "members", "private")[i % 3]
            writer = writers[i % len(writers)]
            sig = f.sig(f"sig-{i:02d}", visibility=visibility, members=[ada, writer])
            f.topic(writer, sig, f"Topic in {i}")

    add_sigs(0, 2)
    viewers = _viewers(make_client, None, "ada")
    small = _measure(viewers, count_queries, "/")
    add_sigs(2, 30)
    large = _measure(viewers, count_queries, "/")
    assert viewers["ada"].get("/").get_data(as_text=True).count('class="sig-name"') == 30
    assert viewers[None].get("/").get_data(as_text=True).count('class="sig-name"') == 20
    _assert_fixed(small, large)


def test_sig_page_queries_do_not_grow_with_topics(make_client, f, count_queries) -> None:
    ada = f.user("ada")
    writers = _writers(f)
    sig = f.sig("busy", members=[ada, *writers])

    def add_topics(start: int, stop: int) -> None:
        for i in range(start, stop):
            topic = f.topic(writers[i % 6], sig, f"Topic number {i}")
            f.reply(writers[(i + 1) % 6], topic, "a reply by someone else")
            if i % 4 == 0:
                topic.pinned_at = topic.created_at
        db.session.commit()

    add_topics(0, 2)
    viewers = _viewers(make_client, None, "ada")
    small = _measure(viewers, count_queries, "/s/busy/")
    add_topics(2, 30)
    assert db.session.get(Sig, sig.id).topic_count == 30
    large = _measure(viewers, count_queries, "/s/busy/")
    html = viewers["ada"].get("/s/busy/").get_data(as_text=True)
    assert html.count('class="topic-title"') == 30
    _assert_fixed(small, large)


def test_topic_page_queries_do_not_grow_with_posts(make_client, f, count_queries) -> None:
    ada = f.user("ada")
    boss = f.user("boss")
    writers = _writers(f)
    sig = f.sig("talk", members=[ada, *writers], sysops=[boss])

    def topic_with(n: int) -> Topic:
        topic = f.topic(writers[0], sig, f"A topic with {n} posts", "the first post, @ada")
        for i in range(1, n):
            f.reply(writers[i % 6], topic, f"reply {i} for @writer{(i + 1) % 6}")
        return topic

    short, long = topic_with(2), topic_with(25)
    viewers = _viewers(make_client, None, "ada", "boss")
    # Nobody has opened either topic: each member's visit writes its read position once.
    small = _measure(viewers, count_queries, f"/t/{short.id}/{short.slug}?page=1")
    large = _measure(viewers, count_queries, f"/t/{long.id}/{long.slug}?page=1")
    html = viewers["boss"].get(f"/t/{long.id}/{long.slug}?page=1").get_data(as_text=True)
    assert html.count('<article class="post') == 25
    assert "signed, writer5" in html
    _assert_fixed(small, large)


def test_new_page_queries_do_not_grow_with_unread_topics(make_client, f, count_queries) -> None:
    ada = f.user("ada")
    writers = _writers(f)
    sigs = [f.sig(f"sig-{i}", members=[ada, writers[i], writers[i + 3]]) for i in range(3)]

    def add_topics(start: int, stop: int) -> None:
        for i in range(start, stop):
            f.topic(writers[i % 6], sigs[i % 3], f"Unread {i}")

    add_topics(0, 2)
    viewers = _viewers(make_client, "ada")
    small = _measure(viewers, count_queries, "/new")
    add_topics(2, 30)
    large = _measure(viewers, count_queries, "/new")
    assert viewers["ada"].get("/new").get_data(as_text=True).count('class="topic-title"') == 30
    _assert_fixed(small, large)


def test_a_reply_reads_its_topic_and_sig_once(make_client, f, count_queries) -> None:
    """The view and the service both look the topic up; the second look-up, and the SIG's,
    come from the session (the topic holds its SIG, so it is not dropped in between). The new
    post is not read back either."""
    ada = f.user("ada")
    sig = f.sig("talk", members=[ada])
    topic = f.topic(ada, sig, "Counting lookups")
    client = make_client()
    client.login("ada")
    form = {"body": "One more reply.", "csrf_token": client.csrf_token()}
    url = f"/t/{topic.id}/reply"
    with count_queries() as counter:
        response = client.post(url, data=form)
    assert response.status_code == 302
    # Row locks are not look-ups: PostgreSQL's (SELECT … FOR UPDATE) in the write transaction,
    # and on SQLite, which has no row locks, lock_for_write's read of the topic in its place,
    # afresh in the write transaction (the one statement ordered by id), for the post number.
    reads = [
        s
        for s in counter.statements
        if s.lstrip().upper().startswith("SELECT")
        and not s.rstrip().endswith("UPDATE")
        and not s.rstrip().endswith("ORDER BY topics.id")
    ]
    assert sum("FROM topics" in s for s in reads) == 1, "\n".join(reads)
    locks = [s for s in counter.statements if "FROM topics" in s and "ORDER BY topics.id" in s]
    assert len(locks) == 1, locks
    assert not [s for s in reads if "FROM sigs" in s and "FROM topics" not in s], reads
    assert not [s for s in reads if "FROM posts \nWHERE posts.id" in s], reads


@pytest.mark.config(TOPICS_PER_PAGE=5)
def test_a_sig_page_read_from_its_cursor_does_not_grow_with_topics(
    make_client, f, count_queries
) -> None:
    """The Next link's page (keyset pagination) loads in as many queries as page 1."""
    ada = f.user("ada")
    writers = _writers(f)
    sig = f.sig("busy", members=[ada, *writers])

    def add_topics(start: int, stop: int) -> None:
        for i in range(start, stop):
            f.topic(writers[i % 6], sig, f"Topic number {i}")

    def next_link(client: Any) -> str:
        html = client.get("/s/busy/").get_data(as_text=True)
        match = re.search(r'<a rel="next" href="([^"]+)"', html)
        assert match, "no Next link"
        return match.group(1).replace("&amp;", "&")

    add_topics(0, 12)
    viewers = _viewers(make_client, None, "ada")
    small = {name: _count(c, count_queries, next_link(c)) for name, c in viewers.items()}
    add_topics(12, 40)
    large = {name: _count(c, count_queries, next_link(c)) for name, c in viewers.items()}
    _assert_fixed(small, large)


def test_new_page_queries_do_not_grow_for_a_member_who_read_everything(
    make_client, f, count_queries
) -> None:
    ada = f.user("ada")
    writers = _writers(f)
    sigs = [f.sig(f"sig-{i}", members=[ada, writers[i], writers[i + 3]]) for i in range(3)]

    def add_topics(start: int, stop: int) -> None:
        for i in range(start, stop):
            f.topic(writers[i % 6], sigs[i % 3], f"Read {i}")

    add_topics(0, 2)
    viewers = _viewers(make_client, "ada")
    viewers["ada"].form("/new/read")
    small = _measure(viewers, count_queries, "/new")
    add_topics(2, 30)
    viewers["ada"].form("/new/read")
    large = _measure(viewers, count_queries, "/new")
    assert "Read 29" not in viewers["ada"].get("/new").get_data(as_text=True)
    _assert_fixed(small, large)


def test_a_members_empty_page_runs_two_statements(make_client, f, count_queries) -> None:
    """The frame alone (/search without words): the session's member with their memberships,
    then the header's counts (notifications, tracked topics, mail), one statement each."""
    ada = f.user("ada")
    for i in range(3):
        f.sig(f"sig-{i}", members=[ada])
    client = _viewers(make_client, "ada")["ada"]
    count, statements = _count(client, count_queries, "/search")
    assert count == 2, "\n".join(statements)
    assert "memberships" in statements[0] and "conversation_members" in statements[1]


def test_a_topic_page_reads_notifications_only_for_a_member_who_has_unread(
    make_client, f, count_queries
) -> None:
    """A topic page reads the notifications about its posts in one UPDATE, and only when the
    header's counts (read anyway) say the member has unread ones: a member with none pays no
    statement more."""
    from forum.notifications.models import Notification

    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("talk", members=[ada, bob])
    topic = f.topic(bob, sig, "Counting reads")
    f.reply(bob, topic, "a reply")
    client = _viewers(make_client, "ada")["ada"]
    url = f"/t/{topic.id}/{topic.slug}?page=1"
    client.get(url)  # the read position is written once; later visits leave it
    quiet, statements = _count(client, count_queries, url)
    assert not [s for s in statements if "UPDATE notifications" in s], statements

    post = f.reply(bob, topic, "a post ada watches")
    client.get(url)
    db.session.add(Notification(user_id=ada.id, kind="watched", topic_id=topic.id, post_id=post.id))
    db.session.commit()
    reading, statements = _count(client, count_queries, url)
    updates = [s for s in statements if "UPDATE notifications" in s]
    # And one count: ada signed in moments ago, so who's online lists her (the grace period
    # after a sign-in), and her other pages are told the header's new count (realtime).
    recount = [s for s in statements if s.startswith("SELECT count(*)") and "notifications" in s]
    assert len(updates) == 1 and len(recount) == 1, "\n".join(statements)
    assert reading == quiet + 2, "\n".join(statements)
    # Read now: the next visit costs what the first quiet one did.
    assert _count(client, count_queries, url)[0] == quiet
