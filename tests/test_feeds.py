"""Atom feeds: the site's newest topics, a SIG's and a topic's posts, under the pages' rules;
private feed addresses for members, revoked with their sessions."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from forum import hooks
from forum.accounts import services as accounts
from forum.extensions import db
from forum.feeds import tokens
from forum.hooks import Screening
from forum.moderation import services as moderation
from forum.topics import services as topic_services

from . import factories

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
BASE = "http://forum.example.org"
pytestmark = pytest.mark.config(BASE_URL=BASE)


def parse(response: Any) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.get_data())  # raises on XML that is not well-formed
    assert root.tag == f"{A}feed"
    return root


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def contents(root: ET.Element) -> str:
    return " ".join(e.findtext(f"{A}content") or "" for e in entries(root))


def _without_own_address(response: Any) -> str:
    """An error page, without the links back to the address asked for (log in, language)."""
    return re.sub(r'(next=|name="next" value=")[^"]*', "", response.get_data(as_text=True))


def private_url(user: Any, path: str) -> str:
    return f"{path}?token={tokens.token_for(user)}"


def test_site_feed_is_well_formed_atom_with_the_required_elements(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    f.topic(ada, sig, "Tabs & <spaces>", "Use **bold** & <script>alert(1)</script> text.")
    root = parse(client.get("/feeds/topics.atom"))
    for tag in ("id", "title", "updated"):
        assert root.findtext(f"{A}{tag}"), tag
    assert RFC3339.match(root.findtext(f"{A}updated"))
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links["self"] == f"{BASE}/feeds/topics.atom"
    assert links["alternate"] == f"{BASE}/"
    [entry] = entries(root)
    assert entry.findtext(f"{A}id").startswith("tag:forum.example.org,")
    assert entry.findtext(f"{A}title") == "Tabs & <spaces>"
    assert entry.findtext(f"{A}author/{A}name") == "ada"
    assert RFC3339.match(entry.findtext(f"{A}published"))
    assert RFC3339.match(entry.findtext(f"{A}updated"))
    link = entry.find(f"{A}link")
    assert link.get("href").startswith(f"{BASE}/t/")
    content = entry.find(f"{A}content")
    assert content.get("type") == "html"
    # The cooked (sanitized) HTML, escaped once as text: a reader unescapes it to HTML.
    assert "<strong>bold</strong>" in content.text
    assert "<script>" not in content.text


def test_entry_ids_stay_the_same_when_a_post_is_edited(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Stable", "First words.")
    post = f.reply(ada, topic, "A reply to edit.")
    url = f"/t/{topic.id}/feed.atom"
    before = {e.findtext(f"{A}id") for e in entries(parse(client.get(url)))}
    topic_services.edit_post(ada, post.id, "A reply, edited.")
    after = entries(parse(client.get(url)))
    assert {e.findtext(f"{A}id") for e in after} == before
    assert "A reply, edited." in " ".join(e.findtext(f"{A}content") for e in after)


def test_guests_see_only_public_sigs(client, f) -> None:
    ada = f.user("ada")
    public = f.sig("open", members=[ada])
    members_only = f.sig("club", visibility="members", members=[ada])
    private = f.sig("lair", visibility="private", members=[ada])
    f.topic(ada, public, "Open topic", "open words")
    f.topic(ada, members_only, "Club topic", "club words")
    f.topic(ada, private, "Lair topic", "lair words")
    titles = {e.findtext(f"{A}title") for e in entries(parse(client.get("/feeds/topics.atom")))}
    assert titles == {"Open topic"}
    # Through her token, ada reads what she reads on the pages.
    titles = {
        e.findtext(f"{A}title")
        for e in entries(parse(client.get(private_url(ada, "/feeds/topics.atom"))))
    }
    assert titles == {"Open topic", "Club topic", "Lair topic"}


@pytest.mark.parametrize("visibility", ["members", "private"])
def test_a_closed_sig_feed_is_the_same_404_as_a_missing_one(make_client, f, visibility) -> None:
    ada = f.user("ada")
    outsider = f.user("outsider")
    sig = f.sig("lair", visibility=visibility, members=[ada], name="Hidden Lair")
    topic = f.topic(ada, sig, "Secret plans", "secret words")
    guest = make_client()
    for real, missing in (
        (f"/s/{sig.slug}/feed.atom", "/s/no-such-sig/feed.atom"),
        (f"/t/{topic.id}/feed.atom", "/t/999999/feed.atom"),
    ):
        for url in (real, private_url(outsider, real)):
            response = guest.get(url)
            assert response.status_code == 404
            assert _without_own_address(response) == _without_own_address(guest.get(missing))
            assert b"Secret plans" not in response.get_data()
        # In her browser, ada's session opens it, privately.
        member = make_client()
        member.login("ada")
        opened = member.get(real)
        assert "secret words" in contents(parse(opened))
        assert opened.headers["Cache-Control"].startswith("private")
        root = parse(guest.get(private_url(ada, real)))
        assert "secret words" in contents(root)


def test_token_feeds_are_private_and_guest_feeds_public(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    f.topic(ada, sig, "Hello", "words")
    guest = client.get(f"/s/{sig.slug}/feed.atom")
    assert guest.headers["Cache-Control"].startswith("public, max-age=")
    private = client.get(private_url(ada, f"/s/{sig.slug}/feed.atom"))
    assert private.status_code == 200
    assert private.headers["Cache-Control"].startswith("private")
    # The self link is the address the reader fetched, token and all.
    self_link = parse(private).find(f"{A}link[@rel='self']").get("href")
    assert self_link == f"{BASE}/s/{sig.slug}/feed.atom?token={tokens.token_for(ada)}"


def test_logging_out_everywhere_revokes_the_token(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("lair", visibility="private", members=[ada])
    f.topic(ada, sig, "Secret plans", "secret words")
    url = private_url(ada, "/feeds/topics.atom")
    assert "secret words" in contents(parse(client.get(url)))
    accounts.revoke_sessions(ada)
    assert client.get(url).status_code == 404
    # A new address works again.
    assert "secret words" in contents(parse(client.get(private_url(ada, "/feeds/topics.atom"))))


def test_a_password_change_revokes_the_token(client, f) -> None:
    ada = f.user("ada")
    url = private_url(ada, "/feeds/topics.atom")
    assert client.get(url).status_code == 200
    accounts.change_password(ada, factories.PASSWORD, "a whole new passphrase 42")
    assert client.get(url).status_code == 404


def test_a_forged_or_foreign_token_is_refused(client, f) -> None:
    ada = f.user("ada")
    token = tokens.token_for(ada)
    assert client.get("/feeds/topics.atom?token=" + token[:-2] + "xx").status_code == 404
    from itsdangerous import URLSafeSerializer

    other_salt = URLSafeSerializer(client.application.config["SECRET_KEY"], salt="mail-unsubscribe")
    forged = other_salt.dumps({"u": ada.id, "s": "x" * 24})
    assert client.get("/feeds/topics.atom?token=" + forged).status_code == 404


def test_a_banned_members_token_reads_no_more_than_a_guest(client, f) -> None:
    root = f.sysop("root")
    ada = f.user("ada")
    sig = f.sig("lair", visibility="private", members=[ada])
    f.topic(ada, sig, "Secret plans", "secret words")
    token = tokens.token_for(ada)
    moderation.ban_member(root, ada.id, "Spam.")
    response = client.get(f"/feeds/topics.atom?token={token}")
    # The ban rotated her sessions, so the address is dead; were it not, it would read as a
    # guest's (checked below with a token made after the ban).
    assert response.status_code == 404
    after = client.get(private_url(ada, "/feeds/topics.atom"))
    assert "secret words" not in contents(parse(after))
    assert client.get(private_url(ada, f"/s/{sig.slug}/feed.atom")).status_code == 404


def test_hidden_deleted_and_pending_posts_never_appear(app, client, f) -> None:
    root = f.sysop("root")
    ada = f.user("ada")
    bob = f.user("bob")
    sig = f.sig("retro", members=[ada, bob], sysops=[])
    topic = f.topic(ada, sig, "Visible topic", "the first post")
    hidden = f.reply(bob, topic, "a hidden reply")
    moderation.hide_post(root, hidden.id, "Rude.")
    deleted = f.reply(bob, topic, "a deleted reply")
    topic_services.delete_post(bob, deleted.id)
    gone = f.topic(ada, sig, "Deleted topic", "a deleted topic's post")
    moderation.delete_topic(root, gone.id)
    hooks.screen_post.provide(app, lambda author, sig, text: Screening(status="pending"))
    f.reply(bob, topic, "a pending reply")
    f.topic(bob, sig, "Pending topic", "a pending topic's post")
    hooks.screen_post.withdraw(app)
    urls = ["/feeds/topics.atom", f"/s/{sig.slug}/feed.atom", f"/t/{topic.id}/feed.atom"]
    for url in urls:
        # Neither a guest nor their authors nor the global sysop (who sees them on the pages).
        for reader in (None, bob, root):
            text = contents(parse(client.get(private_url(reader, url) if reader else url)))
            assert "the first post" in text, url
            for absent in ("hidden reply", "deleted reply", "pending", "deleted topic"):
                assert absent not in text, (url, absent, reader)
    assert client.get(f"/t/{gone.id}/feed.atom").status_code == 404


def test_conditional_get_answers_304(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Hello", "words")
    url = f"/t/{topic.id}/feed.atom"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    f.reply(ada, topic, "news")
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    # A token feed answers 304 too, privately.
    private = client.get(private_url(ada, url))
    again = client.get(private_url(ada, url), headers={"If-None-Match": private.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"].startswith("private")


def test_a_feed_holds_the_newest_30_entries(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Long", "post 1")
    for n in range(2, 36):
        f.reply(ada, topic, f"post {n}")
    found = entries(parse(client.get(f"/t/{topic.id}/feed.atom")))
    assert len(found) == 30
    assert "post 35" in found[0].findtext(f"{A}content")
    assert "post 5<" not in contents(parse(client.get(f"/t/{topic.id}/feed.atom")))


@pytest.mark.parametrize("reader", ["guest", "member"])
def test_query_count_does_not_grow_with_entries(client, f, count_queries, reader) -> None:
    ada = f.user("ada")
    sig = f.sig("lair", visibility="private" if reader == "member" else "public", members=[ada])
    topic = f.topic(ada, sig, "Topic 0", "post")

    def counts() -> list[int]:
        found = []
        for url in ("/feeds/topics.atom", f"/s/{sig.slug}/feed.atom", f"/t/{topic.id}/feed.atom"):
            url = private_url(ada, url) if reader == "member" else url
            db.session.expire_all()
            with count_queries() as q:
                response = client.get(url)
            assert response.status_code == 200
            found.append(q.count)
        return found

    few = counts()
    for n in range(1, 30):
        f.topic(ada, sig, f"Topic {n}", f"post {n}")
        f.reply(ada, topic, f"reply {n}")
    many = counts()
    assert few == many, (few, many)


def test_pages_link_their_feeds(make_client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada])
    topic = f.topic(ada, sig, "Hello", "words")
    guest = make_client()
    for page, feed in (
        ("/", "/feeds/topics.atom"),
        (f"/s/{sig.slug}/", f"/s/{sig.slug}/feed.atom"),
        (f"/t/{topic.id}/{topic.slug}", f"/t/{topic.id}/feed.atom"),
    ):
        html = guest.get(page).get_data(as_text=True)
        assert '<link rel="alternate" type="application/atom+xml"' in html, page
        assert f'href="{feed}"' in html, page
        assert 'class="feed-link"' in html, page
    # A member's pages point their feed reader at their own private address.
    member = make_client()
    member.login("ada")
    html = member.get(f"/s/{sig.slug}/").get_data(as_text=True)
    assert f"/s/{sig.slug}/feed.atom?token=" in html


def test_settings_show_the_private_feed_address(client, f) -> None:
    ada = f.user("ada")
    client.login("ada")
    html = client.get("/settings").get_data(as_text=True)
    assert "Your private feed address" in html
    assert f"{BASE}/feeds/topics.atom?token={tokens.token_for(ada)}" in html


def test_feed_titles_follow_the_members_language(client, f) -> None:
    ada = f.user("ada")
    sig = f.sig("retro", members=[ada], name="Retro")
    accounts.update_profile(ada, signature="", bio="", timezone="UTC", language="de")
    root = parse(client.get(private_url(ada, f"/s/{sig.slug}/feed.atom")))
    assert root.findtext(f"{A}title") == "Retro: neueste Beiträge"
    root = parse(client.get(f"/s/{sig.slug}/feed.atom", headers={"Accept-Language": "es"}))
    assert root.findtext(f"{A}title") == "Retro: últimos mensajes"


@pytest.mark.parametrize(
    ("language", "sig_title", "topic_title", "former"),
    [
        ("de", "Retro: neueste Beiträge", "Modems: Beiträge", "Ehemaliges Mitglied"),
        ("es", "Retro: últimos mensajes", "Modems: mensajes", "Antiguo miembro"),
    ],
)
def test_a_private_feed_speaks_the_language_the_member_reads_the_forum_in(
    client, f, language, sig_title, topic_title, former
) -> None:
    """A member who follows their browser (no language chosen) is addressed in the language
    they last read the forum in, as their mail is: a feed reader's Accept-Language is its
    program's, not theirs. The feed's title, and a deleted author's name, say it."""
    from forum.accounts import deletion

    ada, bob = f.user("ada"), f.user("bob")
    sig = f.sig("retro", members=[ada, bob], name="Retro")
    topic = f.topic(ada, sig, "Modems", "Which modem?")
    f.reply(bob, topic, "A US Robotics Courier.")
    deletion.delete_account(db.session.get(type(bob), bob.id), factories.PASSWORD)
    accounts.note_page_language(ada, language)
    assert ada.language is None
    program = {"Accept-Language": "en-US,en;q=0.9"}

    root = parse(client.get(private_url(ada, f"/s/{sig.slug}/feed.atom"), headers=program))
    assert root.findtext(f"{A}title") == sig_title
    root = parse(client.get(private_url(ada, f"/t/{topic.id}/feed.atom"), headers=program))
    assert root.findtext(f"{A}title") == topic_title
    names = [e.findtext(f"{A}author/{A}name") for e in entries(root)]
    assert former in names and "ada" in names
    # Without the token, a guest's feed follows the asking browser, as the pages do.
    root = parse(client.get(f"/s/{sig.slug}/feed.atom", headers=program))
    assert root.findtext(f"{A}title") == "Retro: latest posts"
