"""The guest page cache: guests share rendered pages until something they show changes."""

from __future__ import annotations

from typing import Any

import pytest

from forum import pagecache
from forum.moderation import services as moderation
from forum.sigs import services as sig_services
from forum.topics import services as topic_services

pytestmark = pytest.mark.config(PAGE_CACHE_SECONDS=30)


def _get(client: Any, path: str) -> tuple[int, str, str | None]:
    response = client.get(path)
    state = response.headers.get("X-Page-Cache")
    return response.status_code, response.get_data(as_text=True), state


@pytest.fixture
def board(f: Any) -> dict[str, Any]:
    ada, bob = f.user("ada"), f.user("bob")
    root = f.sysop("root")
    sig = f.sig("lounge", name="The Lounge", members=[ada, bob])
    topic = f.topic(ada, sig, "Cached topic", "The very first words.")
    return {"ada": ada, "bob": bob, "root": root, "sig": sig, "topic": topic}


PAGES = ["/", "/s/lounge/", "/t/{topic}", "/t/{topic}?page=1"]


def _paths(board: dict[str, Any]) -> list[str]:
    return [p.format(topic=board["topic"].id) for p in PAGES]


def test_guests_share_one_rendering_without_cookies_or_tokens(client, board):
    for path in _paths(board):
        status, first, state = _get(client, path)
        assert (status, state) == (200, "miss"), path
        status, again, state = _get(client, path)
        assert (status, state) == (200, "hit"), path
        assert again == first
        response = client.get(path)
        assert "Set-Cookie" not in response.headers
        assert "csrf" not in response.get_data(as_text=True)  # no token in a shared page
        assert response.headers["Content-Security-Policy"]  # headers are still the app's


def test_a_reply_shows_to_guests_at_once(client, board, f):
    topic_path = f"/t/{board['topic'].id}"
    for path in (topic_path, "/s/lounge/", "/"):
        _get(client, path)
        assert _get(client, path)[2] == "hit"
    f.reply(board["bob"], board["topic"], "A fresh reply from bob.")
    status, body, state = _get(client, topic_path)
    assert (status, state) == (200, "miss")
    assert "A fresh reply from bob." in body
    for path in ("/s/lounge/", "/"):  # the counts and "last post by" moved too
        status, body, state = _get(client, path)
        assert state == "miss" and "bob" in body, path


def test_a_new_topic_shows_to_guests_at_once_and_one_held_back_does_not(client, board, f):
    for path in ("/s/lounge/", "/"):
        _get(client, path)
    f.topic(board["bob"], board["sig"], "Brand new subject")
    for path in ("/s/lounge/", "/"):
        status, body, state = _get(client, path)
        assert state == "miss" and "bob" in body, path
    assert "Brand new subject" in _get(client, "/s/lounge/")[1]
    for path in ("/s/lounge/", "/"):
        assert _get(client, path)[2] == "hit"
    # A post that waits for a sysop's approval changes nothing a guest sees.
    moderation.set_sig_approval_threshold(board["root"], board["sig"].id, 5)
    f.reply(board["bob"], board["topic"], "Held for approval.")
    topic_path = f"/t/{board['topic'].id}"
    for path in ("/s/lounge/", "/"):
        assert _get(client, path)[2] == "hit", path
    assert "Held for approval." not in _get(client, topic_path)[1]


def test_edits_hides_deletes_and_topic_tools_reach_guests(client, board, f):
    topic = board["topic"]
    path = f"/t/{topic.id}"
    reply = f.reply(board["bob"], topic, "Words to be changed.")

    def changed(action: Any, gone: str | None = None, shown: str | None = None) -> None:
        _get(client, path)
        assert _get(client, path)[2] == "hit"
        action()
        status, body, state = _get(client, path)
        assert state == "miss"
        if gone:
            assert gone not in body
        if shown:
            assert shown in body

    changed(
        lambda: topic_services.edit_post(board["bob"], reply.id, "Words after the edit."),
        gone="Words to be changed.",
        shown="Words after the edit.",
    )
    changed(
        lambda: moderation.hide_post(board["root"], reply.id, "spam"),
        gone="Words after the edit.",
    )
    changed(lambda: moderation.unhide_post(board["root"], reply.id), shown="Words after the edit.")
    changed(
        lambda: topic_services.delete_post(board["bob"], reply.id), gone="Words after the edit."
    )
    changed(lambda: moderation.lock_topic(board["root"], topic.id), shown="locked")


