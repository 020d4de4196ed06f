"""An Atom 1.0 document (RFC 4287) from a queries.Feed, written with xml.etree: every text and
attribute is escaped by the writer, and characters XML cannot carry are dropped first."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from ..accounts.former import display
from ..i18n import gettext as _
from ..web import absolute_url_for, site_url
from .queries import Entry, Feed

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Characters XML 1.0 forbids (control characters but tab, newline and carriage return, lone
# surrogates, U+FFFE and U+FFFF): a post may hold them, a feed must not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The date of an empty feed of the whole site (Atom asks for one).
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:  # stored in UTC (timeutil.UTCDateTime)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def tag_uri(kind: str, item_id: int, created: datetime) -> str:
    """A tag: URI (RFC 4151) that stays the same whatever changes in the item: the forum's host,
    the day the item was made, its kind and id."""
    host = urlsplit(site_url()).hostname or "localhost"
    day = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(UTC)
    return f"tag:{host},{day:%Y-%m-%d}:{kind}/{item_id}"


def title_of(feed: Feed, site_name: str) -> str:
    if feed.kind == "sig":
        return _("%(sig)s: latest posts", sig=feed.title_args["sig"])
    if feed.kind == "topic":
        return _("%(topic)s: posts", topic=feed.title_args["topic"])
    if feed.kind == "member":
        return _("%(member)s: latest posts", member=feed.title_args["member"])
    if feed.kind == "search":
        return _("%(site)s: search for %(q)s", site=site_name, q=feed.title_args["q"])
    return _("%(site)s: latest topics", site=site_name)


def page_of(feed: Feed) -> str:
    """The page the feed follows (its alternate link)."""
    if feed.kind == "sig":
        return absolute_url_for("sigs.show", slug=feed.sig_slug)
    if feed.kind == "topic":
        return absolute_url_for("topics.show", topic_id=feed.topic_id, slug=feed.topic_slug)
    if feed.kind == "member":
        return absolute_url_for("accounts.profile", username=feed.member_name)
    if feed.kind == "search":
        return absolute_url_for("search.search", q=feed.query, sort="newest")
    return absolute_url_for("sigs.index")


def _entry_title(entry: Entry) -> str:
    if entry.kind == "topic" or entry.number == 1:
        return entry.title
    return _("Re: %(topic)s", topic=entry.title)


def _entry_link(entry: Entry) -> str:
    if entry.kind == "topic":
        return absolute_url_for("topics.show", topic_id=entry.topic_id, slug=entry.topic_slug)
    return absolute_url_for("topics.permalink", post_id=entry.id)


def render(feed: Feed, self_url: str, site_name: str) -> bytes:
    ET.register_namespace("", ATOM)
    root = ET.Element(f"{{{ATOM}}}feed")
    if feed.kind == "topics":
        feed_id = absolute_url_for("feeds.topics")
    elif feed.kind == "sig":
        feed_id = absolute_url_for("feeds.sig", slug=feed.sig_slug)
    elif feed.kind == "member":
        feed_id = absolute_url_for("feeds.member", username=feed.member_name)
    elif feed.kind == "search":
        feed_id = absolute_url_for("feeds.search", q=feed.query)
    else:
        feed_id = absolute_url_for("feeds.topic", topic_id=feed.topic_id)
    _sub(root, "id", feed_id)
    _sub(root, "title", title_of(feed, site_name))
    _sub(root, "updated", rfc3339(feed.updated_at or _EPOCH))
    _sub(root, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(root, "link", rel="alternate", type="text/html", href=page_of(feed))
    author = _sub(root, "author")
    _sub(author, "name", site_name)  # for entries whose member's account is gone
    _sub(root, "generator", site_name)
    for entry in feed.entries:
        node = _sub(root, "entry")
        node.set(XML_LANG, entry.language)
        _sub(node, "id", tag_uri(entry.kind, entry.id, entry.created_at))
        _sub(node, "title", _entry_title(entry))
        if entry.author is not None:  # a deleted account: "Former member", in the reader's words
            _sub(_sub(node, "author"), "name", display(entry.author) or entry.author)
        _sub(node, "published", rfc3339(entry.created_at))
        _sub(node, "updated", rfc3339(entry.updated_at))
        _sub(node, "link", rel="alternate", type="text/html", href=_entry_link(entry))
        _sub(node, "content", entry.html, type="html")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
