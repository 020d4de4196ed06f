"""The search page's read model: parse, ask the backend within the reader's SIGs (as ids, and as
the policy's SQL for a backend that searches the database), re-check every hit against the
database (a stale index can never show what the reader may not see), load what the page shows
in a fixed number of queries, and mark the matched words."""

from __future__ import annotations

import html
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from markupsafe import Markup
from sqlalchemy import select

from .. import content, permissions
from ..accounts.models import User
from ..extensions import db
from ..files.queries import search_library
from ..i18n import gettext as _
from ..i18n import quoted
from ..permissions import Actor
from ..sigs.models import Sig
from ..storage_faults import is_database_down
from ..topics.models import Post, Topic
from . import indexer
from .backend import SearchBackend
from .documents import BackendResults, SearchRejected, SigScope
from .parsing import Notice, ParsedQuery, parse

log = logging.getLogger(__name__)

PER_PAGE = 20
MAX_PAGES = 50
SORTS = ("relevance", "newest")
MARK_RE = re.compile(r"<mark>(.*?)</mark>")


@dataclass(frozen=True)
class ResultTopic:
    """What a result shows of its topic (and post_url needs)."""

    id: int
    slug: str
    title: str


@dataclass(frozen=True)
class SearchResult:
    post_id: int
    number: int
    topic: ResultTopic
    sig_slug: str
    sig_name: str
    author: str | None
    created_at: datetime
    is_first: bool
    title_html: Markup
    excerpt_html: Markup
    sig_language: str = "en"


@dataclass
class SearchPage:
    q: str
    sort: str = "relevance"
    page: int = 1
    pages: int = 0
    total: int = 0  # the posts found; with total_exact False, a number they reach
    total_exact: bool = True
    ranked_among: int | None = None  # best match ranked only this many newest matches
    rank_all: bool = False  # the reader asked best match to rank every match
    results: list[SearchResult] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    suggestion: str | None = None
    error: str | None = None
    # `in:library`: the SIG libraries' files found, instead of posts.
    library: list[Any] | None = None

    @property
    def searched(self) -> bool:
        return bool(self.q.strip())


def _notice(notice: str) -> str:
    """What the parser could not use, in the reader's language (it writes English)."""
    if isinstance(notice, Notice):
        return _(notice.msgid, **notice.values)
    return notice


def sig_scope(user: Actor, sig: str | None = None) -> SigScope:
    """The SIGs this member may read, and the ones they may not (one query); with `sig`, only
    that SIG (by slug, as `sig:` gives it) if they may read it."""
    readable = permissions.readable_sigs_clause(user)
    if permissions.is_global_sysop(user) and sig is None:
        return SigScope(allowed=None, readable=readable)
    # Every SIG with what permissions.can_read_sig reads of it (a row, read as a Sig).
    rows = db.session.execute(select(Sig.id, Sig.slug, Sig.visibility)).all()
    wanted = sig.lower() if sig is not None else None
    allowed = frozenset(
        r.id
        for r in rows
        if permissions.can_read_sig(user, cast(Sig, r))
        and (wanted is None or r.slug.lower() == wanted)
    )
    return SigScope(
        allowed=allowed, excluded=frozenset(r.id for r in rows) - allowed, readable=readable
    )


def search_page(
    user: Actor,
    q: str,
    page: int = 1,
    sort: str = "relevance",
    per_page: int = PER_PAGE,
    language: str | None = None,
    rank_all: bool = False,
    zone: str = "UTC",
) -> SearchPage:
    """`language`: the reader's, which "did you mean" prefers when it corrects a word (each
    post's words are stemmed in its SIG's language, and the query in each of them); `zone`:
    the reader's time zone, where before: and after: days begin."""
    sort = sort if sort in SORTS else "relevance"
    page = max(1, min(page, MAX_PAGES))
    rank_all = rank_all and sort == "relevance"
    out = SearchPage(q=q or "", sort=sort, page=page, rank_all=rank_all)
    parsed = parse(q or "", zone)
    out.notices.extend(_notice(n) for n in parsed.notices)
    if parsed.in_library:
        # The libraries' files are few and described in a few words: matched in SQL, under
        # the permission clauses, not through the posts' index.
        words = [c.text for c in parsed.clauses if not c.negated]
        out.library = search_library(user, words, parsed.sig)
        out.total = len(out.library)
        return out
    if parsed.is_empty:
        return out
    backend = indexer.get_backend()
    scope = sig_scope(user, parsed.sig)
    try:
        found = backend.search(
            parsed,
            scope,
            newest=sort == "newest",
            offset=(page - 1) * per_page,
            limit=per_page,
            rank_all=rank_all,
        )
    except SearchRejected as exc:
        log.info("search refused for %r: %s", q[:200], exc)
        out.error = str(exc)
        return out
    except Exception as exc:
        if is_database_down(exc):
            # The database, not the index, is gone: the request's 503 (forum.web), not a page
            # whose header would ask the dead connection again.
            raise
        log.exception("search failed for %r", q[:200])
        out.error = _("Search is not available right now. Try again in a minute.")
        return out
    out.results = _load(user, backend, found)
    out.total = max(found.total, len(out.results) + (page - 1) * per_page)
    out.total_exact = found.total_exact
    out.ranked_among = found.ranked_among
    listed = min(out.total, found.ranked_among or out.total)  # (what the pages can show)
    out.pages = min(MAX_PAGES, math.ceil(listed / per_page)) if listed else 0
    if not out.results and page == 1:
        if found.common:
            common = ", ".join(quoted(w) for w in found.common[:5])
            out.notices.append(
                _(
                    "Very common words (%(words)s) are left out in some languages’ posts; "
                    "add a more specific word.",
                    words=common,
                )
            )
        if found.terms:
            out.suggestion = _suggestion(user, backend, parsed, scope, language)
    return out


