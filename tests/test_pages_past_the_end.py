"""A page past the end of a member's list is a page that does not exist (404), as a topic's, a
SIG's and the mailbox's are, never the list's "nothing here yet"; the first page of an empty
list still says it is empty."""

from __future__ import annotations

from typing import Any

from forum.bookmarks import services as bookmarks
from forum.db import transaction
from forum.notifications.models import Notification
from forum.reactions import services as reactions

from .test_api import API, bearer, error_of, token_for

THUMBS = "👍"


def test_notifications_past_the_last_page_are_a_404(client: Any, f: Any) -> None:
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig)
    client.login("ada")
    empty = client.get("/notifications")
    assert empty.status_code == 200 and "No notifications yet." in empty.get_data(as_text=True)
    assert client.get("/notifications?page=2").status_code == 404
    with transaction() as session:
        for _ in range(5):
            session.add(Notification(user_id=ada.id, kind="reply", actor_id=bob.id,
                                     topic_id=topic.id, sig_id=sig.id, data={}))  # fmt: skip
    first = client.get("/notifications").get_data(as_text=True)
    assert first.count('class="notification ') == 5 and "No notifications yet." not in first
    for past in ("/notifications?page=2", "/notifications?page=99999"):
        response = client.get(past)
        assert response.status_code == 404, past
        text = response.get_data(as_text=True)
        assert "That page does not exist." in text and "No notifications yet." not in text
    # The API's list says the same.
    secret = token_for(ada)
    assert client.get(f"{API}/notifications?page=1", headers=bearer(secret)).status_code == 200
    beyond = client.get(f"{API}/notifications?page=2", headers=bearer(secret))
    assert beyond.status_code == 404
    assert error_of(beyond)["message"] == "That page does not exist."


def test_bookmarks_past_the_last_page_are_a_404(client: Any, f: Any) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Amiga repairs", "Recap the board first.")
    client.login("ada")
    empty = client.get("/bookmarks")
    assert empty.status_code == 200 and "You have no bookmarks." in empty.get_data(as_text=True)
    assert client.get("/bookmarks?page=2").status_code == 404
    bookmarks.bookmark_post(ada, topic.first_post_id)
    assert "Amiga repairs · #1" in client.get("/bookmarks").get_data(as_text=True)
    for past in ("/bookmarks?page=2", "/bookmarks?page=99999"):
        response = client.get(past)
        assert response.status_code == 404, past
        text = response.get_data(as_text=True)
        assert "That page does not exist." in text and "You have no bookmarks." not in text


def test_who_reacted_has_one_page_whatever_the_address_says(client: Any, f: Any) -> None:
    """/p/<id>/reactions is not paginated: a ?page= is not read, and the reactions show."""
    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob])
    topic = f.topic(ada, sig, "Amiga repairs", "Recap the board first.")
    client.login("ada")
    url = f"/p/{topic.first_post_id}/reactions"
    assert "Nobody has reacted to this post yet." in client.get(url).get_data(as_text=True)
    reactions.set_reaction(bob, topic.first_post_id, THUMBS)
    for address in (url, f"{url}?page=2", f"{url}?page=99999"):
        text = client.get(address).get_data(as_text=True)
        assert "Nobody has reacted" not in text and "/u/bob" in text, address
