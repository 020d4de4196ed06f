"""The Atom feeds: the site's newest topics, a SIG's newest posts, a topic's newest posts, a
member's newest posts, the newest posts a search finds.

A feed is read as its token's member (`?token=…`, see tokens.py: for feed readers, which have
no cookie), in that member's language (`i18n.language_of`, as their mail), else as the member
whose session asks, in the language of their pages, else as a guest. A guest's feed may be cached
by anyone for a short while; a member's is private to them. A feed the reader may not read is a
404, as for one that does not exist, and so is a token that was revoked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from flask import Response, current_app, request
from flask_login import current_user

from .. import permissions, settings
from ..accounts.models import User
from ..errors import NotFound
from ..i18n import force_locale, language_of
from ..i18n import language as i18n_language
from ..i18n import lazy_gettext as _l
from ..web import absolute_url_for
from . import atom, bp, queries, sitemap, tokens

NO_SUCH_FEED = _l("No such feed.")


@bp.route("/feeds/topics.atom")
def topics() -> Any:
    return _serve(queries.latest_topics, "feeds.topics")


@bp.route("/s/<slug>/feed.atom")
def sig(slug: str) -> Any:
    return _serve(lambda user: queries.sig_posts(user, slug), "feeds.sig", slug=slug)


@bp.route("/t/<int:topic_id>/feed.atom")
def topic(topic_id: int) -> Any:
    return _serve(
        lambda user: queries.topic_posts(user, topic_id), "feeds.topic", topic_id=topic_id
    )


@bp.route("/u/<username>/feed.atom")
def member(username: str) -> Any:
    return _serve(
        lambda user: queries.member_posts(user, username), "feeds.member", username=username
    )


@bp.route("/search/feed.atom")
def search() -> Any:
    q = request.args.get("q", "")[:500]
    return _serve(lambda user: queries.search_posts(user, q), "feeds.search", q=q)


@bp.route("/robots.txt")
def robots() -> Any:
    body = sitemap.robots(request.script_root.rstrip("/"))
    response = Response(body, mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _sitemap_size() -> int:
    return max(1, min(50_000, int(current_app.config.get("SITEMAP_PAGE_SIZE", 10_000))))


def _xml(body: bytes) -> Any:
    response = Response(body, mimetype="application/xml")
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    return response.make_conditional(request.environ)


@bp.route("/sitemap.xml")
def sitemap_index() -> Any:
    """The index of the sitemaps: the SIGs', and the topics' in pages (never the session's
    view: a sitemap is what a guest may read)."""
    pages = -(-queries.sitemap_topic_count() // _sitemap_size())
    return _xml(sitemap.index(pages))


@bp.route("/sitemap-sigs.xml")
def sitemap_sigs() -> Any:
    return _xml(sitemap.urlset(queries.sitemap_sigs(), with_home=True))


@bp.route("/sitemap-topics-<int:page>.xml")
def sitemap_topics(page: int) -> Any:
    entries = queries.sitemap_topics(page, _sitemap_size()) if page >= 1 else []
    if not entries and page != 1:
        raise NotFound(NO_SUCH_FEED)
    return _xml(sitemap.urlset(entries))


def _serve(build: Callable[[User | None], queries.Feed], endpoint: str, **values: Any) -> Any:
    token = request.args.get("token")
    reader: User | None = None
    if token:
        try:
            reader = tokens.reader_for(token)
        except tokens.Revoked:
            raise NotFound(NO_SUCH_FEED) from None
    else:
        reader = permissions.actor(current_user)
    feed = build(reader)
    language = reader.language if reader is not None else None
    if token and reader is not None:
        # A feed reader's Accept-Language is its program's, not the member's choice: the feed
        # speaks as their mail does (their setting, else the language they last read the forum
        # in), and the request's only for a member not seen since that was noted.
        language = language_of(reader, fallback=i18n_language())
    with force_locale(language) if language else nullcontext():
        self_url = absolute_url_for(endpoint, **values, **({"token": token} if token else {}))
        body = atom.render(feed, self_url, str(settings.get("site_name")))
    response = Response(body, mimetype="application/atom+xml")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if feed.updated_at is not None:
        response.last_modified = feed.updated_at
    if reader is not None or token:
        response.headers["Cache-Control"] = "private, max-age=0, must-revalidate"
    else:
        max_age = int(current_app.config.get("FEED_MAX_AGE", 300))
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        # The title is in the reader's language; a member's session reads more.
        response.vary.update(("Accept-Language", "Cookie"))
    return response.make_conditional(request.environ)