def _load(user: Actor, backend: SearchBackend, found: BackendResults) -> list[SearchResult]:
    if not found.hits:
        return []
    ids = [hit.post_id for hit in found.hits]
    # Plain columns, not ORM objects: a page of results hydrates in a fraction of the time.
    rows = db.session.execute(
        select(
            Post.id,
            Post.number,
            Post.created_at,
            Post.body_html,
            Topic.id,
            Topic.slug,
            Topic.title,
            Topic.first_post_id,
            Sig.slug,
            Sig.name,
            User.username,
            Sig.language,
        )
        .join(Topic, Topic.id == Post.topic_id)
        .join(Sig, Sig.id == Topic.sig_id)
        .outerjoin(User, User.id == Post.user_id)
        .where(
            Post.id.in_(ids),
            permissions.public_posts_clause(),
            Topic.deleted_at.is_(None),
            permissions.readable_sigs_clause(user),
        )
    ).all()
    by_id = {row[0]: row for row in rows}
    shown = []
    for hit in found.hits:
        row = by_id.get(hit.post_id)
        # A hit the database no longer confirms (hidden, moved to a SIG the reader may not
        # read, or an id reused after a restore) is dropped, whatever the index says.
        if row is None or abs((row[2] - hit.created_at).total_seconds()) > 1:
            continue
        shown.append((hit, row))
    # The page's titles and excerpts at once (one query for the PostgreSQL backend).
    marked = backend.excerpts(
        found,
        [
            (hit, row[6] if row[0] == row[7] else None, content.plain_text(row[3]))
            for hit, row in shown
        ],
    )
    results = []
    for (_hit, row), (title_html, excerpt_html) in zip(shown, marked, strict=True):
        post_id, number, created_at, _body_html, topic_id, slug, title, first_post_id = row[:8]
        sig_slug, sig_name, author, sig_language = row[8:]
        results.append(
            SearchResult(
                post_id=post_id,
                number=number,
                topic=ResultTopic(topic_id, slug, title),
                sig_slug=sig_slug,
                sig_name=sig_name,
                author=author,
                created_at=created_at,
                is_first=post_id == first_post_id,
                title_html=title_html or Markup.escape(title),
                excerpt_html=excerpt_html,
                sig_language=sig_language,
            )
        )
    return results


def _suggestion(
    user: Actor,
    backend: SearchBackend,
    parsed: ParsedQuery,
    scope: SigScope,
    language: str | None = None,
) -> str | None:
    """A corrected query, offered only if it finds something this reader may see (suggested
    words come from the whole index, so an unchecked suggestion could leak a private word)."""
    try:
        better = backend.suggest(parsed, prefer=language, scope=scope)
        if better is None:
            return None
        found = backend.search(better, scope, newest=False, offset=0, limit=5)
    except SearchRejected:
        return None
    except Exception as exc:
        if is_database_down(exc):
            raise
        log.exception("spelling suggestion failed")
        return None
    visible = _load(user, backend, found)
    if not visible:
        return None
    # Show words as members wrote them, not the index's stems: take them from the marked
    # words of the results the reader may see.
    marked = [
        html.unescape(word)
        for r in visible
        for word in MARK_RE.findall(str(r.excerpt_html) + str(r.title_html))
    ]
    clauses = []
    for old, new in zip(parsed.clauses, better.clauses, strict=True):
        if new.text != old.text:
            new = new.replace(text=backend.word_for(new.text, marked, language) or new.text)
        clauses.append(new)
    return better.replace(clauses=tuple(clauses)).to_string()
