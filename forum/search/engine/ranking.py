"""Find the top of a result list without scoring or sorting every match (pure Python, so every
posting touched costs about a microsecond; a word in most of 100,000 posts must not be walked).

- Relevance is BM25 with its length normalisation applied when a post is indexed (`impact`):
  a stored weight is the posting's whole contribution, so the largest weight of a block of
  postings bounds the block's scores exactly and Whoosh's collector skips the blocks that cannot
  reach the page (`ImpactBM25`). That makes a single word fast however common it is.
- Newest first reads the posts in date order (`PostDates`: the `created` column of each index
  segment, sorted once per segment) and searches the newest posts, then older and older ones,
  until it has the page: nothing older than what it searched can come before what it found.
- A search is restricted to a set of documents (the newest posts, or the few a filter leaves)
  by wrapping its matcher (`Restrict`), which keeps the block bounds working inside the set.
- A query of several common words or a phrase matches tens of thousands of posts that block
  bounds cannot rule out (a block's bound adds up the best weight of each word in it, rarely in
  the same post). Ranking all of them would cost 50 to 500 ms, so when the estimated matches of
  such a query exceed `RANKED_MATCHES`, relevance ranks the matches among the newest posts that
  should hold about that many (more if they hold less than the page). A single word without
  filters, and every query with fewer estimated matches, is ranked over all its matches.
"""

from __future__ import annotations

import heapq
import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from math import log
from typing import Any

from whoosh import collectors, query, scoring
from whoosh.query import Term

from .matching import Restrict, leaves, per_leaf

K1 = 1.2
B = 0.75
RANKED_MATCHES = 2000  # matches a query of several words ranks at most, newest first
DIRECT_LIMIT = 3000  # a filter leaving this few posts drives the search through them
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(when: datetime) -> int:
    """A UTC datetime as the integer kept in the index's `created` column."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = when.astimezone(UTC) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


# --- relevance ---------------------------------------------------------------------------------
def impact(words: int, typical: float) -> float:
    """What BM25 multiplies a term frequency by in a field of `words` words."""
    return 1.0 / (1.0 - B + B * words / typical)


class ImpactBM25(scoring.WeightingModel):
    """BM25 over weights that already include the length normalisation (see `impact`).

    score = idf * w * (K1 + 1) / (w + K1), where w = term frequency * impact * field boost:
    BM25's formula. It grows with w, so a block's largest weight bounds its scores exactly.
    A field of one language (`body_de`) counts its idf among that language's posts, so that a
    word as common in German posts as in English ones scores alike in both."""

    def idf(self, searcher: Any, fieldname: str, text: str) -> float:
        parent = searcher.get_parent()
        lang = fieldname.rpartition("_")[2]
        posts = parent.doc_frequency("lang", lang) if lang != fieldname else 0
        posts = posts or parent.doc_count_all()
        return log(posts / (parent.doc_frequency(fieldname, text) + 1)) + 1

    def scorer(self, searcher: Any, fieldname: str, text: str, qf: int = 1) -> Any:
        idf = searcher.get_parent().idf(fieldname, text)
        return _ImpactScorer(idf, searcher.term_info(fieldname, text).max_weight())


class _ImpactScorer(scoring.BaseScorer):
    def __init__(self, idf: float, max_weight: float) -> None:
        self._idf = idf
        self._max = self._score(max_weight)

    def _score(self, weight: float) -> float:
        return self._idf * weight * (K1 + 1) / (weight + K1)

    def supports_block_quality(self) -> bool:
        return True

    def score(self, matcher: Any) -> float:
        return self._score(matcher.weight())

    def max_quality(self) -> float:
        return self._max

    def block_quality(self, matcher: Any) -> float:
        return self._score(matcher.block_max_weight())


# --- documents by date ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class _Segment:
    """One segment's documents in date order: `keys` ascending, `docs` (local numbers) alike.

    Arrays of machine integers, not lists of int objects: 6 MB less per process at 100,000
    posts."""

    keys: Sequence[int]
    docs: Sequence[int]
    values: Sequence[int]  # local docnum -> created


class PostDates:
    """The `created` column of every segment, sorted once per segment (segments never change
    but for deletions, which the matchers already leave out) and shared by all searchers."""

    def __init__(self) -> None:
        self._segments: dict[str, _Segment] = {}
        self._lock = threading.Lock()

    def view(self, searcher: Any) -> DatesView:
        found = []
        ids = set()
        for sub, offset in leaves(searcher):
            reader = sub.reader()
            segid = reader.segment().segment_id()
            ids.add(segid)
            seg = self._segments.get(segid)
            if seg is None:
                values = array("q", reader.column_reader("created", translate=False))
                order = array("i", sorted(range(len(values)), key=values.__getitem__))
                seg = _Segment(array("q", [values[d] for d in order]), order, values)
                with self._lock:
                    self._segments[segid] = seg
            found.append((offset, seg))
        if len(self._segments) > len(ids) + 8:
            with self._lock:  # forget merged-away segments
                self._segments = {k: v for k, v in self._segments.items() if k in ids}
        return DatesView(found)


class SegmentDocs:
    """Which documents of each segment have a term, read once per segment (a later deletion
    needs no care: a deleted document matches no words, so it never comes out of a search)."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, str, str], Sequence[int]] = {}
        self._lock = threading.Lock()

    def docs(self, searcher: Any, name: str, values: Iterable[str]) -> set[int]:
        out: set[int] = set()
        segids = set()
        for sub, offset in leaves(searcher):
            reader = sub.reader()
            segid = reader.segment().segment_id()
            segids.add(segid)
            for value in values:
                key = (segid, name, value)
                local = self._lists.get(key)
                if local is None:
                    local = array("i", Term(name, value).docs(sub))
                    with self._lock:
                        self._lists[key] = local
                out.update([offset + d for d in local] if offset else local)
        if len(self._lists) > 4 * len(segids) * 16:
            with self._lock:  # forget merged-away segments
                self._lists = {k: v for k, v in self._lists.items() if k[0] in segids}
        return out


