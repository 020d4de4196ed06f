"""Drafts kept on the server: saved while typing (JSON) or with the "Save draft" button, back
in the composer after a reload or on another device, listed at /drafts, deleted there or with
the post they became, each member's alone, limited in size and number."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from forum.drafts.models import Draft
from forum.extensions import db
from forum.topics.models import Post


def _html(response: Any) -> str:
    return response.get_data(as_text=True)


def _drafts(user_id: int | None = None) -> dict[str, tuple[str, str]]:
    query = select(Draft)
    if user_id is not None:
        query = query.where(Draft.user_id == user_id)
    return {d.key: (d.title, d.body) for d in db.session.scalars(query)}


@pytest.fixture
def world(f: Any) -> Any:
    ada = f.user("ada")
    bob = f.user("bob")
    sig = f.sig("retro", name="Retro Computing", members=[ada, bob])
    topic = f.topic(bob, sig, "Favourite machines", "Mine is the C64.")
    return ada, bob, sig, topic


def test_a_reply_draft_is_saved_and_back_after_a_reload_and_on_another_device(
    make_client, world
) -> None:
    ada, _bob, _sig, topic = world
    laptop = make_client()
    laptop.login("ada")
    saved = laptop.form(f"/drafts/reply:{topic.id}", {"body": "The Amiga <500>, because"})
    assert saved.status_code == 200
    assert saved.get_json()["key"] == f"reply:{topic.id}" and saved.get_json()["updated_at"]
    assert _drafts(ada.id) == {f"reply:{topic.id}": ("", "The Amiga <500>, because")}

    phone = make_client()
    phone.login("ada")
    for url in (f"/t/{topic.id}/{topic.slug}?page=1", f"/t/{topic.id}/reply"):
        page = _html(phone.get(url))
        assert "The Amiga &lt;500&gt;, because</textarea>" in page
        assert "Restored from your draft" in page and "Discard draft" in page

    # Saved again: one row, the latest text.
    laptop.form(f"/drafts/reply:{topic.id}", {"body": "The Amiga 500, because of its chips."})
    assert _drafts(ada.id) == {f"reply:{topic.id}": ("", "The Amiga 500, because of its chips.")}


def test_a_draft_can_be_saved_as_json_with_the_token_in_a_header(client, world) -> None:
    ada, _bob, sig, _topic = world
    client.login("ada")
    token = client.csrf_token()
    response = client.post(
        f"/drafts/topic:{sig.id}",
        json={"title": "Keyboards", "body": "Which one clicks best?"},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert response.status_code == 200, _html(response)
    assert _drafts(ada.id) == {f"topic:{sig.id}": ("Keyboards", "Which one clicks best?")}
    page = _html(client.get(f"/s/{sig.slug}/new"))
    assert 'value="Keyboards"' in page and "Which one clicks best?</textarea>" in page


def test_the_save_draft_button_works_without_javascript(client, world) -> None:
    ada, _bob, sig, topic = world
    client.login("ada")
    response = client.form(
        f"/t/{topic.id}/reply", {"body": "Typed without a script", "save_draft": "1"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/t/{topic.id}/reply"
    )
    assert _drafts(ada.id) == {f"reply:{topic.id}": ("", "Typed without a script")}
    page = _html(client.get(response.headers["Location"]))
    assert "Draft saved" in page and "Typed without a script</textarea>" in page
    assert not db.session.scalar(select(Post).where(Post.body_raw == "Typed without a script"))

    # A new topic's draft keeps its title, even with no text yet.
    response = client.form(
        f"/s/{sig.slug}/new", {"title": "Half a title", "body": "", "save_draft": "1"}
    )
    assert response.status_code == 302
    assert _drafts(ada.id)[f"topic:{sig.id}"] == ("Half a title", "")


def test_an_edit_draft_fills_the_edit_form_and_goes_with_the_edit(client, world) -> None:
    ada, _bob, _sig, topic = world
    client.login("ada")
    post = client.form(f"/t/{topic.id}/reply", {"body": "First version"})
    assert post.status_code == 302
    mine = db.session.scalar(select(Post).where(Post.body_raw == "First version"))
    client.form(f"/drafts/edit:{mine.id}", {"body": "Second version, unfinished"})
    page = _html(client.get(f"/p/{mine.id}/edit"))
    assert "Second version, unfinished</textarea>" in page
    assert client.form(f"/p/{mine.id}/edit", {"body": "Second version"}).status_code == 302
    assert _drafts(ada.id) == {}
    assert "First version</textarea>" not in _html(client.get(f"/p/{mine.id}/edit"))


def test_drafts_vanish_with_the_post_they_became(client, world) -> None:
    ada, _bob, sig, topic = world
    client.login("ada")
    client.form(f"/drafts/reply:{topic.id}", {"body": "almost"})
    client.form(f"/drafts/topic:{sig.id}", {"title": "Soon", "body": "a topic"})
    assert len(_drafts(ada.id)) == 2
    assert client.form(f"/t/{topic.id}/reply", {"body": "Done now."}).status_code == 302
    assert set(_drafts(ada.id)) == {f"topic:{sig.id}"}
    started = client.form(f"/s/{sig.slug}/new", {"title": "Soon enough", "body": "A topic."})
    assert started.status_code == 302
    assert _drafts(ada.id) == {}


def test_a_refused_post_keeps_its_draft(client, f, world) -> None:
    """The draft goes in the post's transaction: no post, no loss."""
    ada, _bob, _sig, topic = world
    client.login("ada")
    client.form(f"/drafts/reply:{topic.id}", {"body": "kept"})
    refused = client.form(f"/t/{topic.id}/reply", {"body": "x" * 40_000})
    assert refused.status_code == 400
    assert _drafts(ada.id) == {f"reply:{topic.id}": ("", "kept")}


