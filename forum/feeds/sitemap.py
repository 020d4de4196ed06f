"""sitemap.xml (the sitemaps.org protocol) and robots.txt, written for search engines: only what a
guest may read (feeds/queries.py asks the permission clauses as a guest), in pages of at most
SITEMAP_PAGE_SIZE addresses under a sitemap index."""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree as ET

from ..web import absolute_url_for, site_url
from .atom import rfc3339
from .queries import SitemapEntry

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
# Kept out of search engines: pages that are a member's own, a sysop's, or endless (search).
ROBOTS_DISALLOW = ("/search", "/mod", "/admin", "/settings", "/notifications", "/mail", "/drafts")


def _document(tag: str) -> ET.Element:
    ET.register_namespace("", NS)
    return ET.Element(f"{{{NS}}}{tag}")


def _bytes(root: ET.Element) -> bytes:
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def index(pages: int) -> bytes:
    """The sitemap index: the SIGs' sitemap, then each page of topics."""
    root = _document("sitemapindex")
    locations = [absolute_url_for("feeds.sitemap_sigs")]
    locations += [absolute_url_for("feeds.sitemap_topics", page=n) for n in range(1, pages + 1)]
    for location in locations:
        node = ET.SubElement(root, f"{{{NS}}}sitemap")
        ET.SubElement(node, f"{{{NS}}}loc").text = location
    return _bytes(root)


def _url(entry: SitemapEntry) -> str:
    if entry.kind == "sig":
        return absolute_url_for("sigs.show", slug=entry.slug)
    return absolute_url_for("topics.show", topic_id=entry.id, slug=entry.slug)


def urlset(entries: Iterable[SitemapEntry], with_home: bool = False) -> bytes:
    root = _document("urlset")
    if with_home:
        ET.SubElement(ET.SubElement(root, f"{{{NS}}}url"), f"{{{NS}}}loc").text = absolute_url_for(
            "sigs.index"
        )
    for entry in entries:
        node = ET.SubElement(root, f"{{{NS}}}url")
        ET.SubElement(node, f"{{{NS}}}loc").text = _url(entry)
        if entry.updated_at is not None:
            ET.SubElement(node, f"{{{NS}}}lastmod").text = rfc3339(entry.updated_at)
    return _bytes(root)


def robots(prefix: str) -> str:
    """robots.txt: `prefix` is where the forum is mounted ("" at the root)."""
    lines = ["User-agent: *"]
    lines += [f"Disallow: {prefix}{path}" for path in ROBOTS_DISALLOW]
    lines += ["", f"Sitemap: {site_url()}/sitemap.xml", ""]
    return "\n".join(lines)
