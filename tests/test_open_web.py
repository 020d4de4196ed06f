"""The open web: each page's feed link, canonical address, description and link-preview tags
(OpenGraph, Twitter cards); a member's and a search's feed; sitemap.xml and robots.txt. Nothing of
a members-only or private SIG leaks through any of them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from forum.accounts.models import User
from forum.extensions import db
from forum.feeds import tokens
from forum.moderation import services as moderation
from forum.topics import services as topic_services

BASE = "http://forum.example.org"
A = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
# (Search pages and feeds are among the pages: a real index.)
pytestmark = [pytest.mark.config(BASE_URL=BASE), pytest.mark.search]

SECRET_TITLE = "Secret plans"
SECRET_TEXT = "The lair's hidden recipe"
SECRET_SIG = "Hidden Lair"
# A members-only SIG is listed to everyone (its name, not its topics); a private one is not.
CLUB = "Club Room"


class Head(HTMLParser):
    """The <meta> and <link> tags of a page's head."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.in_head = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.in_head = False
        if not self.in_head:
            return
        if tag == "meta" and ("name" in values or "property" in values):
            self.meta[values.get("name") or values["property"]] = values.get("content", "")
        if tag == "link":
            self.links.append(values)


def head(response: Any) -> Head:
    parser = Head()
    parser.feed(response.get_data(as_text=True))
    return parser


def alternates(page: Head) -> list[str]:
    return [
        link["href"]
        for link in page.links
        if link.get("rel") == "alternate" and link.get("type") == "application/atom+xml"
    ]


def canonical(page: Head) -> str | None:
    found = [link["href"] for link in page.links if link.get("rel") == "canonical"]
    return found[0] if found else None


def feed(response: Any) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/atom+xml"
    return ET.fromstring(response.get_data())


def titles(root: ET.Element) -> list[str]:
    return [e.findtext(f"{A}title") or "" for e in root.findall(f"{A}entry")]


def locs(response: Any) -> list[str]:
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    return [loc.text or "" for loc in ET.fromstring(response.get_data()).iter(f"{SM}loc")]


@pytest.fixture
def world(f: Any) -> dict[str, Any]:
    ada = f.user("ada")
    plaza = f.sig("plaza", members=[ada], name="Plaza")
    open_topic = f.topic(ada, plaza, "Open plans", "Anyone may **read** this, surely.")
    f.reply(ada, open_topic, "A public reply by ada.")
    hidden: dict[str, Any] = {}
    for visibility, slug, name in (("members", "club", CLUB), ("private", "lair", SECRET_SIG)):
        sig = f.sig(slug, visibility=visibility, members=[ada], name=name)
        topic = f.topic(ada, sig, SECRET_TITLE, f"{SECRET_TEXT}, {visibility}.")
        f.reply(ada, topic, f"{SECRET_TEXT}, again.")
        hidden[visibility] = (sig, topic)
    return {"ada": ada, "plaza": plaza, "topic": open_topic, "hidden": hidden}


def no_secrets(text: str) -> None:
    # Without the links back to the address asked for (log in, language), which name it.
    text = re.sub(r'(next=|name="next" value=")[^"]*', "", text)
    for secret in (SECRET_TITLE, SECRET_TEXT, SECRET_SIG, "/s/lair"):
        assert secret not in text, secret


# --- each page's head ----------------------------------------------------------------------
def test_every_page_links_its_feed(client, world) -> None:
    topic = world["topic"]
    pages = {
        "/": "/feeds/topics.atom",
        "/s/plaza/": "/s/plaza/feed.atom",
        f"/t/{topic.id}/{topic.slug}": f"/t/{topic.id}/feed.atom",
        "/u/ada": "/u/ada/feed.atom",
        "/search?q=plans": "/search/feed.atom?q=plans",
    }
    for url, feed_path in pages.items():
        page = head(client.get(url))
        assert alternates(page) == [feed_path], url
        # And the feed is there.
        assert client.get(feed_path).status_code == 200


def test_topic_page_has_canonical_url_description_and_preview_tags(client, world) -> None:
    topic = world["topic"]
    response = client.get(
        f"/t/{topic.id}/{topic.slug}?utm_source=x&page=1", headers={"Host": "evil.example"}
    )
    page = head(response)
    # The configured address, whatever the Host header said; no tracking arguments.
    assert canonical(page) == f"{BASE}/t/{topic.id}/{topic.slug}"
    meta = page.meta
    assert meta["description"] == "Anyone may read this, surely."
    assert meta["og:title"] == "Open plans" and meta["twitter:title"] == "Open plans"
    assert meta["og:description"] == meta["twitter:description"] == meta["description"]
    assert meta["og:type"] == "article"
    assert meta["og:url"] == canonical(page)
    assert meta["og:site_name"] == "Forum"
    assert meta["twitter:card"] == "summary"
    assert meta["article:section"] == "Plaza" and meta["twitter:data1"] == "Plaza"
    assert "robots" not in meta


