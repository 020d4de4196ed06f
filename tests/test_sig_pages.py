"""A SIG's pages: Previous and Next seek from a cursor (keyset pagination), numbered pages still
work, and both show the same topics (forum.sigs.queries.Cursor)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from forum.extensions import db
from forum.timeutil import utcnow
from forum.topics.models import Topic

PER_PAGE = 3


def _page(client: Any, url: str) -> tuple[list[str], str | None, str | None]:
    """The topic titles of a page, and its Previous and Next links."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    text = response.get_data(as_text=True)
    titles = re.findall(r'class="topic-title"[^>]*>([^<]+)</a>', text)
    links = {
        rel: htmllib.unescape(href)
        for rel, href in re.findall(r'<a rel="(prev|next)" href="([^"]+)"', text)
    }
    return titles, links.get("prev"), links.get("next")


@pytest.fixture
def busy(f: Any) -> list[str]:
    """Fourteen topics: four pinned (so the pinned ones run over a page), three of the rest
    sharing one moment (so the id breaks the tie), and one deleted. Returns the titles a guest
    sees, in listing order."""
    ada = f.user("ada")
    sig = f.sig("busy", members=[ada, f.user("bob")])
    topics = [f.topic(ada, sig, f"Topic {n:02d}") for n in range(14)]
    start = utcnow() - timedelta(days=1)
    for n, topic in enumerate(topics):
        row = db.session.get(Topic, topic.id)
        row.last_posted_at = start + timedelta(minutes=min(n, 8))  # 8 to 13 tie
        if n in (1, 5, 9, 12):
            row.pinned_at = start
        if n == 3:
            row.deleted_at = start
    db.session.commit()
    pinned = [f"Topic {n:02d}" for n in (12, 9, 5, 1)]
    rest = [f"Topic {n:02d}" for n in (13, 11, 10, 8, 7, 6, 4, 2, 0)]
    return pinned + rest


@pytest.mark.config(TOPICS_PER_PAGE=PER_PAGE)
@pytest.mark.parametrize("who", [None, "bob"])
def test_next_and_previous_walk_the_same_pages_as_page_numbers(make_client, busy, who) -> None:
    client = make_client()
    if who:
        client.login(who)
    pages = -(-len(busy) // PER_PAGE)
    numbered = [_page(client, f"/s/busy/?page={n}")[0] for n in range(1, pages + 1)]
    assert [t for page in numbered for t in page] == busy

    walked, url = [], "/s/busy/"
    while url:
        titles, _, url = _page(client, url)
        walked.append(titles)
        if url:
            assert "after=" in url and f"page={len(walked) + 1}" in url
    assert walked == numbered

    last = f"/s/busy/?page={pages}"
    back, url = [], last
    while url:
        titles, url, _ = _page(client, url)
        back.append(titles)
        if url and len(back) < pages - 1:
            assert "before=" in url
    assert back[::-1] == numbered


@pytest.mark.config(TOPICS_PER_PAGE=PER_PAGE)
def test_a_cursor_keeps_the_filter(make_client, busy) -> None:
    bob = make_client()
    bob.login("bob")
    titles, _, url = _page(bob, "/s/busy/?filter=unread")
    assert titles == busy[:PER_PAGE]
    assert url is not None and "filter=unread" in url and "after=" in url
    assert _page(bob, url)[0] == busy[PER_PAGE : 2 * PER_PAGE]


@pytest.mark.parametrize(
    "query",
    ["after=nonsense", "after=2-100-1", "before=1-100", "after=1-9999999999999999999-1"],
)
def test_a_bad_cursor_is_a_friendly_404(client, busy, query) -> None:
    response = client.get(f"/s/busy/?{query}")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.config(TOPICS_PER_PAGE=PER_PAGE)
def test_a_deep_page_seeks_from_its_cursor(make_client, busy) -> None:
    """The Next link's page is one range of ix_topics_sig_order read from the cursor, not the
    SIG's topics counted out from the top."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("reads SQLite's query plan; PostgreSQL's depends on its statistics")
    client = make_client()
    _, _, url = _page(client, "/s/busy/?page=2")
    assert url is not None
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if statement.startswith("SELECT topics.") and "LIMIT" in statement:
            seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        titles = _page(client, url)[0]
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert titles == busy[2 * PER_PAGE : 3 * PER_PAGE]
    assert len(seen) == 1, seen
    statement, params = seen[0]
    assert "(topics.last_posted_at, topics.id) < (?, ?)" in statement
    assert params[-1] == 0  # the OFFSET SQLite's dialect always writes: nothing counted out
    with db.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
    assert any(
        "ix_topics_sig_order (sig_id=? AND <expr>=? AND last_posted_at<?)" in step for step in plan
    ), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
