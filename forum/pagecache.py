"""The guest page cache: the SIG index, SIG pages and topic pages, rendered once per version.

Most readers of a forum are not logged in, and every guest sees the same page. So the pages a
guest reads most are kept, per process, under a key that names what they show:

- a topic page under its topic's and its SIG's `version`,
- a SIG page under its SIG's `version`,
- the SIG index under the sum of every SIG's `version`.

Every event that changes what a reader of those pages could see (a post added, edited, hidden
or deleted; a topic moved, locked or retitled; a SIG changed; an announcement) bumps the
versions, in one subscriber (`_bump_versions`) that runs in the transaction of the change: a page
is never served after a change has committed, in any process, and no process needs to tell
another. The check is one indexed query. A post that waits for approval changes no guest's page.

A page is kept per language, time zone and colour scheme (a guest picks each: forum.i18n,
forum.theme). What no event names (a member's new signature, the online list, "3 minutes ago")
may be up to PAGE_CACHE_SECONDS old. A page is only kept when rendering it touched no session
state (no flashed message, no CSRF token, no cookie), and only served to a request that has none
either. Members are never served from it: their pages carry unread marks, tools and their own
header. Set PAGE_CACHE_SECONDS to 0 to turn it off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, Response, g, make_response, request, session
from flask_login import current_user
from sqlalchemy import func, select, update

from . import events, i18n, theme
from .extensions import db
from .hooks import AppSlot
from .sigs.models import Sig
from .topics.models import Topic

CACHE: AppSlot[PageCache] = AppSlot("forum.pagecache")
# Headers that belong to one response, not to the page.
_PER_RESPONSE = {"set-cookie", "date", "content-length", "x-request-id", "vary"}


@dataclass(frozen=True)
class _Entry:
    stamp: tuple[Any, ...]  # the versions it was rendered at
    body: bytes
    headers: tuple[tuple[str, str], ...]
    stored_at: float


class PageCache:
    """A bounded, thread-safe LRU of rendered pages (one per process): at most `entries` pages
    and `max_bytes` of their bodies, and none older than `seconds` (which could never be served
    again: it goes as soon as it is seen, so a quiet process holds only its last minute's pages).

    A page is kept once, at the versions it was last rendered at (`_Entry.stamp`), not once per
    version: versions only move on, so a page at older versions could never be served again,
    and when it was a key of its own it held its bytes until the LRU pushed it out: under the
    bench's mix in one process (`bench/memory_bench.py`, 2.4 % of the requests replies), 69 of
    the 448 pages of a full cache (docs/benchmarks.md, "Memory per page worker, sixth session").
    """

    def __init__(self, seconds: float, entries: int, max_bytes: int) -> None:
        self.seconds = seconds
        self.entries = entries
        self.max_bytes = max_bytes
        self.size = 0  # bytes of the bodies held
        self._pages: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...], stamp: tuple[Any, ...]) -> _Entry | None:
        """The page `key` as rendered at the versions `stamp`, if kept and not expired. One at
        other versions is let go (it is older: it could never be served again)."""
        with self._lock:
            entry = self._pages.get(key)
            if (
                entry is None
                or entry.stamp != stamp
                or time.monotonic() - entry.stored_at > self.seconds
            ):
                if entry is not None:
                    self._drop(key)
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: tuple[Any, ...], entry: _Entry) -> None:
        with self._lock:
            if key in self._pages:
                self._drop(key)
            if len(entry.body) > self.max_bytes:
                return
            self._pages[key] = entry
            self.size += len(entry.body)
            oldest = entry.stored_at - self.seconds
            while self._pages:
                first, page = next(iter(self._pages.items()))
                if (
                    len(self._pages) <= self.entries
                    and self.size <= self.max_bytes
                    and page.stored_at >= oldest
                ):
                    break
                self._drop(first)

    def _drop(self, key: tuple[Any, ...]) -> None:
        self.size -= len(self._pages.pop(key).body)

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self.size = 0


def get_cache(app: Flask | None = None) -> PageCache | None:
    return CACHE.get(app)


def _guest_request() -> bool:
    if request.method != "GET" or request.authorization is not None:
        return False
    if current_user.is_authenticated:
        return False
    # A pending flash or a form token belongs to this browser only.
    return len(session) == 0


def _storable(response: Response) -> bool:
    return (
        response.status_code == 200
        and not response.direct_passthrough
        and "Set-Cookie" not in response.headers
        and not session.modified
        and "csrf_token" not in g  # Flask-WTF made a token while rendering
    )


def for_guests(version: Callable[..., tuple[Any, ...] | None]) -> Callable[[Any], Any]:
    """Serve a view from the guest page cache. `version(**view_args)` names what the page shows,
    with one small query; None means "do not cache" (the view then answers as usual)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            cache = get_cache()
            if cache is None or not _guest_request():
                return view(**kwargs)
            stamp = version(**kwargs)
            if stamp is None:
                return view(**kwargs)
            # One copy per language and time zone: guests choose both (forum.i18n). And one per
            # colour scheme (forum.theme), which the page names on <html>: keyed rather than
            # bypassed, so a guest who picked colours keeps the cache too. There are three
            # schemes and most guests never pick one ("system"): a page has at most three copies.
            key = (
                request.path,
                request.query_string,
                i18n.language(),
                i18n.timezone_name(),
                theme.theme(),
            )
            entry = cache.get(key, stamp)
            if entry is not None:
                response = Response(entry.body, status=200, headers=list(entry.headers))
                response.headers["X-Page-Cache"] = "hit"
                return response
            response = make_response(view(**kwargs))
            if _storable(response):
                headers = tuple(
                    (k, v) for k, v in response.headers.items() if k.lower() not in _PER_RESPONSE
                )
                cache.put(key, _Entry(stamp, response.get_data(), headers, time.monotonic()))
            response.headers["X-Page-Cache"] = "miss"
            return response

        return wrapper

    return decorate


# --- what each cached page shows ------------------------------------------------------------
def sig_index_version() -> tuple[Any, ...]:
    return tuple(
        db.session.execute(
            select(func.coalesce(func.sum(Sig.version), 0), func.count(Sig.id))
        ).one()
    )


def sig_page_version(slug: str) -> tuple[Any, ...] | None:
    found = db.session.scalar(select(Sig.version).where(Sig.slug == slug))
    return None if found is None else (found,)


def topic_page_version(topic_id: int, slug: str | None = None) -> tuple[Any, ...] | None:
    row = db.session.execute(
        select(Topic.version, Sig.version)
        .join(Sig, Sig.id == Topic.sig_id)
        .where(Topic.id == topic_id)
    ).first()
    return None if row is None else tuple(row)


# --- versions: bumped in the transaction of the change ---------------------------------------
def _bump(topic_ids: tuple[int | None, ...] = (), sig_ids: tuple[int | None, ...] = ()) -> None:
    """Mark these topics and SIGs changed, by statements in the forum's lock order (topics,
    then SIGs). Loaded objects are not synchronized: a version is only ever read by the page's
    own query (above), never from an object. So the statements name the tables, not the
    models: the ORM's work for an UPDATE that touches no object cost 0.08 ms of CPU a
    statement, two a reply (0.22 against 0.14 ms on SQLite; issue 17's ninth session)."""
    for table, ids in ((Topic.__table__, topic_ids), (Sig.__table__, sig_ids)):
        wanted = sorted({i for i in ids if i})
        if wanted:
            db.session.execute(
                update(table).where(table.c.id.in_(wanted)).values(version=table.c.version + 1)
            )


def _bump_everything() -> None:
    """A change every page shows (a site-wide announcement): every SIG's version moves."""
    db.session.execute(
        update(Sig).values(version=Sig.version + 1).execution_options(synchronize_session=False)
    )


_TOPIC_EVENTS = (
    events.PostCreated,
    events.PostEdited,
    events.PostVisibilityChanged,
    events.TopicChanged,
    events.TopicAnswerChanged,
)
_SIG_EVENTS = (events.SigCreated, events.SigChanged, events.MemberJoinedSig, events.MemberLeftSig)
# The banner: one starts or ends (a sysop's "End now", or its end reached, told by the
# announcements' minute sweep).
_ANNOUNCEMENT_EVENTS = (events.AnnouncementPublished, events.AnnouncementEnded)


def _bump_versions(event: events.Event) -> None:
    """The one subscriber that moves versions: which pages each event changes."""
    if isinstance(event, events.PostCreated) and not event.visible:
        return  # a post that waits for approval shows on no guest's page
    if isinstance(event, events.ReactionChanged):
        _bump((event.topic_id,))  # the counts under the post; the SIG's page shows none
        return
    if isinstance(event, _TOPIC_EVENTS):
        moved_from = event.old_sig_id if isinstance(event, events.TopicChanged) else None
        _bump((event.topic_id,), (event.sig_id, moved_from))
    elif isinstance(event, events.AccountDeleted):
        _bump(event.topic_ids, event.sig_ids)  # their name on every page that showed it
    elif isinstance(event, _ANNOUNCEMENT_EVENTS) and event.sig_id is None:
        _bump_everything()
    elif isinstance(event, (*_SIG_EVENTS, *_ANNOUNCEMENT_EVENTS)):
        _bump(sig_ids=(event.sig_id,))


def init_app(app: Flask) -> None:
    seconds = float(app.config.get("PAGE_CACHE_SECONDS", 0) or 0)
    if seconds > 0:
        entries, megabytes = int(app.config["PAGE_CACHE_ENTRIES"]), app.config["PAGE_CACHE_MB"]
        CACHE.set(app, PageCache(seconds, entries, int(float(megabytes) * 2**20)))
    # Versions are kept whether or not this process caches: another process may.
    for event_type in (
        *_TOPIC_EVENTS,
        *_SIG_EVENTS,
        *_ANNOUNCEMENT_EVENTS,
        events.ReactionChanged,
        events.AccountDeleted,
    ):
        events.subscribe(app, event_type, _bump_versions, phase="in_transaction")