def test_canonical_keeps_the_page_number_past_the_first(app, client, f) -> None:
    app.config["POSTS_PER_PAGE"] = 2
    ada = f.user("ada")
    sig = f.sig("plaza", members=[ada])
    topic = f.topic(ada, sig, "Long talk", "One.")
    for n in range(3):
        f.reply(ada, topic, f"Reply {n}.")
    page = head(client.get(f"/t/{topic.id}/{topic.slug}?page=2"))
    assert canonical(page) == f"{BASE}/t/{topic.id}/{topic.slug}?page=2"
    assert page.meta["description"] == "Reply 1."  # the first post that page shows


def test_sig_profile_index_and_search_pages_describe_themselves(client, world) -> None:
    sig_page = head(client.get("/s/plaza/"))
    assert sig_page.meta["description"] == "About plaza"
    assert sig_page.meta["og:title"] == "Plaza" and sig_page.meta["article:section"] == "Plaza"
    assert canonical(sig_page) == f"{BASE}/s/plaza/"
    profile = head(client.get("/u/ada"))
    assert profile.meta["og:type"] == "profile"
    assert profile.meta["description"].startswith("ada on Forum:")
    index = head(client.get("/"))
    assert index.meta["description"] == "Special interest groups, the BBS way."
    assert canonical(index) == f"{BASE}/"
    search = head(client.get("/search?q=plans"))
    assert search.meta["robots"] == "noindex"


@pytest.mark.parametrize("visibility", ["members", "private"])
def test_hidden_sigs_pages_leak_nothing_to_guests_and_are_not_indexed(
    make_client, world, visibility
) -> None:
    sig, topic = world["hidden"][visibility]
    guest = make_client()
    for url in (f"/t/{topic.id}/{topic.slug}", f"/t/{topic.id}/{topic.slug}?page=2"):
        response = guest.get(url)
        assert response.status_code in (403, 404)
        no_secrets(response.get_data(as_text=True))
        page = head(response)
        assert page.meta.get("robots") == "noindex"
        assert canonical(page) is None and "og:title" not in page.meta
    sig_page = guest.get(f"/s/{sig.slug}/")
    if visibility == "private":
        assert sig_page.status_code == 404
        no_secrets(sig_page.get_data(as_text=True))
    # Its members read it, and it asks search engines to keep it out.
    member = make_client()
    member.login(world["ada"])
    page = head(member.get(f"/t/{topic.id}/{topic.slug}?page=1"))
    assert page.meta["og:title"] == SECRET_TITLE
    assert page.meta["robots"] == "noindex"
    assert head(member.get(f"/s/{sig.slug}/")).meta["robots"] == "noindex"


def test_guests_see_nothing_hidden_in_the_heads_of_public_pages(client, world) -> None:
    for url in ("/", "/u/ada", "/s/plaza/", "/search?q=plans"):
        response = client.get(url)
        assert response.status_code == 200
        no_secrets(response.get_data(as_text=True))


# --- a member's feed, a search's feed --------------------------------------------------------
def test_a_members_feed_lists_what_the_reader_may_read(client, world) -> None:
    ada = world["ada"]
    guest_view = client.get("/u/ada/feed.atom")
    root = feed(guest_view)
    assert root.findtext(f"{A}title") == "ada: latest posts"
    assert titles(root) == ["Re: Open plans", "Open plans"]
    no_secrets(guest_view.get_data(as_text=True))
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{A}link")}
    assert links["alternate"] == f"{BASE}/u/ada"
    # Through her private address ada's reader sees her posts in every SIG she reads.
    private = feed(client.get(f"/u/ada/feed.atom?token={tokens.token_for(ada)}"))
    assert titles(private).count(f"Re: {SECRET_TITLE}") == 2
    assert client.get("/u/nobody/feed.atom").status_code == 404


def test_hidden_and_deleted_posts_stay_out_of_a_members_feed(client, world, f) -> None:
    ada, topic = world["ada"], world["topic"]
    root = f.sysop("root")
    post = f.reply(ada, topic, "A reply about to be hidden")
    moderation.hide_post(root, post.id, "no")
    gone = f.reply(ada, topic, "A reply about to be deleted")
    topic_services.delete_post(ada, gone.id)
    text = client.get("/u/ada/feed.atom").get_data(as_text=True)
    assert "about to be hidden" not in text and "about to be deleted" not in text