def test_a_sig_turned_private_is_not_served_from_the_cache(client, board):
    sig, topic = board["sig"], board["topic"]
    for path in ("/s/lounge/", f"/t/{topic.id}", "/"):
        _get(client, path)
        assert _get(client, path)[2] == "hit"
    sig_services.update_sig(
        board["root"],
        sig.id,
        name=sig.name,
        description=sig.description,
        visibility="private",
        language=sig.language,
    )
    assert _get(client, "/s/lounge/")[0] == 404
    assert _get(client, f"/t/{topic.id}")[0] == 404
    status, body, state = _get(client, "/")
    assert state == "miss" and "The Lounge" not in body


def test_members_are_never_served_a_guest_page(client, make_client, board):
    path = f"/t/{board['topic'].id}"
    _get(client, path)
    assert _get(client, path)[2] == "hit"
    member = make_client()
    member.login("ada")
    response = member.get(path)
    assert response.status_code == 200
    assert "X-Page-Cache" not in response.headers
    assert 'data-user="ada"' in response.get_data(as_text=True)


def test_a_guest_with_a_flash_gets_their_own_page(client, board):
    path = "/s/lounge/"
    _get(client, path)
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "Only for this browser.")]
    status, body, state = _get(client, path)
    assert state is None  # not looked up: the session holds something of this browser's
    assert "Only for this browser." in body
    status, body, state = _get(client, path)  # the flash is gone, but the cookie may remain
    assert "Only for this browser." not in body


def test_pages_expire_after_page_cache_seconds(client, board, monkeypatch):
    path = "/s/lounge/"
    _get(client, path)
    assert _get(client, path)[2] == "hit"
    now = pagecache.time.monotonic()
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: now + 31)
    assert _get(client, path)[2] == "miss"


def test_another_process_sees_a_change_without_being_told(app, make_app, board, f):
    """Two app instances on one database, as two server processes: each has its own cache."""
    other = make_app(PAGE_CACHE_SECONDS=30)
    path = f"/t/{board['topic'].id}"
    with other.app_context():
        guest = other.test_client()
        assert guest.get(path).headers["X-Page-Cache"] == "miss"
        assert guest.get(path).headers["X-Page-Cache"] == "hit"
    f.reply(board["bob"], board["topic"], "Written through the first process.")
    with other.app_context():
        response = guest.get(path)
        assert response.headers["X-Page-Cache"] == "miss"
        assert "Written through the first process." in response.get_data(as_text=True)


def test_the_cache_is_off_at_zero(app, client, board):
    pagecache.CACHE.pop(app)
    path = "/s/lounge/"
    assert _get(client, path)[2] is None
    assert _get(client, path)[2] is None


def test_the_cache_keeps_at_most_page_cache_entries(app, client, board, f):
    cache = pagecache.get_cache(app)
    cache.entries = 2
    for path in _paths(board):
        _get(client, path)
    assert len(cache._pages) == 2


def test_the_cache_keeps_at_most_page_cache_mb_of_pages(app, client, board):
    cache = pagecache.get_cache(app)
    paths = _paths(board)
    sizes = [len(client.get(p).get_data()) for p in paths]
    cache.clear()
    cache.max_bytes = sizes[-1] + sizes[-2]  # room for the last two pages, not three
    for path in paths:
        _get(client, path)
    assert len(cache._pages) == 2
    assert cache.size == sum(sizes[-2:]) <= cache.max_bytes
    assert [_get(client, p)[2] for p in paths[-2:]] == ["hit", "hit"]
    cache.max_bytes = 100  # a page larger than the whole budget is served, never kept
    cache.clear()
    assert _get(client, paths[0])[2] == "miss"
    assert _get(client, paths[0])[2] == "miss"
    assert cache.size == 0


def test_a_page_past_its_time_is_let_go(client, board, app, monkeypatch):
    """An expired page could never be served again: it is dropped when seen, or when a newer
    page is kept, instead of holding memory until 512 others push it out."""
    cache = pagecache.get_cache(app)
    first, second = _paths(board)[:2]
    _get(client, first)
    now = pagecache.time.monotonic()
    monkeypatch.setattr(pagecache.time, "monotonic", lambda: now + 31)
    _get(client, second)  # kept at now + 31: the first page, older than 30 s, goes
    assert len(cache._pages) == 1
    assert cache.size == len(client.get(second).get_data())


def test_a_page_is_kept_once_at_its_newest_versions(app, client, board, f):
    """A page at older versions could never be served again: the newer rendering takes its
    place instead of holding its bytes beside it until the LRU pushes it out."""
    cache = pagecache.get_cache(app)
    path = f"/t/{board['topic'].id}"
    _get(client, path)
    f.reply(board["bob"], board["topic"], "A newer version of the page.")
    status, body, state = _get(client, path)
    assert state == "miss" and "A newer version of the page." in body
    assert len(cache._pages) == 1
    assert cache.size == len(body.encode())
    assert _get(client, path)[2] == "hit"