def test_drafts_are_listed_with_links_and_delete_buttons(client, world) -> None:
    ada, _bob, sig, topic = world
    client.login("ada")
    client.form(f"/drafts/reply:{topic.id}", {"body": "a reply in the making"})
    client.form(f"/drafts/topic:{sig.id}", {"title": "A title", "body": "a new topic"})
    page = _html(client.get("/drafts"))
    assert f'href="/t/{topic.id}/reply"' in page and "Reply to “Favourite machines”" in page
    assert f'href="/s/{sig.slug}/new"' in page and "New topic in Retro Computing" in page
    assert "a reply in the making" in page and f'action="/drafts/reply:{topic.id}/delete"' in page
    # A plain form post (no script) deletes it and comes back to the list.
    gone = client.form(f"/drafts/reply:{topic.id}/delete")
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/drafts")
    assert set(_drafts(ada.id)) == {f"topic:{sig.id}"}
    assert "The draft was deleted." in _html(client.get("/drafts"))
    # Emptying the text deletes the draft too.
    assert client.form(f"/drafts/topic:{sig.id}", {"title": "", "body": "  "}).get_json() == {
        "deleted": True
    }
    assert _drafts(ada.id) == {}
    assert "You have no drafts." in _html(client.get("/drafts"))


def test_nobody_reads_or_deletes_another_members_draft(make_client, world) -> None:
    ada, bob, _sig, topic = world
    ada_browser, bob_browser = make_client(), make_client()
    ada_browser.login("ada")
    bob_browser.login("bob")
    ada_browser.form(f"/drafts/reply:{topic.id}", {"body": "ada secret words"})
    for url in (f"/t/{topic.id}/{topic.slug}?page=1", f"/t/{topic.id}/reply", "/drafts"):
        assert "ada secret words" not in _html(bob_browser.get(url))
    # Bob's key is the same place: his own row, never ada's.
    bob_browser.form(f"/drafts/reply:{topic.id}", {"body": "bob words"})
    bob_browser.form(f"/drafts/reply:{topic.id}/delete")
    assert _drafts(ada.id) == {f"reply:{topic.id}": ("", "ada secret words")}
    assert _drafts(bob.id) == {}
    assert "ada secret words" in _html(ada_browser.get(f"/t/{topic.id}/reply"))


def test_no_draft_for_a_place_the_member_may_not_see(client, f, world) -> None:
    _ada, bob, _sig, _topic = world
    hidden = f.sig("hidden", visibility="private", members=[bob])
    secret = f.topic(bob, hidden, "Hidden plans")
    client.login("ada")
    for key in (f"reply:{secret.id}", f"topic:{hidden.id}", "reply:987654"):
        response = client.form(f"/drafts/{key}", {"body": "let me in"})
        assert response.status_code == 404
        assert response.get_json()["error"]["message"]
        assert "Hidden plans" not in _html(response)
    assert _drafts() == {}


@pytest.mark.config(MAX_POST_LENGTH=100, MAX_TITLE_LENGTH=20)
def test_draft_size_is_limited(client, world) -> None:
    ada, _bob, sig, topic = world
    client.login("ada")
    too_long = client.form(f"/drafts/reply:{topic.id}", {"body": "y" * 101})
    assert too_long.status_code == 400
    error = too_long.get_json()["error"]
    assert error["field"] == "body" and "100" in error["message"]
    long_title = client.form(f"/drafts/topic:{sig.id}", {"title": "t" * 21, "body": "ok"})
    assert long_title.status_code == 400 and long_title.get_json()["error"]["field"] == "title"
    assert client.form(f"/drafts/reply:{topic.id}", {"body": "y" * 100}).status_code == 200
    assert _drafts(ada.id) == {f"reply:{topic.id}": ("", "y" * 100)}