def test_a_search_feed_follows_the_search_and_its_rules(client, world) -> None:
    response = client.get("/search/feed.atom?q=plans")
    root = feed(response)
    assert root.findtext(f"{A}title") == "Forum: search for plans"
    assert titles(root) == ["Open plans"]
    no_secrets(response.get_data(as_text=True))
    private = feed(client.get(f"/search/feed.atom?q=recipe&token={tokens.token_for(world['ada'])}"))
    assert len(titles(private)) == 4  # both hidden SIGs, each a first post and a reply
    assert titles(feed(client.get("/search/feed.atom?q="))) == []
    revoked = client.get("/search/feed.atom?q=plans&token=not-a-token")
    assert revoked.status_code == 404


def test_new_feeds_answer_conditional_gets(client, world, f) -> None:
    for url in ("/u/ada/feed.atom", "/search/feed.atom?q=plans"):
        first = client.get(url)
        etag = first.headers["ETag"]
        assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert "public" in first.headers["Cache-Control"]
    first = client.get("/u/ada/feed.atom")
    f.reply(world["ada"], world["topic"], "Something new about plans")
    changed = client.get("/u/ada/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200


# --- sitemap.xml and robots.txt ---------------------------------------------------------------
def test_robots_txt_keeps_search_mod_and_admin_out_and_names_the_sitemap(client) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    for path in ("/search", "/mod", "/admin"):
        assert f"Disallow: {path}" in lines
    assert f"Sitemap: {BASE}/sitemap.xml" in lines
    assert "Disallow: /" not in lines  # the forum itself stays open


@pytest.mark.config(BASE_URL=BASE, SITEMAP_PAGE_SIZE=2)
def test_sitemap_is_paged_and_lists_public_sigs_and_topics_only(make_client, world, f) -> None:
    ada = world["ada"]
    plaza = world["plaza"]
    public_topics = [world["topic"]] + [
        f.topic(ada, plaza, f"Topic {n}", "Text.") for n in range(4)
    ]
    deleted = f.topic(ada, plaza, "Deleted topic", "Gone.")
    moderation.delete_topic(f.sysop("root"), deleted.id)
    root = db.session.scalar(db.select(User).where(User.username == "root"))
    # A sysop asking gets the same guest's sitemap: it is for search engines.
    for who in (None, root):
        client = make_client()
        if who is not None:
            client.login(who)
        index = locs(client.get("/sitemap.xml"))
        assert index == [
            f"{BASE}/sitemap-sigs.xml",
            f"{BASE}/sitemap-topics-1.xml",
            f"{BASE}/sitemap-topics-2.xml",
            f"{BASE}/sitemap-topics-3.xml",
        ]
        sigs = locs(client.get("/sitemap-sigs.xml"))
        assert sigs == [f"{BASE}/", f"{BASE}/s/plaza/"]
        listed = []
        for n in (1, 2, 3):
            response = client.get(f"/sitemap-topics-{n}.xml")
            no_secrets(response.get_data(as_text=True))
            listed += locs(response)
        assert listed == [f"{BASE}/t/{t.id}/{t.slug}" for t in public_topics]
        assert client.get("/sitemap-topics-4.xml").status_code == 404
    # Each address carries the time it last changed.
    body = make_client().get("/sitemap-topics-1.xml").get_data(as_text=True)
    assert re.search(r"<lastmod>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ</lastmod>", body)


def test_a_topic_waiting_for_approval_is_not_in_the_sitemap(client, world, f) -> None:
    from forum import settings
    from forum.admin import services as admin

    root = f.sysop("root")
    admin.update_settings(root, {"approval_threshold": "5"})
    settings.forget()
    newcomer = f.user("newcomer")
    waiting = f.topic(newcomer, world["plaza"], "Waiting topic", "Held.")
    db.session.commit()
    listed = locs(client.get("/sitemap-topics-1.xml"))
    assert f"{BASE}/t/{waiting.id}/{waiting.slug}" not in listed
    assert len(listed) == 1


def test_an_empty_forum_has_a_valid_sitemap(client) -> None:
    assert locs(client.get("/sitemap.xml")) == [f"{BASE}/sitemap-sigs.xml"]
    assert locs(client.get("/sitemap-topics-1.xml")) == []
    assert locs(client.get("/sitemap-sigs.xml")) == [f"{BASE}/"]