class DatesView:
    """Dates of one searcher's documents, by global document number."""

    def __init__(self, leaves: list[tuple[int, _Segment]]) -> None:
        self.leaves = leaves
        self.total = sum(len(seg.values) for _offset, seg in leaves)

    def created(self, docnum: int) -> int:
        for offset, seg in reversed(self.leaves):
            if docnum >= offset:
                return seg.values[docnum - offset]
        raise IndexError(docnum)

    def cutoff(self, count: int) -> int | None:
        """The date of the `count`-th newest document; None if there are not more than that."""
        if count >= self.total:
            return None
        if len(self.leaves) == 1:
            return self.leaves[0][1].keys[-count]
        # The latest date with at least `count` documents from it on.
        lo = min(seg.keys[0] for _offset, seg in self.leaves if seg.keys)
        hi = max(seg.keys[-1] for _offset, seg in self.leaves if seg.keys)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._count_since(mid) >= count:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _count_since(self, cutoff: int) -> int:
        return sum(len(seg.keys) - bisect_left(seg.keys, cutoff) for _offset, seg in self.leaves)

    def between(self, start: int | None, end: int | None) -> set[int]:
        """Documents created at or after `start` and before `end`."""
        out: set[int] = set()
        for offset, seg in self.leaves:
            lo = bisect_left(seg.keys, start) if start is not None else 0
            hi = bisect_left(seg.keys, end) if end is not None else len(seg.keys)
            out.update(offset + d for d in seg.docs[lo:hi])
        return out

    def region(
        self, start: int | None, end: int | None, allowed: set[int] | None = None
    ) -> dict[int, list[int]]:
        """The (allowed) documents created at or after `start` and before `end`, in number
        order, by segment offset."""
        per_leaf = {}
        for offset, seg in self.leaves:
            lo = bisect_left(seg.keys, start) if start is not None else 0
            hi = bisect_left(seg.keys, end) if end is not None else len(seg.keys)
            docs = seg.docs[lo:hi]
            if allowed is not None:
                docs = [d for d in docs if offset + d in allowed]
            per_leaf[offset] = sorted(docs)
        return per_leaf