@pytest.mark.config(DRAFTS_PER_MEMBER=2)
def test_drafts_per_member_are_limited(client, f, world) -> None:
    ada, bob, sig, topic = world
    other = f.topic(bob, sig, "Another topic")
    third = f.topic(bob, sig, "A third topic")
    client.login("ada")
    assert client.form(f"/drafts/reply:{topic.id}", {"body": "one"}).status_code == 200
    assert client.form(f"/drafts/reply:{other.id}", {"body": "two"}).status_code == 200
    refused = client.form(f"/drafts/reply:{third.id}", {"body": "three"})
    assert refused.status_code == 400 and "2 drafts" in refused.get_json()["error"]["message"]
    # Updating one of the two is still fine.
    assert client.form(f"/drafts/reply:{other.id}", {"body": "two, longer"}).status_code == 200
    assert len(_drafts(ada.id)) == 2


def test_bad_draft_input_gets_a_clean_json_error(client, world) -> None:
    _ada, _bob, _sig, topic = world
    client.login("ada")
    token = client.csrf_token()
    headers = {"X-CSRFToken": token, "Accept": "application/json"}
    for key in ("nonsense", "reply:abc", "reply:0", "vote:1", "reply:1:2"):
        response = client.post(f"/drafts/{key}", json={"body": "x"}, headers=headers)
        assert response.status_code in (400, 404), key
        assert "error" in response.get_json(), key
    wrong_type = client.post(
        f"/drafts/reply:{topic.id}", json={"body": ["not", "text"]}, headers=headers
    )
    assert wrong_type.status_code == 400 and wrong_type.get_json()["error"]["field"] == "body"
    no_token = client.post(
        f"/drafts/reply:{topic.id}", data={"body": "x"}, headers={"Accept": "application/json"}
    )
    assert no_token.status_code == 400 and "error" in no_token.get_json()
    assert _drafts() == {}


@pytest.mark.parametrize("language", ["de", "es"])
def test_the_composer_and_drafts_speak_the_members_language(client, world, language) -> None:
    from .test_i18n_pages import english_in

    _ada, _bob, sig, topic = world
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    client.login("ada")
    client.form(f"/drafts/reply:{topic.id}", {"body": "Entwurf"})
    client.form(f"/drafts/topic:{sig.id}", {"title": "Titel", "body": "Text"})
    pages = {
        "/drafts": client.get("/drafts"),
        "reply": client.get(f"/t/{topic.id}/reply"),
        "new": client.get(f"/s/{sig.slug}/new"),
        "preview": client.form(f"/t/{topic.id}/reply", {"body": "*x*", "preview": "1"}),
    }
    for name, response in pages.items():
        page = _html(response)
        assert f'<html lang="{language}"' in page, name
        assert english_in(page) == [], (name, english_in(page))
    saved = client.form(f"/drafts/reply:{topic.id}", {"body": "y" * 40_000})
    assert "Posts are limited" not in saved.get_json()["error"]["message"]


def test_an_edit_that_changes_nothing_still_clears_its_draft(client, world) -> None:
    ada, _bob, _sig, topic = world
    client.login("ada")
    client.form(f"/t/{topic.id}/reply", {"body": "Unchanged"})
    mine = db.session.scalar(select(Post).where(Post.body_raw == "Unchanged"))
    client.form(f"/drafts/edit:{mine.id}", {"body": "Unchanged"})
    assert client.form(f"/p/{mine.id}/edit", {"body": "Unchanged"}).status_code == 302
    assert _drafts(ada.id) == {}


def test_a_draft_whose_place_was_closed_is_listed_without_it(client, f, world) -> None:
    ada, bob, _sig, _topic = world
    club = f.sig("club", name="Inner Circle", visibility="private", members=[ada, bob])
    secret = f.topic(bob, club, "Hidden plans")
    client.login("ada")
    client.form(f"/drafts/reply:{secret.id}", {"body": "my plan"})
    client.form(f"/drafts/topic:{club.id}", {"title": "Another plan", "body": "text"})
    assert "You left Inner Circle." in _html(
        client.get(client.form(f"/s/{club.slug}/leave").headers["Location"])
    )
    page = _html(client.get("/drafts"))
    assert "Hidden plans" not in page and "Inner Circle" not in page
    assert page.count("A place you can no longer write in") == 2
    assert "my plan" in page  # still hers to read and delete
    assert client.form(f"/drafts/reply:{secret.id}/delete").status_code == 302
    assert set(_drafts(ada.id)) == {f"topic:{club.id}"}


def test_the_restored_draft_says_when_it_was_saved_as_german_writes_it(client, world) -> None:
    # "Aus deinem Entwurf wiederhergestellt (gespeichert gerade eben)": German puts the time
    # before the participle, "(gerade eben gespeichert)", "(vor 5 Minuten gespeichert)".
    _ada, _bob, _sig, topic = world
    client.login("ada")
    client.form(f"/drafts/reply:{topic.id}", {"body": "Der Amiga 500"})
    page = _html(client.get(f"/t/{topic.id}/reply", headers={"Accept-Language": "de"}))
    assert "Aus deinem Entwurf wiederhergestellt (<time" in page
    assert ">gerade eben</time> gespeichert)." in page
