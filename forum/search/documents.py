"""What crosses the SearchBackend interface: the documents a backend stores, the SIGs a search
may return, and the hits it answers with. Plain values, the same for every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

# An excerpt's length where no word is marked (each backend marks words its own way, within
# about as much text: Whoosh's fragments, PostgreSQL's ts_headline).
EXCERPT_CHARS = 240


class IndexBusy(Exception):
    """Another process holds the index lock longer than we were willing to wait."""


class SearchRejected(Exception):
    """A search the backend would not finish (too costly); the message is for the member."""


@dataclass
class DrainClock:
    """When the last drain of the search queue began (seconds since the epoch: processes on
    several servers compare them) and how long it took. A drain that applied something sets
    both; they are kept beside the index for the next drain, in whichever process."""

    began: float = 0.0
    took: float = 0.0


@dataclass(frozen=True)
class PostDocument:
    """What the index knows about one readable post (title only on a topic's first post)."""

    post_id: int
    topic_id: int
    sig_id: int
    sig_slug: str
    author: str
    language: str
    created_at: datetime
    is_first: bool
    title: str
    body: str


@dataclass(frozen=True)
class SigScope:
    """The SIGs a search may return: `allowed` (None = every SIG) minus `excluded`.

    `readable` is the same rule as SQL on Sig, from the permission policy
    (permissions.readable_sigs_clause): a backend that searches the database applies it in the
    query itself, so what the reader may not read is never matched, counted or marked."""

    allowed: frozenset[int] | None
    excluded: frozenset[int] = frozenset()
    readable: Any = field(default=None, compare=False)  # ColumnElement[bool] | None


@dataclass(frozen=True)
class BackendHit:
    post_id: int
    topic_id: int
    language: str
    created_at: datetime


@dataclass
class BackendResults:
    hits: list[BackendHit]
    total: int  # the number of matches; with total_exact False, a number they reach
    total_exact: bool = True
    # Best match ranked only the newest this many matches (None: every match was ranked).
    ranked_among: int | None = None
    # field name -> the analysed query words, to mark them in excerpts
    terms: dict[str, set[str]] = field(default_factory=dict)
    common: list[str] = field(default_factory=list)  # query words left out as stop words
    context: Any = None  # the backend's own: what its excerpts need of the search


def plain_excerpt(text: str, *, title: bool = False) -> Markup:
    """A title whole, or a body's first EXCERPT_CHARS cut at a word, escaped: what every
    backend shows where it marks no word."""
    if title or len(text) <= EXCERPT_CHARS:
        return Markup(escape(text))
    return Markup(escape(text[: EXCERPT_CHARS - 1].rsplit(" ", 1)[0] + " …"))