# --- the two orders ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What to look for: one query per language its words were analysed in, and where."""

    queries: Sequence[query.Query]
    simple: bool  # every query is one word (with exclusions): block bounds find its best fast
    allowed: set[int] | None  # documents the filters and scope leave (None: all); never empty
    mask: set[int] | None  # documents the scope leaves out
    ranked_matches: int = RANKED_MATCHES  # 0: always rank every match


@dataclass
class Found:
    docnums: list[int]
    exact: bool  # the search saw every match (so, with fewer than asked for, that is all)


def newest(searcher: Any, dates: DatesView, plan: Plan, need: int, estimate: int) -> Found:
    """The `need` newest matches, exactly: from the newest posts back, a stretch at a time."""
    q = plan.queries[0] if len(plan.queries) == 1 else query.Or(list(plan.queries))
    matches: list[int] = []
    searched = 0  # posts searched so far, newest first
    end = None  # the date they go back to
    stretch = _posts_for(dates.total, 1.5 * need, estimate)
    while True:
        start = dates.cutoff(searched + stretch)
        if start is None and end is None and plan.allowed is None:
            matches = _matches(searcher, q, plan)  # all of it: read whole blocks
        else:
            region = dates.region(start, end, plan.allowed)
            matches.extend(_matches(searcher, Restrict(q, region), plan))
        if start is None or len(matches) >= need:
            return Found(_by_date(dates, matches, need), exact=start is None)
        searched, end = searched + stretch, start
        stretch = _more(searched, need, len(matches))


def best(searcher: Any, dates: DatesView, plan: Plan, need: int, estimate: int) -> Found:
    """The `need` best matches by BM25: over all matches, or for a costly query over the
    newest posts that should hold `plan.ranked_matches` (see the module's docstring)."""
    whole = plan.allowed is None or len(plan.allowed) * 2 >= dates.total
    if (
        not plan.ranked_matches
        or estimate <= plan.ranked_matches
        or (plan.simple and whole)
        or _few(plan.allowed)
    ):
        queries = [_driven(searcher, q, plan) for q in plan.queries]
        scored, exact = _best_of(searcher, queries, plan, need)
        return Found([docnum for _score, docnum in scored], exact=exact)
    scored: list[tuple[float, int]] = []
    searched = 0
    end = None
    stretch = _posts_for(dates.total, plan.ranked_matches, estimate)
    while True:  # (a stretch holds a page or more but for a poor estimate: then older ones)
        start = dates.cutoff(searched + stretch)
        if start is None and end is None:
            queries = list(plan.queries)  # all of it
        else:
            region = dates.region(start, end, plan.allowed)
            queries = [Restrict(q, region) for q in plan.queries]
        scored, _exact = _best_of(searcher, queries, plan, need, scored)
        if start is None or len(scored) >= need:
            return Found([docnum for _score, docnum in scored], exact=False)
        searched, end = searched + stretch, start
        stretch = _more(searched, need, len(scored))


def _few(allowed: set[int] | None) -> bool:
    return allowed is not None and len(allowed) <= DIRECT_LIMIT


def _driven(searcher: Any, q: query.Query, plan: Plan) -> query.Query:
    """The query over all documents, or through the allowed ones when they are few (skipping
    through the words' postings to each costs less than reading all the words' postings)."""
    if plan.allowed is None or not _few(plan.allowed):
        return q
    return Restrict(q, per_leaf(searcher, plan.allowed))


def _best_of(
    searcher: Any,
    queries: list[query.Query],
    plan: Plan,
    need: int,
    scored: list[tuple[float, int]] | None = None,
) -> tuple[list[tuple[float, int]], bool]:
    """The best (score, docnum) pairs of the queries and of `scored`, and whether the queries'
    are all their matches."""
    # A post is in one language, so the best of each language's query, merged by score, are
    # the best of their Or (whose block bounds would add up the languages' and skip nothing).
    # The biggest goes first; each search skips what cannot beat the page found so far.
    scored = list(scored or [])
    exact = True
    reader = searcher.reader()
    for q in sorted(queries, key=lambda q: -q.estimate_size(reader)):
        found, complete = _top(searcher, q, plan, need, _floor(scored, need))
        exact = exact and complete
        scored = sorted(scored + found, key=_by_score)[:need]
    return scored, exact


def _floor(scored: list[tuple[float, int]], need: int) -> float:
    """The score a document must beat to enter a full page."""
    return scored[need - 1][0] if len(scored) >= need else 0.0


def _top(
    searcher: Any, q: query.Query, plan: Plan, need: int, floor: float
) -> tuple[list[tuple[float, int]], bool]:
    """The best `need` matches scoring above `floor`, and whether that is all matches."""
    top = _TopAbove(need, floor)
    collector: Any = top
    if plan.allowed is not None or plan.mask:
        collector = collectors.FilterCollector(top, allow=plan.allowed, restrict=plan.mask or None)
    searcher.search_with_collector(q, collector)
    results = collector.results()
    found = [(score, docnum) for score, docnum in results.top_n if score > floor]
    return found, not floor and len(found) < need


class _TopAbove(collectors.TopCollector):  # type: ignore[misc]
    """Whoosh's top-N collector, told a score the N-th must beat from the start, so that it
    skips blocks below it at once instead of after filling its heap."""

    def __init__(self, limit: int, floor: float) -> None:
        super().__init__(limit=limit)
        self._floor = floor

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        super().prepare(top_searcher, q, context)
        self.minscore = self._floor

    def _collect(self, global_docnum: int, score: float) -> Any:
        result = super()._collect(global_docnum, score)
        if self.minscore < self._floor:
            self.minscore = self._floor
        return result


def _by_score(pair: tuple[float, int]) -> tuple[float, int]:
    return -pair[0], pair[1]  # (Whoosh's order: a higher score, then a lower document number)


def _matches(searcher: Any, q: query.Query, plan: Plan) -> list[int]:
    if isinstance(q, Restrict):
        docnums = _step(searcher, q)  # skip through the words' postings to the few documents
    else:
        docnums = list(searcher.docs_for_query(q))  # whole blocks at a time
    allowed, mask = plan.allowed, plan.mask
    return [
        d for d in docnums if (allowed is None or d in allowed) and (mask is None or d not in mask)
    ]


def _step(searcher: Any, q: query.Query) -> list[int]:
    # Not docs_for_query: an intersection inside would read both its sides whole into sets.
    out: list[int] = []
    for sub, offset in leaves(searcher):
        m = q.matcher(sub, sub.boolean_context())
        while m.is_active():
            out.append(offset + m.id())
            m.next()
    return out


def _by_date(dates: DatesView, docnums: list[int], need: int) -> list[int]:
    return heapq.nlargest(need, docnums, key=lambda d: (dates.created(d), d))


def _posts_for(total: int, wanted: float, estimate: int) -> int:
    """How many of the newest posts should hold `wanted` matches, if the `estimate` matches
    are spread evenly over time."""
    if estimate <= 0:
        return total
    return max(int(wanted), min(total, int(total * wanted / estimate)))


def _more(searched: int, wanted: int, found: int) -> int:
    """How many more posts to search for the rest of `wanted`, at the rate found so far."""
    if not found:
        return searched * 15
    # (A few matches say little about the rate: grow at most fourfold on them.)
    rest = int((wanted - found) * searched / found * 1.25) + 1
    return max(searched // 4, min(rest, searched * 3))
